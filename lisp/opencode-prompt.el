;;; opencode-prompt.el --- The prompt under a chat  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The prompt is a buffer of its own below the chat: C-c C-c sends it
;; (the text is cleared only once the server has accepted it), C-c C-k
;; aborts the running reply, M-p / M-n walk the history.  Files,
;; folders (also @mentioned ones) and a clipboard image go along; the
;; agent and model of the chat's prompts are chosen here too.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'seq)
(require 'mailcap)
(require 'opencode-api)
(require 'opencode-complete)
(require 'opencode-chat-context)
(require 'opencode-chat-ops)

(declare-function opencode-chat-connection "opencode-chat" (&optional buffer))
(declare-function opencode-chat-session-id "opencode-chat" (&optional buffer))

;;;; Options and state

(defcustom opencode-chat-prompt-height 6
  "Height, in lines, of the prompt window below a chat."
  :type 'integer
  :group 'opencode)

(defvar-local opencode-prompt--chat nil "The chat buffer this prompt sends to.")
(defvar opencode-prompt-history nil "Prompts sent, newest first.")
(defvar-local opencode-prompt--history-index -1 "Position in the history.")
(defvar-local opencode-prompt--files nil "Files attached to the next prompt.")

;;;; Sending

(defun opencode-prompt--file-part (file)
  "Return a file part (FilePartInput) for FILE, a file or folder name.
An image pasted from the clipboard is (:image MIME . BYTES) instead."
  (if (eq (car-safe file) :image)
      `(:type "file" :mime ,(cadr file) :filename "clipboard.png"
              :url ,(concat "data:" (cadr file) ";base64,"
                            (base64-encode-string (cddr file) t)))
    (let ((mime (cond ((directory-name-p file) "application/x-directory")
                      ((and (fboundp 'mailcap-file-name-to-mime-type)
                            (mailcap-file-name-to-mime-type file)))
                      (t "text/plain"))))
      `(:type "file" :mime ,mime
              :filename ,(file-name-nondirectory (directory-file-name file))
              :url ,(concat "file://" (expand-file-name file))))))

(defun opencode-prompt--attachment-name (file)
  "Return how the prompt's header line names attachment FILE."
  (if (eq (car-safe file) :image) "clipboard image"
    (file-name-nondirectory (directory-file-name file))))

(defvar opencode-message-sent-functions nil
  "Abnormal hook run when the server accepted a prompt.
Each function gets the chat buffer and the text sent.")

(defun opencode-prompt--sent (prompt text)
  "Clear PROMPT after TEXT was accepted, and remember TEXT."
  (push text opencode-prompt-history)
  (when (buffer-live-p prompt)
    (let ((chat (buffer-local-value 'opencode-prompt--chat prompt)))
      (when (buffer-live-p chat)
        (run-hook-with-args 'opencode-message-sent-functions chat text)))
    (with-current-buffer prompt
      (when (equal (string-trim (buffer-string)) text)
        (erase-buffer))
      (setq opencode-prompt--files nil
            opencode-prompt--history-index -1))))

(defun opencode-prompt--failed (err)
  "Report that a prompt was not sent because of ERR."
  (message "OpenCode: not sent (your text is kept): %s" (error-message-string err)))

(defun opencode-prompt-send ()
  "Send the prompt's text to the session; keep it if sending fails.
Text starting with ! runs as a shell command; /NAME ARGS runs the
server's slash command NAME when there is one.  Attached files go along."
  (interactive)
  (let* ((text (string-trim (buffer-string)))
         (prompt (current-buffer))
         (files opencode-prompt--files)
         (chat opencode-prompt--chat))
    (when (string-empty-p text) (user-error "Nothing to send"))
    (unless (buffer-live-p chat) (user-error "The chat of this prompt is gone"))
    (with-current-buffer chat
      (let ((conn (opencode-chat-connection))
            (sid (opencode-chat-session-id))
            (agent opencode-chat-agent)
            (model opencode-chat-model)
            (done (lambda (_) (opencode-prompt--sent prompt text))))
        ;; @mentions of project files and folders go along as file parts.
        (dolist (f (opencode-complete-mentions text (opencode-connection-directory conn)))
          (unless (member f files) (setq files (append files (list f)))))
        (cond
         ((and (string-match "\\`/\\([^ \t\n]+\\)[ \t\n]*\\(\\(?:.\\|\n\\)*\\)\\'" text)
               (assoc (match-string 1 text) opencode-prompt-own-commands))
          (opencode-chat-own-command (match-string 1 text) (match-string 2 text))
          (opencode-prompt--sent prompt text))
         ((string-prefix-p "!" text)
          (opencode-api-session-shell conn sid
                            :body `(:agent ,(or agent "build") :command ,(substring text 1)
                                           ,@(and model `(:model (:providerID ,(car model)
                                                                  :modelID ,(cdr model)))))
                            ;; The reply comes when the command is done; the
                            ;; chat shows it running meanwhile.
                            :timeout 600 :callback done :errback #'opencode-prompt--failed))
         ((string-match "\\`/\\([^ \t\n]+\\)[ \t\n]*\\(\\(?:.\\|\n\\)*\\)\\'" text)
          (let ((name (match-string 1 text)) (args (match-string 2 text)))
            (opencode-complete-command-names
             conn
             (lambda (names)
               (if (not (member name names))
                   (opencode-prompt--send-text conn sid text files agent model prompt)
                 (opencode-api-session-command
                  conn sid
                  :body `(:command ,name :arguments ,args
                                   ,@(and agent `(:agent ,agent))
                                   ,@(and model `(:model ,(format "%s/%s" (car model) (cdr model))))
                                   ,@(and files `(:parts ,(apply #'vector (mapcar #'opencode-prompt--file-part files)))))
                  :timeout 600 :callback done :errback #'opencode-prompt--failed))))))
         (t (opencode-prompt--send-text conn sid text files agent model prompt)))))))

(defun opencode-prompt--send-text (conn sid text files agent model prompt)
  "Send TEXT with FILES, AGENT and MODEL to session SID on CONN.
PROMPT is cleared once the server accepted it."
  (opencode-api-session-prompt-async
   conn sid text
   :parts (mapcar #'opencode-prompt--file-part files) :agent agent :model model
   :callback (lambda (_) (opencode-prompt--sent prompt text))
   :errback #'opencode-prompt--failed))

(defun opencode-prompt-abort ()
  "Abort the reply running in this prompt's session."
  (interactive)
  (with-current-buffer (or opencode-prompt--chat (current-buffer))
    (opencode-api-session-abort (opencode-chat-connection) (opencode-chat-session-id)
                                :callback (lambda (_) (message "Aborted")))))

;;;; History and attachments

(defun opencode-prompt-history-previous (n)
  "Replace the prompt with the Nth previous prompt from the history."
  (interactive "p")
  (let ((i (+ opencode-prompt--history-index n)))
    (cond ((>= i (length opencode-prompt-history)) (user-error "No older prompt"))
          ((< i -1) (user-error "No newer prompt")))
    (setq opencode-prompt--history-index i)
    (erase-buffer)
    (when (>= i 0) (insert (nth i opencode-prompt-history)))))

(defun opencode-prompt-history-next (n)
  "Replace the prompt with the Nth next prompt from the history."
  (interactive "p")
  (opencode-prompt-history-previous (- n)))

(defun opencode-prompt-attach-file (file)
  "Attach FILE to the next prompt; with a prefix argument, drop all."
  (interactive (list (unless current-prefix-arg (read-file-name "Attach file: " nil nil t))))
  (if (null file)
      (progn (setq opencode-prompt--files nil) (message "No attachments"))
    (setq opencode-prompt--files (append opencode-prompt--files (list (expand-file-name file))))
    (message "Attached: %s" (mapconcat #'file-name-nondirectory opencode-prompt--files ", "))))

;;;; Agent and model

(defun opencode-prompt--in-chat (fn)
  "Call FN in the chat buffer of the current prompt or chat."
  (with-current-buffer (if (derived-mode-p 'opencode-prompt-mode) opencode-prompt--chat
                         (current-buffer))
    (funcall fn)))

(defun opencode-prompt--primary-agents ()
  "Return the names of the agents a prompt can go to, in the server's order."
  (delq nil (mapcar (lambda (a) (and (not (equal (plist-get a :mode) "subagent"))
                                     (not (eq (plist-get a :hidden) t))
                                     (plist-get a :name)))
                    (opencode-api-agents (opencode-chat-connection) :sync t))))

(defun opencode-chat-set-agent ()
  "Choose the agent that answers this chat's prompts (GET /agent)."
  (interactive)
  (opencode-prompt--in-chat
   (lambda ()
     (let ((choice (completing-read "Agent: " (opencode-prompt--primary-agents)
                                    nil t nil nil opencode-chat-agent)))
       (setq opencode-chat-agent choice)
       (message "Agent: %s" choice)))))

(defun opencode-chat-cycle-agent ()
  "Switch this chat's prompts to the next agent (build, plan, ...)."
  (interactive)
  (opencode-prompt--in-chat
   (lambda ()
     (let* ((names (or (opencode-prompt--primary-agents) (user-error "No agents")))
            (next (or (cadr (member (or opencode-chat-agent (car names)) names))
                      (car names))))
       (setq opencode-chat-agent next)
       (force-mode-line-update t)
       (message "Agent: %s" next)))))

(defun opencode-prompt--clipboard-image ()
  "Return (MIME . BYTES) of an image on the clipboard, or nil.
Asks the window system, else wl-paste or xclip when installed."
  (or (and (display-graphic-p)
           (cl-loop for type in '(image/png image/jpeg)
                    for data = (ignore-errors (gui-get-selection 'CLIPBOARD type))
                    when (and (stringp data) (> (length data) 0))
                    return (cons (symbol-name type) (string-to-unibyte data))))
      (cl-loop for (prog . args) in '(("wl-paste" "--type" "image/png")
                                      ("xclip" "-selection" "clipboard" "-t" "image/png" "-o"))
               when (executable-find prog)
               do (let ((bytes (with-temp-buffer
                                 (set-buffer-multibyte nil)
                                 (and (eq 0 (apply #'call-process prog nil '(t nil) nil args))
                                      (> (buffer-size) 0)
                                      (buffer-string)))))
                    (when (and bytes (string-prefix-p "\x89PNG" bytes))
                      (cl-return (cons "image/png" bytes)))))))

(defun opencode-prompt-paste-image ()
  "Attach the image on the clipboard to the next prompt."
  (interactive)
  (let ((image (or (opencode-prompt--clipboard-image)
                   (user-error "No image on the clipboard"))))
    (setq opencode-prompt--files
          (append opencode-prompt--files (list (cons :image image))))
    (force-mode-line-update)
    (message "Image attached (%s, %d bytes)" (car image) (length (cdr image)))))

(defun opencode-chat-set-model ()
  "Choose the model of this chat's prompts (GET /config/providers)."
  (interactive)
  (opencode-prompt--in-chat
   (lambda ()
     (let* ((res (opencode-api-providers (opencode-chat-connection) :sync t))
            (names nil))
       (seq-doseq (p (plist-get res :providers))
         (let ((models (plist-get p :models)))
           (cl-loop for (k _v) on models by #'cddr
                    do (push (format "%s/%s" (plist-get p :id) (substring (symbol-name k) 1))
                             names))))
       (let ((choice (completing-read "Model: " (nreverse names) nil t)))
         (setq opencode-chat-model (opencode--parse-model choice))
         (message "Model: %s" choice))))))

;;;; The mode

(opencode-define-keys opencode-prompt-mode-map opencode-prompt-menu
  :map-doc "Keymap of `opencode-prompt-mode'."
  :menu-doc "The commands of an OpenCode prompt."
  :menu-key "C-c ?"
  ((("Send"
     ("C-c C-c" "send" opencode-prompt-send)
     ("C-c C-k" "abort the reply" opencode-prompt-abort))
    ("Attach"
     ("C-c C-f" "a file" opencode-prompt-attach-file)
     ("C-c C-v" "clipboard image" opencode-prompt-paste-image)
     ("TAB" "complete @file or /command" completion-at-point))
    ("Choose"
     ("C-c C-a" "agent" opencode-chat-set-agent)
     ("C-c C-t" "next agent" opencode-chat-cycle-agent)
     ("C-c C-m" "model" opencode-chat-set-model))
    ("History"
     ("M-p" "previous prompt" opencode-prompt-history-previous)
     ("M-n" "next prompt" opencode-prompt-history-next)))))

(define-derived-mode opencode-prompt-mode text-mode "OpenCode-Prompt"
  "Major mode of the prompt under an OpenCode chat.
Text starting with ! runs as a shell command in the project; /NAME
ARGS runs the server's command NAME.
\\{opencode-prompt-mode-map}")

(defun opencode-prompt--header-line ()
  "Return the prompt's header line: keys, agent, model, attachments."
  (concat
   (substitute-command-keys
    "\\<opencode-prompt-mode-map>\\[opencode-prompt-send] send  \\[opencode-prompt-abort] abort  \\[opencode-prompt-attach-file] attach  ")
   (let ((chat opencode-prompt--chat))
     (if (buffer-live-p chat)
         (with-current-buffer chat (opencode-chat-context-line))
       ""))
   (if opencode-prompt--files
       (concat "  + " (mapconcat #'opencode-prompt--attachment-name opencode-prompt--files ", "))
     "")))

(defun opencode-chat-prompt ()
  "Show this chat's prompt below it and select it."
  (interactive)
  (let* ((chat (current-buffer))
         (buf (get-buffer-create (concat (buffer-name chat) " prompt"))))
    (with-current-buffer buf
      (unless (derived-mode-p 'opencode-prompt-mode) (opencode-prompt-mode))
      (setq opencode-prompt--chat chat)
      (setq-local completion-at-point-functions
                  (list (opencode-complete-at-point-function
                         (opencode-chat-connection chat))))
      (setq header-line-format '(:eval (opencode-prompt--header-line))))
    (select-window
     (display-buffer buf `(display-buffer-below-selected
                           (window-height . ,opencode-chat-prompt-height))))
    buf))

(provide 'opencode-prompt)
;;; opencode-prompt.el ends here

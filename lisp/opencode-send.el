;;; opencode-send.el --- Send to a session from anywhere in Emacs  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; Context from wherever the user is: the region, the buffer's file,
;; Dired's marked files, the diagnostic at point, or whichever fits
;; (`opencode-send-dwim').  Each goes into the prompt of the current
;; project's last-used session (or one the user picks), as a mention
;; the prompt sends as a file part (with its line range); with a prefix
;; argument it is sent at once.
;;
;; The Lisp API others build on: `opencode-send' sends text with files,
;; agent, model and variant to a session, steering or queued;
;; `opencode-insert' puts text and files in a session's prompt without
;; sending.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'opencode)
(require 'opencode-context)
(require 'opencode-chat)
(require 'opencode-prompt)

(declare-function dired-get-marked-files "dired"
                  (&optional localp arg filter distinguish-one-marked error))

;;;; Which session

(defun opencode-send--directory ()
  "Return the project directory of the current buffer."
  (let ((project (and (fboundp 'project-current) (project-current))))
    (expand-file-name (if project (project-root project) default-directory))))

(defun opencode-send--last-chat (conn)
  "Return the chat on CONN the user selected last, or nil."
  (cl-find-if (lambda (b) (and (eq (buffer-local-value 'major-mode b) 'opencode-chat-mode)
                               (eq (opencode-chat-connection b) conn)))
              (buffer-list)))

(defun opencode-send--pick-session (conn)
  "Ask for a session of CONN, or a new one; return its plist."
  (let* ((sessions (append (opencode-with-error-words (opencode-api-session-list conn :sync t)) nil))
         (new "[a new session]")
         (table (cons (cons new nil)
                      (mapcar (lambda (s) (cons (format "%s  (%s)" (plist-get s :title)
                                                        (plist-get s :slug))
                                                s))
                              sessions)))
         (choice (completing-read "Session: " table nil t)))
    (or (cdr (assoc choice table))
        (opencode-with-error-words (opencode-api-session-create conn :sync t)))))

(defun opencode-send--chat (&optional session directory)
  "Return the chat buffer to send to.
SESSION is a session id; DIRECTORY the project (default: the current
buffer's).  Without SESSION, the project's last-used chat, else one
the user picks."
  (let* ((conn (opencode-connect (or directory (opencode-send--directory)))))
    (or (and session (opencode-chat-buffer conn session))
        (and (not session) (opencode-send--last-chat conn))
        (save-window-excursion
          (let ((opencode-chat-open-prompt nil))
            (opencode-chat-open conn (if session (list :id session)
                                       (opencode-send--pick-session conn))))))))

;;;; The API

(cl-defun opencode-send (text &key session directory files agent model variant queue)
  "Send TEXT to an OpenCode session; return its chat buffer.
SESSION is a session id; without it, the last-used session of
DIRECTORY's project (default: the current buffer's), else one the user
picks.  FILES go along: file names, (FILE START END) for a line range,
\(:agent NAME) for a sub-agent.  AGENT, MODEL (\"PROVIDER/MODEL\" or
\(PROVIDER . MODEL)) and VARIANT choose who answers, else the chat's
choices.  With QUEUE, TEXT waits until the session is idle; else, if
it is busy, it steers the reply.  TEXT shows in the chat at once."
  (let ((chat (opencode-send--chat session directory)))
    (with-current-buffer chat
      (let ((opencode-chat-agent (or agent opencode-chat-agent))
            (opencode-chat-model (or (if (stringp model) (opencode--parse-model model) model)
                                     opencode-chat-model))
            (opencode-chat-variant (or variant opencode-chat-variant)))
        (opencode-prompt-submit chat text files queue)))
    (display-buffer chat)
    chat))

(cl-defun opencode-insert (text &key session directory files)
  "Put TEXT in the prompt of an OpenCode session without sending it.
FILES are attached to it (as `opencode-send' takes them).  SESSION and
DIRECTORY choose the session as for `opencode-send'.  The prompt is
shown and selected, point after TEXT; return its buffer."
  (let ((chat (opencode-send--chat session directory)))
    (opencode-prompt-add chat text files)))

;;;; Commands

(defun opencode-send--mention (file &optional start end)
  "Return the @mention of FILE (lines START to END), relative to its project."
  (let ((rel (or (opencode-context-relative file (opencode-send--directory))
                 (user-error "%s is outside the project" file))))
    (concat "@" rel (cond ((and start end (/= start end)) (format "#L%d-%d" start end))
                          (start (format "#L%d" start))
                          (t "")))))

(defun opencode-send--go (text now)
  "Add TEXT to the prompt of the session, or send it at once if NOW."
  (if now (opencode-send text) (opencode-insert text)))

;;;###autoload
(defun opencode-send-region (beg end &optional now)
  "Add the region from BEG to END to the prompt of the project's session.
A region of a saved file goes as its lines (@file#L10-20); other text as
a code block.  With a prefix argument (NOW), send it at once."
  (interactive "r\nP")
  (pcase (opencode-context-region-spec beg end)
    (`(:text ,text) (opencode-send--go (concat text "\n") now))
    (`(,file ,start ,stop) (opencode-send--go (concat (opencode-send--mention file start stop) " ")
                                              now))))

;;;###autoload
(defun opencode-send-file (&optional now)
  "Add the current buffer's file to the prompt of the project's session.
With a prefix argument (NOW), send it at once."
  (interactive "P")
  (let ((file (or (buffer-file-name) (user-error "This buffer visits no file"))))
    (when (buffer-modified-p)
      (user-error "Save %s first: the agent reads the file on disk" (buffer-name)))
    (opencode-send--go (concat (opencode-send--mention file) " ") now)))

;;;###autoload
(defun opencode-send-dired-files (&optional now)
  "Add Dired's marked files (or the one at point) to the prompt.
With a prefix argument (NOW), send them at once."
  (interactive "P")
  (unless (derived-mode-p 'dired-mode) (user-error "Not in a Dired buffer"))
  (opencode-send--go (concat (mapconcat #'opencode-send--mention (dired-get-marked-files) " ") " ")
                     now))

;;;###autoload
(defun opencode-send-diagnostic (&optional now)
  "Ask the agent to fix the diagnostics on the line at point.
They come from flymake or flycheck, with the line as context.  With a
prefix argument (NOW), send at once."
  (interactive "P")
  (let* ((lines (or (opencode-context-diagnostics (line-beginning-position) (line-end-position))
                    (user-error "No diagnostic on this line (flymake or flycheck)")))
         (line (line-number-at-pos))
         (where (if (and (buffer-file-name) (not (buffer-modified-p)))
                    (opencode-send--mention (buffer-file-name) line)
                  (opencode-context-fence (buffer-substring-no-properties
                                           (line-beginning-position) (line-end-position))
                                          major-mode))))
    (opencode-send--go (format "Fix this at %s:\n%s\n" where (string-join lines "\n")) now)))

;;;###autoload
(defun opencode-send-dwim (&optional now)
  "Add what fits at point to the prompt of the project's session.
That is the region, Dired's marked files, the diagnostic at point, or
the buffer's file.  With a prefix argument (NOW), send at once."
  (interactive "P")
  (cond ((use-region-p) (opencode-send-region (region-beginning) (region-end) now))
        ((derived-mode-p 'dired-mode) (opencode-send-dired-files now))
        ((opencode-context-diagnostics (line-beginning-position) (line-end-position))
         (opencode-send-diagnostic now))
        (t (opencode-send-file now))))

(provide 'opencode-send)
;;; opencode-send.el ends here

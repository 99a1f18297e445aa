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
(require 'opencode-context)
(require 'opencode-chat-context)
(require 'opencode-chat-ops)
(require 'opencode-providers)
(require 'opencode-timeline)
(require 'opencode-remote)

(declare-function opencode-chat-connection "opencode-chat" (&optional buffer))
(declare-function opencode-chat-session-id "opencode-chat" (&optional buffer))
(declare-function opencode-chat-open "opencode-chat" (conn session))
(declare-function opencode-chat-new-id "opencode-chat" (prefix))
(declare-function opencode-chat-show-pending "opencode-chat" (id parts))
(declare-function opencode-chat-forget-pending "opencode-chat" (id))
(declare-function opencode-chat-show-end "opencode-chat" (&optional window))
(declare-function opencode-chat-show "opencode-chat" (buffer))
(declare-function opencode-chat-draw-queue "opencode-chat" ())
(declare-function opencode-chat-timeline "opencode-chat" (&optional buffer))
(declare-function opencode-chat-release-queue "opencode-chat" ())
(declare-function opencode-chat-adopt "opencode-chat" (buffer name-function))
(declare-function opencode-chat-empty-p "opencode-chat-message" (&optional buffer))
(defvar opencode-chat-open-prompt)
(defvar opencode-chat-queued)
(defvar opencode-chat-queue-sent)
(defvar opencode-chat-queue-paused)

;;;; Options and state

(defcustom opencode-chat-prompt-height 6
  "Height, in lines, of the prompt window below a chat."
  :type 'integer
  :group 'opencode)

(defcustom opencode-favorite-models nil
  "Models cycled first by `opencode-chat-cycle-model', as \"PROVIDER/MODEL\"."
  :type '(repeat string)
  :group 'opencode)

(defvar opencode-recent-models nil
  "Models chosen lately, newest first, as \"PROVIDER/MODEL\".
Add it to `savehist-additional-variables' to keep it across sessions.")

(defvar-local opencode-prompt--buffer nil
  "In a chat: its prompt buffer, or nil.")

(defvar-local opencode-prompt--chat nil "The chat buffer this prompt sends to.")
(defvar-local opencode-prompt--conn nil "The connection of this prompt's session.")
(defvar-local opencode-prompt--session nil
  "The id of this prompt's session: its chat is reopened from it if killed.")
(defvar opencode-prompt-history nil "Prompts sent, newest first.")
(defvar-local opencode-prompt--history-index -1 "Position in the history.")
(defvar-local opencode-prompt--files nil "Files attached to the next prompt.")

;;;; Sending

(defun opencode-prompt--utf16-offset (text pos)
  "Return POS in TEXT counted in UTF-16 code units, as the server counts."
  (+ pos (cl-count-if (lambda (c) (> c #xffff)) (substring text 0 pos))))

(defun opencode-prompt--mention-source (file text directory)
  "Return the source of FILE's @mention in TEXT (a FileSource), or nil.
FILE is as `opencode-prompt--file-part' takes it; DIRECTORY is the
project, which mentions are relative to.  The source names the file
relative to the project and where its mention is in TEXT: its value,
start and end."
  (let ((root (file-name-as-directory (expand-file-name directory)))
        (start 0) (found nil))
    (while (and (not found) (string-match "\\(?:^\\|[ \t\n(]\\)\\(@\\([^ \t\n]+\\)\\)" text start))
      (setq start (match-end 0))
      (let* ((at (match-beginning 1))
             (mention (string-trim-right (match-string 2 text) "[.,;:!?)]+")))
        (pcase-let* ((`(,name ,from ,to) (opencode-complete-parse-range mention))
                     (path (expand-file-name name root)))
          (when (pcase file
                  (`(,(and (pred stringp) f) ,s ,e) (and from (equal (expand-file-name f) path)
                                                       (eql s from) (eql e to)))
                  ((pred stringp) (and (not from)
                                       (equal (directory-file-name (expand-file-name file))
                                              (directory-file-name path)))))
            (setq found
                  `(:type "file" :path ,(file-relative-name path root)
                          :text (:value ,(concat "@" mention)
                                 :start ,(opencode-prompt--utf16-offset text at)
                                 :end ,(opencode-prompt--utf16-offset
                                        text (+ at 1 (length mention))))))))))
    (when found
      (when (directory-name-p (if (consp file) (car file) file))
        (plist-put found :path (file-name-as-directory (plist-get found :path))))
      found)))

(defun opencode-prompt--file-part (file &optional text directory)
  "Return a part (FilePartInput) for FILE, a file or folder name.
An image pasted from the clipboard is (:image MIME . BYTES) instead;
a file with a line range is (FILE START END), and the server reads only
those lines (it takes them from the URL's start and end); an agent is
\(:agent NAME), and gives an agent part.  When FILE is @mentioned in
TEXT, the prompt's text, the part's `source' says where, as the
server's own clients send it (DIRECTORY is the project the mention is
relative to); the server keeps it with the part."
  (let ((part (pcase file
                (`(:image ,mime . ,bytes)
                 `(:type "file" :mime ,mime :filename "clipboard.png"
                         :url ,(concat "data:" mime ";base64," (base64-encode-string bytes t))))
                (`(:agent ,name) `(:type "agent" :name ,name))
                (`(,(and (pred stringp) name) ,(and (pred integerp) start) ,(and (pred integerp) end))
                 `(:type "file" :mime "text/plain"
                         :filename ,(format "%s#L%d-%d" (file-name-nondirectory name) start end)
                         :url ,(format "file://%s?start=%d&end=%d"
                                      (opencode-remote-host-name (expand-file-name name)) start end)))
                (_ (opencode-prompt--plain-file-part file))))
        (source (and text directory (not (memq (car-safe file) '(:image :agent)))
                     (opencode-prompt--mention-source file text directory))))
    (if source (append part (list :source source)) part)))

(defun opencode-prompt--plain-file-part (file)
  "Return a file part for FILE, a file or folder name."
  (let ((mime (cond ((directory-name-p file) "application/x-directory")
                    ((and (fboundp 'mailcap-file-name-to-mime-type)
                          (mailcap-file-name-to-mime-type file)))
                    (t "text/plain"))))
    `(:type "file" :mime ,mime
            :filename ,(file-name-nondirectory (directory-file-name file))
            :url ,(opencode-remote-file-url file))))

(defun opencode-prompt--attachment-name (file)
  "Return how the prompt's header line names attachment FILE."
  (pcase file
    (`(:image . ,_) "clipboard image")
    (`(:agent ,name) (concat "@" name))
    (`(,name ,start ,end) (format "%s#L%d-%d" (file-name-nondirectory name) start end))
    (_ (file-name-nondirectory (directory-file-name file)))))

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
      (opencode-prompt--hide-providers t)
      (setq opencode-prompt--files nil
            opencode-prompt--history-index -1))))

(defun opencode-prompt--failed (err)
  "Report that a prompt was not sent because of ERR."
  (message "OpenCode: not sent (your text is kept): %s" (opencode-error-text err)))

(defun opencode-prompt-chat (&optional buffer)
  "Return the chat of prompt BUFFER (default: the current buffer), or nil."
  (let ((chat (buffer-local-value 'opencode-prompt--chat (or buffer (current-buffer)))))
    (and (buffer-live-p chat) chat)))

(defun opencode-prompt--chat-buffer ()
  "Return the chat of this prompt, reopened if it was killed."
  (unless (buffer-live-p opencode-prompt--chat)
    (unless (and opencode-prompt--conn opencode-prompt--session)
      (user-error "The chat of this prompt is gone"))
    (let ((prompt (current-buffer)))
      (setq opencode-prompt--chat
            (save-window-excursion
              (let ((opencode-chat-open-prompt nil))
                (opencode-chat-open opencode-prompt--conn (list :id opencode-prompt--session)))))
      (with-current-buffer opencode-prompt--chat
        (opencode-prompt--attach prompt))))
  opencode-prompt--chat)

(defcustom opencode-prompt-busy-send 'steer
  "What \\<opencode-prompt-mode-map>\\[opencode-prompt-send] does while the session is busy.
`steer' sends the prompt at once: the agent reads it at its next step.
`queue' keeps it under the chat until the session is idle.
\\[opencode-prompt-queue] always queues."
  :type '(choice (const :tag "Send now (steer)" steer)
                 (const :tag "Queue until idle" queue))
  :group 'opencode)

(defun opencode-prompt-queue ()
  "Send the prompt when the session is idle; at once if it is idle now.
Queued prompts show under the chat; \\<opencode-chat-mode-map>\\[opencode-chat-delete-message] on one, or
\\<opencode-prompt-mode-map>\\[opencode-prompt-unqueue] here, takes it back into the prompt."
  (interactive)
  (opencode-prompt-send t))

(defun opencode-prompt-send (&optional queue)
  "Send the prompt's text to the session; keep it if sending fails.
Text starting with ! runs as a shell command; /NAME ARGS runs the
server's slash command NAME when there is one.  Attached files go along.
The prompt shows in the chat at once, marked until the server has it.
While the session is busy, `opencode-prompt-busy-send' says whether
it goes at once or waits its turn; with QUEUE (interactively, a
prefix argument) it waits."
  (interactive "P")
  (let* ((text (string-trim (buffer-string)))
         (prompt (current-buffer))
         (files opencode-prompt--files)
         (chat (progn (when (string-empty-p text) (user-error "Nothing to send"))
                      (opencode-prompt--chat-buffer))))
    (opencode-prompt--submit chat prompt text files queue)))

(defun opencode-prompt-submit (chat text files &optional queue)
  "Send TEXT with FILES to the session of CHAT, as its prompt would.
With QUEUE it waits until the session is idle; else it goes now,
steering a busy session, unless `opencode-prompt-busy-send' says to
queue.  The chat's agent, model and variant choose who answers."
  (opencode-prompt--submit chat nil text files queue))

(defun opencode-prompt--submit (chat prompt text files queue)
  "Send or queue TEXT with FILES from PROMPT (or nil) to CHAT's session.
QUEUE, or `opencode-prompt-busy-send' `queue', queues it while the
session is busy or other prompts wait."
  (opencode-chat-check-sendable chat)
  ;; Sent from a prompt whose chat no window shows (the prompt of a
  ;; region sent from a file, say): the reply shows there.
  (when (and prompt (not (opencode-chat-show chat)))
    (message "OpenCode: sent to %s, which no window shows" (buffer-name chat)))
  (if (and (or queue (eq opencode-prompt-busy-send 'queue))
           (with-current-buffer chat
             (or opencode-chat-queued
                 (opencode-store-busy-p (opencode-chat-connection) (opencode-chat-session-id)))))
      (opencode-prompt--enqueue chat prompt text files)
    (opencode-prompt--send chat prompt text files)))

(defun opencode-prompt-add (chat text files)
  "Add TEXT and FILES to the prompt of CHAT; show it and select it.
TEXT goes at point, after a space if it would touch a word; return the
prompt buffer."
  (let ((prompt (with-current-buffer chat (opencode-chat-prompt))))
    (with-current-buffer prompt
      (when (and (not (bolp)) (not (memq (char-before) '(?\s ?\n))))
        (insert " "))
      (insert text)
      (setq opencode-prompt--files (append opencode-prompt--files files)))
    prompt))

(defun opencode-prompt--enqueue (chat prompt text files)
  "Queue TEXT with FILES in CHAT, and clear PROMPT: it is kept there.
The context providers of TEXT (@buffer, @region...) are asked now,
while the user is where the prompt was written, not when it goes."
  (let ((context (and (not (string-match-p "\\`[!/]" text))
                      (opencode-context-expand text))))
    (with-current-buffer chat
      ;; A queue paused by an abort stays paused until sent; a new one is not.
      (unless opencode-chat-queued (setq opencode-chat-queue-paused nil))
      (setq opencode-chat-queued
            (append opencode-chat-queued
                    (list (list :text text :files files :agent opencode-chat-agent
                                :model opencode-chat-model :variant opencode-chat-variant
                                :context context))))))
  (with-current-buffer chat
    (opencode-chat-draw-queue)
    (opencode-chat-show-end))
  (push text opencode-prompt-history)
  (when (buffer-live-p prompt)
    (with-current-buffer prompt
      (erase-buffer)
      (opencode-prompt--hide-providers t)
      (setq opencode-prompt--files nil opencode-prompt--history-index -1)))
  (if (buffer-local-value 'opencode-chat-queue-paused chat)
      (message "%s" (substitute-command-keys
                     "Queued behind a paused queue: \\<opencode-prompt-mode-map>\\[opencode-chat-send-queue] sends it"))
    (message "Queued: it goes when the session is idle")))

(defun opencode-prompt-unqueue (&optional item)
  "Take queued ITEM (default: the last one queued) back into the prompt.
Its text goes after what the prompt holds; nothing is lost."
  (interactive)
  (let ((chat (if (derived-mode-p 'opencode-prompt-mode) (opencode-prompt--chat-buffer)
                (current-buffer))))
    (with-current-buffer chat
      (let ((item (or item (car (last opencode-chat-queued)) (user-error "Nothing is queued"))))
        (setq opencode-chat-queued (delq item opencode-chat-queued))
        (opencode-chat-draw-queue)
        (opencode-prompt--restore chat (plist-get item :text) (plist-get item :files))))))

(defun opencode-prompt--restore (chat text files)
  "Put TEXT and FILES back into the prompt of CHAT, and show it."
  (let ((prompt (with-current-buffer chat (save-window-excursion (opencode-chat-prompt)))))
    (with-current-buffer prompt
      (goto-char (point-max))
      (unless (bobp) (insert "\n"))
      (insert text)
      (setq opencode-prompt--files (append opencode-prompt--files files)))
    (display-buffer prompt)
    prompt))

(defun opencode-prompt-send-queued (chat)
  "Send the first prompt queued in CHAT, if its session is idle.
Not while the queue is paused (`opencode-chat-queue-paused'), nor
while the prompt it sent last waits for its reply to start
\=(`opencode-chat-queue-sent')."
  (with-current-buffer chat
    (when (and opencode-chat-queued
               (not opencode-chat-queue-paused)
               (not (opencode-prompt--queue-waiting-p))
               (not (opencode-store-busy-p (opencode-chat-connection) (opencode-chat-session-id))))
      (let ((item (pop opencode-chat-queued)))
        (setq opencode-chat-queue-sent t)
        (opencode-chat-draw-queue)
        (let ((opencode-chat-agent (plist-get item :agent))
              (opencode-chat-model (plist-get item :model))
              (opencode-chat-variant (plist-get item :variant)))
          (opencode-prompt--send chat nil (plist-get item :text) (plist-get item :files)
                                 (plist-get item :context)))))))

(defun opencode-prompt--queue-waiting-p ()
  "Return non-nil if the current chat's queue waits for the prompt it sent.
That is until the server started its reply (the session was seen busy,
the chat sees it on `session.status'), a reply to it is in the timeline (it
ran while the stream was down), or sending it failed."
  (let ((sent opencode-chat-queue-sent))
    (cond ((null sent) nil)
          ((and (stringp sent)
                (let ((timeline (opencode-chat-timeline)))
                  (and timeline (opencode-timeline-reply-to timeline sent))))
           (setq opencode-chat-queue-sent nil))
          (t t))))

(defun opencode-prompt--queue-sent-ended (chat &optional id failed)
  "Let the queue of CHAT go on: the prompt it sent, ID if known, is done with.
A shell or slash command's request ended: the next goes if the session
is idle.  FAILED: the prompt was not sent; the next waits for the
session's next idle, as it would have."
  (when (buffer-live-p chat)
    (with-current-buffer chat
      (when (and opencode-chat-queue-sent (member opencode-chat-queue-sent (list t id)))
        (setq opencode-chat-queue-sent nil)
        (unless failed (opencode-prompt-send-queued chat))))))

(defun opencode-prompt--send (chat prompt text files &optional context)
  "Send TEXT and FILES from PROMPT (nil for a queued prompt) to CHAT's session.
CONTEXT is what the context providers of TEXT gave, (TEXT . FILES) as
`opencode-context-expand' returns it, when taken already (a queued
prompt takes it when queued); else they are asked now."
  (with-current-buffer chat
    (opencode-chat-show-end)
    (let ((conn (opencode-chat-connection))
          (sid (opencode-chat-session-id))
          (agent opencode-chat-agent)
          (model opencode-chat-model)
          (variant opencode-chat-variant)
          (done (lambda (_)
                  (opencode-prompt--sent prompt text)
                  (unless prompt (opencode-prompt--queue-sent-ended chat)))))
      ;; @mentions of project files and folders go along as file parts.
      (dolist (f (opencode-complete-mentions text (opencode-connection-directory conn)
                                             (opencode-complete-agent-names conn)))
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
                          :timeout 600 :callback done
                          :errback (lambda (err) (opencode-prompt--not-sent chat prompt text files err))))
       ((string-match "\\`/\\([^ \t\n]+\\)[ \t\n]*\\(\\(?:.\\|\n\\)*\\)\\'" text)
        (let ((name (match-string 1 text)) (args (match-string 2 text)))
          (opencode-complete-command-names
           conn
           (lambda (names)
             (if (not (member name names))
                 (opencode-prompt--send-text chat text files agent model prompt variant context)
               (opencode-api-session-command
                conn sid
                :body `(:command ,name :arguments ,args
                                 ,@(and agent `(:agent ,agent))
                                 ,@(and model `(:model ,(format "%s/%s" (car model) (cdr model))))
                                 ,@(and variant `(:variant ,variant))
                                 ,@(and files `(:parts ,(apply #'vector (mapcar #'opencode-prompt--file-part files)))))
                :timeout 600 :callback done
                :errback (lambda (err) (opencode-prompt--not-sent chat prompt text files err))))))))
       (t (opencode-prompt--send-text chat text files agent model prompt variant context))))))

(defun opencode-prompt--not-sent (chat prompt text files err &optional id)
  "Say that TEXT with FILES, from PROMPT in CHAT, was not sent, for ERR.
ID is the message id it was sent with, when known.
A prompt still in its buffer stays there; a queued one goes back there.
When the server says the session is not there, CHAT is marked so
\(`opencode-chat-session-missing')."
  (when (opencode-api-session-not-found-p err)
    (opencode-chat-session-missing chat t))
  (unless prompt (opencode-prompt--queue-sent-ended chat id t))
  (if (buffer-live-p prompt)
      (opencode-prompt--failed err)
    (when (buffer-live-p chat) (opencode-prompt--restore chat text files))
    (message "OpenCode: a queued prompt was not sent (it is back in the prompt): %s"
             (opencode-error-text err))))

(defun opencode-prompt--send-text (chat text files agent model prompt &optional variant context)
  "Send TEXT with FILES, AGENT, MODEL and VARIANT to the session of CHAT.
The prompt shows in CHAT at once, with the ids the server will keep;
PROMPT is cleared once the server accepted it.  CONTEXT is what the
context providers of TEXT gave, if taken already (see
`opencode-prompt--send')."
  (with-current-buffer chat
    (let* ((expanded (or context (opencode-context-expand text)))
           (mid (opencode-chat-new-id "msg"))
           (text-id (opencode-chat-new-id "prt"))
           (file-parts (mapcar (lambda (f) `(:id ,(opencode-chat-new-id "prt")
                                                 ,@(opencode-prompt--file-part
                                                    f (car expanded)
                                                    (opencode-connection-directory
                                                     (opencode-chat-connection)))))
                               (append files (cl-remove-if (lambda (f) (member f files))
                                                           (cdr expanded))))))
      ;; Sent from the queue: the queue waits for this one's reply.
      (when (and (null prompt) (eq opencode-chat-queue-sent t))
        (setq opencode-chat-queue-sent mid))
      (opencode-chat-show-pending mid (cons `(:id ,text-id :type "text" :text ,(car expanded))
                                            file-parts))
      (opencode-api-session-prompt-async
       (opencode-chat-connection) (opencode-chat-session-id) (car expanded)
       :variant variant
       :message-id mid :text-id text-id
       :parts file-parts :agent agent :model model
       :callback (lambda (_) (opencode-prompt--sent prompt text))
       :errback (lambda (err)
                  (when (buffer-live-p chat)
                    (with-current-buffer chat (opencode-chat-forget-pending mid)))
                  (opencode-prompt--not-sent chat prompt text files err mid))))))

(defun opencode-prompt-abort ()
  "Abort the reply running in this prompt's session.
Prompts queued stay queued, paused: \\<opencode-prompt-mode-map>\\[opencode-chat-send-queue] sends them."
  (interactive)
  (with-current-buffer (or opencode-prompt--chat (current-buffer))
    (opencode-chat-abort)))

(defun opencode-chat-send-queue ()
  "Send the prompts queued in this chat, paused by an abort.
The first goes now if the session is idle, the next ones each when
the session is idle again, as a queue not paused does."
  (interactive)
  (let ((chat (if (derived-mode-p 'opencode-prompt-mode) (opencode-prompt--chat-buffer)
                (current-buffer))))
    (with-current-buffer chat
      (unless opencode-chat-queued (user-error "Nothing is queued"))
      (opencode-chat-release-queue)
      (if (opencode-store-busy-p (opencode-chat-connection) (opencode-chat-session-id))
          (message "The queue goes when the session is idle")
        (opencode-prompt-send-queued chat)))))

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
                    (opencode-with-error-words
                      (opencode-api-agents (opencode-chat-connection) :sync t)))))

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
     (let* ((res (opencode-with-error-words
                   (opencode-api-providers (opencode-chat-connection) :sync t)))
            (names nil))
       (seq-doseq (p (plist-get res :providers))
         (let ((models (plist-get p :models)))
           (cl-loop for (k _v) on models by #'cddr
                    do (push (format "%s/%s" (plist-get p :id) (substring (symbol-name k) 1))
                             names))))
       (let* ((recent (append opencode-favorite-models opencode-recent-models))
              (choice (completing-read "Model: " (delete-dups (append recent (nreverse names)))
                                       nil t nil nil (car recent))))
         (opencode-prompt--use-model choice))))))

(defun opencode-prompt--use-model (name)
  "Make NAME, \"PROVIDER/MODEL\", the model of this chat's prompts."
  (setq opencode-chat-model (opencode--parse-model name)
        opencode-chat-variant nil)
  (setq opencode-recent-models (seq-take (cons name (delete name opencode-recent-models)) 10))
  (force-mode-line-update t)
  (message "Model: %s" name))

(defun opencode-chat-cycle-model ()
  "Switch this chat's prompts to the next favourite or recent model.
The favourites are `opencode-favorite-models', then the models chosen
lately with `opencode-chat-set-model'."
  (interactive)
  (opencode-prompt--in-chat
   (lambda ()
     (let* ((models (delete-dups (append opencode-favorite-models
                                         (copy-sequence opencode-recent-models))))
            (current (and opencode-chat-model
                          (format "%s/%s" (car opencode-chat-model) (cdr opencode-chat-model))))
            (next (or (cadr (member current models)) (car models))))
       (unless (cdr models)
         (user-error "Choose another model first (%s); it is then cycled"
                     (substitute-command-keys "\\[opencode-chat-set-model]")))
       (let ((opencode-recent-models opencode-recent-models))
         (opencode-prompt--use-model next))))))

(defun opencode-prompt--variants (conn model)
  "Return the variant names of MODEL, (PROVIDER . ID), on CONN."
  (let ((res (opencode-with-error-words (opencode-api-providers conn :sync t))))
    (cl-loop for p across (or (plist-get res :providers) [])
             when (equal (plist-get p :id) (car model))
             return (let* ((m (plist-get (plist-get p :models) (intern (concat ":" (cdr model)))))
                           (variants (plist-get m :variants)))
                      (cl-loop for (k _v) on variants by #'cddr
                               collect (substring (symbol-name k) 1))))))

(defun opencode-chat-cycle-variant ()
  "Switch this chat's prompts to the next variant of their model.
A model's variants (its reasoning effort, say) come from the server's
provider list; after the last one, the model's default again."
  (interactive)
  (opencode-prompt--in-chat
   (lambda ()
     (let* ((conn (opencode-chat-connection))
            (model (or opencode-chat-model
                       (opencode--parse-model (plist-get (opencode-chat-context) :model))
                       (user-error "No model yet: choose one with %s"
                                   (substitute-command-keys "\\[opencode-chat-set-model]"))))
            (variants (or (opencode-prompt--variants conn model)
                          (user-error "%s/%s has no variants" (car model) (cdr model))))
            (next (if opencode-chat-variant (cadr (member opencode-chat-variant variants))
                    (car variants))))
       (setq opencode-chat-model model
             opencode-chat-variant next)
       (force-mode-line-update t)
       (message "Variant: %s" (or next "the model's default"))))))

;;;; The mode

(opencode-define-keys opencode-prompt-mode-map opencode-prompt-menu
  :map-doc "Keymap of `opencode-prompt-mode'."
  :menu-doc "The commands of an OpenCode prompt."
  :menu-key "C-c ?"
  ((("Send"
     ("C-c C-c" "send (steer when busy)" opencode-prompt-send)
     ("C-c C-q" "queue until idle" opencode-prompt-queue)
     ("C-c C-u" "take back last queued" opencode-prompt-unqueue)
     ("C-c C-k" "abort the reply (pauses the queue)" opencode-prompt-abort)
     ("C-c C-s" "send the paused queue" opencode-chat-send-queue)
     ("C-c C-r" "answer permission/question" opencode-chat-answer))
    ("Attach"
     ("C-c C-f" "a file" opencode-prompt-attach-file)
     ("C-c C-v" "clipboard image" opencode-prompt-paste-image)
     ("TAB" "complete @file or /command" completion-at-point))
    ("Choose"
     ("C-c C-a" "agent" opencode-chat-set-agent)
     ("C-c C-t" "next agent" opencode-chat-cycle-agent)
     ("C-c C-m" "model" opencode-chat-set-model)
     ("C-c C-n" "next recent model" opencode-chat-cycle-model)
     ("C-c C-e" "next variant (effort)" opencode-chat-cycle-variant))
    ("History"
     ("M-p" "previous prompt" opencode-prompt-history-previous)
     ("M-n" "next prompt" opencode-prompt-history-next)))))

(define-derived-mode opencode-prompt-mode text-mode "OpenCode-Prompt"
  "Major mode of the prompt under an OpenCode chat.
Text starting with ! runs as a shell command in the project; /NAME
ARGS runs the server's command NAME.
\\{opencode-prompt-mode-map}"
  ;; Long lines wrap at words, as prose does.
  (setq-local word-wrap t))

(defun opencode-prompt--header-line ()
  "Return the prompt's header line: context, attachments, where the keys are.
It fits a half-width window: the keys are in the menu, not here."
  (concat
   " "
   (let ((chat opencode-prompt--chat))
     (if (buffer-live-p chat)
         (with-current-buffer chat
           (concat (opencode-chat-context-line)
                   (if opencode-chat-queued
                       (format " · %d queued%s" (length opencode-chat-queued)
                               (if opencode-chat-queue-paused " (paused)" ""))
                     "")))
       "chat closed: sending reopens it"))
   (if opencode-prompt--files
       (concat "  + " (mapconcat #'opencode-prompt--attachment-name opencode-prompt--files ", "))
     "")))

(defvar-local opencode-prompt--providers nil
  "Overlay saying, before the session's first prompt, which providers answer.")

(defvar-local opencode-prompt--providers-done nil
  "Non-nil once a prompt went from here: no more saying which providers answer.")

(defun opencode-prompt--hide-providers (&optional for-good)
  "Stop saying under the prompt which providers answer.
With FOR-GOOD (a prompt went), do not say it again, even when an answer
of the server asked before comes later."
  (when for-good (setq opencode-prompt--providers-done t))
  (when opencode-prompt--providers
    (delete-overlay opencode-prompt--providers)
    (setq opencode-prompt--providers nil)))

(defun opencode-prompt--show-providers (&optional tries)
  "Say under the prompt which providers answer, before the session's first prompt.
With no provider of your own, a prompt goes to a free model over the
network (`opencode-providers-text').  While the chat's first page is
being loaded, look again shortly, up to TRIES (default 20) times."
  (let ((prompt (current-buffer))
        (chat opencode-prompt--chat)
        (tries (or tries 20)))
    (when (and (buffer-live-p chat) (not opencode-prompt--providers-done))
      (pcase (opencode-chat-empty-p chat)
        ('unknown
         (when (> tries 0)
           (run-with-timer 0.25 nil
                           (lambda ()
                             (when (buffer-live-p prompt)
                               (with-current-buffer prompt
                                 (opencode-prompt--show-providers (1- tries))))))))
        ('nil (opencode-prompt--hide-providers))
        (_
         (let ((said (opencode-providers-text
                      (opencode-chat-connection chat)
                      (lambda ()
                        (when (buffer-live-p prompt)
                          (with-current-buffer prompt (opencode-prompt--show-providers)))))))
           (when said
             (opencode-prompt--hide-providers)
             ;; Over the whole text, growing with it: the note stays below.
             (setq opencode-prompt--providers (make-overlay (point-min) (point-max) nil nil t))
             (overlay-put opencode-prompt--providers 'after-string
                          ;; The cursor stays after the text: on a
                          ;; space, as it cannot go on a newline.
                          (concat (propertize " " 'cursor t) "\n"
                                  (propertize said 'face 'opencode-chat-dim))))))))))

(defun opencode-prompt--attach (prompt)
  "Make PROMPT the current chat's prompt, named and killed with it."
  (setq opencode-prompt--buffer
        (opencode-chat-adopt prompt (lambda () (concat (buffer-name) " prompt")))))

(defun opencode-chat-prompt ()
  "Show this chat's prompt below it and select it."
  (interactive)
  (let* ((chat (current-buffer))
         (buf (if (buffer-live-p opencode-prompt--buffer) opencode-prompt--buffer
                (opencode-prompt--attach (get-buffer-create (concat (buffer-name chat) " prompt"))))))
    (with-current-buffer buf
      (unless (derived-mode-p 'opencode-prompt-mode)
        (opencode-prompt-mode)
        (message "%s" (substitute-command-keys
                       "\\<opencode-prompt-mode-map>\\[opencode-prompt-send] sends, \\[opencode-prompt-queue] queues, \\[opencode-prompt-menu] shows every key")))
      (setq opencode-prompt--chat chat
            opencode-prompt--conn (opencode-chat-connection chat)
            opencode-prompt--session (opencode-chat-session-id chat))
      (setq-local completion-at-point-functions
                  (list (opencode-complete-at-point-function
                         (opencode-chat-connection chat))))
      (when (opencode-connection-live-p (opencode-chat-connection chat))
        (opencode-complete-warm-up (opencode-chat-connection chat)))
      (setq header-line-format '(:eval (opencode-prompt--header-line)))
      (opencode-prompt--show-providers))
    (select-window
     (display-buffer buf `((display-buffer-reuse-window
                            opencode-prompt--display-in-prompt-below
                            display-buffer-below-selected)
                           (window-height . ,opencode-chat-prompt-height))))
    buf))

(defun opencode-prompt--display-in-prompt-below (buffer alist)
  "Show prompt BUFFER in the window below the selected one, if a prompt is there.
That prompt is another chat's, one that window showed before: the new
chat's prompt takes its place instead of adding a window each time.
ALIST is the display action's."
  (let ((below (window-in-direction 'below)))
    (when (and below (not (window-dedicated-p below))
               (with-current-buffer (window-buffer below)
                 (derived-mode-p 'opencode-prompt-mode)))
      (window--display-buffer buffer below 'reuse alist))))

(provide 'opencode-prompt)
;;; opencode-prompt.el ends here

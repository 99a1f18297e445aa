;;; opencode-requests.el --- Permissions and questions a session asks  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; A session asks permission to run some tools, and asks the user
;; questions; each waits, listed in the chat's header line, until
;; answered with `opencode-chat-answer' (or from Lisp with
;; `opencode-chat-reply-permission' and `opencode-chat-reply-question').
;; The pending requests of a chat are kept in its buffer.

;;; Code:

(require 'cl-lib)
(require 'seq)
(require 'opencode-api)
(require 'opencode-model)

(declare-function opencode-chat-connection "opencode-chat" (&optional buffer))
(declare-function opencode-chat-session "opencode-chat" (&optional buffer))
(declare-function opencode-chat-session-id "opencode-chat" (&optional buffer))

(defun opencode-requests-pending (&optional buffer)
  "Return the pending requests of chat BUFFER's session, oldest first.
Those of its sub-agents' sessions too, which wait on the same user.
Each is (KIND . PROPS) with KIND `permission' or `question'; the
connection's store has them.  BUFFER defaults to the current one."
  (let* ((conn (opencode-chat-connection buffer))
         (sid (opencode-chat-session-id buffer)))
    (mapcar (lambda (r) (cons (opencode-user-request-kind r) (opencode-user-request-data r)))
            (cl-remove-if-not
             (lambda (r) (opencode-store-descends-p conn (opencode-user-request-session-id r) sid))
             (opencode-store-pending conn)))))

(declare-function opencode-chat-buffer "opencode-chat" (conn session-id))
(declare-function opencode-chat-open "opencode-chat" (conn session))

(defun opencode-requests--chat-of (conn sid)
  "Return the chat on CONN nearest to session SID: its own, or an ancestor's."
  (let ((seen nil) (buf nil))
    (while (and (stringp sid) (not buf) (not (member sid seen)))
      (push sid seen)
      (setq buf (opencode-chat-buffer conn sid)
            sid (opencode-store-parent conn sid)))
    buf))

(opencode-defevent opencode-requests--on-asked ("permission.asked" "question.asked")
    (conn props type)
  "Tell the user of the request in PROPS on CONN, if its chat is open.
Or a parent's, for a sub-agent's session, whose parent is asked of the
server when not known yet.  TYPE says which kind it is."
  (let ((sid (plist-get props :sessionID))
        (request (cons (if (equal type "permission.asked") 'permission 'question) props)))
    (when (stringp sid)
      (opencode-store-learn-parent
       conn sid
       (lambda ()
         (let ((buf (opencode-requests--chat-of conn sid)))
           (when buf
             (with-current-buffer buf
               (message "OpenCode %s: %s (%s to answer)" (plist-get (opencode-chat-session) :title)
                        (opencode-requests-summary request)
                        (substitute-command-keys
                         "\\<opencode-chat-mode-map>\\[opencode-chat-answer]"))))
           (force-mode-line-update t)))))))

(opencode-defevent opencode-requests--on-answered
    ("permission.replied" "question.replied" "question.rejected") (_conn _props)
  "Redraw header lines: a request was answered."
  (force-mode-line-update t))

;;;; Permissions and questions

(defun opencode-requests-summary (request)
  "Return a one-line description of REQUEST, (KIND . PROPS)."
  (let ((props (cdr request)))
    (pcase (car request)
      ('permission
       (format "Permission: %s %s" (plist-get props :permission)
               (mapconcat #'identity (plist-get props :patterns) " ")))
      ('question
       (format "Question: %s"
               (let ((q (and (> (length (plist-get props :questions)) 0)
                             (aref (plist-get props :questions) 0))))
                 (or (plist-get q :question) "?")))))))

(defun opencode-chat-reply-permission (id reply &optional text)
  "Answer permission request ID with REPLY: `once', `always' or `reject'.
TEXT, a string, goes along to the agent: why it was refused, what to do
instead."
  (opencode-api-permission-reply (opencode-chat-connection) id
                                 :body `(:reply ,(symbol-name reply)
                                                ,@(and (stringp text) (not (string-empty-p text))
                                                       (list :message text)))
                                 :callback (lambda (_) (message "Permission: %s" reply))))

(defun opencode-chat-reply-question (id answers)
  "Answer question request ID with ANSWERS, a list of lists of labels.
With ANSWERS nil, reject the question."
  (if answers
      (opencode-api-question-reply (opencode-chat-connection) id
                                   :body `(:answers ,(apply #'vector (mapcar (lambda (a) (apply #'vector a))
                                                                 answers)))
                        :callback (lambda (_) (message "Answered")))
    (opencode-api-question-reject (opencode-chat-connection) id
                                  :callback (lambda (_) (message "Question dismissed")))))

(defun opencode-requests--ask-question (q)
  "Ask question Q (a QuestionInfo plist) in the minibuffer; return labels."
  (let* ((options (mapcar (lambda (o) (cons (plist-get o :label) (plist-get o :description)))
                          (plist-get q :options)))
         (annotate (lambda (c) (let ((d (cdr (assoc c options))))
                                 (if d (concat "  " d) ""))))
         (completion-extra-properties (list :annotation-function annotate))
         (prompt (format "%s: " (plist-get q :question)))
         (require-match (not (eq (plist-get q :custom) t))))
    (if (eq (plist-get q :multiple) t)
        (completing-read-multiple prompt options nil require-match)
      (list (completing-read prompt options nil require-match)))))

(defcustom opencode-permission-show-diff t
  "Whether answering an edit or write permission shows its change first.
The proposed change shows as a diff in a window of its own while you
answer, and goes when you have.  With `ediff', an ediff session of
the file against its proposed text is offered as well."
  :type '(choice (const :tag "A diff" t) (const :tag "A diff, and ediff on request" ediff)
                 (const :tag "No" nil))
  :group 'opencode)

(defun opencode-requests--diff (props)
  "Return the proposed change of permission PROPS as diff text, or nil.
Edit and write requests carry it in their metadata."
  (let* ((meta (plist-get props :metadata))
         (diff (or (plist-get meta :diff) (plist-get (plist-get meta :filediff) :patch))))
    (and (stringp diff) (not (string-empty-p diff)) diff)))

(defun opencode-requests--show-diff (props)
  "Show the proposed change of permission PROPS; return its window, or nil."
  (let ((diff (and opencode-permission-show-diff (opencode-requests--diff props))))
    (when diff
      (let ((buf (get-buffer-create "*opencode-permission-diff*")))
        (with-current-buffer buf
          (let ((inhibit-read-only t))
            (erase-buffer)
            (insert diff)
            (diff-mode)
            (setq buffer-read-only t)
            (goto-char (point-min))))
        (display-buffer buf '((display-buffer-below-selected display-buffer-pop-up-window)
                              (window-height . fit-window-to-buffer)))))))

(defun opencode-requests--always-text (props)
  "Return what `always' would allow for permission PROPS, for the prompt."
  (let ((always (append (plist-get props :always) nil)))
    (if always (format "Allow from now on: %s" (string-join always ", "))
      "Allow from now on for these patterns")))

(defun opencode-chat-answer ()
  "Answer the oldest pending permission or question of this session.
Works from the chat and from its prompt.  An edit or write request
shows its change as a diff while you answer (`opencode-permission-show-diff');
\"always\" says the patterns it would allow from then on."
  (interactive)
  (let* ((chat (if (derived-mode-p 'opencode-prompt-mode) (opencode-prompt-chat)
                 (current-buffer)))
         (request (or (and (buffer-live-p chat)
                           (car (opencode-requests-pending chat)))
                      (user-error "Nothing is waiting for an answer"))))
    (with-current-buffer chat
      (opencode-requests--answer request))))

(declare-function opencode-prompt-chat "opencode-prompt" (&optional buffer))

(defun opencode-requests--answer (request)
  "Ask the user about REQUEST, (KIND . PROPS), and send the answer."
  (pcase (car request)
      ('permission
       (let* ((props (cdr request))
              (window (opencode-requests--show-diff props))
              (choice (unwind-protect
                          (read-multiple-choice
                           (opencode-requests-summary request)
                           `((?o "once" "Allow this time")
                             (?a "always" ,(opencode-requests--always-text props))
                             (?r "reject" "Refuse")
                             (?m "message" "Refuse, and tell the agent why or what to do")
                             ,@(and window (eq opencode-permission-show-diff 'ediff)
                                    '((?e "ediff" "Compare in ediff first, then answer")))))
                        (when (window-live-p window)
                          (quit-restore-window window 'kill)))))
         (when (equal (cadr choice) "ediff")
           (opencode-requests--ediff props)
           (setq choice (read-multiple-choice
                         (opencode-requests-summary request)
                         `((?o "once" "Allow this time")
                           (?a "always" ,(opencode-requests--always-text props))
                           (?r "reject" "Refuse")
                           (?m "message" "Refuse, and tell the agent why")))))
         (if (equal (cadr choice) "message")
             (opencode-chat-reply-permission (plist-get props :id) 'reject
                                             (read-string "Tell the agent: "))
           (opencode-chat-reply-permission (plist-get props :id)
                                           (intern (cadr choice))))))
      ('question
       (let* ((props (cdr request))
              (answers (condition-case nil
                           (mapcar #'opencode-requests--ask-question
                                   (append (plist-get props :questions) nil))
                         (quit (if (y-or-n-p "Dismiss the question? ") nil
                                 (signal 'quit nil))))))
         (opencode-chat-reply-question (plist-get props :id) answers)))))

(declare-function ediff-buffers "ediff" (buffer-a buffer-b &optional startup-hooks job-name))

(defun opencode-requests--ediff (props)
  "Compare the file of permission PROPS with its proposed text, in ediff."
  (let* ((meta (plist-get props :metadata))
         (file (or (plist-get meta :filepath) (plist-get (plist-get meta :filediff) :file)))
         (after (plist-get (plist-get meta :filediff) :after)))
    (unless (and (stringp file) (stringp after))
      (user-error "This request does not say what the file would become"))
    (let ((proposed (get-buffer-create (format "*proposed %s*" (file-name-nondirectory file)))))
      (with-current-buffer proposed
        (erase-buffer)
        (insert after)
        (set-auto-mode-0 (assoc-default file auto-mode-alist #'string-match) t))
      (ediff-buffers (find-file-noselect file) proposed))))

;;;###autoload
(defun opencode-answer-next ()
  "Go to the next session that needs you, anywhere, and answer it.
It opens that session's chat (or its parent's, for a sub-agent) and
asks about its oldest permission or question."
  (interactive)
  (let ((found nil))
    (dolist (conn opencode-connections)
      (unless found
        (let ((r (car (opencode-store-pending conn))))
          (when r (setq found (cons conn r))))))
    (unless found (user-error "No session needs you"))
    (pcase-let* ((`(,conn . ,r) found)
                 (sid (opencode-user-request-session-id r))
                 (chat (or (opencode-requests--chat-of conn sid)
                           (opencode-chat-open conn (list :id sid)))))
      (pop-to-buffer chat)
      (opencode-requests--answer (cons (opencode-user-request-kind r)
                                       (opencode-user-request-data r))))))

(provide 'opencode-requests)
;;; opencode-requests.el ends here

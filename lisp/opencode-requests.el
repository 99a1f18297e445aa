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

(defun opencode-chat-answer ()
  "Answer the oldest pending permission or question of this session."
  (interactive)
  (let ((request (or (car (opencode-requests-pending))
                     (user-error "Nothing is waiting for an answer"))))
    (pcase (car request)
      ('permission
       (let* ((props (cdr request))
              (choice (read-multiple-choice
                       (opencode-requests-summary request)
                       '((?o "once" "Allow this time")
                         (?a "always" "Allow from now on for these patterns")
                         (?r "reject" "Refuse")
                         (?m "message" "Refuse, and tell the agent why or what to do")))))
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
         (opencode-chat-reply-question (plist-get props :id) answers))))))

(provide 'opencode-requests)
;;; opencode-requests.el ends here

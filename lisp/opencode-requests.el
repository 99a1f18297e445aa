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

(declare-function opencode-chat-connection "opencode-chat" (&optional buffer))
(declare-function opencode-chat-session "opencode-chat" (&optional buffer))
(declare-function opencode-chat-session-id "opencode-chat" (&optional buffer))

(defvar-local opencode-requests--pending nil
  "Pending permission and question requests of the session, oldest first.
Each is (KIND . PROPS) with KIND `permission' or `question'.")

(defun opencode-requests-pending ()
  "Return the pending requests of this chat's session, oldest first.
Each is (KIND . PROPS) with KIND `permission' or `question'."
  opencode-requests--pending)

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

(defun opencode-requests-add (kind props)
  "Record a pending request of KIND with PROPS and tell the user."
  (unless (assoc-default (plist-get props :id)
                         (mapcar (lambda (r) (cons (plist-get (cdr r) :id) r))
                                 opencode-requests--pending))
    (setq opencode-requests--pending (append opencode-requests--pending (list (cons kind props))))
    (message "OpenCode %s: %s (%s to answer)" (plist-get (opencode-chat-session) :title)
             (opencode-requests-summary (cons kind props))
             (substitute-command-keys "\\<opencode-chat-mode-map>\\[opencode-chat-answer]"))))

(defun opencode-requests-drop (id)
  "Forget the pending request ID."
  (setq opencode-requests--pending
        (cl-remove-if (lambda (r) (equal (plist-get (cdr r) :id) id)) opencode-requests--pending)))

(defun opencode-requests-load (buf)
  "Fetch the pending permissions and questions of BUF's session."
  (with-current-buffer buf
    (let ((sid (opencode-chat-session-id)))
      (setq opencode-requests--pending nil)
      (dolist (kind '(permission question))
        (funcall
         (if (eq kind 'permission) #'opencode-api-permission-list #'opencode-api-question-list)
         (opencode-chat-connection)
         :callback (lambda (reqs)
                     (when (buffer-live-p buf)
                       (with-current-buffer buf
                         (seq-doseq (r reqs)
                           (when (equal (plist-get r :sessionID) sid)
                             (opencode-requests-add kind r)))
                         (force-mode-line-update)))))))))

(defun opencode-chat-reply-permission (id reply)
  "Answer permission request ID with REPLY: `once', `always' or `reject'."
  (opencode-api-permission-reply (opencode-chat-connection) id
                                 :body `(:reply ,(symbol-name reply))
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
  (let ((request (or (car opencode-requests--pending)
                     (user-error "Nothing is waiting for an answer"))))
    (pcase (car request)
      ('permission
       (let* ((props (cdr request))
              (choice (read-multiple-choice
                       (opencode-requests-summary request)
                       '((?o "once" "Allow this time")
                         (?a "always" "Allow from now on for these patterns")
                         (?r "reject" "Refuse")))))
         (opencode-chat-reply-permission (plist-get props :id)
                                         (intern (cadr choice)))))
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

;;; opencode-notify.el --- Telling the user when a session needs them  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; When a session finishes, or asks a permission or a question, while
;; none of its chat buffers is visible, a desktop notification (or a
;; message in the echo area) says so.  See `opencode-notify'.

;;; Code:

(require 'cl-lib)
(require 'opencode-lib)
(require 'opencode-connection)

(defcustom opencode-notify t
  "Whether to tell you when a session finishes or needs you unseen.
A notification (`notifications-notify' where D-Bus has it, else the echo
area) is sent when a session goes idle or asks a permission or a question
while none of its chat buffers is visible."
  :type 'boolean
  :group 'opencode)

(defvar opencode-notify--busy-sessions (make-hash-table :test 'equal)
  "Sessions last seen busy, so going idle can be told apart.")

(declare-function notifications-notify "notifications" (&rest params))

(defun opencode-notify--send (title body)
  "Tell the user TITLE and BODY, by desktop notification or message."
  (if (and (not noninteractive)
           (require 'notifications nil t)
           (fboundp 'notifications-notify)
           (ignore-errors (notifications-notify :title title :body body :app-name "Emacs")))
      nil
    (message "%s: %s" title body)))

(declare-function opencode-chat-session-id "opencode-chat" (&optional buffer))

(defun opencode-notify--session-visible-p (session-id)
  "Return non-nil if a chat of SESSION-ID is visible in some window."
  ;; There is no chat buffer before opencode-chat is loaded.
  (and (fboundp 'opencode-chat-session-id)
       (cl-some (lambda (b)
                  (and (provided-mode-derived-p (buffer-local-value 'major-mode b)
                                                'opencode-chat-mode)
                       (equal (opencode-chat-session-id b) session-id)
                       (get-buffer-window b 'visible)))
                (buffer-list))))

(defun opencode-notify--on-event (conn type props)
  "Notify about event TYPE with PROPS on CONN when nobody is looking."
  (when opencode-notify
    (let ((sid (plist-get props :sessionID)))
      (pcase type
        ("session.status"
         (let ((busy (member (plist-get (plist-get props :status) :type) '("busy" "retry"))))
           (cond (busy (puthash sid t opencode-notify--busy-sessions))
                 ((gethash sid opencode-notify--busy-sessions)
                  (remhash sid opencode-notify--busy-sessions)
                  (unless (opencode-notify--session-visible-p sid)
                    (opencode-notify--send "OpenCode" (format "A session finished in %s"
                                                              (opencode-connection-directory conn))))))))
        ((or "permission.asked" "question.asked")
         (unless (opencode-notify--session-visible-p sid)
           (opencode-notify--send "OpenCode"
                                  (format "A session in %s needs you (%s)"
                                          (opencode-connection-directory conn)
                                          (if (equal type "permission.asked")
                                              (format "permission: %s" (plist-get props :permission))
                                            "a question")))))))))

(add-hook 'opencode-event-functions #'opencode-notify--on-event)

(provide 'opencode-notify)
;;; opencode-notify.el ends here

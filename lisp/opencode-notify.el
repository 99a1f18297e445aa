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
(require 'opencode-model)

(defcustom opencode-notify t
  "Whether to tell you when a session finishes or needs you unseen.
A notification (`notifications-notify' where a desktop notification
service answers on D-Bus, else the echo area) is sent when a session
goes idle or asks a permission or a question while none of its chat
buffers is visible.  It names the session."
  :type 'boolean
  :group 'opencode)

(declare-function notifications-notify "notifications" (&rest params))
(declare-function dbus-ping "dbus" (bus service &optional timeout))

(defvar opencode-notify--desktop 'unknown
  "Whether desktop notifications can be sent: t, nil, or `unknown' yet.")

(defun opencode-notify--desktop-p ()
  "Return non-nil if a desktop notification service answers on D-Bus.
Asked once: over SSH, in a container or a terminal there is often no
bus, and then the echo area is used, quietly."
  (when (eq opencode-notify--desktop 'unknown)
    (setq opencode-notify--desktop
          (and (not noninteractive)
               (getenv "DBUS_SESSION_BUS_ADDRESS")
               (require 'dbus nil t)
               (require 'notifications nil t)
               (ignore-errors
                 (dbus-ping :session "org.freedesktop.Notifications" 500))
               t)))
  opencode-notify--desktop)

(defun opencode-notify--send (title body)
  "Tell the user TITLE and BODY, by desktop notification or in the echo area."
  (unless (and (opencode-notify--desktop-p)
               (ignore-errors (notifications-notify :title title :body body
                                                    :app-name "Emacs")))
    (message "%s: %s" title body)))

(declare-function opencode-chat-buffer "opencode-chat" (conn session-id))

(defun opencode-notify--session-visible-p (conn session-id)
  "Return non-nil if the chat of SESSION-ID on CONN is visible in some window."
  ;; There is no chat buffer before opencode-chat is loaded.
  (let ((buf (and (fboundp 'opencode-chat-buffer) (opencode-chat-buffer conn session-id))))
    (and buf (get-buffer-window buf 'visible))))

(defun opencode-notify--title (conn session-id)
  "Return how to name session SESSION-ID of CONN in a notification."
  (let ((s (opencode-store-session conn session-id)))
    (format "\"%s\" (%s)"
            (or (and s (opencode-session-title s)) session-id)
            (file-name-nondirectory (opencode-connection-directory conn)))))

(opencode-defevent opencode-notify--on-status ("session.status" "session.idle") (conn props)
  "Tell the user when the session of PROPS on CONN is done and unseen.
It runs before the store takes the event in, to see what the session was."
  :depth -10
  (let* ((sid (plist-get props :sessionID))
         (now (or (plist-get (plist-get props :status) :type) "idle")))
    (when (and opencode-notify (stringp sid)
               (opencode-store-busy-p conn sid)
               (equal now "idle")
               (not (opencode-notify--session-visible-p conn sid)))
      (opencode-notify--send "OpenCode" (format "Session %s finished"
                                                (opencode-notify--title conn sid))))))

(opencode-defevent opencode-notify--on-asked ("permission.asked" "question.asked")
    (conn props type)
  "Tell the user the session of PROPS on CONN needs them, if unseen.
TYPE says what it asks."
  (let ((sid (plist-get props :sessionID)))
    (when (and opencode-notify (stringp sid)
               (not (opencode-notify--session-visible-p conn sid)))
      (opencode-notify--send
       "OpenCode"
       (format "Session %s needs you (%s)" (opencode-notify--title conn sid)
               (if (equal type "permission.asked")
                   (format "permission: %s" (plist-get props :permission))
                 "a question"))))))

(provide 'opencode-notify)
;;; opencode-notify.el ends here

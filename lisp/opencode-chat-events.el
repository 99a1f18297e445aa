;;; opencode-chat-events.el --- What the server tells a chat  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The handlers of the events that change what a chat shows (messages,
;; parts and their streamed text, the session, its status and errors,
;; requests, todos, edited files, commands, a reconnection), each
;; finding its chat through the connection's registry, and the hook
;; `opencode-chat-event-functions' for other packages.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'seq)
(require 'opencode-lib)
(require 'opencode-connection)
(require 'opencode-events)
(require 'opencode-model)
(require 'opencode-api)
(require 'opencode-cache)
(require 'opencode-parts)
(require 'opencode-chat-section)
(require 'opencode-chat-message)

(defvar opencode-chat--deleted)
(defvar opencode-chat-queued)
(defvar opencode-chat-queue-paused)
(defvar opencode-chat--queue-released)
(defvar opencode-chat-queue-sent)
(defvar opencode-revert-edited-files)
(declare-function opencode-chat-session "opencode-chat" (&optional buffer))
(declare-function opencode-chat-reload "opencode-chat-load" (&optional reconnect))
(declare-function opencode-chat-draw-queue "opencode-chat" ())
(declare-function opencode-chat--buffer-name "opencode-chat" (session))
(declare-function opencode-chat--buffer "opencode-chat" (conn session-id))
(declare-function opencode-chat--buffers "opencode-chat" (conn))
(declare-function opencode-chat--rename-views "opencode-chat" ())
(declare-function opencode-chat--show-revert "opencode-chat-ops" ())
(declare-function opencode-chat--stop-countdown "opencode-chat-context" ())
(declare-function opencode-chat--countdown "opencode-chat-context" ())
(declare-function opencode-prompt-send-queued "opencode-prompt" (chat))
(declare-function opencode-todo-refresh "opencode-todo" ())

(defmacro opencode-chat--following (&rest body)
  "Run BODY; windows whose point was at the end of the buffer follow it."
  (declare (indent 0) (debug t))
  `(let ((at-end (cl-remove-if-not (lambda (w) (= (window-point w) (point-max)))
                                   (get-buffer-window-list (current-buffer) nil t)))
         (was-at-end (= (point) (point-max))))
     (prog1 (progn ,@body)
       (when was-at-end (goto-char (point-max)))
       (dolist (w at-end) (set-window-point w (point-max))))))


(defvar opencode-chat-event-functions nil
  "Abnormal hook run in a chat buffer for each event of its session.
Each function gets the event's TYPE and PROPS (a plist), after the
chat has drawn it.  Add to it buffer-locally, in one chat, with
`add-hook''s LOCAL argument, or globally for every chat.")

(defun opencode-chat--event-session (props)
  "Return the id of the session event PROPS concern, or nil."
  (let ((sid (or (plist-get props :sessionID)
                 (plist-get (plist-get props :info) :sessionID)
                 (plist-get (plist-get props :part) :sessionID))))
    (and (stringp sid) sid)))

(defmacro opencode-chat--in-chat (conn props &rest body)
  "Run BODY in the chat of the session of event PROPS on CONN, if open.
Windows at the end of the chat follow what BODY inserts."
  (declare (indent 2) (debug t))
  (let ((buf (make-symbol "buf")) (sid (make-symbol "sid")))
    `(let* ((,sid (opencode-chat--event-session ,props))
            (,buf (and ,sid (opencode-chat--buffer ,conn ,sid))))
       (when ,buf
         (with-current-buffer ,buf
           (opencode-chat--following ,@body)
           (force-mode-line-update))))))

(opencode-defevent opencode-chat--on-message "message.updated" (conn props)
  "Add the message of PROPS to its chat on CONN, or redraw its header.
A reply's step not done before it was cut off (a session runs one
step at a time): its header says so."
  (opencode-chat--in-chat conn props
    (let ((info (plist-get props :info)))
      (opencode-chat--update-message (plist-get info :id))
      (when (equal (plist-get info :role) "assistant")
        (opencode-chat--redraw-unfinished (plist-get info :id))))))

(opencode-defevent opencode-chat--on-message-removed "message.removed" (conn props)
  "Take the message of PROPS out of its chat on CONN."
  (opencode-chat--in-chat conn props
    (opencode-chat--remove-message (plist-get props :messageID))))

(opencode-defevent opencode-chat--on-part "message.part.updated" (conn props)
  "Draw the part of PROPS in its chat on CONN."
  (opencode-chat--in-chat conn props
    (opencode-chat--update-part (plist-get (plist-get props :part) :id))))

(opencode-defevent opencode-chat--on-part-removed "message.part.removed" (conn props)
  "Take the part of PROPS out of its chat on CONN."
  (opencode-chat--in-chat conn props
    (opencode-chat--remove-part (plist-get props :partID))))

(opencode-defdelta opencode-chat--on-delta (conn session msg part field text)
  "Append TEXT to FIELD of PART in the chat of SESSION on CONN, if open.
MSG is the message's id.  The hot path: no plist is made unless a
chat hook wants one."
  (let ((buf (opencode-chat--buffer conn session)))
    (when buf
      (with-current-buffer buf
        (opencode-chat--following
          (opencode-chat--append-delta part field text))
        (when opencode-chat-event-functions
          (run-hook-with-args 'opencode-chat-event-functions "message.part.delta"
                              (list :sessionID session :messageID msg
                                    :partID part :field field :delta text)))))))

(defun opencode-chat--session-changed ()
  "Show what the store now knows of this chat's session."
  (rename-buffer (opencode-chat--buffer-name (opencode-chat-session)) t)
  (opencode-chat--rename-views)
  (opencode-chat--show-revert)
  (force-mode-line-update))

(opencode-defevent opencode-chat--on-session "session.updated" (conn props)
  "Show the session of PROPS, as the store now has it, in its chat on CONN."
  (let ((buf (opencode-chat--buffer conn (plist-get (plist-get props :info) :id))))
    (when buf
      (with-current-buffer buf (opencode-chat--session-changed)))))

(opencode-defevent opencode-chat--on-status ("session.status" "session.idle") (conn props)
  "Run or stop the retry countdown of the chat of PROPS on CONN.
A reply not done is redrawn: idle, it was cut off.  Once the session
is idle, the first queued prompt goes, unless the reply was aborted,
from wherever (the session list, leaving the chat, another client):
an abort stops, and the queue waits, paused."
  (opencode-chat--in-chat conn props
    (opencode-chat--countdown)
    (opencode-chat--redraw-unfinished)
    ;; Busy: the reply to the prompt the queue sent has started.
    (when (opencode-store-busy-p conn (opencode-chat-session-id))
      (setq opencode-chat-queue-sent nil))
    (when opencode-chat-queued
      (unless (opencode-store-busy-p conn (opencode-chat-session-id))
        (opencode-chat--pause-queue-if-aborted
         (plist-get (opencode-chat--info (opencode-chat--newest-reply)) :error)))
      (opencode-prompt-send-queued (current-buffer)))))

(defun opencode-chat--pause-queue-if-aborted (err)
  "Pause the current chat's queue if ERR, the newest reply's error, is an abort.
Not if the user sent the queue after that reply
\(`opencode-chat--queue-released')."
  (when (and opencode-chat-queued (not opencode-chat-queue-paused)
             (opencode-api-aborted-p err)
             (not (equal opencode-chat--queue-released (or (opencode-chat--newest-reply) t))))
    (setq opencode-chat-queue-paused t)
    (opencode-chat-draw-queue)))

(opencode-defevent opencode-chat--on-error "session.error" (conn props)
  "Say the error of PROPS, of a session whose chat is open on CONN.
An error of no session is logged (the session lists show it too)."
  (let ((err (plist-get props :error)))
    (if (opencode-api-aborted-p err)
        (opencode-chat--in-chat conn props (opencode-chat--pause-queue-if-aborted err))
      (if (not (stringp (plist-get props :sessionID)))
          (opencode--log "%s: server error: %s" (opencode-connection-directory conn)
                         (opencode-api-error-text err))
        (opencode-chat--in-chat conn props
          (message "OpenCode: %s" (opencode-api-error-text err)))))))

(opencode-defevent opencode-chat--on-deleted "session.deleted" (conn props)
  "Mark the chat of the session PROPS says was deleted on CONN.
It keeps what it shows, says so in its header, and sends nothing more."
  (opencode-chat--in-chat conn props
    (setq opencode-chat--deleted (let ((info (plist-get props :info)))
                                   (if (stringp (plist-get info :id)) info
                                     (list :id (opencode-chat-session-id)))))
    (opencode-chat--stop-countdown)
    (opencode-chat--show-hint)
    (setq opencode-chat-queued nil opencode-chat-queue-paused nil opencode-chat-queue-sent nil)
    (opencode-chat-draw-queue)
    (message "OpenCode: session %s was deleted" (or (plist-get opencode-chat--deleted :title)
                                                    (opencode-chat-session-id)))))

(opencode-defevent opencode-chat--on-compacted "session.compacted" (conn props)
  "Reload the chat of the session of PROPS on CONN: it was compacted."
  (opencode-chat--in-chat conn props
    (opencode-chat-reload)))

(opencode-defevent opencode-chat--on-request
    ("permission.asked" "question.asked" "permission.replied" "question.replied" "question.rejected")
    (conn _props)
  "Draw or take away the block of the request asked or answered on CONN.
In every chat of CONN: a sub-agent's request shows in its parent's too."
  (dolist (b (opencode-chat--buffers conn))
    (with-current-buffer b
      (opencode-chat--following
        (opencode-chat--show-requests)))))

(opencode-defevent opencode-chat--on-todos "todo.updated" (conn props)
  "Redraw the todo list of the chat of PROPS on CONN."
  (opencode-chat--in-chat conn props
    (opencode-todo-refresh)))

(opencode-defevent opencode-chat--on-header ("session.diff" "vcs.branch.updated") (_conn _props)
  "Redraw header lines: what they show changed in the store."
  (force-mode-line-update t))

(opencode-defevent opencode-chat--run-hook t (conn props type)
  "Run `opencode-chat-event-functions' in the chat of PROPS on CONN.
TYPE is the event's type."
  :depth 90
  (let* ((sid (opencode-chat--event-session props))
         (buf (and sid (opencode-chat--buffer conn sid))))
    (when buf
      (with-current-buffer buf
        (when opencode-chat-event-functions
          (run-hook-with-args 'opencode-chat-event-functions type props))))))

(opencode-defevent opencode-chat--on-file-edited "file.edited" (_conn props)
  "Revert the unmodified buffer of the file PROPS says the agent edited."
  (let* ((file (plist-get props :file))
         (buf (and opencode-revert-edited-files (stringp file) (get-file-buffer file))))
    (when (and buf (not (buffer-modified-p buf)))
      (with-current-buffer buf (revert-buffer t t t)))))

(opencode-defevent opencode-chat--on-command "command.executed" (conn props)
  "Log the slash command of PROPS that ran on CONN; its chat shows it.
The prompt it made says so under its header, dimly."
  (opencode--log "%s: command /%s ran in %s" (opencode-connection-directory conn)
                 (plist-get props :name) (plist-get props :sessionID))
  (let ((mid (plist-get props :messageID)))
    (when (stringp mid)
      (opencode-chat--in-chat conn props
        ;; It names the command's last reply: the timeline keeps it
        ;; for the prompt (opencode-timeline.el), whose header says it.
        (let* ((prompt (and (opencode-chat--section mid)
                            (opencode-chat--prompt-of (opencode-chat--info mid))))
               (mid (or prompt mid)))
          (when (opencode-chat--section mid) (opencode-chat--update-message mid)))))))

(opencode-defevent opencode-chat--on-disposed "server.instance.disposed" (conn _props)
  "Reload CONN's chats: the server disposed of the project's instance."
  (opencode--log "%s: the server disposed of this project's instance; reloading"
                 (opencode-connection-directory conn))
  (dolist (b (opencode-chat--buffers conn))
    (with-current-buffer b (opencode-chat-reload))))

(defun opencode-chat--on-state (conn state _detail)
  "Reload CONN's chats when its stream (re)connects (STATE).
Events missed while the stream was down are then not missing."
  (when (eq state 'connected)
    (dolist (b (opencode-chat--buffers conn))
      (with-current-buffer b (opencode-chat-reload)))))

(add-hook 'opencode-connection-state-functions #'opencode-chat--on-state)

(provide 'opencode-chat-events)
;;; opencode-chat-events.el ends here

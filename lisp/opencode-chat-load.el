;;; opencode-chat-load.el --- Fetching a chat's messages and drawing them  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; How a chat gets its messages: the newest screenful first, then the
;; rest of the page drawn above it from a timer, older pages on a key,
;; reloads that keep every window's place.  What is fetched goes into
;; the session's timeline (opencode-timeline.el), and the chat draws
;; the timeline (a message as opencode-chat-message.el draws it).

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
(require 'opencode-timeline)
(require 'opencode-chat-section)
(require 'opencode-chat-message)

(defvar opencode-chat--loaded)
(defvar opencode-chat--backlog)
(defvar opencode-chat--backlog-timer)
(defvar opencode-chat--footer)
(defvar opencode-chat--footer-requests)
(defvar opencode-chat--deleted)
(declare-function opencode-chat-session-missing "opencode-chat-ops" (buffer &optional quiet))
(declare-function opencode-chat--session-found "opencode-chat-ops" (url))
(defvar opencode-chat--defaults)
(defvar opencode-chat-message-limit)
(defvar opencode-chat-render-batch)
(declare-function opencode-chat-show-end "opencode-chat" (&optional window))
(declare-function opencode-chat-draw-queue "opencode-chat" ())
(declare-function opencode-chat-learn-defaults "opencode-chat-context" ())
(declare-function opencode-chat--show-revert "opencode-chat-ops" ())
(declare-function opencode-chat--restore-places "opencode-chat" (places))
(declare-function opencode-chat--window-places "opencode-chat" ())
(declare-function opencode-chat--session-changed "opencode-chat-events" ())
(declare-function opencode-connection-revive "opencode" (conn))
(declare-function opencode-todo-refresh "opencode-todo" ())


(defun opencode-chat--draw-message (id)
  "Draw message ID of the timeline with its parts."
  (opencode-chat--insert-message id)
  (let ((m (opencode-timeline-message (opencode-chat-timeline) id)))
    (dolist (p (and m (opencode-message-parts m)))
      (opencode-chat--update-part (opencode-part-id p)))))

(defun opencode-chat--render-all ()
  "Erase the buffer and draw the chat's timeline (`opencode-chat-timeline').
The newest `opencode-chat-render-batch' messages are drawn at once;
older ones are drawn above them in batches, from a timer, so a long
session shows its end at once and Emacs stays responsive."
  (let* ((inhibit-read-only t)
         (all (copy-sequence (opencode-timeline-order (opencode-chat-timeline))))
         (now (nthcdr (max 0 (- (length all) opencode-chat-render-batch)) all)))
    (opencode-chat--stop-backlog)
    (erase-buffer)
    (clrhash opencode-chat--sections)
    (setq opencode-chat--footer-requests nil)
    (when opencode-chat--footer (set-marker opencode-chat--footer nil))
    (setq opencode-chat--footer nil)
    (setq opencode-chat--backlog (butlast all (length now)))
    (opencode--with-gc-room
      (mapc #'opencode-chat--draw-message now))
    (opencode-chat-draw-queue)
    (opencode-chat--refold-threads)
    (opencode-chat--show-hint)
    (when opencode-chat--backlog
      (setq opencode-chat--backlog-timer
            (run-with-timer 0.01 nil #'opencode-chat--draw-backlog (current-buffer))))))

(defun opencode-chat--fill (messages)
  "Make MESSAGES the chat's messages, and draw them.
MESSAGES is a sequence of (:info :parts), as the server sends them;
the chat's timeline holds them from now on, with the prompts still on
their way (`opencode-timeline-fill')."
  (opencode-timeline-fill (opencode-chat-timeline) messages)
  (opencode-chat--render-all))

(defun opencode-chat--stop-backlog ()
  "Forget the messages not drawn yet and stop drawing them."
  (when opencode-chat--backlog-timer
    (cancel-timer opencode-chat--backlog-timer))
  (setq opencode-chat--backlog-timer nil
        opencode-chat--backlog nil))

(defun opencode-chat--draw-backlog (buffer)
  "Draw the newest batch of BUFFER's undrawn messages above the others."
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (setq opencode-chat--backlog-timer nil)
      (let* ((n (length opencode-chat--backlog))
             (batch (nthcdr (max 0 (- n opencode-chat-render-batch)) opencode-chat--backlog))
             (first (opencode-chat--section (get-text-property (point-min) 'opencode-message)))
             (windows (mapcar (lambda (w) (cons w (copy-marker (window-start w) t)))
                              (get-buffer-window-list nil nil t)))
             (opencode-chat--insert-at (copy-marker (point-min) t))
             (inhibit-read-only t))
        (setq opencode-chat--backlog (butlast opencode-chat--backlog (length batch)))
        ;; The first message shown must start after what goes above it.
        (when first (set-marker-insertion-type (opencode-chat-section-beg first) t))
        (unwind-protect
            (opencode--with-gc-room
              (dolist (id batch)
                (unless (opencode-chat--section id)
                  (opencode-chat--draw-message id))))
          (when first (set-marker-insertion-type (opencode-chat-section-beg first) nil))
          (set-marker opencode-chat--insert-at nil)
          ;; Windows keep showing what they showed.
          (pcase-dolist (`(,w . ,m) windows)
            (set-window-start w m t)
            (set-marker m nil)))
        (if opencode-chat--backlog
            (setq opencode-chat--backlog-timer
                  (run-with-timer 0.01 nil #'opencode-chat--draw-backlog buffer))
          (opencode-chat--show-revert))))))

(defvar-local opencode-chat--generation 0
  "How many times this chat was drawn from a fresh fetch.
A reply to an older fetch (the rest of a first page, say) that comes
after a newer one is dropped.")

(defvar-local opencode-chat--rest-pending nil
  "Non-nil while the rest of the first page is being fetched.")

(defun opencode-chat-loaded-p ()
  "Return non-nil if every fetched message of this chat is drawn.
Not while the rest of its first page is on its way."
  (and (null opencode-chat--backlog) (not opencode-chat--rest-pending)))

(defun opencode-chat-messages (&optional buffer)
  "Return the messages of chat BUFFER, oldest first, as (:info INFO :parts PARTS).
BUFFER defaults to the current buffer.  INFO and each part are the
plists the server sent, with the text streamed since included.  They
are read from the chat's timeline (`opencode-chat-timeline'), so
messages fetched but not drawn yet are included."
  (opencode-timeline-plists (opencode-chat-timeline buffer)))

(defun opencode-chat--shown-messages ()
  "Return the messages of this chat, drawn or not.
See `opencode-chat-messages'."
  (opencode-chat-messages))

(defun opencode-chat-part-at (&optional pos)
  "Return the part shown at POS (default: point), a plist, or nil.
The part is read from the chat's timeline, its streamed text included."
  (let* ((id (opencode-chat--part-at (or pos (point))))
         (part (and id (opencode-timeline-part (opencode-chat-timeline) id))))
    (and part (opencode-part-plist part))))

(defun opencode-chat-message-at (&optional pos)
  "Return the message shown at POS (default: point), or nil.
It is a plist (:info INFO :parts PARTS), as `opencode-chat-messages'."
  (let* ((pos (or pos (point)))
         (id (or (get-text-property pos 'opencode-message)
                 (plist-get (opencode-chat-part-at pos) :messageID)))
         (m (and id (opencode-chat--section id)
                 (opencode-timeline-message (opencode-chat-timeline) id))))
    (and m (opencode-timeline-message-plist m))))

(defun opencode-chat-load-older ()
  "Load the page of messages before the oldest one shown, keeping point."
  (interactive)
  (let* ((timeline (opencode-chat-timeline))
         (oldest (car (opencode-timeline-order timeline)))
         (buf (current-buffer)))
    (unless (and oldest (opencode-timeline-more timeline)) (user-error "Every message is shown"))
    (opencode-api-session-messages
     opencode-chat--conn (opencode-chat-session-id)
     :limit opencode-chat-message-limit :before (opencode-timeline-more timeline) :full t
     :callback
     (lambda (reply)
       (when (buffer-live-p buf)
         (with-current-buffer buf
           (let ((part (opencode-chat--part-at (point)))
                 (older (opencode-reply-data reply)))
             ;; The rest of a first page, if still on its way, is in here.
             (setq opencode-chat--rest-pending nil)
             (cl-incf opencode-chat--generation)
             (setf (opencode-timeline-more timeline) (opencode-reply-header reply "x-next-cursor"))
             (opencode-timeline-add timeline older)
             (opencode-chat--render-all)
             (if (opencode-chat--section part)
                 (goto-char (opencode-chat-section-beg (opencode-chat--section part)))
               (goto-char (point-min)))
             (message "%s loaded%s" (opencode--plural (length older) "older message")
                      (if (opencode-timeline-more timeline) "; o for more" "")))))))))

(defun opencode-chat-reload (&optional reconnect)
  "Fetch the session's messages again and redraw the buffer.
Interactively (RECONNECT non-nil), with the connection down, reconnect
it now instead (a local server that was stopped starts again; one
stopped for a refused password is reopened): the chat reloads once it
is up."
  (interactive (list t))
  (let ((conn opencode-chat--conn))
    (if (and reconnect (not (eq (opencode-connection-state conn) 'connected)))
        (progn
          (opencode-connection-revive conn)
          (message "OpenCode: %s" (opencode-connection-state-text conn)))
      (when (opencode-connection-usable-p conn)
        (opencode-chat--load)))))

(defun opencode-chat--load ()
  "Fetch the session's messages and what the store may miss; redraw.
Not for a deleted session: the chat keeps what it showed."
  (unless opencode-chat--deleted
    (opencode-chat--fetch)))

(defun opencode-chat--fetch ()
  "Fetch the session's messages and what the store may miss; redraw.
The first time, only the newest `opencode-chat-render-batch' are
asked for, so the first screen waits for their reply alone; the rest
of the page (`opencode-chat-message-limit') follows and is drawn above
them.  A reload asks for the whole page, so every window keeps its
place."
  (let* ((buf (current-buffer))
         (generation (progn (setq opencode-chat--rest-pending nil)
                            (cl-incf opencode-chat--generation)))
         (first (and (not opencode-chat--loaded)
                     (< 0 opencode-chat-render-batch opencode-chat-message-limit)
                     opencode-chat-render-batch)))
    (opencode-api-session-messages
     opencode-chat--conn (opencode-chat-session-id)
     :limit (or first opencode-chat-message-limit) :full t
     :errback (lambda (err)
                ;; Not there: deleted while we did not listen, or the
                ;; connection now goes to another server (`opencode-attach').
                (if (opencode-api-session-not-found-p err)
                    (opencode-chat-session-missing buf)
                  (message "OpenCode: %s" (opencode-error-text err))))
     :callback (lambda (reply)
                 (when (buffer-live-p buf)
                   (with-current-buffer buf
                     (opencode-chat--session-found (opencode-connection-url opencode-chat--conn))
                     (when (= generation opencode-chat--generation)
                       (let ((places (and opencode-chat--loaded (opencode-chat--window-places)))
                             (timeline (opencode-chat-timeline)))
                         (setf (opencode-timeline-more timeline)
                               (opencode-reply-header reply "x-next-cursor"))
                         (opencode-chat--fill (opencode-reply-data reply))
                         ;; Kept on disk (opencode-cache.el); what the prompts
                         ;; changed is learned from their summaries.
                         (opencode-cache-chat-loaded opencode-chat--conn (opencode-chat-session-id)
                                                     (opencode-reply-data reply))
                         (opencode-store-learn-messages opencode-chat--conn (opencode-chat-session-id)
                                                        (opencode-reply-data reply)
                                                        (not (opencode-timeline-more timeline)))
                         (opencode-chat--show-revert)
                         ;; The first time, the chat opens on its newest
                         ;; message; later, every window keeps its place.
                         (if places
                             (opencode-chat--restore-places places)
                           (opencode-chat-show-end))
                         (setq opencode-chat--loaded t)
                         (when (and first (opencode-timeline-more timeline))
                           (opencode-chat--fetch-rest buf generation
                                                      (- opencode-chat-message-limit first)))))))))
    ;; What the store may miss: the session itself (opened by id), the
    ;; branch and the todos are only told as they change.
    (let ((conn opencode-chat--conn) (sid (opencode-chat-session-id)))
      (unless opencode-chat--defaults (opencode-chat-learn-defaults))
      (opencode-api-session-get
       conn sid :errback #'ignore
       :callback (lambda (s)
                   (opencode-store-put-session conn s)
                   (when (buffer-live-p buf)
                     (with-current-buffer buf (opencode-chat--session-changed)))))
      (opencode-api-vcs
       conn :errback #'ignore
       :callback (lambda (vcs)
                   (setf (opencode-store-branch (opencode-store conn)) (plist-get vcs :branch))
                   (force-mode-line-update t)))
      (opencode-api-session-todo
       conn sid :errback #'ignore
       :callback (lambda (todos)
                   (opencode-store-put-todos conn sid todos)
                   (when (buffer-live-p buf)
                     (with-current-buffer buf (opencode-todo-refresh))))))))

(defun opencode-chat--fetch-rest (buffer generation limit)
  "Fetch up to LIMIT messages older than those chat BUFFER shows.
They are drawn above the others from a timer, as a long page's older
messages are.  Nothing is done if BUFFER was drawn again since
GENERATION."
  (with-current-buffer buffer
    (setq opencode-chat--rest-pending t)
    (let ((conn opencode-chat--conn) (sid (opencode-chat-session-id))
          (timeline (opencode-chat-timeline)))
      (opencode-api-session-messages
       conn sid :limit limit :before (opencode-timeline-more timeline) :full t
       :errback (lambda (e)
                  (opencode--log "older messages of %s: %s" sid (opencode-error-text e))
                  (when (buffer-live-p buffer)
                    (with-current-buffer buffer
                      (when (= generation opencode-chat--generation)
                        (setq opencode-chat--rest-pending nil)))))
       :callback
       (lambda (reply)
         (when (buffer-live-p buffer)
           (with-current-buffer buffer
             (when (= generation opencode-chat--generation)
               (setq opencode-chat--rest-pending nil)
               (let ((older (append (opencode-reply-data reply) nil)))
                 (setf (opencode-timeline-more timeline)
                       (opencode-reply-header reply "x-next-cursor"))
                 (opencode-store-learn-messages conn sid (opencode-reply-data reply)
                                                (not (opencode-timeline-more timeline)))
                 ;; Held at once, drawn from a timer.
                 (opencode-timeline-add timeline older)
                 (when older
                   (setq opencode-chat--backlog
                         (append (mapcar (lambda (m) (plist-get (plist-get m :info) :id)) older)
                                 opencode-chat--backlog))
                   (unless opencode-chat--backlog-timer
                     (setq opencode-chat--backlog-timer
                           (run-with-timer 0.01 nil #'opencode-chat--draw-backlog
                                           buffer)))))))))))))

(provide 'opencode-chat-load)
;;; opencode-chat-load.el ends here

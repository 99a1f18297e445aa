;;; opencode-sessions.el --- The live list of OpenCode sessions  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; M-x opencode-sessions lists the sessions of the current project in a
;; `tabulated-list-mode' buffer, kept live by the server's events:
;; session.created/updated/deleted change rows, session.status changes
;; the status badge.  After every (re)connection the list and the
;; statuses are fetched again, so nothing missed while away stays stale.

;;; Code:

(require 'tabulated-list)
(require 'opencode)
(require 'opencode-api)

(defface opencode-status-idle '((t :inherit shadow))
  "Face of the idle status badge."
  :group 'opencode)

(defface opencode-status-busy '((t :inherit warning))
  "Face of the busy status badge."
  :group 'opencode)

(defface opencode-status-retry '((t :inherit error))
  "Face of the retry status badge."
  :group 'opencode)

(defvar-local opencode-sessions--conn nil
  "The connection whose sessions this buffer lists.")

(defvar-local opencode-sessions--sessions nil
  "Hash table: session id -> session plist.")

(defvar-local opencode-sessions--status nil
  "Hash table: session id -> status plist (idle sessions are absent).")

(defvar-local opencode-sessions--redraw-timer nil
  "Timer of a pending redraw, so a burst of events redraws once.")

(defvar opencode-sessions-mode-map
  (let ((map (make-sparse-keymap)))
    (set-keymap-parent map tabulated-list-mode-map)
    (define-key map "g" #'opencode-sessions-refresh)
    (define-key map "c" #'opencode-sessions-create)
    (define-key map "r" #'opencode-sessions-rename)
    (define-key map "d" #'opencode-sessions-delete)
    (define-key map "k" #'opencode-sessions-abort)
    (define-key map "n" #'next-line)
    (define-key map "p" #'previous-line)
    map)
  "Keymap of `opencode-sessions-mode'.")

(define-derived-mode opencode-sessions-mode tabulated-list-mode "OpenCode-Sessions"
  "Major mode listing the sessions of an OpenCode project.
\\{opencode-sessions-mode-map}"
  (setq tabulated-list-format
        [("Status" 8 t) ("Title" 40 t) ("Slug" 18 t) ("Updated" 17 t)
         ("Changes" 0 nil)])
  (setq tabulated-list-sort-key nil)
  (setq opencode-sessions--sessions (make-hash-table :test 'equal)
        opencode-sessions--status (make-hash-table :test 'equal))
  (tabulated-list-init-header))

(defun opencode-sessions--buffers (conn)
  "Return the session list buffers showing CONN."
  (cl-remove-if-not
   (lambda (b) (eq (buffer-local-value 'opencode-sessions--conn b) conn))
   (buffer-list)))

(defun opencode-sessions--status-badge (id)
  "Return the status badge of session ID."
  (let* ((st (gethash id opencode-sessions--status))
         (type (or (plist-get st :type) "idle")))
    (pcase type
      ("busy" (propertize "busy" 'face 'opencode-status-busy))
      ("retry" (propertize (format "retry %s" (plist-get st :attempt))
                           'face 'opencode-status-retry
                           'help-echo (plist-get st :message)))
      (_ (propertize "idle" 'face 'opencode-status-idle)))))

(defun opencode-sessions--entry (s)
  "Return the tabulated-list entry of session plist S."
  (let* ((id (plist-get s :id))
         (time (plist-get s :time))
         (updated (plist-get time :updated))
         (summary (plist-get s :summary))
         (changes (if (and summary (listp summary) (plist-get summary :files)
                           (> (plist-get summary :files) 0))
                      (format "+%s -%s (%s files)" (plist-get summary :additions)
                              (plist-get summary :deletions)
                              (plist-get summary :files))
                    "")))
    (list id (vector (opencode-sessions--status-badge id)
                     (or (plist-get s :title) "")
                     (or (plist-get s :slug) "")
                     (if (numberp updated)
                         (format-time-string "%F %R" (/ updated 1000.0))
                       "")
                     changes))))

(defun opencode-sessions--redraw ()
  "Redraw the current session list now, keeping point."
  (setq opencode-sessions--redraw-timer nil)
  (let (sessions)
    (maphash (lambda (_ s) (push s sessions)) opencode-sessions--sessions)
    (setq sessions
          (sort sessions
                (lambda (a b)
                  (> (or (plist-get (plist-get a :time) :updated) 0)
                     (or (plist-get (plist-get b :time) :updated) 0)))))
    (setq tabulated-list-entries (mapcar #'opencode-sessions--entry sessions))
    (tabulated-list-print t)))

(defun opencode-sessions--schedule-redraw (buffer)
  "Redraw BUFFER soon, once for a burst of changes."
  (with-current-buffer buffer
    (unless opencode-sessions--redraw-timer
      (setq opencode-sessions--redraw-timer
            (run-with-timer 0.05 nil
                            (lambda ()
                              (when (buffer-live-p buffer)
                                (with-current-buffer buffer
                                  (opencode-sessions--redraw)))))))))

(defun opencode-sessions--on-event (conn type props)
  "Update the session lists of CONN for event TYPE with PROPS."
  (dolist (buf (opencode-sessions--buffers conn))
    (with-current-buffer buf
      (pcase type
        ((or "session.created" "session.updated")
         (let ((info (plist-get props :info)))
           (puthash (plist-get info :id) info opencode-sessions--sessions)))
        ("session.deleted"
         (remhash (plist-get (plist-get props :info) :id)
                  opencode-sessions--sessions))
        ("session.status"
         (let ((st (plist-get props :status)))
           (if (equal (plist-get st :type) "idle")
               (remhash (plist-get props :sessionID) opencode-sessions--status)
             (puthash (plist-get props :sessionID) st
                      opencode-sessions--status))))
        (_ nil))
      (when (member type '("session.created" "session.updated"
                           "session.deleted" "session.status"))
        (opencode-sessions--schedule-redraw buf)))))

(defun opencode-sessions--on-state (conn state _detail)
  "Fetch CONN's sessions again when its stream reconnects (STATE)."
  (when (eq state 'connected)
    (dolist (buf (opencode-sessions--buffers conn))
      (with-current-buffer buf
        (opencode-sessions-refresh)))))

(add-hook 'opencode-event-functions #'opencode-sessions--on-event)
(add-hook 'opencode-connection-state-functions #'opencode-sessions--on-state)

(defun opencode-sessions-refresh ()
  "Fetch the sessions and their statuses from the server again."
  (interactive)
  (let ((buf (current-buffer))
        (conn opencode-sessions--conn))
    (opencode-api-session-list
     conn :limit 100
     :callback (lambda (list)
                 (when (buffer-live-p buf)
                   (with-current-buffer buf
                     (clrhash opencode-sessions--sessions)
                     (seq-doseq (s list)
                       (puthash (plist-get s :id) s opencode-sessions--sessions))
                     (opencode-sessions--redraw)))))
    (opencode-api-session-status
     conn :callback (lambda (status)
                      (when (buffer-live-p buf)
                        (with-current-buffer buf
                          (clrhash opencode-sessions--status)
                          (cl-loop for (k v) on status by #'cddr
                                   do (puthash (substring (symbol-name k) 1) v
                                               opencode-sessions--status))
                          (opencode-sessions--schedule-redraw buf)))))))

(defun opencode-sessions--id-at-point ()
  "Return the id of the session at point, or signal a `user-error'."
  (or (tabulated-list-get-id) (user-error "No session at point")))

(defun opencode-sessions-create (title)
  "Create a session titled TITLE (empty: let the server name it)."
  (interactive "sTitle of the new session (empty for default): ")
  (opencode-api-session-create
   opencode-sessions--conn
   :title (and (not (string-empty-p title)) title)
   :callback (lambda (s) (message "Created session %s" (plist-get s :slug)))))

(defun opencode-sessions-rename (id title)
  "Rename session ID to TITLE."
  (interactive
   (let ((id (opencode-sessions--id-at-point)))
     (list id (read-string "New title: "
                           (plist-get (gethash id opencode-sessions--sessions)
                                      :title)))))
  (opencode-api-session-update opencode-sessions--conn id :title title))

(defun opencode-sessions-delete (id)
  "Delete session ID and its forks, after confirmation."
  (interactive (list (opencode-sessions--id-at-point)))
  (let ((s (gethash id opencode-sessions--sessions)))
    (when (yes-or-no-p (format "Delete session \"%s\" and its forks? "
                               (or (plist-get s :title) id)))
      (opencode-api-session-delete opencode-sessions--conn id))))

(defun opencode-sessions-abort (id)
  "Abort the running reply of session ID."
  (interactive (list (opencode-sessions--id-at-point)))
  (opencode-api-session-abort opencode-sessions--conn id
                              :callback (lambda (_) (message "Aborted"))))

;;;###autoload
(defun opencode-sessions (&optional directory)
  "Show the OpenCode sessions of DIRECTORY (default: the current project).
With a prefix argument, ask for the directory."
  (interactive
   (list (and current-prefix-arg
              (read-directory-name "Project directory: "))))
  (let* ((conn (opencode-connect directory))
         (name (format "*opencode-sessions: %s*"
                       (abbreviate-file-name (opencode-connection-directory conn))))
         (buf (get-buffer-create name)))
    (with-current-buffer buf
      (unless (derived-mode-p 'opencode-sessions-mode)
        (opencode-sessions-mode))
      (setq opencode-sessions--conn conn)
      (setq default-directory (file-name-as-directory
                               (opencode-connection-directory conn)))
      (opencode-sessions-refresh))
    (pop-to-buffer-same-window buf)
    buf))

(provide 'opencode-sessions)
;;; opencode-sessions.el ends here

;;; opencode-sidebar.el --- Project sidebar: sessions and their changed files  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;;; Commentary:

;; `M-x opencode-sidebar' shows, in a side window, the project's
;; sessions as a tree (sub-agent sessions under their parent, busy ones
;; marked) and, under a session opened with TAB, the files it changed
;; with their +/- counts.  RET on a session opens its chat; RET on a
;; file shows that file's diff; `a' archives or unarchives a session,
;; `A' shows or hides the archived ones.  The sidebar follows the server's
;; events.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'opencode)
(require 'opencode-api)
(require 'opencode-chat)
(require 'opencode-diff)

(defcustom opencode-sidebar-width 40
  "Width of the sidebar window."
  :type 'integer
  :group 'opencode)

(defcustom opencode-sidebar-side 'left
  "Side of the frame the sidebar is on."
  :type '(choice (const left) (const right))
  :group 'opencode)

(defvar-local opencode-sidebar--conn nil "The connection of this sidebar.")
(defvar-local opencode-sidebar--open nil "Table: session id -> its diffs (vector), shown.")
(defvar-local opencode-sidebar--timer nil "Timer of the next redraw.")
(defvar-local opencode-sidebar--archived nil "Non-nil when archived sessions are shown.")

(defun opencode-sidebar--buffers (conn)
  "Return CONN's live sidebar buffers."
  (cl-remove-if-not (lambda (b) (eq (buffer-local-value 'opencode-sidebar--conn b) conn))
                    (plist-get (opencode-connection-plist conn) :sidebars)))

(defun opencode-sidebar--sessions ()
  "Return the plists of the project's sessions to show, newest first.
They are the sessions the connection's store knows; archived ones only
when `opencode-sidebar-toggle-archived' shows them."
  (let (all)
    (maphash (lambda (_ s) (when (or opencode-sidebar--archived
                                     (not (opencode-session-archived-p s)))
                             (push (opencode-session-data s) all)))
             (opencode-store-sessions (opencode-store opencode-sidebar--conn)))
    (sort all (lambda (a b) (> (or (plist-get (plist-get a :time) :updated) 0)
                               (or (plist-get (plist-get b :time) :updated) 0))))))

(defun opencode-sidebar--insert-session (s depth sessions)
  "Insert session S at DEPTH, its files if open, then its children.
SESSIONS are all the sessions shown."
  (let* ((id (plist-get s :id))
         (st (opencode-store-state opencode-sidebar--conn id))
         (diffs (gethash id opencode-sidebar--open 'closed))
         (summary (opencode-store-diff-summary opencode-sidebar--conn id)))
    (insert (propertize
             (concat (make-string (* 2 depth) ?\s)
                     (if (eq diffs 'closed) "▸ " "▾ ")
                     (or (plist-get s :title) id)
                     (if (opencode-session-archived-p s)
                         (propertize "  archived" 'face 'shadow)
                       "")
                     (pcase st
                       ('unknown
                        (propertize " ?" 'help-echo (concat "Busy when last known; now "
                                                            (opencode-store-unknown-status-text
                                                             opencode-sidebar--conn t))))
                       ('busy (propertize " ●" 'face 'warning))
                       ('retry (propertize " retry" 'face 'error))
                       ('error (propertize (concat " " (opencode-store-state-word 'error)) 'face 'error
                                           'help-echo (opencode-api-error-text
                                                       (opencode-store-session-error
                                                        opencode-sidebar--conn id))))
                       ('needs (propertize (concat " " (opencode-store-state-word 'needs)) 'face 'warning))
                       (_ ""))
                     (pcase summary
                       (`(,_ ,adds ,dels)
                        (propertize (format "  +%s −%s" adds dels) 'face 'opencode-chat-dim))
                       (_ ""))
                     "\n")
             'opencode-session id))
    (unless (eq diffs 'closed)
      (if (zerop (length diffs))
          (insert (make-string (* 2 (1+ depth)) ?\s)
                  (propertize "no changes\n" 'face 'opencode-chat-dim))
        (seq-doseq (d diffs)
          (insert (propertize
                   (concat (make-string (* 2 (1+ depth)) ?\s)
                           (propertize (format "+%-4s" (or (plist-get d :additions) 0)) 'face 'diff-added)
                           (propertize (format "−%-4s" (or (plist-get d :deletions) 0)) 'face 'diff-removed)
                           (opencode-diff-file d) "\n")
                   'opencode-session id 'opencode-diff d)))))
    (dolist (c (cl-remove-if-not
                (lambda (c) (equal (opencode-store-tree-parent opencode-sidebar--conn
                                                               (plist-get c :id))
                                   id))
                sessions))
      (opencode-sidebar--insert-session c (1+ depth) sessions))))

(defun opencode-sidebar--redraw ()
  "Draw the sidebar from what it knows."
  (setq opencode-sidebar--timer nil)
  (let ((inhibit-read-only t)
        (line (line-number-at-pos)))
    (erase-buffer)
    (insert (propertize (abbreviate-file-name (opencode-connection-directory opencode-sidebar--conn))
                        'face 'bold)
            (if opencode-sidebar--archived
                (propertize "  +archived" 'face 'opencode-chat-dim)
              "")
            "\n")
    (let* ((sessions (opencode-sidebar--sessions))
           (ids (mapcar (lambda (s) (plist-get s :id)) sessions)))
      (dolist (s sessions)
        ;; Roots, and children (or forks) whose parent is not listed.
        (unless (member (opencode-store-tree-parent opencode-sidebar--conn (plist-get s :id))
                        ids)
          (opencode-sidebar--insert-session s 0 sessions))))
    (goto-char (point-min))
    (forward-line (1- line))))

(defun opencode-sidebar--schedule (buf)
  "Redraw sidebar BUF soon, once for a burst of events."
  (with-current-buffer buf
    (opencode--debounce 'opencode-sidebar--timer 0.1 #'opencode-sidebar--redraw)))

(defun opencode-sidebar--fetch-sessions (buf)
  "Fetch the project's sessions into the store; redraw sidebar BUF."
  (let ((conn (buffer-local-value 'opencode-sidebar--conn buf))
        (since opencode-events-tick))
    (opencode-api-session-list
     conn
     :callback (lambda (list)
                 (opencode-store-merge-sessions conn list since)
                 (when (buffer-live-p buf)
                   (opencode-sidebar--schedule buf))))))

(defun opencode-sidebar-refresh ()
  "Fetch the project's sessions and statuses again."
  (interactive)
  (opencode-sidebar--fetch-sessions (current-buffer))
  (opencode-store-sync opencode-sidebar--conn))

(defun opencode-sidebar--fetch-diffs (id)
  "Fetch the files session ID changed and show them."
  (let ((buf (current-buffer)))
    (opencode-store-fetch-diff
     opencode-sidebar--conn id
     (lambda (diffs)
       (when (buffer-live-p buf)
         (with-current-buffer buf
           (unless (eq (gethash id opencode-sidebar--open 'closed) 'closed)
             (puthash id diffs opencode-sidebar--open)
             (opencode-sidebar--schedule buf))))))))

(defun opencode-sidebar-toggle ()
  "Show or hide the changed files of the session at point."
  (interactive)
  (let ((id (or (get-text-property (line-beginning-position) 'opencode-session)
                (user-error "No session on this line"))))
    (if (eq (gethash id opencode-sidebar--open 'closed) 'closed)
        (progn (puthash id [] opencode-sidebar--open)
               (opencode-sidebar--fetch-diffs id))
      (remhash id opencode-sidebar--open))
    (opencode-sidebar--redraw)))

(defun opencode-sidebar-visit ()
  "Open the chat of the session at point, or the diff of the file at point."
  (interactive)
  (let ((id (get-text-property (line-beginning-position) 'opencode-session))
        (diff (get-text-property (line-beginning-position) 'opencode-diff))
        (conn opencode-sidebar--conn))
    (cond
     (diff
      (display-buffer (opencode-diff-show
                       (format "*opencode-diff: %s*" (opencode-diff-file diff))
                       (vector diff) (opencode-connection-directory conn))
                      '((display-buffer-use-some-window) (inhibit-same-window . t))))
     (id
      (let ((session (opencode-store-session conn id)))
        (select-window (or (get-mru-window nil nil t) (selected-window)))
        (opencode-chat-open conn (if session (opencode-session-data session) (list :id id)))))
     (t (user-error "Nothing on this line")))))

(defun opencode-sidebar-archive-toggle ()
  "Archive the session at point, or unarchive it if it is archived.
An archived session leaves the sidebar unless archived sessions are
shown (\\<opencode-sidebar-mode-map>\\[opencode-sidebar-toggle-archived]).
The echo area names the session."
  (interactive)
  (let* ((conn opencode-sidebar--conn)
         (buf (current-buffer))
         (id (or (and (not (get-text-property (line-beginning-position) 'opencode-diff))
                      (get-text-property (line-beginning-position) 'opencode-session))
                 (user-error "No session on this line")))
         (session (opencode-store-session conn id))
         (archived (and session (opencode-session-archived-p session)))
         (title (or (and session (opencode-session-title session)) id)))
    (opencode-api-session-update
     conn id :archived (if archived 0 (truncate (* 1000 (float-time))))
     :callback (lambda (_)
                 ;; The store has it from the `session.updated' event:
                 ;; the reply may be older than a later event.
                 (when (buffer-live-p buf) (opencode-sidebar--schedule buf))
                 (message "%s \"%s\"%s" (if archived "Unarchived" "Archived") title
                          (if (or archived (buffer-local-value 'opencode-sidebar--archived buf))
                              ""
                            (substitute-command-keys
                             "; \\<opencode-sidebar-mode-map>\\[opencode-sidebar-toggle-archived] shows archived sessions")))))))

(defun opencode-sidebar-toggle-archived ()
  "Show or hide archived sessions in the sidebar."
  (interactive)
  (setq opencode-sidebar--archived (not opencode-sidebar--archived))
  (opencode-sidebar--redraw)
  (message (if opencode-sidebar--archived "Showing archived sessions"
             "Hiding archived sessions")))

(opencode-defevent opencode-sidebar--on-change
    ("session.created" "session.updated" "session.deleted" "session.status" "session.idle"
     "session.error" "permission.asked" "permission.replied" "question.asked" "question.replied"
     "question.rejected")
    (conn _props)
  "Redraw CONN's sidebars: a session or its status changed."
  (dolist (buf (opencode-sidebar--buffers conn))
    (opencode-sidebar--schedule buf)))

(opencode-defevent opencode-sidebar--on-diff "session.diff" (conn props)
  "Show the files the session of PROPS changed, where open in CONN's sidebars."
  (let ((id (plist-get props :sessionID)))
    (dolist (buf (opencode-sidebar--buffers conn))
      (with-current-buffer buf
        (unless (eq (gethash id opencode-sidebar--open 'closed) 'closed)
          (puthash id (or (opencode-store-session-diff conn id) []) opencode-sidebar--open))
        ;; The session's +/- changed too.
        (opencode-sidebar--schedule buf)))))

(defun opencode-sidebar--on-state (conn state _detail)
  "Fetch CONN's sessions again when its stream (re)connects (STATE).
When it goes down, redraw: a busy session's state is not known."
  (dolist (buf (opencode-sidebar--buffers conn))
    (if (eq state 'connected)
        ;; The store catches up by itself (`opencode-store-sync').
        (opencode-sidebar--fetch-sessions buf)
      (opencode-sidebar--schedule buf))))

(add-hook 'opencode-connection-state-functions #'opencode-sidebar--on-state)

(opencode-define-keys opencode-sidebar-mode-map opencode-sidebar-menu
  :parent special-mode-map
  :map-doc "Keymap of `opencode-sidebar-mode'."
  :menu-doc "The commands of the OpenCode sidebar."
  :menu-key "?"
  ((("Sidebar"
     ("RET" "open chat / file diff" opencode-sidebar-visit)
     ("TAB" "show changed files" opencode-sidebar-toggle)
     ("a" "archive / unarchive" opencode-sidebar-archive-toggle)
     ("A" "show archived" opencode-sidebar-toggle-archived)
     ("g" "refresh" opencode-sidebar-refresh)
     ("n" nil next-line)
     ("p" nil previous-line)
     ("q" "quit" quit-window)))))

(define-derived-mode opencode-sidebar-mode special-mode "OpenCode-Sidebar"
  "Major mode of the OpenCode project sidebar.
\\{opencode-sidebar-mode-map}"
  (setq opencode-sidebar--open (make-hash-table :test 'equal))
  (setq truncate-lines t)
  (setq-local revert-buffer-function (lambda (&rest _) (opencode-sidebar-refresh))))

;;;###autoload
(defun opencode-sidebar (&optional directory)
  "Show the project sidebar of DIRECTORY (default: the current project).
Its sessions as a tree; TAB shows a session's changed files, RET opens
a chat or a file's diff.  Again hides it."
  (interactive)
  (let* ((conn (opencode-connect directory))
         (name (format "*opencode-sidebar: %s*"
                       (abbreviate-file-name (opencode-connection-directory conn))))
         (buf (get-buffer name))
         (win (and buf (get-buffer-window buf))))
    (if (and win (called-interactively-p 'any))
        (delete-window win)
      (setq buf (get-buffer-create name))
      (with-current-buffer buf
        (unless (derived-mode-p 'opencode-sidebar-mode)
          (opencode-sidebar-mode)
          (setq opencode-sidebar--conn conn)
          (setf (opencode-connection-plist conn)
                (plist-put (opencode-connection-plist conn) :sidebars
                           (cons buf (cl-remove-if-not
                                      #'buffer-live-p
                                      (plist-get (opencode-connection-plist conn) :sidebars)))))
          (opencode-sidebar--redraw)
          (when (eq (opencode-connection-state conn) 'connected)
            (opencode-sidebar-refresh))))
      (display-buffer-in-side-window
       buf `((side . ,opencode-sidebar-side) (slot . -1)
             (window-width . ,opencode-sidebar-width)
             (window-parameters (no-delete-other-windows . t))))
      buf)))

(provide 'opencode-sidebar)
;;; opencode-sidebar.el ends here

;;; opencode-sidebar.el --- Project sidebar: sessions and their changed files  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;;; Commentary:

;; `M-x opencode-sidebar' shows, in a side window, the project's
;; sessions as a tree (sub-agent sessions under their parent, busy ones
;; marked) and, under a session opened with TAB, the files it changed
;; with their +/- counts.  RET on a session opens its chat; RET on a
;; file shows that file's diff.  The sidebar follows the server's
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
(defvar-local opencode-sidebar--sessions nil "The sessions shown, a list of plists.")
(defvar-local opencode-sidebar--status nil "Table: session id -> status plist.")
(defvar-local opencode-sidebar--open nil "Table: session id -> its diffs (vector), shown.")
(defvar-local opencode-sidebar--timer nil "Timer of the next redraw.")

(defun opencode-sidebar--buffers (conn)
  "Return CONN's live sidebar buffers."
  (cl-remove-if-not (lambda (b) (eq (buffer-local-value 'opencode-sidebar--conn b) conn))
                    (plist-get (opencode-connection-plist conn) :sidebars)))

(defun opencode-sidebar--insert-session (s depth)
  "Insert session S at DEPTH, its files if open, then its children."
  (let* ((id (plist-get s :id))
         (st (plist-get (gethash id opencode-sidebar--status) :type))
         (diffs (gethash id opencode-sidebar--open 'closed))
         (summary (plist-get s :summary)))
    (insert (propertize
             (concat (make-string (* 2 depth) ?\s)
                     (if (eq diffs 'closed) "▸ " "▾ ")
                     (or (plist-get s :title) id)
                     (pcase st
                       ("busy" (propertize " ●" 'face 'warning))
                       ("retry" (propertize " retry" 'face 'error))
                       (_ ""))
                     (if (and summary (numberp (plist-get summary :files))
                              (> (plist-get summary :files) 0))
                         (propertize (format "  +%s −%s" (plist-get summary :additions)
                                             (plist-get summary :deletions))
                                     'face 'opencode-chat-dim)
                       "")
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
    (dolist (c (cl-remove-if-not (lambda (c) (equal (plist-get c :parentID) id))
                                 opencode-sidebar--sessions))
      (opencode-sidebar--insert-session c (1+ depth)))))

(defun opencode-sidebar--redraw ()
  "Draw the sidebar from what it knows."
  (setq opencode-sidebar--timer nil)
  (let ((inhibit-read-only t)
        (line (line-number-at-pos)))
    (erase-buffer)
    (insert (propertize (abbreviate-file-name (opencode-connection-directory opencode-sidebar--conn))
                        'face 'bold)
            "\n")
    (let ((ids (mapcar (lambda (s) (plist-get s :id)) opencode-sidebar--sessions)))
      (dolist (s opencode-sidebar--sessions)
        ;; Roots, and children whose parent is not listed.
        (unless (member (plist-get s :parentID) ids)
          (opencode-sidebar--insert-session s 0))))
    (goto-char (point-min))
    (forward-line (1- line))))

(defun opencode-sidebar--schedule (buf)
  "Redraw sidebar BUF soon, once for a burst of events."
  (with-current-buffer buf
    (opencode--debounce 'opencode-sidebar--timer 0.1 #'opencode-sidebar--redraw)))

(defun opencode-sidebar-refresh ()
  "Fetch the project's sessions and statuses again."
  (interactive)
  (let ((buf (current-buffer)) (conn opencode-sidebar--conn))
    (opencode-request
     conn "GET" "/session"
     :callback (lambda (list)
                 (when (buffer-live-p buf)
                   (with-current-buffer buf
                     (setq opencode-sidebar--sessions
                           (sort (cl-remove-if (lambda (s) (let ((a (plist-get (plist-get s :time) :archived)))
                                                              (and (numberp a) (> a 0))))
                                               (append list nil))
                                 (lambda (a b) (> (or (plist-get (plist-get a :time) :updated) 0)
                                                  (or (plist-get (plist-get b :time) :updated) 0)))))
                     (opencode-sidebar--schedule buf)))))
    (opencode-api-session-status
     conn :callback (lambda (all)
                      (when (buffer-live-p buf)
                        (with-current-buffer buf
                          (clrhash opencode-sidebar--status)
                          (cl-loop for (k v) on all by #'cddr
                                   do (puthash (substring (symbol-name k) 1) v opencode-sidebar--status))
                          (opencode-sidebar--schedule buf)))))))

(defun opencode-sidebar--fetch-diffs (id)
  "Fetch the files session ID changed and show them."
  (let ((buf (current-buffer)))
    (opencode-api-session-diff
     opencode-sidebar--conn id
     :callback (lambda (diffs)
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
      (let ((session (cl-find id opencode-sidebar--sessions
                              :key (lambda (s) (plist-get s :id)) :test #'equal)))
        (select-window (or (get-mru-window nil nil t) (selected-window)))
        (opencode-chat-open conn (or session (list :id id)))))
     (t (user-error "Nothing on this line")))))

(defun opencode-sidebar--on-event (conn type props)
  "Update CONN's sidebars for event TYPE with PROPS."
  (when (member type '("session.created" "session.updated" "session.deleted"
                       "session.status" "session.diff"))
    (dolist (buf (opencode-sidebar--buffers conn))
      (with-current-buffer buf
        (pcase type
          ("session.status"
           (puthash (plist-get props :sessionID) (plist-get props :status) opencode-sidebar--status))
          ("session.deleted"
           (let ((id (plist-get (plist-get props :info) :id)))
             (setq opencode-sidebar--sessions
                   (cl-remove id opencode-sidebar--sessions
                              :key (lambda (s) (plist-get s :id)) :test #'equal))))
          ("session.diff"
           (let ((id (plist-get props :sessionID)))
             (unless (eq (gethash id opencode-sidebar--open 'closed) 'closed)
               (puthash id (plist-get props :diff) opencode-sidebar--open))))
          (_
           (let* ((info (plist-get props :info))
                  (id (plist-get info :id)))
             (setq opencode-sidebar--sessions
                   (cons info (cl-remove id opencode-sidebar--sessions
                                         :key (lambda (s) (plist-get s :id)) :test #'equal))))))
        (opencode-sidebar--schedule buf)))))

(add-hook 'opencode-event-functions #'opencode-sidebar--on-event)

(defun opencode-sidebar--on-state (conn state _detail)
  "Fetch CONN's sessions again when its stream (re)connects (STATE)."
  (when (eq state 'connected)
    (dolist (buf (opencode-sidebar--buffers conn))
      (with-current-buffer buf (opencode-sidebar-refresh)))))

(add-hook 'opencode-connection-state-functions #'opencode-sidebar--on-state)

(opencode-define-keys opencode-sidebar-mode-map opencode-sidebar-menu
  :parent special-mode-map
  :map-doc "Keymap of `opencode-sidebar-mode'."
  :menu-doc "The commands of the OpenCode sidebar."
  :menu-key "?"
  ((("Sidebar"
     ("RET" "open chat / file diff" opencode-sidebar-visit)
     ("TAB" "show changed files" opencode-sidebar-toggle)
     ("g" "refresh" opencode-sidebar-refresh)
     ("n" nil next-line)
     ("p" nil previous-line)
     ("q" "quit" quit-window)))))

(define-derived-mode opencode-sidebar-mode special-mode "OpenCode-Sidebar"
  "Major mode of the OpenCode project sidebar.
\\{opencode-sidebar-mode-map}"
  (setq opencode-sidebar--status (make-hash-table :test 'equal)
        opencode-sidebar--open (make-hash-table :test 'equal))
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

;;; opencode-projects.el --- Sessions of every project, and worktrees  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; M-x opencode-projects lists the root sessions of every
;; project the server knows, grouped under a heading row per project
;; (GET /project, GET /experimental/session with no directory).  It is
;; kept live by the server's global stream (/global/event), on the
;; global connection (`opencode-connect-global'): one stream for all
;; projects, however many.  RET opens a session's chat on the
;; connection of its own directory.
;;
;; Worktrees: a project's git worktrees that the server made
;; (/experimental/worktree).  `opencode-worktrees' lists them;
;; `opencode-worktree-create', `opencode-worktree-remove' and
;; `opencode-worktree-new-session' (a session in a worktree: the
;; connection of the worktree's directory, and a session there) act on
;; them.  Their sessions show in the list of every project under their
;; project, with the worktree's name.

;;; Code:

(require 'tabulated-list)
(require 'opencode)
(require 'opencode-api)
(require 'opencode-sessions)

(defcustom opencode-projects-limit 500
  "How many sessions, at most, the list of every project loads."
  :type 'integer
  :group 'opencode)

(defface opencode-projects-heading '((t :inherit bold))
  "Face of a project's heading row in the list of every project."
  :group 'opencode)

;;;; State

(defvar-local opencode-projects--conn nil
  "The global connection this list shows.")

(defvar-local opencode-projects--projects nil
  "Hash table: project id -> the project plist, from GET /project.")

(defvar-local opencode-projects--sessions nil
  "Hash table: id -> t of the sessions this list shows (in the store).")

(defvar-local opencode-projects--generation 0
  "Counts loads, so a late reply of an older one is dropped.")

(defvar-local opencode-projects--truncated nil
  "Non-nil when the server had more sessions than were loaded.")

(defvar-local opencode-projects--redraw-timer nil
  "Timer of a pending redraw, so a burst of events redraws once.")

(defvar opencode-projects--registry (opencode--registry-make 'opencode-projects--conn)
  "Buffers listing every project, so events need not scan `buffer-list'.")

(defvar opencode-projects--spinner
  (opencode--spinner-make
   (lambda () (opencode-store-any-busy-p (opencode--registry-connections opencode-projects--registry)))
   #'opencode-projects--tick)
  "The timer of busy spinners in these lists, while one shows any.")

;;;; Rows

(defun opencode-projects--session (id)
  "Return the plist of session ID as the global store has it, or nil."
  (let ((s (opencode-store-session opencode-projects--conn id)))
    (and s (opencode-session-data s))))

(defun opencode-projects--time (s)
  "Return the update time (ms) of session S, or 0."
  (let ((v (plist-get (plist-get s :time) :updated)))
    (if (numberp v) v 0)))

(defun opencode-projects--wanted-p (s)
  "Return non-nil if session S belongs in the list: a root, not archived."
  (and (not (stringp (plist-get s :parentID)))
       (not (opencode-session-archived-p s))))

(defun opencode-projects--project-name (project)
  "Return how to name PROJECT, a plist from GET /project."
  (let ((name (plist-get project :name))
        (dir (plist-get project :worktree)))
    (cond ((equal (plist-get project :id) "global") "(no project)")
          ((and (stringp name) (not (string-empty-p name))) name)
          ((stringp dir) (file-name-nondirectory (directory-file-name dir)))
          (t (plist-get project :id)))))

(defun opencode-projects--worktree-name (s project)
  "Return the worktree of session S in PROJECT, or \"\" for the main one."
  (let ((dir (plist-get s :directory))
        (main (plist-get project :worktree)))
    (if (or (not (stringp dir)) (not (stringp main))
            (equal (directory-file-name dir) (directory-file-name main))
            (equal (plist-get project :id) "global"))
        ""
      (file-name-nondirectory (directory-file-name dir)))))

(defun opencode-projects--groups ()
  "Return ((PROJECT . SESSIONS) ...): the loaded sessions by project.
Projects with the newest activity first, then those with no session;
sessions newest first.  The project \"global\" shows only when it has
sessions."
  (let ((by (make-hash-table :test 'equal)) groups)
    (maphash (lambda (id _)
               (let ((s (opencode-projects--session id)))
                 (when s (push s (gethash (plist-get s :projectID) by)))))
             opencode-projects--sessions)
    (maphash (lambda (pid project)
               (let ((sessions (sort (gethash pid by)
                                     (lambda (a b) (> (opencode-projects--time a)
                                                      (opencode-projects--time b))))))
                 (remhash pid by)
                 (unless (and (equal pid "global") (null sessions))
                   (push (cons project sessions) groups))))
             opencode-projects--projects)
    ;; Sessions of a project not listed (yet): under their own id.
    (maphash (lambda (pid sessions)
               (push (cons (list :id pid :worktree (plist-get (car sessions) :directory))
                           sessions)
                     groups))
             by)
    (sort groups
          (lambda (a b)
            (let ((ta (if (cdr a) (opencode-projects--time (cadr a)) 0))
                  (tb (if (cdr b) (opencode-projects--time (cadr b)) 0)))
              (if (= ta tb)
                  (string< (opencode-projects--project-name (car a))
                           (opencode-projects--project-name (car b)))
                (> ta tb)))))))

(defun opencode-projects--format-time (ms)
  "Format MS (milliseconds since the epoch) for the list."
  (if (and (numberp ms) (> ms 0)) (format-time-string "%F %R" (/ ms 1000.0)) ""))

(defun opencode-projects--heading (project sessions)
  "Return the text of the heading row of PROJECT with SESSIONS."
  (let ((dir (plist-get project :worktree))
        (trees (length (plist-get project :sandboxes))))
    (concat (propertize (opencode-projects--project-name project)
                        'face 'opencode-projects-heading)
            (if (and (stringp dir) (not (equal dir "/")))
                (propertize (concat "  " (abbreviate-file-name dir)) 'face 'opencode-chat-dim)
              "")
            (propertize
             (concat "  " (opencode--plural (length sessions) "session")
                     (if (> trees 0) (concat ", " (opencode--plural trees "worktree")) ""))
             'face 'opencode-chat-dim))))

(defun opencode-projects--entries ()
  "Return the tabulated-list entries: a heading per project, its sessions below."
  (let (entries)
    (pcase-dolist (`(,project . ,sessions) (opencode-projects--groups))
      (push (list (cons 'project (plist-get project :id))
                  (vector (opencode-projects--heading project sessions) "" "" "" ""))
            entries)
      (dolist (s sessions)
        (let ((id (plist-get s :id)))
          (push (list id (vector (opencode-sessions-badge opencode-projects--conn id)
                                 (or (plist-get s :title) "")
                                 (opencode-projects--worktree-name s project)
                                 (opencode-projects--format-time (opencode-projects--time s))
                                 (or (plist-get s :slug) "")))
                entries))))
    (nreverse entries)))

(defun opencode-projects--print-entry (id cols)
  "Print the entry ID with COLS: a heading row whole, a session as a row.
For `tabulated-list-printer'."
  (if (not (consp id))
      (tabulated-list-print-entry id cols)
    (let ((beg (point)))
      (insert (make-string tabulated-list-padding ?\s) (aref cols 0) "\n")
      (add-text-properties beg (point) `(tabulated-list-id ,id tabulated-list-entry ,cols)))))

(defun opencode-projects--header ()
  "Return the mode-line summary: what is shown and the stream's state."
  (let ((conn opencode-projects--conn))
    (concat
     (format "every project%s  %s in %s"
             (if-let ((prefix (opencode-remote-connection-prefix conn)))
                 (concat " on " (opencode-remote-label prefix))
               "")
             (opencode--plural (hash-table-count opencode-projects--sessions) "session")
             (opencode--plural (cl-count-if-not (lambda (p) (equal (plist-get p :id) "global"))
                                                (hash-table-values opencode-projects--projects))
                               "project"))
     (if opencode-projects--truncated
         (format "  (the newest %d: `opencode-projects-limit')" opencode-projects-limit) "")
     (if (eq (opencode-connection-state conn) 'connected) ""
       (propertize (concat "  " (opencode-connection-state-text conn)) 'face 'warning)))))

(defun opencode-projects--redraw ()
  "Redraw the list now, keeping point on its row."
  (when opencode-projects--redraw-timer (cancel-timer opencode-projects--redraw-timer))
  (setq opencode-projects--redraw-timer nil)
  (setq tabulated-list-entries (opencode-projects--entries))
  (tabulated-list-print t)
  (when (null tabulated-list-entries)
    (let ((inhibit-read-only t))
      (goto-char (point-max))
      (insert "\n  No sessions yet in any project the server knows.\n")))
  (opencode--spinner-update opencode-projects--spinner)
  (force-mode-line-update))

(defun opencode-projects--schedule-redraw (buffer)
  "Redraw BUFFER soon, once for a burst of changes."
  (with-current-buffer buffer
    (opencode--debounce 'opencode-projects--redraw-timer 0.05 #'opencode-projects--redraw)))

(defun opencode-projects--live-buffers (&optional conn)
  "Return the live lists of every project, those showing CONN if given."
  (opencode--registry-buffers opencode-projects--registry conn))

(defun opencode-projects--tick ()
  "Redraw the status badges of busy sessions in visible lists."
  (dolist (buf (opencode-projects--live-buffers))
    (when (get-buffer-window buf 'visible)
      (with-current-buffer buf
        (let ((busy (opencode-store-status (opencode-store opencode-projects--conn)))
              (inhibit-read-only t))
          (save-excursion
            (goto-char (point-min))
            (while (not (eobp))
              (let ((id (tabulated-list-get-id)))
                (when (and (stringp id) (gethash id busy))
                  (tabulated-list-set-col 0 (opencode-sessions-badge opencode-projects--conn id) t)))
              (forward-line 1))))))))

;;;; Loading and live updates

(defun opencode-projects--directories ()
  "Return the directories of the loaded sessions and projects.
The global connection catches up on them after a reconnection."
  (let (dirs)
    (maphash (lambda (id _)
               (let ((d (plist-get (opencode-projects--session id) :directory)))
                 (when (and (stringp d) (file-directory-p d)) (push d dirs))))
             opencode-projects--sessions)
    (maphash (lambda (_ p)
               (let ((d (plist-get p :worktree)))
                 (when (and (stringp d) (not (equal d "/"))) (push d dirs))))
             opencode-projects--projects)
    (delete-dups dirs)))

(defun opencode-projects--load (buf)
  "Fetch the projects and their sessions into BUF, the list of every project."
  (with-current-buffer buf
    (let ((conn opencode-projects--conn)
          (generation (cl-incf opencode-projects--generation))
          (since opencode-events-tick)
          (projects nil) (sessions nil) (left 2))
      (cl-flet ((done ()
                  (when (and (zerop (cl-decf left)) (buffer-live-p buf)
                             (= generation (buffer-local-value 'opencode-projects--generation buf)))
                    (with-current-buffer buf
                      (clrhash opencode-projects--projects)
                      (seq-doseq (p projects)
                        (puthash (plist-get p :id) p opencode-projects--projects))
                      (clrhash opencode-projects--sessions)
                      (dolist (s (opencode-store-merge-sessions conn sessions since))
                        (when (opencode-projects--wanted-p s)
                          (puthash (plist-get s :id) t opencode-projects--sessions)))
                      (setq opencode-projects--truncated
                            (>= (length sessions) opencode-projects-limit))
                      (opencode-store-set-sync-directories conn (opencode-projects--directories))
                      (opencode-store-sync conn)
                      (opencode-projects--redraw)))))
        (opencode-api-project-list conn :callback (lambda (r) (setq projects r) (done)))
        (opencode-api-session-list-paged
         conn :query `(("limit" . ,opencode-projects-limit) ("roots" . t)
                       ;; Archived too, filtered here, as the session list does.
                       ("archived" . t))
         :callback (lambda (r) (setq sessions r) (done)))))))

(defun opencode-projects--fetch-projects (buf)
  "Fetch the projects again into BUF, then redraw it."
  (opencode-api-project-list
   (buffer-local-value 'opencode-projects--conn buf)
   :callback (lambda (projects)
               (when (buffer-live-p buf)
                 (with-current-buffer buf
                   (clrhash opencode-projects--projects)
                   (seq-doseq (p projects)
                     (puthash (plist-get p :id) p opencode-projects--projects))
                   (opencode-projects--schedule-redraw buf))))))

(opencode-defevent opencode-projects--on-session ("session.created" "session.updated")
    (conn props)
  "Add, change or drop the row of the session in PROPS in CONN's lists."
  :global t
  (let* ((info (plist-get props :info))
         (id (plist-get info :id)))
    (when (stringp id)
      (dolist (buf (opencode-projects--live-buffers conn))
        (with-current-buffer buf
          (if (opencode-projects--wanted-p info)
              (puthash id t opencode-projects--sessions)
            (remhash id opencode-projects--sessions))
          (if (gethash (plist-get info :projectID) opencode-projects--projects)
              (opencode-projects--schedule-redraw buf)
            ;; A project the list has not seen: a new one.
            (opencode-projects--fetch-projects buf)))))))

(opencode-defevent opencode-projects--on-deleted "session.deleted" (conn props)
  "Drop the row of the session deleted in PROPS from CONN's lists."
  :global t
  (let ((id (or (plist-get props :sessionID) (plist-get (plist-get props :info) :id))))
    (dolist (buf (opencode-projects--live-buffers conn))
      (with-current-buffer buf
        (remhash id opencode-projects--sessions)
        (opencode-projects--schedule-redraw buf)))))

(opencode-defevent opencode-projects--on-project "project.updated" (conn props)
  "Record the project in PROPS (its worktrees changed, say) in CONN's lists."
  :global t
  (when (stringp (plist-get props :id))
    (dolist (buf (opencode-projects--live-buffers conn))
      (with-current-buffer buf
        (puthash (plist-get props :id) props opencode-projects--projects)
        (opencode-projects--schedule-redraw buf)))))

(opencode-defevent opencode-projects--on-status
    ("session.status" "session.idle" "session.error" "permission.asked" "question.asked"
     "permission.replied" "question.replied" "question.rejected")
    (conn props)
  "Show the new state of the session of PROPS in CONN's lists."
  :global t
  (let ((sid (plist-get props :sessionID)))
    (dolist (buf (opencode-projects--live-buffers conn))
      (when (gethash sid (buffer-local-value 'opencode-projects--sessions buf))
        (opencode-projects--schedule-redraw buf)))))

(defun opencode-projects--on-state (conn state _detail)
  "Fetch everything again into CONN's lists when its stream is STATE `connected'."
  (dolist (buf (opencode-projects--live-buffers conn))
    (if (eq state 'connected)
        (opencode-projects--load buf)
      (with-current-buffer buf (force-mode-line-update)))))

(add-hook 'opencode-connection-state-functions #'opencode-projects--on-state)

(opencode-defevent opencode-projects--on-connected "server.connected" (conn _props)
  "Fetch everything again into CONN's lists: its stream now gets events.
The stream is `connected' once its headers come, which can be before
the server sends it the events of every project (seen: a session made
in that moment never reached the list); what was made until now is in
this fetch, what is made from now on comes as events."
  :global t
  (dolist (buf (opencode-projects--live-buffers conn))
    (opencode-projects--load buf)))

;;;; Commands of the list

(defun opencode-projects--row ()
  "Return the id of the row at point: a session id or (project . ID)."
  (or (tabulated-list-get-id) (user-error "No session or project at point")))

(defun opencode-projects--project-at-point ()
  "Return the project plist of the row at point (a heading or a session)."
  (let ((row (opencode-projects--row)))
    (or (gethash (if (consp row) (cdr row)
                   (plist-get (opencode-projects--session row) :projectID))
                 opencode-projects--projects)
        (user-error "This project is not known yet (g refreshes)"))))

(defun opencode-projects--directory-at-point ()
  "Return the directory of the row at point: its session's, else its project's."
  (let* ((row (opencode-projects--row))
         (dir (if (consp row)
                  (plist-get (opencode-projects--project-at-point) :worktree)
                (plist-get (opencode-projects--session row) :directory))))
    (when (or (not (stringp dir)) (equal dir "/"))
      (user-error "No project directory here"))
    (opencode-projects--local-name dir)))

(defun opencode-projects--local-name (dir)
  "Return DIR, a directory as the server names it, as Emacs names it.
On a remote host's list, a TRAMP name on that host."
  (opencode-remote-local-name dir (opencode-remote-connection-prefix opencode-projects--conn)))

(defun opencode-projects-open ()
  "Open the chat of the session at point, on its own directory's connection.
On a project's heading, show that project's session list."
  (interactive)
  (let ((row (opencode-projects--row)))
    (if (consp row)
        (opencode-sessions-show (opencode-connect (opencode-projects--directory-at-point)))
      (let* ((s (opencode-projects--session row))
             (conn (opencode-connect (opencode-projects--local-name (plist-get s :directory)))))
        (opencode-store-put-session conn s)
        (opencode-chat-open conn s)))))

(defun opencode-projects-create (title)
  "Create a session titled TITLE in the project or worktree at point; open it."
  (interactive (list (read-string "Title of the new session (empty for default): ")))
  (opencode-projects--new-session (opencode-projects--directory-at-point) title))

(defun opencode-projects--new-session (directory title)
  "Create a session titled TITLE (empty: the server's) in DIRECTORY; open its chat."
  (let ((conn (opencode-connect directory)))
    (opencode-api-session-create
     conn :title (and title (not (string-empty-p title)) title)
     :callback (lambda (s)
                 (message "Created session %s in %s" (plist-get s :slug)
                          (abbreviate-file-name (opencode-connection-directory conn)))
                 (opencode-store-put-session conn s)
                 (opencode-chat-open conn s)))))

(defun opencode-projects-refresh ()
  "Fetch the projects, their sessions and statuses again."
  (interactive)
  (let ((conn opencode-projects--conn))
    (unless (eq (opencode-connection-state conn) 'connected)
      (opencode-connection-reconnect conn))
    (when (opencode-connection-usable-p conn)
      (opencode-projects--load (current-buffer)))))

(defun opencode-projects-worktrees ()
  "List the worktrees of the project at point."
  (interactive)
  (opencode-worktrees (plist-get (opencode-projects--project-at-point) :worktree)))

(defun opencode-projects-worktree-create (name)
  "Create a worktree called NAME of the project at point.
An empty NAME lets the server name it."
  (interactive (list (read-string "Name of the new worktree (empty: the server's): ")))
  (opencode-worktree-create name (plist-get (opencode-projects--project-at-point) :worktree)))

(defun opencode-projects-next-project ()
  "Move to the next project's heading."
  (interactive)
  (forward-line 1)
  (while (and (not (eobp)) (not (consp (tabulated-list-get-id)))) (forward-line 1)))

(defun opencode-projects-previous-project ()
  "Move to the previous project's heading."
  (interactive)
  (forward-line -1)
  (while (and (not (bobp)) (not (consp (tabulated-list-get-id)))) (forward-line -1)))

(opencode-define-keys opencode-projects-mode-map opencode-projects-menu
  :parent tabulated-list-mode-map
  :map-doc "Keymap of `opencode-projects-mode'."
  :menu-doc "The commands of the OpenCode list of every project."
  :menu-key "?"
  ((("Row at point"
     ("RET" "open chat / project's list" opencode-projects-open)
     ("o" nil opencode-projects-open)
     ("c" "new session here" opencode-projects-create))
    ("Worktrees of its project"
     ("T" "list" opencode-projects-worktrees)
     ("W" "create" opencode-projects-worktree-create))
    ("List"
     ("g" "refresh" opencode-projects-refresh)
     ("N" "next project" opencode-projects-next-project)
     ("P" "previous project" opencode-projects-previous-project)
     ("n" nil next-line)
     ("p" nil previous-line)
     ("q" "quit" quit-window)))))

(define-derived-mode opencode-projects-mode tabulated-list-mode "OpenCode-Projects"
  "Major mode listing the sessions of every project of an OpenCode server.
A heading row per project, its root sessions below, newest first; the
Worktree column names the worktree a session was made in.  The list
follows the server's global stream live.  \\<opencode-projects-mode-map>\
\\[opencode-projects-menu] shows every command.

\\{opencode-projects-mode-map}"
  (setq opencode-projects--projects (make-hash-table :test 'equal)
        opencode-projects--sessions (make-hash-table :test 'equal))
  (setq tabulated-list-format [("Status" 12 nil) ("Title" 44 nil) ("Worktree" 14 nil)
                               ("Updated" 16 nil) ("Slug" 18 nil)]
        tabulated-list-padding 1
        tabulated-list-sort-key nil
        tabulated-list-printer #'opencode-projects--print-entry)
  (tabulated-list-init-header)
  (setq mode-line-process '(:eval (concat " " (opencode-projects--header))))
  (add-hook 'kill-buffer-hook #'opencode-projects--cleanup nil t))

(defun opencode-projects--cleanup ()
  "Cancel this buffer's timer; close the global connection if no list shows it."
  (when opencode-projects--redraw-timer (cancel-timer opencode-projects--redraw-timer))
  (let ((conn opencode-projects--conn))
    (opencode--registry-remove opencode-projects--registry)
    (when (and conn (null (opencode-projects--live-buffers conn))
               (not (eq (opencode-connection-state conn) 'closed)))
      (opencode-connection-close conn))))

;;;###autoload
(defun opencode-projects ()
  "Show the sessions of every project the server knows, by project.
The list follows the server live, from its global event stream; RET
opens a session's chat, c makes a session in the project at point.
From a remote directory, the server is that host's.  Return the buffer."
  (interactive)
  (let* ((conn (opencode-connect-global default-directory))
         (label (opencode-remote-label default-directory))
         (buf (get-buffer-create (if label (format "*opencode-projects: %s*" label)
                                   "*opencode-projects*"))))
    (with-current-buffer buf
      (unless (derived-mode-p 'opencode-projects-mode) (opencode-projects-mode))
      (setq opencode-projects--conn conn)
      (opencode--registry-add opencode-projects--registry)
      (opencode-projects--redraw)
      ;; A stream still connecting loads when it connects
      ;; (`opencode-projects--on-state'), so no event is missed between.
      (when (eq (opencode-connection-state conn) 'connected)
        (opencode-projects--load buf)))
    (pop-to-buffer-same-window buf)
    buf))

;;;; Worktrees

(defun opencode-projects--worktree-list (conn)
  "Return the worktree directories of CONN's project, asking the server."
  (append (opencode-with-error-words (opencode-api-worktree-list conn :sync t)) nil))

(defun opencode-projects--worktree-read (conn prompt)
  "Read one of the worktrees of CONN's project with PROMPT."
  (let ((dirs (or (opencode-projects--worktree-list conn)
                  (user-error "%s has no worktrees (W creates one)"
                              (abbreviate-file-name (opencode-connection-directory conn))))))
    (completing-read prompt (mapcar #'abbreviate-file-name dirs) nil t)))

(defun opencode-projects--worktree-refresh (conn)
  "Refresh the worktree lists of CONN's project."
  (dolist (b (buffer-list))
    (when (and (eq (buffer-local-value 'major-mode b) 'opencode-worktrees-mode)
               (eq (buffer-local-value 'opencode-projects--worktrees-conn b) conn))
      (with-current-buffer b (opencode-worktrees-refresh)))))

;;;###autoload
(defun opencode-worktree-create (name &optional directory)
  "Create a git worktree called NAME of DIRECTORY's project (default: current).
The server makes it under its data directory, on a branch
opencode/NAME; an empty NAME lets it choose one.  When it is made,
its directory is said and the worktree lists are refreshed."
  (interactive (list (read-string "Name of the new worktree (empty: the server's): ")))
  (let ((conn (opencode-connect directory)))
    (opencode-api-worktree-create
     conn :name (and name (not (string-empty-p name)) name)
     :callback (lambda (w)
                 (message "Created worktree %s (branch %s) in %s" (plist-get w :name)
                          (plist-get w :branch) (abbreviate-file-name (plist-get w :directory)))
                 (opencode-projects--worktree-refresh conn)))))

;;;###autoload
(defun opencode-worktree-remove (worktree &optional directory)
  "Remove WORKTREE, a worktree directory of DIRECTORY's project (default: current).
Its directory goes, and the connection to it is closed; its branch and
its sessions stay.  Interactively, pick it and confirm."
  (interactive
   (let ((conn (opencode-connect)))
     (let ((w (opencode-projects--worktree-read conn "Remove worktree: ")))
       (unless (yes-or-no-p (format "Remove the worktree %s (its files go)? " w))
         (user-error "Not removed"))
       (list (expand-file-name w)))))
  (let ((conn (opencode-connect directory)))
    (opencode-api-worktree-remove
     conn worktree
     :callback (lambda (_)
                 (message "Removed worktree %s" (abbreviate-file-name worktree))
                 ;; Its directory is gone: its connection would retry for ever.
                 (let ((wconn (opencode-connection-find
                               (opencode--normalize-directory worktree))))
                   (when (and wconn (not (eq wconn conn)))
                     (opencode-connection-close wconn)))
                 (opencode-projects--worktree-refresh conn)))))

;;;###autoload
(defun opencode-worktree-new-session (worktree title)
  "Create a session titled TITLE in WORKTREE and open its chat.
WORKTREE is a worktree directory (interactively, one of the current
project's); the session is made on WORKTREE's own connection, so the
agent works in it."
  (interactive
   (let ((conn (opencode-connect)))
     (list (expand-file-name (opencode-projects--worktree-read conn "New session in worktree: "))
           (read-string "Title of the new session (empty for default): "))))
  (opencode-projects--new-session worktree title))

;;;; The list of a project's worktrees

(defvar-local opencode-projects--worktrees-conn nil
  "The connection of the project whose worktrees this buffer lists.")

(defun opencode-projects--worktree-at-point ()
  "Return the worktree directory at point, or signal a `user-error'."
  (or (tabulated-list-get-id) (user-error "No worktree at point")))

(defun opencode-worktrees-refresh ()
  "Fetch the worktrees again."
  (interactive)
  (let ((buf (current-buffer)))
    (opencode-api-worktree-list
     opencode-projects--worktrees-conn
     :callback (lambda (dirs)
                 (when (buffer-live-p buf)
                   (with-current-buffer buf
                     (setq tabulated-list-entries
                           (mapcar (lambda (d)
                                     (list d (vector (file-name-nondirectory (directory-file-name d))
                                                     (abbreviate-file-name d))))
                                   dirs))
                     (tabulated-list-print t)
                     (when (null tabulated-list-entries)
                       (let ((inhibit-read-only t))
                         (goto-char (point-max))
                         (insert (substitute-command-keys
                                  "\n  No worktrees.  \\<opencode-worktrees-mode-map>\\[opencode-worktrees-create] creates one.\n"))))))))))

(defun opencode-worktrees-open ()
  "Show the session list of the worktree at point."
  (interactive)
  (opencode-sessions-show (opencode-connect (opencode-projects--worktree-at-point))))

(defun opencode-worktrees-new-session (title)
  "Create a session titled TITLE in the worktree at point and open its chat."
  (interactive (list (read-string "Title of the new session (empty for default): ")))
  (opencode-projects--new-session (opencode-projects--worktree-at-point) title))

(defun opencode-worktrees-create (name)
  "Create a worktree called NAME of this project (empty: the server names it)."
  (interactive (list (read-string "Name of the new worktree (empty: the server's): ")))
  (opencode-worktree-create name (opencode-connection-directory opencode-projects--worktrees-conn)))

(defun opencode-worktrees-remove ()
  "Remove the worktree at point, after confirmation."
  (interactive)
  (let ((w (opencode-projects--worktree-at-point)))
    (when (yes-or-no-p (format "Remove the worktree %s (its files go)? " (abbreviate-file-name w)))
      (opencode-worktree-remove w (opencode-connection-directory opencode-projects--worktrees-conn)))))

(opencode-define-keys opencode-worktrees-mode-map opencode-worktrees-menu
  :parent tabulated-list-mode-map
  :map-doc "Keymap of `opencode-worktrees-mode'."
  :menu-doc "The commands of an OpenCode project's worktree list."
  :menu-key "?"
  ((("Worktree at point"
     ("RET" "its session list" opencode-worktrees-open)
     ("c" "new session in it" opencode-worktrees-new-session)
     ("d" "remove" opencode-worktrees-remove))
    ("List"
     ("+" "create a worktree" opencode-worktrees-create)
     ("g" "refresh" opencode-worktrees-refresh)
     ("q" "quit" quit-window)))))

(define-derived-mode opencode-worktrees-mode tabulated-list-mode "OpenCode-Worktrees"
  "Major mode listing the git worktrees the OpenCode server made for a project.
\\<opencode-worktrees-mode-map>\\[opencode-worktrees-menu] shows every command.

\\{opencode-worktrees-mode-map}"
  (setq tabulated-list-format [("Name" 24 t) ("Directory" 80 t)]
        tabulated-list-padding 1)
  (tabulated-list-init-header))

;;;###autoload
(defun opencode-worktrees (&optional directory)
  "List the worktrees of DIRECTORY's project (default: the current project).
Return the buffer."
  (interactive)
  (let* ((conn (opencode-connect directory))
         (buf (get-buffer-create
               (format "*opencode-worktrees: %s*"
                       (abbreviate-file-name (opencode-connection-directory conn))))))
    (with-current-buffer buf
      (unless (derived-mode-p 'opencode-worktrees-mode) (opencode-worktrees-mode))
      (setq opencode-projects--worktrees-conn conn)
      (opencode-worktrees-refresh))
    (pop-to-buffer-same-window buf)
    buf))

(provide 'opencode-projects)
;;; opencode-projects.el ends here

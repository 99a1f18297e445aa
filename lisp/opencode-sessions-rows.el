;;; opencode-sessions-rows.el --- The rows of the session list, kept live  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; What the session list (opencode-sessions.el) shows and how it
;; follows the server.  Its columns; each session's state in words and
;; its status badge (`opencode-sessions-badge', which the list of every
;; project shows too); the rows drawn, indented under their parents and
;; found again by id; the events that change them
;; (session.created/updated/deleted change rows, session.status,
;; session.error, permission.* and question.* change the status badge
;; of one row in place); and the pages fetched from the server, with
;; the children fetched under a session.  After every (re)connection
;; the list, the statuses and the pending permissions and questions are
;; fetched again, so nothing missed while away stays stale.

;;; Code:

(require 'tabulated-list)
(require 'opencode)
(require 'opencode-api)
(require 'opencode-cache)
(require 'opencode-gc)
(require 'opencode-providers)

;;;; Options and faces

(defcustom opencode-sessions-columns '(status title slug updated changes share)
  "Columns of the session list, in order.
Each is one of the symbols `status', `title', `slug', `updated',
`created', `changes', `share' and `id'."
  :type '(repeat (choice (const status) (const title) (const slug)
                         (const updated) (const created) (const changes)
                         (const share) (const id)))
  :group 'opencode)

(defcustom opencode-sessions-page-size 100
  "How many sessions the list loads at a time."
  :type 'integer
  :group 'opencode)

(defcustom opencode-sessions-show-archived nil
  "Whether session lists show archived sessions when they open."
  :type 'boolean
  :group 'opencode)

(defcustom opencode-sessions-roots-only nil
  "Whether session lists open showing root sessions only.
Root sessions are neither a sub-agent's session nor a fork made from
Emacs.  \\<opencode-sessions-mode-map>\\[opencode-sessions-toggle-roots] toggles it in a list."
  :type 'boolean
  :group 'opencode)

(defface opencode-status-idle '((t :inherit shadow))
  "Face of the idle status badge."
  :group 'opencode)

(defface opencode-status-busy '((t :inherit warning))
  "Face of the busy status badge."
  :group 'opencode)

(defface opencode-status-retry '((t :inherit error))
  "Face of the retry status badge."
  :group 'opencode)

(defface opencode-status-error '((t :inherit error :weight bold))
  "Face of the error status badge."
  :group 'opencode)

(defface opencode-status-needs-user '((t :inherit highlight :weight bold))
  "Face of the badge of a session waiting for a permission or an answer."
  :group 'opencode)

(defface opencode-sessions-archived '((t :inherit shadow :slant italic))
  "Face of archived sessions."
  :group 'opencode)

;;;; State

(defvar-local opencode-sessions--conn nil
  "The connection whose sessions this buffer lists.")

(defvar-local opencode-sessions--sessions nil
  "Hash table: id -> t of the sessions this list shows.
What they are, their status, errors and requests are in the
connection's store (see `opencode-store').")

(defvar-local opencode-sessions--folded nil
  "Hash table: ids of sessions whose children are hidden.")

(defvar-local opencode-sessions--archived nil
  "Non-nil when archived sessions are shown.")

(defvar-local opencode-sessions--roots nil
  "Non-nil when only root sessions are shown (and the children opened).")

(defvar-local opencode-sessions--opened nil
  "Hash table: ids of sessions whose children were fetched with TAB.
In a list of roots only, their children are shown.")

(defvar-local opencode-sessions--stale nil
  "Non-nil while the list shows the copy kept on disk, not the server's.")

(defvar-local opencode-sessions--search nil
  "The search string the list is filtered by, or nil.")

(defvar-local opencode-sessions--cursor nil
  "Cursor of the next page (the update time of the last loaded session).
nil when every session is loaded.")

(defvar-local opencode-sessions--rows nil
  "Hash table: session id -> position of the start of its row.
Rebuilt at each full redraw, so one row is found without a scan.")

(defvar-local opencode-sessions--generation 0
  "Counts fresh loads of the list, so a late reply of an older one is dropped.")

(defvar-local opencode-sessions--redraw-timer nil
  "Timer of a pending redraw, so a burst of events redraws once.")

(defvar opencode-sessions--registry (opencode--registry-make 'opencode-sessions--conn)
  "The session list buffers, so events need not scan `buffer-list'.")

(defvar opencode-sessions--spinner
  (opencode--spinner-make
   (lambda () (opencode-store-any-busy-p (opencode--registry-connections opencode-sessions--registry)))
   #'opencode-sessions--tick)
  "The timer of busy spinners and retry countdowns, while a list shows one.")

;;;; Columns

(defun opencode-sessions--time (s key)
  "Return time KEY (`:updated' or `:created') of session S, or 0."
  (let ((v (plist-get (plist-get s :time) key)))
    (if (numberp v) v 0)))

(defun opencode-sessions--summary-number (s key)
  "Return KEY (`:files', `:additions', `:deletions') of session S's changes, or 0.
As the store has them (`opencode-store-diff-summary')."
  (let ((sum (opencode-store-diff-summary opencode-sessions--conn (plist-get s :id))))
    (or (nth (pcase key (:files 0) (:additions 1) (_ 2)) sum) 0)))

(defun opencode-sessions--sorter (fn)
  "Return a tabulated-list sort predicate comparing sessions by FN."
  (lambda (a b)
    (let ((sa (opencode-sessions--get (car a)))
          (sb (opencode-sessions--get (car b))))
      (> (funcall fn sa) (funcall fn sb)))))

(defun opencode-sessions--status-rank (s)
  "Return a number ordering session S by how much it needs attention."
  (pcase (opencode-sessions--state (plist-get s :id))
    ('needs 4) ('error 3) ('retry 2) ((or 'busy 'unknown) 1) (_ 0)))

(defun opencode-sessions--column-spec (column)
  "Return (NAME WIDTH SORT) of COLUMN for `tabulated-list-format'."
  (pcase column
    ('status `("Status" 12 ,(opencode-sessions--sorter #'opencode-sessions--status-rank)))
    ('title `("Title" 42 ,(lambda (a b)
                           (string< (or (plist-get (opencode-sessions--get (car a)) :title) "")
                                    (or (plist-get (opencode-sessions--get (car b)) :title) "")))))
    ('slug '("Slug" 18 t))
    ('updated `("Updated" 16 ,(opencode-sessions--sorter
                              (lambda (s) (opencode-sessions--time s :updated)))))
    ('created `("Created" 16 ,(opencode-sessions--sorter
                              (lambda (s) (opencode-sessions--time s :created)))))
    ('changes `("Changes" 18 ,(opencode-sessions--sorter
                              (lambda (s) (+ (opencode-sessions--summary-number s :additions)
                                             (opencode-sessions--summary-number s :deletions))))))
    ('share '("Shared" 6 t))
    ('id '("Id" 32 t))
    (_ (user-error "Unknown column in `opencode-sessions-columns': %S" column))))

(defun opencode-sessions--format-time (ms)
  "Format MS (milliseconds since the epoch) for the list."
  (if (and (numberp ms) (> ms 0))
      (format-time-string "%F %R" (/ ms 1000.0))
    ""))

;;;; Status

(defun opencode-sessions--get (id)
  "Return the plist of session ID as the store has it, or nil."
  (let ((s (opencode-store-session opencode-sessions--conn id)))
    (and s (opencode-session-data s))))

(defun opencode-sessions--add (plist)
  "Show session PLIST in this list, recording it in the store."
  (opencode-store-put-session opencode-sessions--conn plist)
  (puthash (plist-get plist :id) t opencode-sessions--sessions))

(defun opencode-sessions--state (id)
  "Return the state of session ID, as `opencode-store-state' says."
  (opencode-store-state opencode-sessions--conn id))

(define-obsolete-function-alias 'opencode-sessions-state #'opencode-store-state "0.2.0")

(defun opencode-sessions--badge (id)
  "Return the status badge of session ID."
  (opencode-sessions-badge opencode-sessions--conn id))

(defun opencode-sessions-badge (conn id)
  "Return the status badge of session ID on CONN, as the session list shows it."
  (let ((st (opencode-store-session-status conn id)))
    (pcase (opencode-store-state conn id)
      ('needs (propertize (opencode-store-state-word 'needs) 'face 'opencode-status-needs-user
                          'help-echo "Waiting for a permission or an answer"))
      ('error (propertize (opencode-store-state-word 'error) 'face 'opencode-status-error
                          'help-echo (opencode-api-error-text
                                      (opencode-store-session-error conn id))))
      ('retry
       (let* ((next (plist-get st :next))
              (secs (and (numberp next)
                         (max 0 (ceiling (- (/ next 1000.0) (float-time)))))))
         (propertize (format "retry %s%s" (or (plist-get st :attempt) "?")
                             (if secs (format " %ds" secs) ""))
                     'face 'opencode-status-retry
                     'help-echo (plist-get st :message))))
      ('busy (propertize
              (concat (opencode--spinner-frame) " busy")
              'face 'opencode-status-busy))
      ('unknown (propertize "unknown" 'face 'opencode-status-idle
                            'help-echo (concat "Busy when last known; now "
                                               (opencode-store-unknown-status-text conn t))))
      (_ (propertize "idle" 'face 'opencode-status-idle)))))

;;;; Rendering

(defun opencode-sessions--by-parent ()
  "Index the loaded sessions by parent: a hash table id -> children.
Roots, and children whose parent is not loaded, are under the key
`root'.  Each list is sorted newest first."
  (let ((index (make-hash-table :test 'equal)))
    (maphash (lambda (id _)
               (let* ((s (opencode-sessions--get id))
                      (parent (opencode-store-tree-parent opencode-sessions--conn id))
                      (key (if (and (stringp parent)
                                    (gethash parent opencode-sessions--sessions))
                               parent
                             'root)))
                 (when s (push s (gethash key index)))))
             opencode-sessions--sessions)
    (maphash (lambda (k v)
               (puthash k (sort v (lambda (a b) (> (opencode-sessions--time a :updated)
                                                   (opencode-sessions--time b :updated))))
                        index))
             index)
    index))

(defun opencode-sessions--children (id)
  "Return the loaded sessions whose parent is ID, newest first."
  (gethash id (opencode-sessions--by-parent)))

(defun opencode-sessions--cell (column s depth has-children)
  "Return the text of COLUMN for session S at DEPTH.
HAS-CHILDREN is non-nil when S has child sessions."
  (let ((id (plist-get s :id)))
    (pcase column
      ('status (opencode-sessions--badge id))
      ('title
       (let ((title (concat (make-string (* 2 depth) ?\s)
                            (cond ((not has-children) (if (> depth 0) "└ " ""))
                                  ((gethash id opencode-sessions--folded) "▸ ")
                                  (t "▾ "))
                            (or (plist-get s :title) ""))))
         (if (opencode-session-archived-p s)
             (propertize title 'face 'opencode-sessions-archived)
           title)))
      ('slug (or (plist-get s :slug) ""))
      ('updated (opencode-sessions--format-time (opencode-sessions--time s :updated)))
      ('created (opencode-sessions--format-time (opencode-sessions--time s :created)))
      ('changes (let ((files (opencode-sessions--summary-number s :files)))
                  (if (zerop files) ""
                    (format "+%d −%d %s"
                            (opencode-sessions--summary-number s :additions)
                            (opencode-sessions--summary-number s :deletions)
                            (opencode--plural files "file")))))
      ('share (let ((url (plist-get (plist-get s :share) :url)))
                (if (stringp url) (propertize "⇗" 'help-echo url) "")))
      ('id id))))

(defun opencode-sessions--entries ()
  "Return the tabulated-list entries: roots newest first, children below."
  (let ((index (opencode-sessions--by-parent))
        (entries nil))
    (cl-labels ((walk (s depth)
                  (let* ((id (plist-get s :id))
                         (kids (gethash id index)))
                    (push (list id (apply #'vector
                                          (mapcar (lambda (c)
                                                    (opencode-sessions--cell c s depth kids))
                                                  opencode-sessions-columns)))
                          entries)
                    (unless (gethash id opencode-sessions--folded)
                      (dolist (k kids) (walk k (1+ depth)))))))
      (dolist (s (gethash 'root index))
        (walk s 0)))
    (nreverse entries)))

(defun opencode-sessions--header ()
  "Return the header line: project, filters and what is loaded."
  (concat
   (opencode-remote-directory-words (opencode-connection-directory opencode-sessions--conn))
   (format "  %s%s" (opencode--plural (hash-table-count opencode-sessions--sessions) "session")
           (if opencode-sessions--cursor " (more: +)" ""))
   (if opencode-sessions--search (format "  search: %S" opencode-sessions--search) "")
   (if opencode-sessions--roots "  roots only (R: all)" "  all (R: roots only)")
   (if opencode-sessions--archived "  +archived" "")
   (if opencode-sessions--stale (propertize "  cached copy (stale)" 'face 'warning) "")
   (if (eq (opencode-connection-state opencode-sessions--conn) 'connected) ""
     (propertize (concat "  " (opencode-connection-state-text opencode-sessions--conn))
                 'face 'warning))
   (opencode-sessions--server-error)))

(defun opencode-sessions--server-error ()
  "Return the last error of no session (a session.error naming none), or \"\"."
  (let ((err (opencode-store-session-error opencode-sessions--conn t)))
    (if err
        (propertize (concat "  server error: " (opencode-api-error-text err))
                    'face 'opencode-status-error)
      "")))

(defun opencode-sessions--redraw ()
  "Redraw the current session list now, keeping point on its session."
  (when opencode-sessions--redraw-timer
    (cancel-timer opencode-sessions--redraw-timer))
  (setq opencode-sessions--redraw-timer nil)
  (setq tabulated-list-format
        (apply #'vector (mapcar #'opencode-sessions--column-spec opencode-sessions-columns)))
  (tabulated-list-init-header)
  (setq tabulated-list-entries (opencode-sessions--entries))
  (opencode--with-gc-room
    (tabulated-list-print t))
  (when (null tabulated-list-entries)
    (let ((inhibit-read-only t))
      (goto-char (point-max))
      (insert (substitute-command-keys
               (if opencode-sessions--stale
                   "\n  No sessions known yet: the server is not connected.\n"
                 "\n  No sessions here.  \\<opencode-sessions-mode-map>\\[opencode-sessions-create] creates one; \\[opencode-sessions-menu] shows every command.\n")))
      ;; Before a first prompt: which providers answer, how to add one.
      (let* ((buffer (current-buffer))
             (said (and (not opencode-sessions--stale)
                        (opencode-providers-text
                         opencode-sessions--conn
                         (lambda () (when (buffer-live-p buffer)
                                      (opencode-sessions--schedule-redraw buffer)))))))
        (when said (insert "\n" (opencode-providers-fill said "  ") "\n")))))
  (opencode-sessions--index-rows)
  (opencode--spinner-update opencode-sessions--spinner)
  (force-mode-line-update t))

(defun opencode-sessions--schedule-redraw (buffer)
  "Redraw BUFFER soon, once for a burst of changes."
  (with-current-buffer buffer
    (opencode--debounce 'opencode-sessions--redraw-timer 0.05
                        #'opencode-sessions--redraw)))

(defun opencode-sessions--index-rows ()
  "Index the rows of the buffer by session id (see `opencode-sessions--rows').
Positions, not markers: ten thousand markers would slow every change
to the buffer, and a stale position is caught by `opencode-sessions--goto'."
  (setq opencode-sessions--rows
        (make-hash-table :test 'equal :size (max 16 (length tabulated-list-entries))))
  (save-excursion
    (goto-char (point-min))
    (while (not (eobp))
      (let ((id (tabulated-list-get-id)))
        (when id (puthash id (point) opencode-sessions--rows)))
      (forward-line 1))))

(defun opencode-sessions--row-at-p (pos id)
  "Return the start of the line at POS if it is the row of session ID."
  (and pos (<= (point-min) pos (point-max))
       (save-excursion
         (goto-char pos)
         (forward-line 0)
         (and (equal (tabulated-list-get-id) id) (point)))))

(defun opencode-sessions--goto (id)
  "Move point to the row of session ID; return non-nil if found."
  (let ((pos (opencode-sessions--row-at-p
              (and opencode-sessions--rows (gethash id opencode-sessions--rows)) id)))
    (unless pos
      ;; The rows moved (a sort, say): index them again, then look.
      (opencode-sessions--index-rows)
      (setq pos (opencode-sessions--row-at-p (gethash id opencode-sessions--rows) id)))
    (when pos (goto-char pos))))

(defun opencode-sessions--update-status-cell (id)
  "Redraw the status badge of session ID's row in place."
  (let ((col (cl-position 'status opencode-sessions-columns)))
    (when col
      (save-excursion
        (when (opencode-sessions--goto id)
          (let ((inhibit-read-only t))
            (tabulated-list-set-col col (opencode-sessions--badge id) t)))))))

(defun opencode-sessions--tick ()
  "Advance spinners and countdowns in visible session lists."
  (dolist (buf (opencode--registry-buffers opencode-sessions--registry))
    (when (get-buffer-window buf 'visible)
      (with-current-buffer buf
        (maphash (lambda (id _) (opencode-sessions--update-status-cell id))
                 (opencode-store-status (opencode-store opencode-sessions--conn)))))))

;;;; Live updates

(defun opencode-sessions--attach (conn)
  "Make the current buffer a session list of CONN."
  (setq opencode-sessions--conn conn)
  (opencode--registry-add opencode-sessions--registry))

(defun opencode-sessions--buffers (conn)
  "Return the session list buffers showing CONN."
  (opencode--registry-buffers opencode-sessions--registry conn))

(defun opencode-sessions--up (s)
  "Return the id of the session S sits under: its parent, or its fork origin."
  (let ((parent (plist-get s :parentID)))
    (if (stringp parent) parent
      (opencode-store-origin opencode-sessions--conn (plist-get s :id)))))

(defun opencode-sessions--wanted-p (s)
  "Return non-nil if session S belongs in this list."
  (and (or opencode-sessions--archived
           (not (opencode-session-archived-p s)))
       (or (not opencode-sessions--roots)
           (let ((up (opencode-sessions--up s)))
             (or (null up) (gethash up opencode-sessions--opened))))
       (or (null opencode-sessions--search)
           (string-match-p (regexp-quote opencode-sessions--search)
                           (or (plist-get s :title) "")))))

(opencode-defevent opencode-sessions--on-session ("session.created" "session.updated")
    (conn props)
  "Add, change or drop the row of the session in PROPS in CONN's lists."
  (let ((info (plist-get props :info)))
    (dolist (buf (opencode-sessions--buffers conn))
      (with-current-buffer buf
        (if (opencode-sessions--wanted-p info)
            (puthash (plist-get info :id) t opencode-sessions--sessions)
          (remhash (plist-get info :id) opencode-sessions--sessions))
        (opencode-sessions--schedule-redraw buf)))))

(opencode-defevent opencode-sessions--on-deleted "session.deleted" (conn props)
  "Drop the row of the session deleted in PROPS from CONN's lists."
  (let ((id (or (plist-get props :sessionID) (plist-get (plist-get props :info) :id))))
    (dolist (buf (opencode-sessions--buffers conn))
      (with-current-buffer buf
        (remhash id opencode-sessions--sessions)
        (opencode-sessions--schedule-redraw buf)))))

(opencode-defevent opencode-sessions--on-status
    ("session.status" "session.idle" "session.error" "permission.asked" "question.asked"
     "permission.replied" "question.replied" "question.rejected")
    (conn props)
  "Show the new state of the session of PROPS in CONN's lists."
  (let ((sid (plist-get props :sessionID)))
    (dolist (buf (opencode-sessions--buffers conn))
      (with-current-buffer buf
        (opencode-sessions--changed-status sid)))
    (force-mode-line-update t)))

(opencode-defevent opencode-sessions--on-diff "session.diff" (conn props)
  "Redraw the Changes of the session of PROPS in CONN's lists."
  (let ((sid (plist-get props :sessionID)))
    (when (memq 'changes opencode-sessions-columns)
      (dolist (buf (opencode-sessions--buffers conn))
        (when (gethash sid (buffer-local-value 'opencode-sessions--sessions buf))
          (opencode-sessions--schedule-redraw buf))))))

(defun opencode-sessions--changed-status (id)
  "Show the new status of session ID, in place, and update the mode line."
  (when (and id (gethash id opencode-sessions--sessions)
             (not opencode-sessions--redraw-timer))
    (opencode-sessions--update-status-cell id))
  (opencode--spinner-update opencode-sessions--spinner)
  (force-mode-line-update t))

(defun opencode-sessions--on-state (conn state _detail)
  "Fetch CONN's sessions again when its stream (re)connects (STATE)."
  (dolist (buf (opencode-sessions--buffers conn))
    (with-current-buffer buf
      ;; The store catches up by itself (`opencode-store-sync').
      (if (eq state 'connected)
          (opencode-sessions--load-page buf nil)
        ;; A busy badge is not known any more: say so.
        (unless opencode-sessions--redraw-timer
          (maphash (lambda (id _) (when (gethash id opencode-sessions--sessions)
                                    (opencode-sessions--update-status-cell id)))
                   (opencode-store-status (opencode-store conn))))
        (force-mode-line-update t)))))

(add-hook 'opencode-connection-state-functions #'opencode-sessions--on-state)

;;;; Loading

(defun opencode-sessions--in-project-p (s)
  "Return non-nil if session S was made in this list's project."
  (let ((dir (plist-get s :directory)))
    ;; By name, as the server reports it: no file system access per row.
    (or (not (stringp dir))
        (string-prefix-p (file-name-as-directory
                          (opencode-remote-host-name
                           (opencode-connection-directory opencode-sessions--conn)))
                         (file-name-as-directory dir)))))

(defun opencode-sessions--load-page (buf cursor)
  "Load one page of sessions into BUF, from CURSOR (nil: the first page)."
  (with-current-buffer buf
    (unless cursor (cl-incf opencode-sessions--generation))
    (let ((conn opencode-sessions--conn)
          (limit opencode-sessions-page-size)
          (generation opencode-sessions--generation)
          (since opencode-events-tick))
      (opencode-api-session-list-paged
       conn
       :query `(("limit" . ,limit) ("cursor" . ,cursor)
                ("search" . ,opencode-sessions--search)
                ("roots" . ,(and opencode-sessions--roots t))
                ;; Always ask for archived sessions too and filter here: the
                ;; server keeps an unarchived session's `archived' time at 0,
                ;; which its own list still counts as archived.
                ("archived" . t))
       :callback
       (lambda (list)
         (when (and (buffer-live-p buf)
                    (= generation (buffer-local-value 'opencode-sessions--generation buf)))
           (with-current-buffer buf
             (unless cursor
               (clrhash opencode-sessions--sessions)
               (setq opencode-sessions--stale nil))
             (let ((shown nil))
               (dolist (s (opencode-store-merge-sessions conn list since))
                 (when (and (opencode-sessions--in-project-p s)
                            (opencode-sessions--wanted-p s))
                   (puthash (plist-get s :id) t opencode-sessions--sessions)
                   (push s shown)))
               (setq shown (nreverse shown))
               ;; Children opened with TAB stay shown.
               (maphash (lambda (id _) (opencode-sessions--load-children id t))
                        opencode-sessions--opened)
               (unless (or cursor opencode-sessions--search)
                 (opencode-cache-save-sessions conn shown))
               (opencode-store-learn-diffs conn (mapcar (lambda (s) (plist-get s :id)) shown)))
             (setq opencode-sessions--cursor
                   (and (= (length list) limit) (> limit 0)
                        (opencode-sessions--time (aref list (1- (length list))) :updated)))
             (opencode-sessions--redraw))))))))

(defun opencode-sessions--load-children (id &optional quiet)
  "Fetch the children of session ID and its known forks into this list.
They are shown under it; unless QUIET, say when it has none."
  (let ((buf (current-buffer))
        (conn opencode-sessions--conn))
    (puthash id t opencode-sessions--opened)
    (opencode-api-session-children
     conn id
     :callback
     (lambda (children)
       (let ((forks (opencode-store-forks conn id)))
         (when (buffer-live-p buf)
           (with-current-buffer buf
             (seq-doseq (c children)
               (opencode-sessions--add c))
             (dolist (f forks)
               (let ((s (opencode-store-session conn f)))
                 (if s (puthash f t opencode-sessions--sessions)
                   (opencode-api-session-get
                    conn f :errback #'ignore
                    :callback (lambda (s)
                                (when (buffer-live-p buf)
                                  (with-current-buffer buf
                                    (opencode-sessions--add s)
                                    (opencode-sessions--schedule-redraw buf))))))))
             (remhash id opencode-sessions--folded)
             (when (and (not quiet) (zerop (length children)) (null forks))
               (message "This session has no child sessions"))
             (opencode-sessions--schedule-redraw buf))))))))

(defun opencode-sessions-refresh (&optional reconnect)
  "Fetch the sessions, their statuses and pending requests again.
A connection whose stream is down reconnects now as well (a local
server that was stopped starts again; one stopped for a refused
password is reopened).  Interactively (RECONNECT non-nil) the list then
waits for it, and fetches all once it is up."
  (interactive (list t))
  (let* ((conn opencode-sessions--conn)
         (down (not (eq (opencode-connection-state conn) 'connected))))
    (when down (opencode-connection-revive conn))
    (if (and down reconnect)
        (message "OpenCode: %s" (opencode-connection-state-text conn))
      (when (opencode-connection-usable-p conn)
        (opencode-sessions--load-page (current-buffer) nil)
        (opencode-store-sync conn)))))

(defun opencode-sessions-load-more ()
  "Load the next page of sessions."
  (interactive)
  (if opencode-sessions--cursor
      (opencode-sessions--load-page (current-buffer) opencode-sessions--cursor)
    (message "Every session is loaded")))

(provide 'opencode-sessions-rows)
;;; opencode-sessions-rows.el ends here

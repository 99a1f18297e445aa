;;; opencode-sessions.el --- The live list of OpenCode sessions  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; M-x opencode-sessions lists the sessions of the current project in a
;; `tabulated-list-mode' buffer, kept live by the server's events:
;; session.created/updated/deleted change rows, session.status,
;; session.error, permission.* and question.* change the status badge of
;; one row in place.  After every (re)connection the list, the statuses
;; and the pending permissions and questions are fetched again, so
;; nothing missed while away stays stale.
;;
;; Child sessions (those with a parentID, such as a sub-agent's) and
;; forks made from Emacs (the server gives them no parentID; the client
;; records where they came from, see `opencode-store-origin') are shown
;; indented under their parent; TAB folds them, or fetches them when
;; none is loaded.  `R' shows root sessions only, or all again.
;; Archived sessions are hidden until `A' toggles them.  The list loads
;; a page at a time; `+' loads the next.  The Changes column comes from
;; the messages' summaries when the session's own is empty.
;;
;; The last list is kept on disk (opencode-cache.el): it shows at once,
;; and while the server is down it stays shown, marked stale, and the
;; commands that would change a session refuse.

;;; Code:

(require 'tabulated-list)
(require 'opencode)
(require 'opencode-api)
(require 'opencode-chat)
(require 'opencode-cache)
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

(defcustom opencode-session-init-after-create 'ask
  "Whether a session created from Emacs runs /init right away.
/init is a model turn in which the agent reads the project and writes
or updates AGENTS.md: it costs tokens and changes a file.  `ask' (the
default) asks when the session is created, t runs it, nil never does.
An empty chat offers it on a key either way (`opencode-chat-init').
The model is the project's, else the server's default."
  :type '(choice (const :tag "Ask" ask) (const :tag "Always" t) (const :tag "Never" nil))
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

(defvar opencode-sessions--tick-timer nil
  "Timer animating busy spinners and retry countdowns.")

(defconst opencode-sessions--spinner ["⠋" "⠙" "⠹" "⠸" "⠼" "⠴" "⠦" "⠧" "⠇" "⠏"]
  "Frames of the busy spinner.")

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
  "Return the state of session ID, as `opencode-sessions-state' says."
  (opencode-sessions-state opencode-sessions--conn id))

(defun opencode-sessions-state (conn id)
  "Return the state of session ID on CONN, from its store.
One of `needs', `error', `retry', `busy' or `idle'; `unknown' for a
session the store says works while CONN is not connected: the server
may have ended its reply, or died under it."
  (cond ((opencode-store-waiting-p conn id) 'needs)
        ((opencode-store-session-error conn id) 'error)
        (t (pcase (opencode-store-status-type conn id)
             ((and (or "retry" "busy") (guard (not (opencode-store-status-known-p conn))))
              'unknown)
             ("retry" 'retry)
             ("busy" 'busy)
             (_ 'idle)))))

(defun opencode-sessions--badge (id)
  "Return the status badge of session ID."
  (opencode-sessions-badge opencode-sessions--conn id))

(defun opencode-sessions-badge (conn id)
  "Return the status badge of session ID on CONN, as the session list shows it."
  (let ((st (opencode-store-session-status conn id)))
    (pcase (opencode-sessions-state conn id)
      ('needs (propertize "needs you" 'face 'opencode-status-needs-user
                          'help-echo "Waiting for a permission or an answer"))
      ('error (propertize "error" 'face 'opencode-status-error
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
              (concat (aref opencode-sessions--spinner
                            (mod (truncate (* 10 (float-time)))
                                 (length opencode-sessions--spinner)))
                      " busy")
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
   (abbreviate-file-name (opencode-connection-directory opencode-sessions--conn))
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
  (opencode-sessions--update-ticker)
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

(defun opencode-sessions--update-ticker ()
  "Start or stop the timer that animates spinners and countdowns."
  (let ((animated (cl-some (lambda (b)
                             (> (car (opencode-store-counts
                                      (buffer-local-value 'opencode-sessions--conn b)))
                                0))
                           (opencode-sessions--all-buffers))))
    (cond ((and animated (not opencode-sessions--tick-timer))
           (setq opencode-sessions--tick-timer
                 (run-with-timer 0.25 0.25 #'opencode-sessions--tick)))
          ((and (not animated) opencode-sessions--tick-timer)
           (cancel-timer opencode-sessions--tick-timer)
           (setq opencode-sessions--tick-timer nil)))))

(defun opencode-sessions--tick ()
  "Advance spinners and countdowns in visible session lists."
  (dolist (buf (opencode-sessions--all-buffers))
    (when (get-buffer-window buf 'visible)
      (with-current-buffer buf
        (maphash (lambda (id _) (opencode-sessions--update-status-cell id))
                 (opencode-store-status (opencode-store opencode-sessions--conn))))))
  (opencode-sessions--update-ticker))

;;;; Live updates

(defvar opencode-sessions--list-buffers nil
  "Session list buffers, so events need not scan `buffer-list'.")

(defun opencode-sessions--attach (conn)
  "Make the current buffer a session list of CONN."
  (setq opencode-sessions--conn conn)
  (cl-pushnew (current-buffer) opencode-sessions--list-buffers))

(defun opencode-sessions--all-buffers ()
  "Return every live session list buffer."
  (setq opencode-sessions--list-buffers
        (cl-delete-if-not #'buffer-live-p opencode-sessions--list-buffers)))

(defun opencode-sessions--buffers (conn)
  "Return the session list buffers showing CONN."
  (cl-remove-if-not
   (lambda (b) (eq (buffer-local-value 'opencode-sessions--conn b) conn))
   (opencode-sessions--all-buffers)))

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
  (opencode-sessions--update-ticker)
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
                          (opencode-connection-directory opencode-sessions--conn))
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

;;;; Commands

(defun opencode-sessions--id-at-point ()
  "Return the id of the session at point, or signal a `user-error'."
  (or (tabulated-list-get-id) (user-error "No session at point")))

(defun opencode-sessions--live-id-at-point ()
  "Return the id of the session at point, if the server can act on it.
Signal a `user-error' while the list is a stale copy."
  (opencode-sessions--check-live)
  (opencode-sessions--id-at-point))

(defun opencode-sessions--check-live ()
  "Signal a `user-error' if the list is a cached copy and its server is down.
A copy shown while the server is up (its answer on the way) is fine to
act on: the server does the acting."
  (when (and opencode-sessions--stale
             (not (eq (opencode-connection-state opencode-sessions--conn) 'connected)))
    (user-error "This list is a cached copy: the server is not connected (g retries)")))

(defun opencode-sessions--session-at-point ()
  "Return the session plist at point, or signal a `user-error'."
  (opencode-sessions--get (opencode-sessions--id-at-point)))

(defun opencode-sessions-open (id)
  "Open the chat of session ID."
  (interactive (list (opencode-sessions--id-at-point)))
  (opencode-chat-open opencode-sessions--conn (opencode-sessions--get id)))

(defun opencode-sessions--init-wanted-p ()
  "Return non-nil if a new session should run /init.
As `opencode-session-init-after-create' says: asking when it is `ask'."
  (pcase opencode-session-init-after-create
    ('ask (y-or-n-p "Run /init in it (the agent reads the project, writes AGENTS.md; costs tokens)? "))
    (v v)))

(defun opencode-sessions-create (title &optional init)
  "Create a session titled TITLE (empty: let the server name it).
With INIT non-nil, run /init in it (with its model: the project's, else
the server's default).  Interactively, INIT is as
`opencode-session-init-after-create' says; from Lisp, when it is t."
  (interactive
   (progn (opencode-sessions--check-live)
          (list (read-string "Title of the new session (empty for default): ")
                (opencode-sessions--init-wanted-p))))
  (let ((conn opencode-sessions--conn)
        (buf (current-buffer)))
    (opencode-api-session-create
     conn
     :title (and (not (string-empty-p title)) title)
     :callback
     (lambda (s)
       (message "Created session %s" (plist-get s :slug))
       ;; Show it now and move to it (its event may come later).
       (when (buffer-live-p buf)
         (with-current-buffer buf
           (opencode-sessions--add s)
           (opencode-sessions--redraw)
           (let ((window (get-buffer-window buf)))
             (if window
                 (with-selected-window window (opencode-sessions--goto (plist-get s :id)))
               (opencode-sessions--goto (plist-get s :id))))))
       (when (or init (eq opencode-session-init-after-create t))
         (opencode-chat-run-init conn s))))))

(defun opencode-sessions-compact (id)
  "Compact session ID: replace its history by a summary, with its model."
  (interactive (list (opencode-sessions--live-id-at-point)))
  (let ((conn opencode-sessions--conn))
    (opencode-api-session-model
     conn (opencode-sessions--get id)
     (lambda (model)
       (message "Compacting with %s/%s..." (car model) (cdr model))
       (opencode-api-session-summarize conn id model
                                       :callback (lambda (_) (message "Compacted")))))))

(defun opencode-sessions-rename (id title)
  "Rename session ID to TITLE."
  (interactive
   (let ((s (opencode-sessions--get (opencode-sessions--live-id-at-point))))
     (list (plist-get s :id) (read-string "New title: " (plist-get s :title)))))
  (when (string-empty-p (string-trim title))
    (user-error "A title cannot be empty"))
  (opencode-api-session-update opencode-sessions--conn id :title title))

(defun opencode-sessions-delete (id)
  "Delete session ID and its child sessions, after confirmation."
  (interactive (list (opencode-sessions--live-id-at-point)))
  (let* ((s (opencode-sessions--get id))
         (kids (length (opencode-sessions--children id))))
    (when (yes-or-no-p (format "Delete session \"%s\"%s? "
                               (or (plist-get s :title) id)
                               (if (> kids 0) (format " and its %d child sessions" kids) "")))
      (opencode-api-session-delete opencode-sessions--conn id
                                   :callback (lambda (_) (message "Deleted"))))))

(defun opencode-sessions-abort (id)
  "Abort the running reply of session ID."
  (interactive (list (opencode-sessions--live-id-at-point)))
  (opencode-api-session-abort opencode-sessions--conn id
                              :callback (lambda (_) (message "Aborted"))))

(defun opencode-sessions-fork (id)
  "Fork session ID into a new session with the same history."
  (interactive (list (opencode-sessions--live-id-at-point)))
  (opencode-store-fork opencode-sessions--conn id nil
                       (lambda (s) (message "Forked into %s" (plist-get s :title)))))

(defun opencode-sessions-archive-toggle (id)
  "Archive session ID, or unarchive it if it is archived.
The echo area names the session, so a row that moved under point is
not archived unseen."
  (interactive (list (opencode-sessions--live-id-at-point)))
  (let* ((s (opencode-sessions--get id))
         (archived (opencode-session-archived-p s))
         (what (format "%s \"%s\"" (if archived "Unarchived" "Archived")
                       (or (plist-get s :title) id)))
         (hint (if (or archived opencode-sessions--archived) ""
                 (substitute-command-keys
                  "; \\<opencode-sessions-mode-map>\\[opencode-sessions-toggle-archived] shows archived sessions"))))
    (opencode-api-session-update opencode-sessions--conn id
                      :archived (if archived 0 (truncate (* 1000 (float-time))))
                      :callback (lambda (_) (message "%s%s" what hint)))))

(defun opencode-sessions-toggle-roots ()
  "Show root sessions only, or all sessions.
Root sessions are neither a sub-agent's session nor a fork made from
Emacs; with roots only, TAB on a session fetches and shows its children."
  (interactive)
  (setq opencode-sessions--roots (not opencode-sessions--roots))
  (clrhash opencode-sessions--opened)
  (opencode-sessions--refilter)
  (when (opencode-connection-usable-p opencode-sessions--conn)
    (opencode-sessions--load-page (current-buffer) nil))
  (message (if opencode-sessions--roots "Showing root sessions only" "Showing all sessions")))

(defun opencode-sessions--refilter ()
  "Drop the rows that no longer belong in the list, and redraw it."
  (let (gone)
    (maphash (lambda (id _)
               (let ((s (opencode-sessions--get id)))
                 (unless (and s (opencode-sessions--wanted-p s)) (push id gone))))
             opencode-sessions--sessions)
    (dolist (id gone) (remhash id opencode-sessions--sessions)))
  (opencode-sessions--redraw))

(defun opencode-sessions-toggle-archived ()
  "Show or hide archived sessions."
  (interactive)
  (setq opencode-sessions--archived (not opencode-sessions--archived))
  (opencode-sessions-refresh)
  (message (if opencode-sessions--archived "Showing archived sessions"
             "Hiding archived sessions")))

(defun opencode-sessions-share-toggle (id)
  "Share session ID and copy its URL, or unshare it if it is shared."
  (interactive (list (opencode-sessions--live-id-at-point)))
  (let* ((s (opencode-sessions--get id))
         (url (plist-get (plist-get s :share) :url)))
    (if (and (stringp url)
             (yes-or-no-p (format "Unshare %s? " url)))
        (opencode-api-session-unshare opencode-sessions--conn id
                                      :callback (lambda (_) (message "Unshared")))
      (unless (stringp url)
        (opencode-api-session-share opencode-sessions--conn id
                                    :callback
                          (lambda (s)
                            (let ((url (plist-get (plist-get s :share) :url)))
                              (if (not (stringp url))
                                  (message "The server did not share the session (sharing may be disabled)")
                                (kill-new url)
                                (message "Shared: %s (copied)" url)))))))))

(defun opencode-sessions-search (string)
  "Show only sessions whose title matches STRING (empty: all)."
  (interactive (list (read-string "Search sessions (empty for all): "
                                  opencode-sessions--search)))
  (setq opencode-sessions--search (and (not (string-empty-p string)) string))
  (opencode-sessions-refresh))

(defun opencode-sessions-goto-parent ()
  "Move to the parent of the session at point."
  (interactive)
  (let ((parent (opencode-sessions--up (opencode-sessions--session-at-point))))
    (cond ((not (stringp parent)) (user-error "This session has no parent"))
          ((not (opencode-sessions--goto parent))
           (user-error "The parent session is not loaded")))))

(defun opencode-sessions-toggle-children ()
  "Fold or unfold the child sessions of the session at point."
  (interactive)
  (let ((id (opencode-sessions--id-at-point)))
    (cond ((not (opencode-sessions--children id))
           ;; None loaded: ask the server (and the forks recorded here).
           (unless (and (not opencode-sessions--stale)
                        (eq (opencode-connection-state opencode-sessions--conn) 'connected)
                        (opencode-connection-usable-p opencode-sessions--conn))
             (user-error "No child sessions are loaded, and the server is not connected"))
           (opencode-sessions--load-children id))
          ((gethash id opencode-sessions--folded)
           (remhash id opencode-sessions--folded)
           (opencode-sessions--redraw))
          (t (puthash id t opencode-sessions--folded)
             (opencode-sessions--redraw)))))

(defun opencode-sessions-copy-id ()
  "Copy the id of the session at point."
  (interactive)
  (let ((id (opencode-sessions--id-at-point)))
    (kill-new id)
    (message "Copied %s" id)))

(defun opencode-sessions-describe ()
  "Show the status message or error of the session at point."
  (interactive)
  (let* ((id (opencode-sessions--id-at-point))
         (s (opencode-sessions--get id))
         (st (opencode-store-session-status opencode-sessions--conn id))
         (err (opencode-store-session-error opencode-sessions--conn id)))
    (message "%s [%s] %s%s%s%s" (plist-get s :title) (plist-get s :slug)
             (opencode-sessions--state id)
             (if (stringp (plist-get st :message)) (concat ": " (plist-get st :message)) "")
             (if err (concat ": " (opencode-api-error-text err)) "")
             (let ((url (plist-get (plist-get s :share) :url)))
               (if (stringp url) (concat "  shared: " url) "")))))

;;;; Mode line

(defun opencode-sessions-mode-line ()
  "Return the mode-line summary of every connection: busy, waiting, errors.
Sessions busy on a connection that is down are counted as unknown:
their replies may have ended, or their server died under them."
  (let ((busy 0) (unknown 0) (needs 0) (errors 0))
    (dolist (conn opencode-connections)
      (pcase-let ((`(,b ,n ,e) (opencode-store-counts conn)))
        (if (opencode-store-status-known-p conn) (cl-incf busy b) (cl-incf unknown b))
        (cl-incf needs n) (cl-incf errors e)))
    (if (= 0 busy unknown needs errors) ""
      (concat " OC["
              (string-join
               (delq nil (list (and (> busy 0) (format "%d busy" busy))
                               (and (> unknown 0)
                                    (propertize (format "%d unknown" unknown)
                                                'help-echo "Busy when last known; the \
connection is down, so nobody knows now"))
                               (and (> needs 0)
                                    (propertize (format "%d waiting" needs)
                                                'face 'opencode-status-needs-user))
                               (and (> errors 0)
                                    (propertize (format "%d error" errors)
                                                'face 'opencode-status-error))))
               " ")
              "]"))))

(defvar opencode-sessions--mode-line-entry '(:eval (opencode-sessions-mode-line))
  "The entry added to `global-mode-string'.")
(put 'opencode-sessions--mode-line-entry 'risky-local-variable t)

;;;; Mode

(opencode-define-keys opencode-sessions-mode-map opencode-sessions-menu
  :parent tabulated-list-mode-map
  :map-doc "Keymap of `opencode-sessions-mode'."
  :menu-doc "The commands of the OpenCode session list."
  :menu-key "?"
  ((("Session at point"
     ("RET" nil opencode-sessions-open)
     ("o" "open chat (also RET)" opencode-sessions-open)
     ("r" "rename" opencode-sessions-rename)
     ("f" "fork" opencode-sessions-fork)
     ("C" "compact" opencode-sessions-compact)
     ("a" "archive / unarchive" opencode-sessions-archive-toggle)
     ("s" "share / unshare" opencode-sessions-share-toggle)
     ("k" "abort reply" opencode-sessions-abort)
     ("d" "delete" opencode-sessions-delete)
     ("w" "copy id" opencode-sessions-copy-id)
     ("i" "describe status" opencode-sessions-describe))
    ("List"
     ("c" "create" opencode-sessions-create)
     ("g" "refresh" opencode-sessions-refresh)
     ("/" "search" opencode-sessions-search)
     ("A" "show archived" opencode-sessions-toggle-archived)
     ("R" "roots only / all" opencode-sessions-toggle-roots)
     ("+" "load more" opencode-sessions-load-more)
     ("TAB" "fold / fetch children" opencode-sessions-toggle-children)
     ("^" "go to parent" opencode-sessions-goto-parent)
     ("P" "every project" opencode-sessions-all-projects)
     ("n" nil next-line)
     ("p" nil previous-line)
     ("q" "quit" quit-window))
    ("Worktrees"
     ("T" "list" opencode-worktrees)
     ("W" "create" opencode-worktree-create)
     ("N" "new session in one" opencode-worktree-new-session)
     ("D" "remove" opencode-worktree-remove)))))

(define-derived-mode opencode-sessions-mode tabulated-list-mode "OpenCode-Sessions"
  "Major mode listing the sessions of an OpenCode project.
The list follows the server live.  \\<opencode-sessions-mode-map>\
\\[opencode-sessions-menu] shows every command.

\\{opencode-sessions-mode-map}"
  (setq opencode-sessions--sessions (make-hash-table :test 'equal)
        opencode-sessions--folded (make-hash-table :test 'equal)
        opencode-sessions--opened (make-hash-table :test 'equal)
        opencode-sessions--archived opencode-sessions-show-archived
        opencode-sessions--roots opencode-sessions-roots-only)
  (setq tabulated-list-sort-key nil)
  (setq tabulated-list-padding 1)
  (setq mode-line-process '(:eval (concat " " (opencode-sessions--header))))
  (add-hook 'kill-buffer-hook #'opencode-sessions--cleanup nil t)
  (unless (member 'opencode-sessions--mode-line-entry global-mode-string)
    (setq global-mode-string
          (append (or global-mode-string '("")) '(opencode-sessions--mode-line-entry)))))

(defun opencode-sessions--cleanup ()
  "Cancel this buffer's timer when it is killed."
  (when opencode-sessions--redraw-timer
    (cancel-timer opencode-sessions--redraw-timer)))

;;;###autoload
(defun opencode-sessions (&optional directory)
  "Show the OpenCode sessions of DIRECTORY (default: the current project).
With a prefix argument, ask for the directory."
  (interactive
   (list (and current-prefix-arg
              (read-directory-name "Project directory: "))))
  (opencode-sessions-show (opencode-connect directory)))

(defun opencode-sessions-show (conn)
  "Show the session list of CONN in the selected window; return its buffer."
  (let* ((name (format "*opencode-sessions: %s*"
                       (abbreviate-file-name (opencode-connection-directory conn))))
         (buf (get-buffer-create name)))
    (with-current-buffer buf
      (unless (derived-mode-p 'opencode-sessions-mode)
        (opencode-sessions-mode))
      (opencode-sessions--attach conn)
      (setq default-directory (file-name-as-directory
                               (opencode-connection-directory conn)))
      ;; The list kept on disk shows at once, until the server answers.
      (when (zerop (hash-table-count opencode-sessions--sessions))
        (dolist (s (opencode-cache-sessions conn))
          (when (opencode-sessions--wanted-p s)
            (opencode-sessions--add s)))
        (setq opencode-sessions--stale t))
      (opencode-sessions--redraw)
      ;; A connection still connecting fetches when it connects (see
      ;; `opencode-sessions--on-state'), so no event is missed between.
      (when (eq (opencode-connection-state conn) 'connected)
        (opencode-sessions-refresh)))
    (pop-to-buffer-same-window buf)
    buf))

;;;###autoload
(defun opencode-switch-session (&optional directory)
  "Pick a session of DIRECTORY's project with completion and open its chat.
DIRECTORY defaults to the current project.  What is typed is searched
for on the server, so any session can be picked, not only the newest
page; candidates are annotated with their status, age and slug.
Return the session's plist."
  (interactive)
  (let* ((conn (opencode-connect directory))
         (table (make-hash-table :test 'equal))
         (searched (make-hash-table :test 'equal))
         (status (opencode-with-error-words (opencode-api-session-status conn :sync t))))
    (cl-labels
        ((key (s) (format "%s  ‹%s›" (or (plist-get s :title) "") (plist-get s :slug)))
         (fetch (search)
           ;; Each search string once; the server filters by title.
           (or (gethash search searched)
               (puthash
                search
                (let ((found nil))
                  (seq-doseq (s (opencode-with-error-words
                                  (opencode-api-session-list-paged
                                   conn :sync t
                                   :query `(("limit" . ,opencode-sessions-page-size)
                                            ("search" . ,(and (not (string-empty-p search)) search))
                                            ("archived" . t)))))
                    (let ((k (key s)))
                      (puthash k s table)
                      (push k found)))
                  (nreverse found))
                searched)))
         (candidates (string)
           ;; The newest page, and what the server finds for the string.
           (let ((words (string-trim string)))
             (delete-dups (append (fetch "")
                                  (and (not (string-empty-p words))
                                       (fetch (car (split-string words "  ‹"))))))))
         (annotate (k)
           (let* ((s (gethash k table))
                  (st (plist-get (plist-get status (intern (concat ":" (plist-get s :id))))
                                 :type)))
             (format "  %-6s %s" (or st "idle")
                     (opencode-sessions--format-time (opencode-sessions--time s :updated))))))
      (when (null (fetch ""))
        (user-error "No sessions in %s" (opencode-connection-directory conn)))
      (let* ((choice (completing-read
                      "Session: "
                      (lambda (str pred action)
                        (if (eq action 'metadata)
                            `(metadata (annotation-function . ,#'annotate)
                                       (display-sort-function . identity)
                                       (category . opencode-session))
                          (complete-with-action action (candidates str) str pred)))
                      nil t))
             (s (or (gethash choice table)
                    (user-error "No session %s" choice))))
        (opencode-store-put-session conn s)
        (opencode-chat-open conn s)
        s))))

(provide 'opencode-sessions)
;;; opencode-sessions.el ends here

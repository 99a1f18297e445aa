;;; opencode-sessions.el --- The live list of OpenCode sessions  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; M-x opencode-sessions lists the sessions of the current project in a
;; `tabulated-list-mode' buffer, kept live by the server's events: its
;; rows, their status badges and how events and pages change them are in
;; opencode-sessions-rows.el; here are the mode, its keys and commands,
;; the mode line's summary of every connection, and
;; `opencode-switch-session', which picks a session with completion.
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
(require 'opencode-sessions-rows)

;;;; Options

(defcustom opencode-session-init-after-create 'ask
  "Whether a session created from Emacs runs /init right away.
/init is a model turn in which the agent reads the project and writes
or updates AGENTS.md: it costs tokens and changes a file.  `ask' (the
default) asks when the session is created, t runs it, nil never does.
An empty chat offers it on a key either way (`opencode-chat-init').
The model is the project's, else the server's default."
  :type '(choice (const :tag "Ask" ask) (const :tag "Always" t) (const :tag "Never" nil))
  :group 'opencode)

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

(defun opencode-sessions-permission-rules (id)
  "Show the permission rules of session ID (`opencode-permission-rules')."
  (interactive (list (opencode-sessions--id-at-point)))
  (opencode-permission-rules opencode-sessions--conn (opencode-sessions--get id)))

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
     ("i" "describe status" opencode-sessions-describe)
     ("L" "permission rules" opencode-sessions-permission-rules))
    ("List"
     ("c" "create" opencode-sessions-create)
     ("g" "refresh" opencode-sessions-refresh)
     ("/" "search" opencode-sessions-search)
     ("A" "show archived" opencode-sessions-toggle-archived)
     ("R" "roots only / all" opencode-sessions-toggle-roots)
     ("+" "load more" opencode-sessions-load-more)
     ("TAB" "fold / fetch children" opencode-sessions-toggle-children)
     ("^" "go to parent" opencode-sessions-goto-parent)
     ("P" "every project" opencode-projects)
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

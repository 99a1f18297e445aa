;;; opencode-model.el --- What the server sends, and the store that holds it  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The model: the structs of what the server sends (opencode-structs.el)
;; and a store per connection that the events update,
;; each event once, here and nowhere else: sessions, their status, their
;; last error, the pending requests, todos, parents, diffs and the
;; project's branch.  The views (session list, chat, sidebar, mode line,
;; notifications, status view) read the store; none keeps its own copy.
;;
;; The store's handlers run at depth 0 (see opencode-events.el), before
;; the views' handlers of the same event.  After a (re)connection,
;; `opencode-store-sync' fetches the statuses and the pending requests
;; again and routes what changed meanwhile to the views as the events
;; they would have seen ("session.status", "permission.asked", …), so a
;; view needs no second code path for a reload.

;;; Code:

(require 'cl-lib)
(require 'seq)
(require 'opencode-lib)
(require 'opencode-events)
(require 'opencode-connection)
(require 'opencode-api)
(require 'opencode-cache)
(require 'opencode-structs)

;;;; The store

(cl-defstruct (opencode-store (:constructor opencode-model--store)
                              (:copier nil))
  "What one connection knows of its server, kept up to date by events."
  (sessions (make-hash-table :test 'equal)
            :documentation "Session id -> `opencode-session', as far as seen.")
  (status (make-hash-table :test 'equal)
          :documentation "Session id -> status plist (:type \"busy\" …); idle ones absent.")
  (errors (make-hash-table :test 'equal)
          :documentation "Session id -> its last error plist, until it works again.
Errors of no session are kept under the key t.")
  (requests (make-hash-table :test 'equal)
            :documentation "Request id -> `opencode-user-request', pending.")
  (waiting (make-hash-table :test 'equal)
           :documentation "Session id -> how many of `requests' are its, when any.")
  (todos (make-hash-table :test 'equal)
         :documentation "Session id -> list of `opencode-todo'.")
  (parents (make-hash-table :test 'equal)
           :documentation "Session id -> parent session id, or nil for a root.")
  (diffs (make-hash-table :test 'equal)
         :documentation "Session id -> vector of file diff plists, as the server
says for the whole session (empty on 1.18.33: see `message-diffs').")
  (message-diffs (make-hash-table :test 'equal)
                 :documentation "Session id -> alist (MESSAGE-ID . DIFFS): what each
of its prompts changed on disk, from the user messages' summary.diffs.")
  (merged-diffs (make-hash-table :test 'equal)
                :documentation "Session id -> its `message-diffs' merged, one diff
per file; made when first read, dropped when they change.")
  (diffs-read (make-hash-table :test 'equal)
              :documentation "Session id -> t once every message's summary was read.")
  (touched (make-hash-table :test 'equal)
           :documentation "Session id -> `opencode-events-tick' of the last event
that made, changed or deleted it: a list fetched before that is older
than the store (see `opencode-store-merge-sessions').")
  (origins nil :documentation "Fork id -> the id of the session it was forked
from, for forks made on this client (the server keeps no record of it);
read from disk (opencode-cache.el) on first use.")
  (branch nil :documentation "The project's version control branch, or nil.")
  (timelines (make-hash-table :test 'equal)
             :documentation "Session id -> its `opencode-timeline', for the sessions
someone looks at (an open chat) only (opencode-timeline.el).")
  (approvals nil :documentation "What \"always\" replies allowed in the project,
as this client saw them, oldest first: plists (:permission :pattern
:session :time).  The server keeps them in memory only, with no route
to list them, until the project's instance is disposed of or the server
stops (see opencode-rules.el)."))

(defun opencode-store (conn)
  "Return the store of CONN, made on first use."
  (or (opencode-connection-store conn)
      (setf (opencode-connection-store conn) (opencode-model--store))))

;;;; Reading the store

(defun opencode-store-session (conn id)
  "Return the `opencode-session' ID of CONN, or nil if not seen."
  (gethash id (opencode-store-sessions (opencode-store conn))))

(defun opencode-store-session-status (conn id)
  "Return the status plist of session ID on CONN; (:type \"idle\") if idle."
  (or (gethash id (opencode-store-status (opencode-store conn)))
      '(:type "idle")))

(defun opencode-store-status-type (conn id)
  "Return the status of session ID on CONN: \"idle\", \"busy\" or \"retry\"."
  (plist-get (opencode-store-session-status conn id) :type))

(defun opencode-store-busy-p (conn id)
  "Return non-nil if session ID on CONN is working (busy or retrying)."
  (member (opencode-store-status-type conn id) '("busy" "retry")))

(defun opencode-store-state (conn id)
  "Return the state of session ID on CONN, as every view names it.
One of `needs' (a permission or a question waits for the user),
`error' (its last reply ended in an error, and it has not worked
since), `retry', `busy', `idle', or `unknown': the store says it
works, but CONN's stream is down, so the server may have ended the
reply or died under it.  The session lists, the sidebar and the
chat's header and prompt line all ask this one function;
`opencode-store-state-word' says it in words."
  (cond ((opencode-store-waiting-p conn id) 'needs)
        ((opencode-store-session-error conn id) 'error)
        (t (pcase (opencode-store-status-type conn id)
             ((and (or "retry" "busy") (guard (not (opencode-store-status-known-p conn))))
              'unknown)
             ("retry" 'retry)
             ("busy" 'busy)
             (_ 'idle)))))

(defun opencode-store-state-word (state)
  "Return the word every view shows for STATE, from `opencode-store-state'."
  (pcase state
    ('needs "needs you")
    (_ (symbol-name state))))

(defun opencode-store-status-known-p (conn)
  "Return non-nil if the statuses CONN's store holds are the server's.
Only while CONN's stream is connected: while it is down, a session the
store says is busy may have ended, or the server may have died under
it; the sync that follows the reconnection (`opencode-store-sync')
says again."
  (eq (opencode-connection-state conn) 'connected))

(defun opencode-store-unknown-status-text (conn &optional why)
  "Return, in plain words, that CONN's session statuses are not known.
\"unknown (reconnecting in 3 s)\", \"unknown (disconnected)\": the
state of the connection, as `opencode-connection-state-text' names it.
With WHY, why the stream is down is said too, when known."
  (let ((detail (and why (opencode-connection-state-detail conn))))
    (format "unknown (%s%s)"
            (pcase (opencode-connection-state conn)
              ('connecting "connecting")
              ('closed "closed")
              (_ (let ((at (opencode-connection-retry-at conn)))
                   (if at
                       (format "reconnecting in %d s" (max 0 (ceiling (- at (float-time)))))
                     "disconnected"))))
            (if detail (concat ": " detail) ""))))

(defun opencode-store-session-error (conn id)
  "Return the last error plist of session ID on CONN, or nil.
ID t gives the last error that named no session."
  (gethash id (opencode-store-errors (opencode-store conn))))

(defun opencode-store-pending (conn &optional session-id)
  "Return CONN's pending `opencode-user-request's, oldest first.
With SESSION-ID, only that session's."
  (let (all)
    (maphash (lambda (_ r)
               (when (or (null session-id)
                         (equal (opencode-user-request-session-id r) session-id))
                 (push r all)))
             (opencode-store-requests (opencode-store conn)))
    ;; Ids are time-ordered.
    (sort all (lambda (a b) (string< (opencode-user-request-id a)
                                     (opencode-user-request-id b))))))

(defun opencode-store-waiting-p (conn session-id)
  "Return non-nil if a permission or a question of SESSION-ID on CONN is pending.
Constant time: a list badge asks it of every row."
  (gethash session-id (opencode-store-waiting (opencode-store conn))))

(defun opencode-model--add-request (conn r)
  "Record pending request R, an `opencode-user-request', on CONN."
  (let ((store (opencode-store conn)) (sid (opencode-user-request-session-id r)))
    (unless (gethash (opencode-user-request-id r) (opencode-store-requests store))
      (puthash sid (1+ (gethash sid (opencode-store-waiting store) 0))
               (opencode-store-waiting store)))
    (puthash (opencode-user-request-id r) r (opencode-store-requests store))))

(defun opencode-model--drop-request (conn id)
  "Forget the pending request ID on CONN."
  (let* ((store (opencode-store conn))
         (r (gethash id (opencode-store-requests store))))
    (when r
      (remhash id (opencode-store-requests store))
      (let* ((sid (opencode-user-request-session-id r))
             (n (1- (gethash sid (opencode-store-waiting store) 1))))
        (if (> n 0) (puthash sid n (opencode-store-waiting store))
          (remhash sid (opencode-store-waiting store)))))))

(defun opencode-store-request (conn id)
  "Return the pending `opencode-user-request' ID of CONN, or nil."
  (gethash id (opencode-store-requests (opencode-store conn))))

(defun opencode-store-session-todos (conn id)
  "Return the todo list of session ID on CONN, a list of `opencode-todo'."
  (gethash id (opencode-store-todos (opencode-store conn))))

(defun opencode-store-parent (conn id)
  "Return the parent session id of session ID on CONN.
Nil for a root; the symbol `unknown' when the session was never seen."
  (gethash id (opencode-store-parents (opencode-store conn)) 'unknown))

(defun opencode-store-session-diff (conn id)
  "Return what session ID on CONN changed on disk, a vector of diffs, or nil.
The server's diff of the whole session when it has one; else the
changes of its prompts, merged, as their messages' summaries say."
  (let ((own (gethash id (opencode-store-diffs (opencode-store conn)))))
    (if (> (length own) 0) own
      (let ((merged (opencode-model--merged-diffs conn id)))
        (and (> (length merged) 0) merged)))))

(defun opencode-store-message-diff (conn id message-id)
  "Return what prompt MESSAGE-ID of session ID on CONN changed, or nil.
MESSAGE-ID is a user message; its summary says."
  (cdr (assoc message-id (gethash id (opencode-store-message-diffs (opencode-store conn))))))

(defun opencode-store-diffs-read-p (conn id)
  "Return non-nil if every message of session ID on CONN was read for its diffs."
  (eq (gethash id (opencode-store-diffs-read (opencode-store conn))) t))

(defun opencode-store-diff-summary (conn id)
  "Return (FILES ADDITIONS DELETIONS) of session ID's changes on CONN, or nil.
From its diffs (see `opencode-store-session-diff'), else from the
session's own summary."
  (let ((diff (opencode-store-session-diff conn id)))
    (if (> (length diff) 0)
        (list (length diff)
              (cl-loop for d across diff sum (or (plist-get d :additions) 0))
              (cl-loop for d across diff sum (or (plist-get d :deletions) 0)))
      (let* ((s (opencode-store-session conn id))
             (sum (and s (plist-get (opencode-session-data s) :summary)))
             (files (and (listp sum) (plist-get sum :files))))
        (and (numberp files) (> files 0)
             (list files (or (plist-get sum :additions) 0) (or (plist-get sum :deletions) 0)))))))

(defun opencode-model--diff-file (diff)
  "Return the file DIFF is about."
  (or (plist-get diff :file) (plist-get diff :path) "?"))

(defun opencode-model--merge (alist)
  "Merge the diffs of ALIST, (MESSAGE-ID . DIFFS), into one diff per file.
Messages are taken oldest first; a file changed by several prompts
gets their counts summed and their patches one after the other."
  (let ((by-file (make-hash-table :test 'equal)) (order nil))
    (pcase-dolist (`(,_ . ,diffs) (sort (copy-sequence alist)
                                        (lambda (a b) (string< (car a) (car b)))))
      (seq-doseq (d diffs)
        (let* ((file (opencode-model--diff-file d))
               (old (gethash file by-file)))
          (if (not old)
              (progn (push file order) (puthash file d by-file))
            (puthash file
                     (list :file file
                           :status (if (equal (plist-get d :status) "deleted") "deleted"
                                     (or (plist-get old :status) (plist-get d :status)))
                           :additions (+ (or (plist-get old :additions) 0)
                                         (or (plist-get d :additions) 0))
                           :deletions (+ (or (plist-get old :deletions) 0)
                                         (or (plist-get d :deletions) 0))
                           :patch (concat (or (plist-get old :patch) "")
                                          (or (plist-get d :patch) "")))
                     by-file)))))
    (apply #'vector (mapcar (lambda (f) (gethash f by-file)) (nreverse order)))))

(defun opencode-model--merged-diffs (conn id)
  "Return the merged diffs of session ID's prompts on CONN (a vector)."
  (let ((store (opencode-store conn)))
    (or (gethash id (opencode-store-merged-diffs store))
        (puthash id (opencode-model--merge (gethash id (opencode-store-message-diffs store)))
                 (opencode-store-merged-diffs store)))))

(defun opencode-store-any-busy-p (conns)
  "Return non-nil if a session works (busy or retrying) on any of CONNS."
  (cl-some (lambda (conn) (> (car (opencode-store-counts conn)) 0)) conns))

(defun opencode-store-counts (conn)
  "Return (BUSY WAITING ERRORS): CONN's sessions in each state.
WAITING counts the sessions a permission or a question waits on."
  (let* ((store (opencode-store conn))
         (busy 0) (errors 0) (waiting nil))
    (maphash (lambda (_ s) (when (member (plist-get s :type) '("busy" "retry")) (cl-incf busy)))
             (opencode-store-status store))
    (maphash (lambda (k _) (unless (eq k t) (cl-incf errors))) (opencode-store-errors store))
    (maphash (lambda (_ r) (cl-pushnew (opencode-user-request-session-id r) waiting :test #'equal))
             (opencode-store-requests store))
    (list busy (length waiting) errors)))

(defun opencode-store-descends-p (conn id ancestor)
  "Return non-nil if session ID on CONN is ANCESTOR or one of its descendants.
Only parents the store knows are followed."
  (let ((seen nil))
    (while (and (stringp id) (not (equal id ancestor)) (not (member id seen)))
      (push id seen)
      (setq id (opencode-store-parent conn id)))
    (equal id ancestor)))

;;;; Writing it: one handler per event, before every view

(defun opencode-model--route (conn type props)
  "Route event TYPE with PROPS on CONN, as if the server had sent it.
For what the store learns otherwise (a reply after a reconnection, a
fork made here).  The events of a global connection go to the
handlers declared for those only, as its stream's do."
  (opencode-events-route conn type props (opencode-connection-global conn)))

(defun opencode-store-put-session (conn plist)
  "Record session PLIST, as the server sent it, in CONN's store.
Return the `opencode-session'."
  (let ((s (opencode-session-from-plist plist))
        (store (opencode-store conn)))
    (puthash (opencode-session-id s) s (opencode-store-sessions store))
    (puthash (opencode-session-id s) (opencode-session-parent-id s)
             (opencode-store-parents store))
    s))

(defun opencode-model--touch (conn id)
  "Record that an event just made, changed or deleted session ID on CONN."
  (puthash id opencode-events-tick (opencode-store-touched (opencode-store conn))))

(defun opencode-store-merge-sessions (conn sessions since)
  "Record SESSIONS, fetched from CONN's server, in its store; return what to show.
SINCE is the value of `opencode-events-tick' when they were asked for.
A reply and the events travel apart, so an event that came after the
request may be newer than the reply: a session an event made, changed
or deleted since then keeps what the event said.  Return the sessions,
as plists: those of the reply (the store's newer copy where an event
changed one, none where one deleted it), then those the events made
meanwhile that the reply did not have."
  (let* ((store (opencode-store conn))
         (touched (opencode-store-touched store))
         (seen (make-hash-table :test 'equal))
         (out nil))
    (seq-doseq (s sessions)
      (let ((id (plist-get s :id)))
        (puthash id t seen)
        (if (<= (gethash id touched -1) since)
            (progn (opencode-store-put-session conn s) (push s out))
          (let ((newer (gethash id (opencode-store-sessions store))))
            (when newer (push (opencode-session-data newer) out))))))
    (maphash (lambda (id tick)
               (when (and (> tick since) (not (gethash id seen)))
                 (let ((s (gethash id (opencode-store-sessions store))))
                   (when s (push (opencode-session-data s) out)))))
             touched)
    (nreverse out)))

(defun opencode-store-put-todos (conn id todos)
  "Record TODOS (a vector of plists, as the server sends) of session ID on CONN."
  (puthash id (mapcar #'opencode-todo-from-plist todos)
           (opencode-store-todos (opencode-store conn))))

(defun opencode-store-learn-parent (conn id callback)
  "Call CALLBACK once the parent of session ID on CONN is known.
It is asked of the server when the store has not seen the session."
  (if (not (eq (opencode-store-parent conn id) 'unknown))
      (funcall callback)
    (opencode-api-session-get
     conn id :errback #'ignore
     :callback (lambda (s) (opencode-store-put-session conn s) (funcall callback)))))

(opencode-defevent opencode-model--on-session ("session.created" "session.updated")
    (conn props)
  "Record the session in PROPS's :info, on CONN."
  :depth 0 :global t
  (let ((info (plist-get props :info)))
    (when (stringp (plist-get info :id))
      (opencode-model--touch conn (plist-get info :id))
      (opencode-store-put-session conn info))))

(opencode-defevent opencode-model--on-session-deleted "session.deleted" (conn props)
  "Forget the deleted session of PROPS, on CONN, and all it had pending."
  :depth 0 :global t
  (let ((id (or (plist-get props :sessionID) (plist-get (plist-get props :info) :id)))
        (store (opencode-store conn)))
    (when (stringp id)
      (opencode-model--touch conn id)
      (dolist (table (list (opencode-store-sessions store) (opencode-store-status store)
                           (opencode-store-errors store) (opencode-store-todos store)
                           (opencode-store-diffs store) (opencode-store-message-diffs store)
                           (opencode-store-merged-diffs store) (opencode-store-diffs-read store)))
        (remhash id table))
      (when (opencode-store-origin conn id)
        (remhash id (opencode-model--origins conn))
        (opencode-model--save-origins conn))
      (dolist (r (opencode-store-pending conn id))
        (opencode-model--drop-request conn (opencode-user-request-id r))))))

(defun opencode-model--set-status (conn id status)
  "Record STATUS (a plist) of session ID on CONN.
Busy again clears the session's last error."
  (let ((store (opencode-store conn)))
    (if (member (plist-get status :type) '("busy" "retry"))
        (progn (puthash id status (opencode-store-status store))
               (when (equal (plist-get status :type) "busy")
                 (remhash id (opencode-store-errors store))))
      (remhash id (opencode-store-status store)))))

(opencode-defevent opencode-model--on-status "session.status" (conn props)
  "Record the session status of PROPS, on CONN."
  :depth 0 :global t
  (when (stringp (plist-get props :sessionID))
    (opencode-model--set-status conn (plist-get props :sessionID) (plist-get props :status))))

(opencode-defevent opencode-model--on-idle "session.idle" (conn props)
  "Record that the session of PROPS, on CONN, is idle."
  :depth 0 :global t
  (when (stringp (plist-get props :sessionID))
    (opencode-model--set-status conn (plist-get props :sessionID) '(:type "idle"))))

(opencode-defevent opencode-model--on-error "session.error" (conn props)
  "Record the error of PROPS, on CONN, under its session (or t)."
  :depth 0 :global t
  (let ((key (if (stringp (plist-get props :sessionID)) (plist-get props :sessionID) t))
        (err (plist-get props :error))
        (errors (opencode-store-errors (opencode-store conn))))
    ;; An abort is what the user asked for: the session is not in error.
    (if (opencode-api-aborted-p err)
        (remhash key errors)
      (puthash key err errors))))

(opencode-defevent opencode-model--on-asked ("permission.asked" "question.asked")
    (conn props type)
  "Record the permission or question request of PROPS, on CONN.
TYPE says which."
  :depth 0 :global t
  (when (stringp (plist-get props :id))
    (opencode-model--add-request
     conn (opencode-user-request-from-plist
           (if (equal type "permission.asked") 'permission 'question) props))))

(opencode-defevent opencode-model--on-answered
    ("permission.replied" "question.replied" "question.rejected") (conn props)
  "Forget the request answered in PROPS, on CONN.
A permission answered \"always\" leaves its approvals, which
`opencode-store-approvals' lists."
  :depth 0 :global t
  (let ((r (opencode-store-request conn (plist-get props :requestID))))
    (when (and r (equal (plist-get props :reply) "always")
               (eq (opencode-user-request-kind r) 'permission)
               (not (opencode-connection-global conn)))
      (opencode-model--approve conn r)))
  (opencode-model--drop-request conn (plist-get props :requestID)))

;;;; What "always" allowed

(defun opencode-model--approve (conn r)
  "Record the approvals that an \"always\" reply to R gave, on CONN.
R is a permission `opencode-user-request'.  The server allows its
permission for each of the request's `always' patterns from then on,
in the whole project; an approval already recorded is not again."
  (let* ((store (opencode-store conn))
         (data (opencode-user-request-data r))
         (permission (plist-get data :permission)))
    (seq-doseq (pattern (plist-get data :always))
      (unless (cl-find-if (lambda (a) (and (equal (plist-get a :permission) permission)
                                           (equal (plist-get a :pattern) pattern)))
                          (opencode-store-approvals store))
        (setf (opencode-store-approvals store)
              (append (opencode-store-approvals store)
                      (list (list :permission permission :pattern pattern
                                  :session (opencode-user-request-session-id r)
                                  :time (current-time)))))))))

(defun opencode-store-project-approvals (conn)
  "Return what \"always\" replies allowed in CONN's project, oldest first.
Plists (:permission :pattern :session :time), as far as this client
saw the replies.  The server keeps them until the project's instance
is disposed of or it stops, and lists them nowhere."
  (opencode-store-approvals (opencode-store conn)))

(defun opencode-store-forget-approvals (conn)
  "Forget the approvals of CONN's project: the server forgot them."
  (setf (opencode-store-approvals (opencode-store conn)) nil))

(opencode-defevent opencode-model--on-disposed "server.instance.disposed" (conn _props)
  "Forget CONN's approvals: the server disposed of the project's instance."
  :depth 0
  (opencode-store-forget-approvals conn))

(opencode-defevent opencode-model--on-todos "todo.updated" (conn props)
  "Record the todo list of PROPS, on CONN."
  :depth 0
  (when (stringp (plist-get props :sessionID))
    (opencode-store-put-todos conn (plist-get props :sessionID) (plist-get props :todos))))

(opencode-defevent opencode-model--on-diff "session.diff" (conn props)
  "Record what the session of PROPS, on CONN, changed on disk."
  :depth 0
  (when (and (stringp (plist-get props :sessionID)) (not (plist-get props :derived)))
    (puthash (plist-get props :sessionID)
             (let ((d (plist-get props :diff))) (if (vectorp d) d []))
             (opencode-store-diffs (opencode-store conn)))))

;; What the prompts changed: on 1.18.33 the session's own diff stays
;; empty, each user message's summary.diffs has its prompt's changes.

(defun opencode-model--learn (conn info)
  "Record what user message INFO (a plist) changed, on CONN.
Return its session id if that changed what the session's diff is."
  (let ((sid (plist-get info :sessionID))
        (mid (plist-get info :id))
        (diffs (plist-get (plist-get info :summary) :diffs)))
    (when (and (equal (plist-get info :role) "user") (stringp sid) (stringp mid)
               (vectorp diffs))
      (let* ((store (opencode-store conn))
             (alist (gethash sid (opencode-store-message-diffs store))))
        (unless (equal (or (cdr (assoc mid alist)) []) diffs)
          (setq alist (assoc-delete-all mid alist))
          (when (> (length diffs) 0) (push (cons mid diffs) alist))
          (puthash sid alist (opencode-store-message-diffs store))
          (remhash sid (opencode-store-merged-diffs store))
          sid)))))

(defun opencode-model--diff-changed (conn sid)
  "Tell the views that what session SID on CONN changed is different.
It is routed as a \"session.diff\" marked :derived, with the merged diff."
  (opencode-model--route conn "session.diff"
                         (list :sessionID sid :diff (or (opencode-store-session-diff conn sid) [])
                               :derived t)))

(defun opencode-store-learn-messages (conn id messages &optional all)
  "Record what the prompts among MESSAGES of session ID on CONN changed.
MESSAGES is a vector of (:info :parts), as the server sends them.
ALL non-nil says they are every message of the session.  The views
are told when that changed anything."
  (let ((changed nil))
    (seq-doseq (m messages)
      (when (opencode-model--learn conn (plist-get m :info)) (setq changed t)))
    (when all (puthash id t (opencode-store-diffs-read (opencode-store conn))))
    (when changed (opencode-model--diff-changed conn id))
    ;; Some only: the older messages are read too, once.
    (unless (or all (gethash id (opencode-store-diffs-read (opencode-store conn))))
      (puthash id 'reading (opencode-store-diffs-read (opencode-store conn)))
      (opencode-store-fetch-message-diffs conn id))
    changed))

(defcustom opencode-changes-page 50
  "How many messages each request asks for when a session's changes are read.
The messages are read a page at a time, newest first, so no single
reply of a long session (tool outputs and all) has to be turned into
Lisp at once: each page is a short pause, not one long one."
  :type 'natnum
  :group 'opencode)

(defun opencode-store-fetch-message-diffs (conn id &optional callback)
  "Read every message of session ID on CONN for what its prompts changed.
Pages of `opencode-changes-page' messages, newest first.  Then call
CALLBACK, if given, with the session's diff (a vector)."
  (let ((read (opencode-store-diffs-read (opencode-store conn))))
    ;; Being read: the pages' own `opencode-store-learn-messages' must
    ;; not start another reading.
    (unless (eq (gethash id read) t) (puthash id 'reading read))
    (cl-labels
        ((fail (e)
           (opencode--log "messages of %s: %s" id (opencode-error-text e))
           (when (eq (gethash id read) 'reading) (remhash id read))
           (when callback (funcall callback [])))
         (page (before)
           (opencode-api-session-messages
            conn id :limit (max 1 opencode-changes-page) :before before :full t
            :errback #'fail
            :callback
            (lambda (reply)
              (let ((more (opencode-reply-header reply "x-next-cursor")))
                (opencode-store-learn-messages conn id (opencode-reply-data reply)
                                               (not more))
                (cond (more (page more))
                      (callback
                       (funcall callback (or (opencode-store-session-diff conn id) [])))))))))
      (page nil))))

(defcustom opencode-changes-lookups 10
  "How many sessions a session list or the sidebar reads to learn their changes.
When the server's summary of a session is empty (1.18.33), its
messages are read, one session after another, newest first, so the
list can show what it changed; 0 reads none (a session's changes are
then shown once its chat is opened or it works)."
  :type 'natnum
  :group 'opencode)

(defun opencode-store-learn-diffs (conn ids)
  "Learn what the first sessions of IDS on CONN changed, one after another.
Only those whose changes are unknown, at most `opencode-changes-lookups'."
  (let* ((read (opencode-store-diffs-read (opencode-store conn)))
         (todo (seq-take (seq-remove (lambda (id) (or (gethash id read)
                                                      (opencode-store-diff-summary conn id)))
                                     ids)
                         opencode-changes-lookups)))
    (dolist (id todo) (puthash id 'reading read))
    (cl-labels ((next ()
                  (when todo
                    (let ((id (pop todo)))
                      (opencode-store-fetch-message-diffs
                       conn id (lambda (_)
                                 (when (eq (gethash id read) 'reading) (remhash id read))
                                 (next)))))))
      (next))))

(defun opencode-store-fetch-diff (conn id callback &optional message-id)
  "Call CALLBACK with what session ID on CONN changed, a vector of diffs.
With MESSAGE-ID, only what that message's prompt changed (for a reply,
the prompt it answers).  The server's own diff is asked first; when
it is empty, the messages' summaries are read."
  (if message-id
      (opencode-api-session-diff
       conn id :query `(("messageID" . ,message-id))
       :errback (lambda (_) (opencode-model--fetch-prompt-diff conn id callback message-id))
       :callback (lambda (diffs)
                   (if (> (length diffs) 0)
                       (funcall callback diffs)
                     (opencode-model--fetch-prompt-diff conn id callback message-id))))
    (opencode-api-session-diff
     conn id
     :errback (lambda (_) (opencode-store-fetch-message-diffs conn id callback))
     :callback (lambda (diffs)
                 (if (> (length diffs) 0)
                     (funcall callback diffs)
                   (opencode-store-fetch-message-diffs conn id callback))))))

(defun opencode-model--fetch-prompt-diff (conn id callback message-id)
  "Call CALLBACK with what the prompt of MESSAGE-ID in session ID on CONN changed.
From the summary of the prompt (MESSAGE-ID's, or for a reply the
prompt it answers)."
  (opencode-api-session-message
   conn id message-id
   :errback (lambda (_) (funcall callback []))
   :callback
   (lambda (m)
     (let* ((info (plist-get m :info))
            (prompt (if (equal (plist-get info :role) "user") (plist-get info :id)
                      (plist-get info :parentID))))
       (when (equal (plist-get info :role) "user")
         (when (opencode-model--learn conn info) (opencode-model--diff-changed conn id)))
       (cond ((not (stringp prompt)) (funcall callback []))
             ((or (opencode-store-message-diff conn id prompt)
                  (equal prompt (plist-get info :id)))
              (funcall callback (or (opencode-store-message-diff conn id prompt) [])))
             (t (opencode-model--fetch-prompt-diff conn id callback prompt)))))))

(opencode-defevent opencode-model--on-message "message.updated" (conn props)
  "Record what the prompt in PROPS changed on disk, on CONN, from its summary."
  :depth 0
  (let ((sid (opencode-model--learn conn (plist-get props :info))))
    (when sid (opencode-model--diff-changed conn sid))))

(opencode-defevent opencode-model--on-message-removed "message.removed" (conn props)
  "Forget what the removed message of PROPS, on CONN, changed."
  :depth 0
  (let* ((sid (plist-get props :sessionID))
         (mid (plist-get props :messageID))
         (store (opencode-store conn))
         (alist (and (stringp sid) (gethash sid (opencode-store-message-diffs store)))))
    (when (assoc mid alist)
      (puthash sid (assoc-delete-all mid alist) (opencode-store-message-diffs store))
      (remhash sid (opencode-store-merged-diffs store))
      (opencode-model--diff-changed conn sid))))

;;;; Forks: where they came from

(defun opencode-model--origins (conn)
  "Return CONN's table fork id -> origin id, read from disk on first use."
  (let ((store (opencode-store conn)))
    (or (opencode-store-origins store)
        (let ((table (make-hash-table :test 'equal)))
          (pcase-dolist (`(,fork . ,origin) (opencode-cache-fork-origins conn))
            (puthash fork origin table))
          (setf (opencode-store-origins store) table)))))

(defun opencode-model--save-origins (conn)
  "Write CONN's fork origins to disk."
  (let (alist)
    (maphash (lambda (k v) (push (cons k v) alist)) (opencode-model--origins conn))
    (opencode-cache-save-fork-origins conn (sort alist (lambda (a b) (string< (car a) (car b)))))))

(defun opencode-store-origin (conn id)
  "Return the id of the session that session ID on CONN was forked from, or nil.
Only forks made on this client are known (the server keeps no record)."
  (gethash id (opencode-model--origins conn)))

(defun opencode-store-forks (conn id)
  "Return the ids of the known forks of session ID on CONN."
  (let (forks)
    (maphash (lambda (k v) (when (equal v id) (push k forks))) (opencode-model--origins conn))
    forks))

(defun opencode-store-tree-parent (conn id)
  "Return the session that session ID on CONN sits under, or nil.
Its parent, else the session it was forked from; nil for a root
that is no known fork."
  (let ((parent (gethash id (opencode-store-parents (opencode-store conn)))))
    (if (stringp parent) parent (opencode-store-origin conn id))))

(defun opencode-store-record-fork (conn fork origin)
  "Record that session FORK (a plist, from the server) was forked from ORIGIN.
On CONN; it is kept on disk, and the views are told (as a
\"session.updated\" of the fork)."
  (let ((id (plist-get fork :id)))
    (when (and (stringp id) (stringp origin))
      (puthash id origin (opencode-model--origins conn))
      (opencode-model--save-origins conn)
      (opencode-model--route conn "session.updated" (list :sessionID id :info fork)))))

(defun opencode-store-fork (conn id &optional message-id callback)
  "Fork session ID on CONN (at MESSAGE-ID if given) and record where from.
CALLBACK, if given, is called with the new session's plist."
  (opencode-api-session-fork
   conn id :body (if message-id `(:messageID ,message-id) (make-hash-table))
   :callback (lambda (s)
               (opencode-store-record-fork conn s id)
               (when callback (funcall callback s)))))

(opencode-defevent opencode-model--on-branch "vcs.branch.updated" (conn props)
  "Record the project's branch of PROPS, on CONN."
  :depth 0
  (setf (opencode-store-branch (opencode-store conn)) (plist-get props :branch)))

;;;; Catching up after a reconnection

(defun opencode-model--sync-status (conn statuses)
  "Make CONN's statuses those of STATUSES, the reply of GET /session/status.
Each session whose status changed is routed as a \"session.status\"."
  (let* ((table (opencode-store-status (opencode-store conn)))
         (changed nil))
    (cl-loop for (key value) on statuses by #'cddr
             for id = (substring (symbol-name key) 1)
             unless (equal (gethash id table) value) do (push (cons id value) changed))
    (maphash (lambda (id _)
               (unless (plist-member statuses (intern (concat ":" id)))
                 (push (cons id '(:type "idle")) changed)))
             table)
    (dolist (c changed)
      (opencode-model--route conn "session.status"
                             (list :sessionID (car c) :status (cdr c))))))

(defun opencode-model--sync-requests (conn kind requests)
  "Make CONN's pending requests of KIND those in REQUESTS (a vector).
New ones are routed as \"KIND.asked\", gone ones as answered."
  (let* ((table (opencode-store-requests (opencode-store conn)))
         (ids (mapcar (lambda (r) (plist-get r :id)) requests))
         (gone nil))
    (maphash (lambda (id r)
               (when (and (eq (opencode-user-request-kind r) kind) (not (member id ids)))
                 (push r gone)))
             table)
    (dolist (r gone)
      (opencode-model--route conn (if (eq kind 'permission) "permission.replied" "question.rejected")
                             (list :sessionID (opencode-user-request-session-id r)
                                   :requestID (opencode-user-request-id r))))
    (seq-doseq (r requests)
      (unless (gethash (plist-get r :id) table)
        (opencode-model--route conn (format "%s.asked" kind) r)))))

(defun opencode-store-sync (conn &optional callback)
  "Fetch CONN's statuses and pending requests again; route what changed.
CALLBACK, if given, is called with no argument once all the replies
are in (or failed).  A global connection asks each of its directories
\(`opencode-store-sync-directories') and merges the replies; what
failed for one directory is not synced at all (half a picture would
mark other projects' busy sessions idle)."
  (let* ((dirs (if (opencode-connection-global conn)
                   (opencode-store-sync-directories conn)
                 '(nil)))
         (left (* 3 (length dirs)))
         ;; KIND -> the merged replies, or `failed'.
         (got (list (cons 'status nil) (cons 'permission []) (cons 'question []))))
    (cl-flet ((done ()
                (when (zerop (cl-decf left))
                  (pcase-dolist (`(,kind . ,r) got)
                    (unless (eq r 'failed)
                      (if (eq kind 'status)
                          (opencode-model--sync-status conn r)
                        (opencode-model--sync-requests conn kind r))))
                  (when callback (funcall callback)))))
      (if (null dirs)
          (when callback (funcall callback))
        (dolist (dir dirs)
          (dolist (kind '(status permission question))
            (funcall (pcase kind
                       ('status #'opencode-api-session-status)
                       ('permission #'opencode-api-permission-list)
                       (_ #'opencode-api-question-list))
                     conn :query (and dir `(("directory" . ,dir)))
                     :callback
                     (lambda (r)
                       (let ((old (alist-get kind got)))
                         (unless (eq old 'failed)
                           (setf (alist-get kind got)
                                 (if (eq kind 'status) (append old r) (vconcat old r)))))
                       (done))
                     :errback
                     (lambda (e)
                       (opencode--log "%s: %s" (if (eq kind 'status) "status" (format "%s list" kind))
                                      (opencode-error-text e))
                       (setf (alist-get kind got) 'failed)
                       (done)))))))))

(defun opencode-store-sync-directories (conn)
  "Return the directories a global connection CONN catches up on.
The views of every project set them (the plist key :directories)."
  (plist-get (opencode-connection-plist conn) :directories))

(defun opencode-store-set-sync-directories (conn directories)
  "Make DIRECTORIES those global connection CONN catches up on."
  (setf (opencode-connection-plist conn)
        (plist-put (opencode-connection-plist conn) :directories directories)))

(defun opencode-model--on-state (conn state _detail)
  "Catch CONN's store up when its stream is STATE `connected' again."
  (when (eq state 'connected)
    (opencode-store-sync conn)))

(add-hook 'opencode-connection-state-functions #'opencode-model--on-state)

(provide 'opencode-model)
;;; opencode-model.el ends here

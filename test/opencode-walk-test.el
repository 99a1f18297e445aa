;;; opencode-walk-test.el --- A random walk: every view equals the server  -*- lexical-binding: t; -*-

;;; Commentary:

;; A model-based test against the real server.  A seeded, bounded random
;; walk of steps a user and the server take (create, prompt, a reply
;; left hanging, finish it, a prompt queued in a chat, abort (which
;; pauses the queue) and sending the paused queue, archive and
;; unarchive, fork, delete,
;; kill -9 of the server and its restart by the package, attaching to
;; another server and back) runs with every
;; view open: the project's session list, the list of every project,
;; the sidebar and the chats.  After each step settles, each view must
;; show what the server's GET routes say: the sessions each list should
;; have, each one's state (busy or idle), and each idle chat's timeline
;; as a fresh chat draws it from GET /session/:id/message.
;;
;; The walk draws its steps from a generator of its own, so a seed
;; always gives the same walk.  A failure names its seed, the step and
;; the steps before it; replay it with
;;   OPENCODE_WALK_SEEDS=SEED make test-ert OPENCODE_TEST_SELECTOR=opencode-walk
;; It walks the seeds in $OPENCODE_WALK_SEEDS and is skipped without
;; them (see `opencode-walk--seeds'); test/walk.sh walks many.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-projects)
(require 'opencode-sidebar)

(defvar opencode-walk-steps (string-to-number (or (getenv "OPENCODE_WALK_STEPS") "40"))
  "How many steps one walk takes: $OPENCODE_WALK_STEPS, else 40.")

(defun opencode-walk--seeds ()
  "Return the seeds to walk: those in $OPENCODE_WALK_SEEDS, else seed 1.
Seed 1 is the one that found a real server's failed prompt (step 30:
an abort during the first reply after a restart makes 1.18.33 fail the
next prompt of another session with a session.error); test/walk.sh
walks many."
  (mapcar #'string-to-number (split-string (or (getenv "OPENCODE_WALK_SEEDS") "1"))))

;;;; A generator of its own: the walk replays whatever else draws numbers

(defvar opencode-walk--state 1
  "The state of the walk's generator.")

(defun opencode-walk--random (n)
  "Return a number in [0, N), the walk's next."
  (setq opencode-walk--state (mod (+ (* opencode-walk--state 6364136223846793005)
                                     1442695040888963407)
                                  (expt 2 64)))
  (mod (ash opencode-walk--state -33) n))

(defun opencode-walk--pick (list)
  "Return one element of LIST, or nil when it is empty."
  (and list (nth (opencode-walk--random (length list)) list)))

;;;; What the server says

(defun opencode-walk--server (conn)
  "Return (SESSIONS . BUSY) as CONN's server has them.
SESSIONS are the plists of GET /session; BUSY the ids GET
/session/status names."
  (let ((sessions (append (opencode-request-sync conn "GET" "/session") nil))
        (status (opencode-request-sync conn "GET" "/session/status"))
        (busy nil))
    (cl-loop for (key _) on status by #'cddr
             do (push (substring (symbol-name key) 1) busy))
    (cons sessions busy)))

(defun opencode-walk--archived-p (s)
  "Return non-nil if the server's session plist S is archived.
The server keeps 0 after an unarchive."
  (let ((a (plist-get (plist-get s :time) :archived)))
    (and (numberp a) (> a 0))))

;;;; What each view shows

(defun opencode-walk--rows (buffer)
  "Return ((ID . LINE) ...), the session rows BUFFER shows, in order."
  (with-current-buffer buffer
    (save-excursion
      (goto-char (point-min))
      (let (rows)
        (while (not (eobp))
          (let ((id (or (and (derived-mode-p 'tabulated-list-mode) (tabulated-list-get-id))
                        (get-text-property (point) 'opencode-session))))
            (when (and (stringp id) (not (invisible-p (point))))
              (push (cons id (buffer-substring-no-properties
                              (line-beginning-position) (line-end-position)))
                    rows)))
          (forward-line 1))
        (nreverse rows)))))

(defvar opencode-walk--failed nil
  "((SID . MESSAGE-ID) ...): prompts the server failed, with their message.")

(defvar opencode-walk--errored nil
  "The sessions whose last prompt the server failed, with nothing since.
Their rows say error, not idle.")

(defun opencode-walk--state-word (id busy)
  "Return the word a list shows for session ID: busy when BUSY, else idle or error."
  (cond (busy "busy") ((member id opencode-walk--errored) "error") (t "idle")))

(defun opencode-walk--says-state-p (line busy id)
  "Return non-nil if a list's LINE of session ID says its state (busy when BUSY)."
  (string-match-p (concat "\\_<" (opencode-walk--state-word id busy) "\\_>") line))

(defun opencode-walk--errored (conn)
  "Return the ids of `opencode-walk--failed' whose prompt is still the last.
The last message of that session on CONN, that is."
  (cl-loop for (sid . mid) in opencode-walk--failed
           for messages = (condition-case nil
                              (opencode-request-sync conn "GET" (opencode--path "session" sid "message"))
                            (error nil))
           when (and (> (length messages) 0)
                     (equal (plist-get (plist-get (aref messages (1- (length messages))) :info) :id)
                            mid))
           collect sid))

(defun opencode-walk--compare (what expected rows busy &optional state-p)
  "Return nil if ROWS show EXPECTED with their state, else why not.
WHAT names the view; EXPECTED is a list of session ids; ROWS are
\(ID . LINE); BUSY the ids the server says are busy.  STATE-P, called
with a LINE, whether its session is busy and its id, says if the line shows
that (default `opencode-walk--says-state-p')."
  (let ((shown (mapcar #'car rows)))
    (if (not (equal (sort (copy-sequence shown) #'string<)
                    (sort (copy-sequence expected) #'string<)))
        (format "%s shows %S, the server has %S" what shown expected)
      (cl-loop for (id . line) in rows
               for b = (and (member id busy) t)
               unless (funcall (or state-p #'opencode-walk--says-state-p) line b id)
               return (format "%s: %s should be %s: %S" what id
                              (opencode-walk--state-word id b) line)))))

(defun opencode-walk--list-mismatch (list sessions busy)
  "Return why the session LIST differs from SESSIONS, or nil.
It shows every session not archived, forks under the session they
came from (unfolded)."
  (opencode-walk--compare
   "The session list"
   (cl-loop for s in sessions
            unless (opencode-walk--archived-p s) collect (plist-get s :id))
   (opencode-walk--rows list) busy))

(defun opencode-walk--projects-mismatch (projects sessions busy)
  "Return why the list of every project PROJECTS differs from SESSIONS, or nil."
  (opencode-walk--compare
   "The list of every project"
   (cl-loop for s in sessions
            unless (or (opencode-walk--archived-p s) (stringp (plist-get s :parentID)))
            collect (plist-get s :id))
   (opencode-walk--rows projects) busy))

(defun opencode-walk--sidebar-mismatch (sidebar sessions busy)
  "Return why SIDEBAR differs from SESSIONS, or nil.
It shows every session not archived, busy ones with a dot."
  (let ((rows (cl-remove-duplicates (opencode-walk--rows sidebar)
                                    :key #'car :test #'equal :from-end t)))
    (opencode-walk--compare
     "The sidebar"
     (cl-loop for s in sessions
              unless (opencode-walk--archived-p s) collect (plist-get s :id))
     rows busy
     (lambda (line b _id) (eq b (and (string-search "●" line) t))))))

(defun opencode-walk--timeline-text ()
  "Return the visible text of the current chat above its footer.
The footer holds the prompts queued here, which the server never has."
  (save-restriction
    (when opencode-chat--footer
      (narrow-to-region (point-min) opencode-chat--footer))
    (opencode-test--visible-text)))

(defun opencode-walk--chat-mismatch (chat conn sid busy)
  "Return why CHAT of SID on CONN differs from what the server stores, or nil.
Its header must say busy, idle or error as the server does; an idle
session's timeline must be what a fresh chat draws from the server,
and a prompt still queued there must be paused and say so (one that
is not would have been sent)."
  (with-current-buffer chat
    (let ((header (opencode-chat--header-line))
          (want (opencode-walk--state-word sid (member sid busy))))
      (cond ((not (string-match-p (concat "  " want "\\_>") header))
             (format "The chat of %s should say %s: %S" sid want header))
            ((member sid busy) nil)
            ((not (opencode-chat-loaded-p)) (format "The chat of %s is loading" sid))
            ((and opencode-chat-queued
                  (not (and opencode-chat-queue-paused
                            (string-search "Queued, paused" (opencode-test--visible-text)))))
             (format "The chat of %s is idle with a queue not sent: %S" sid opencode-chat-queued))
            (t (let ((text (opencode-walk--timeline-text))
                     (server (opencode-test--server-view conn sid)))
                 (unless (equal text server)
                   (format "The chat of %s shows:\n%s\nThe server has:\n%s"
                           sid text server))))))))

(defun opencode-walk--mismatch (walk)
  "Return why a view of WALK differs from the server, or nil if none does."
  (let* ((conn (plist-get walk :conn))
         (server (opencode-walk--server conn))
         (sessions (car server))
         (busy (cdr server))
         (opencode-walk--errored (opencode-walk--errored conn)))
    (or (opencode-walk--list-mismatch (plist-get walk :list) sessions busy)
        (opencode-walk--projects-mismatch (plist-get walk :projects) sessions busy)
        (opencode-walk--sidebar-mismatch (plist-get walk :sidebar) sessions busy)
        (cl-loop for (sid . chat) in (plist-get walk :chats)
                 thereis (opencode-walk--chat-mismatch chat conn sid busy)))))

;;;; The steps

(defun opencode-walk--sessions (conn pred)
  "Return the ids of CONN's server sessions that satisfy PRED, sorted.
PRED gets the session's plist and whether it is busy.  Sorted by id,
so by when each was made: the server lists sessions by when each was
last updated, and that moves with timing (a title the small model
gives after the reply), so a pick from its order would not replay."
  (let ((server (opencode-walk--server conn)))
    (sort (cl-loop for s in (car server)
                   when (funcall pred s (member (plist-get s :id) (cdr server)))
                   collect (plist-get s :id))
          #'string<)))

(defun opencode-walk--idle (conn)
  "Return the ids of CONN's idle sessions that are not archived."
  (opencode-walk--sessions conn (lambda (s busy) (not (or busy (opencode-walk--archived-p s))))))

(defun opencode-walk--open-chat (walk sid)
  "Open the chat of SID in WALK, unless it is open or three are."
  (let ((conn (plist-get walk :conn)))
    (unless (or (assoc sid (plist-get walk :chats)) (>= (length (plist-get walk :chats)) 3))
      (let ((chat (save-window-excursion
                    (opencode-chat-open conn (opencode-request-sync
                                              conn "GET" (opencode--path "session" sid))))))
        (plist-put walk :chats (cons (cons sid chat) (plist-get walk :chats)))))))

(defun opencode-walk--prompt (walk sid text turn)
  "Send TEXT to SID in WALK, the mock answering with TURN.
From its chat's prompt when the chat is open, else as another client.
Return t once the model took the turn, nil if the server failed the
prompt instead: it says so in a session.error (1.18.33 does when an
abort of another session's first reply after a start interrupts the
work both wait on: \"All fibers interrupted without error\").  Then
the session's row must say error, and its open chat the error's words."
  (let* ((conn (plist-get walk :conn))
         (asked (length opencode-test-mock-requests))
         (errors (opencode-store-errors (opencode-store conn)))
         (before (gethash sid errors))
         (failed nil))
    (setq opencode-test-mock-script (list turn))
    (if-let ((chat (cdr (assoc sid (plist-get walk :chats)))))
        (opencode-test--prompt chat text)
      (opencode-api-session-prompt-async conn sid text :sync t))
    ;; Its turn is taken (a title request may come first), or the
    ;; server says it failed the prompt.
    (unless (opencode-test-wait
             (lambda () (or (null opencode-test-mock-script)
                            (setq failed (let ((err (gethash sid errors)))
                                           (and err (not (eq err before)) err)))))
             30)
      (ert-fail (list (format "The prompt to %s never reached the model in 30 s" sid)
                      (opencode-walk--why-no-turn walk sid asked))))
    (setq opencode-walk--failed (assoc-delete-all sid opencode-walk--failed))
    (if (not failed)
        t
      (setq opencode-test-mock-script nil)
      (let ((messages (opencode-request-sync conn "GET" (opencode--path "session" sid "message"))))
        (push (cons sid (plist-get (plist-get (aref messages (1- (length messages))) :info) :id))
              opencode-walk--failed))
      (when-let ((chat (cdr (assoc sid (plist-get walk :chats)))))
        (with-current-buffer chat
          (should (string-search (opencode-api-error-text failed) (opencode-chat--header-line)))))
      nil)))

(defun opencode-walk--why-no-turn (walk sid asked)
  "Say what the server and this Emacs know of SID's prompt in WALK.
ASKED is how many model requests the mock had before it was sent."
  (let* ((conn (plist-get walk :conn))
         (chat (cdr (assoc sid (plist-get walk :chats)))))
    (list :mock-requests-since (- (length opencode-test-mock-requests) asked)
          :status (condition-case err (opencode-request-sync conn "GET" "/session/status")
                    (error err))
          :messages
          (condition-case err
              (cl-loop for m across (opencode-request-sync
                                     conn "GET" (opencode--path "session" sid "message"))
                       for info = (plist-get m :info)
                       collect (list (plist-get info :role) (plist-get info :id)
                                     :completed (plist-get (plist-get info :time) :completed)
                                     :error (plist-get (plist-get info :error) :name)
                                     :parts (mapcar (lambda (p) (plist-get p :type))
                                                    (plist-get m :parts))))
            (error err))
          :chat (and (buffer-live-p chat)
                     (with-current-buffer chat
                       (list :queued (length opencode-chat-queued)
                             :paused opencode-chat-queue-paused
                             :header (opencode-chat--header-line))))
          :log (opencode-walk--log-tail (expand-file-name "opencode/log" (getenv "XDG_DATA_HOME"))
                                        60)
          :opencode-log (and (get-buffer "*opencode-log*")
                             (with-current-buffer "*opencode-log*"
                               (buffer-substring-no-properties
                                (max (point-min) (- (point-max) 4000)) (point-max)))))))

(defun opencode-walk--server-b-report (walk)
  "Say what WALK's other server did: its process, output and log's end."
  (when-let ((proc (plist-get walk :b-proc)))
    (list :b-process (process-status proc)
          :b-output (and (buffer-live-p (process-buffer proc))
                         (with-current-buffer (process-buffer proc)
                           (buffer-substring-no-properties
                            (max (point-min) (- (point-max) 2000)) (point-max))))
          :b-log (opencode-walk--log-tail
                  (expand-file-name ".local/share/opencode/log" (plist-get walk :b-home)) 40))))

(defun opencode-walk--log-tail (dir lines)
  "Return the last LINES lines of the newest server log in DIR, or nil."
  (let ((logs (and (file-directory-p dir)
                   (sort (directory-files dir t "\\.log\\'") #'string<))))
    (when logs
      (with-temp-buffer
        (insert-file-contents (car (last logs)))
        (goto-char (point-max))
        (forward-line (- lines))
        (buffer-substring-no-properties (point) (point-max))))))

(defun opencode-walk--at-rest (walk)
  "Wait until only WALK's hanging replies keep sessions busy; return t if so.
A reply the mock finished still keeps its session busy a moment (the
server stores it, the small model gives a title), so a step chosen
from the statuses right after would depend on timing, and a seed
would not replay.  At most 30 s: a session the server never lets go
is left for the views' checks to judge."
  (let ((conn (plist-get walk :conn)))
    (opencode-test-wait
     (lambda ()
       (cl-every (lambda (sid) (assoc sid (plist-get walk :hanging)))
                 (cdr (opencode-walk--server conn))))
     30)))

(defun opencode-walk--step (walk n)
  "Take step N of WALK; return what it did, in words."
  (opencode-walk--at-rest walk)
  (let* ((conn (plist-get walk :conn))
         (idle (opencode-walk--idle conn))
         (busy (opencode-walk--sessions conn (lambda (_ busy) busy)))
         (archived (opencode-walk--sessions conn (lambda (s _) (opencode-walk--archived-p s))))
         (chats (plist-get walk :chats))
         (busy-chats (cl-remove-if-not (lambda (sid) (assoc sid chats)) busy))
         (paused (cl-loop for (sid . chat) in chats
                          when (buffer-local-value 'opencode-chat-queue-paused chat)
                          collect sid))
         ;; Each kind as often as it is named: a server killed or left
         ;; once in twenty steps or so, once there are sessions.
         (kinds (append '(create create)
                        (and idle '(prompt prompt prompt hang hang archive fork delete open))
                        (and busy '(finish finish abort))
                        (and busy-chats '(queue queue))
                        (and paused '(send-queue))
                        (and archived '(unarchive))
                        '(kill attach)))
         (kind (progn
                 ;; What the choice was made from, for the step's line:
                 ;; a replay that goes another way shows where.
                 (plist-put walk :choice
                            (format "from idle %d, busy %d (%d in chats), paused %d, archived %d"
                                    (length idle) (length busy) (length busy-chats)
                                    (length paused) (length archived)))
                 (opencode-walk--pick kinds))))
    (pcase kind
      ('create
       (let ((s (opencode-api-session-create conn :title (format "Walk %d" n) :sync t)))
         (when (zerop (opencode-walk--random 2))
           (opencode-walk--open-chat walk (plist-get s :id)))
         (format "create %s" (plist-get s :id))))
      ('open
       (let ((sid (opencode-walk--pick idle)))
         (opencode-walk--open-chat walk sid)
         (format "open the chat of %s" sid)))
      ('prompt
       (let ((sid (opencode-walk--pick idle)))
         (if (opencode-walk--prompt walk sid (format "Prompt %d" n)
                                    `((:content ,(format "Answer %d " n)) (:content "in two deltas.") :stop))
             (format "prompt %s" sid)
           (format "prompt %s: the server failed it" sid))))
      ('hang
       (let ((sid (opencode-walk--pick idle)))
         (if (not (opencode-walk--prompt walk sid (format "Prompt %d, left hanging" n)
                                         `((:content ,(format "Working on %d" n)) :hang)))
             (format "prompt %s to leave hanging: the server failed it" sid)
           (plist-put walk :hanging (cons (cons sid (car opencode-test-mock-hanging))
                                          (plist-get walk :hanging)))
           (format "prompt %s, the reply left hanging" sid))))
      ('finish
       (let* ((entry (opencode-walk--pick (plist-get walk :hanging)))
              (proc (cdr entry)))
         (plist-put walk :hanging (delq entry (plist-get walk :hanging)))
         (if (not (and proc (process-live-p proc)))
             (let ((sid (opencode-walk--pick busy)))
               (opencode-api-session-abort conn sid :sync t)
               (format "abort %s (no reply of its to finish)" sid))
           (process-send-string proc (opencode-test--mock-chunk '(:content " and done.")))
           (process-send-string proc (opencode-test--mock-chunk nil "stop"))
           (process-send-string proc "data: [DONE]\n\n")
           (process-send-eof proc)
           (format "finish the reply of %s" (car entry)))))
      ('queue
       (let* ((sid (opencode-walk--pick busy-chats))
              (chat (cdr (assoc sid chats)))
              (prompt (with-current-buffer chat (save-window-excursion (opencode-chat-prompt)))))
         (with-current-buffer prompt
           (insert (format "Queued %d" n))
           (opencode-prompt-queue))
         (kill-buffer prompt)
         (format "queue a prompt in the chat of %s" sid)))
      ('send-queue
       (let ((sid (opencode-walk--pick paused)))
         (with-current-buffer (cdr (assoc sid chats)) (opencode-chat-send-queue))
         (format "send the paused queue of %s" sid)))
      ('abort
       (let ((sid (opencode-walk--pick busy)))
         (if-let ((chat (cdr (assoc sid chats))))
             (with-current-buffer chat (opencode-chat-abort))
           (opencode-api-session-abort conn sid :sync t))
         (format "abort %s" sid)))
      ('archive
       (let ((sid (opencode-walk--pick idle)))
         (opencode-api-session-update conn sid :archived (truncate (* 1000 (float-time))) :sync t)
         (format "archive %s" sid)))
      ('unarchive
       (let ((sid (opencode-walk--pick archived)))
         (opencode-api-session-update conn sid :archived 0 :sync t)
         (format "unarchive %s" sid)))
      ('fork
       (let ((sid (opencode-walk--pick idle)) (fork nil))
         (opencode-store-fork conn sid nil (lambda (s) (setq fork s)))
         (should (opencode-test-wait (lambda () fork) 20))
         (format "fork %s into %s" sid (plist-get fork :id))))
      ('delete
       (let ((sid (opencode-walk--pick idle)))
         (when-let ((chat (cdr (assoc sid (plist-get walk :chats)))))
           (kill-buffer chat)
           (plist-put walk :chats (assoc-delete-all sid (plist-get walk :chats))))
         (opencode-api-session-delete conn sid :sync t)
         (format "delete %s" sid)))
      ('kill
       (let* ((server opencode-server--local)
              (old (opencode-server-process server)))
         (signal-process old 'KILL)
         (plist-put walk :hanging nil)
         (should (opencode-test-wait
                  (lambda () (and (not (eq old (opencode-server-process server)))
                                  (process-live-p (opencode-server-process server))))
                  20))
         (should (opencode-test-wait
                  (lambda () (and (eq (opencode-connection-state conn) 'connected)
                                  (eq (opencode-connection-state opencode-global-connection)
                                      'connected)))
                  30))
         "kill -9 the server; the package restarts it"))
      ('attach
       (let* ((a (opencode-connection-url conn))
              (b (opencode-walk--server-b walk))
              (dir (opencode-connection-directory conn))
              (to (lambda (url)
                    (save-window-excursion (opencode-attach url dir))
                    (should (opencode-test-wait
                             (lambda () (and (equal (opencode-connection-url conn) url)
                                             (eq (opencode-connection-state conn) 'connected)))
                             30)))))
         (funcall to b)
         ;; The project's list shows the other server's sessions.
         (let ((why nil))
           (unless (opencode-test-wait
                    (lambda ()
                      (let ((server (opencode-walk--server conn)))
                        (not (setq why (opencode-walk--list-mismatch
                                        (plist-get walk :list) (car server) (cdr server))))))
                    30)
             (ert-fail (list "Attached elsewhere" why))))
         (funcall to a)
         "attach to another server, and back")))))

(defun opencode-walk--server-b (walk)
  "Return the URL of WALK's other server, started on first use.
It has a HOME of its own, so none of the first one's sessions."
  (or (plist-get walk :b-url)
      (let* ((port (opencode-server-free-port))
             (home (make-temp-file "opencode-walk-b-" t))
             (proc (let ((process-environment
                          (append (opencode-test-scratch-home home)
                                  process-environment)))
                     (opencode-test-serve-on-port
                      port "pw-b" (opencode-connection-directory (plist-get walk :conn))
                      "walk-server-b"))))
        (plist-put walk :b-proc proc)
        (plist-put walk :b-home home)
        (should (opencode-test-wait (lambda () (opencode-test-serve-listening-p proc)) 60))
        (plist-put walk :b-url (format "http://127.0.0.1:%d" port))
        (plist-get walk :b-url))))

(defun opencode-walk--settle (walk)
  "Wait until every view of WALK equals the server; return nil, or why not."
  (let ((why nil))
    (if (opencode-test-wait
         (lambda ()
           (and (zerop (hash-table-count (opencode-connection-callbacks (plist-get walk :conn))))
                (not (setq why (opencode-walk--mismatch walk)))))
         30)
        nil
      (or why "Requests still pending"))))

(defun opencode-walk-run (seed)
  "Walk `opencode-walk-steps' steps from SEED against a fresh server.
Fail, naming SEED, at the first step after which a view differs."
  (setq opencode-walk--state seed)
  (cl-letf (((symbol-function 'auth-source-search) #'ignore))
    (opencode-walk--run-1 seed)))

(defun opencode-walk--run-1 (seed)
  "Walk from SEED; see `opencode-walk-run'."
  (let ((opencode-walk--failed nil)
        (opencode-server-restart-limit 1000)
        (opencode-reconnect-max-delay 1.0)
        (opencode-notify nil))
    (opencode-test-with-own-real-server conn
      (let* ((walk (list :conn conn :chats nil :hanging nil))
             (done nil)
             (password-a (opencode-connection-password conn))
             (opencode-password-function
              (lambda (url) (if (equal url (plist-get walk :b-url)) "pw-b" password-a)))
             (opencode-server--given (make-hash-table :test 'equal)))
        (unwind-protect
            (progn
              (plist-put walk :list (save-window-excursion (opencode-sessions-show conn)))
              (plist-put walk :projects (save-window-excursion (opencode-projects)))
              (plist-put walk :sidebar
                         (save-window-excursion
                           (opencode-sidebar (opencode-connection-directory conn))
                           (get-buffer (format "*opencode-sidebar: %s*"
                                               (abbreviate-file-name
                                                (opencode-connection-directory conn))))))
              (dotimes (n opencode-walk-steps)
                (let* ((start (float-time))
                       (did (condition-case err (opencode-walk--step walk (1+ n))
                              (error
                               (message "Walk %d, step %d failed: %S\nThe other server: %S"
                                        seed (1+ n) err (opencode-walk--server-b-report walk))
                               (signal (car err) (cdr err)))))
                       (stepped (float-time))
                       (why (progn (push did done) (opencode-walk--settle walk))))
                  (message "Walk %d, step %d: %s (%.1f s, settled in %.1f s; chosen %s)"
                           seed (1+ n) did (- stepped start) (- (float-time) stepped)
                           (plist-get walk :choice))
                  (when why
                    (ert-fail (list (format "Seed %d, step %d (%s): %s" seed (1+ n) did why)
                                    (format "Replay: OPENCODE_WALK_SEEDS=%d" seed)
                                    (cons "Steps" (reverse done))))))))
          (when-let ((proc (plist-get walk :b-proc)))
            (delete-process proc)
            (kill-buffer (process-buffer proc))
            (delete-directory (plist-get walk :b-home) t))
          (dolist (c (plist-get walk :chats)) (kill-buffer (cdr c)))
          (dolist (k '(:list :projects :sidebar))
            (when (buffer-live-p (plist-get walk k)) (kill-buffer (plist-get walk k)))))))))

(ert-deftest opencode-walk/views-equal-the-server ()
  "A seeded random walk; after each step every view equals the server.
The seeds are $OPENCODE_WALK_SEEDS, else seed 1."
  (dolist (seed (opencode-walk--seeds))
    (opencode-walk-run seed)))

(provide 'opencode-walk-test)
;;; opencode-walk-test.el ends here

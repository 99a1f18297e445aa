;;; opencode-connection.el --- Connections to OpenCode servers  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; A connection is one server URL and one project directory.  It owns a
;; module handle (a worker thread holding the event stream and running
;; HTTP requests) and a pipe process that the worker pokes when items
;; are queued.  The pipe's filter drains the queue and dispatches:
;; events and text deltas to their handlers (opencode-events.el),
;; request results to their callbacks (opencode-connection-requests.el,
;; where requests are sent), connection state changes to
;; `opencode-connection-state-functions'.  Here too: the connection's
;; life (open, reopen in place, close), the words for its state, and
;; its password, asked for again when the server refuses it.
;;
;; Events are plists as `json-parse-string' would give with
;; :object-type plist :null-object :null :false-object :false.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'opencode-lib)
(require 'opencode-gc)
(require 'opencode-events)
(require 'opencode-module)
(require 'opencode-remote)

;; The module's entry points, defined when `opencode-module-ensure' loads it.
(declare-function opencode--module-open "ext:opencode-module"
                  (url process &rest options))
(declare-function opencode--module-close "ext:opencode-module" (handle))
(declare-function opencode--module-reconnect "ext:opencode-module" (handle))
(declare-function opencode--module-live-p "ext:opencode-module" (handle))
(declare-function opencode--module-drain "ext:opencode-module"
                  (handle &optional max))
(declare-function opencode--module-stats "ext:opencode-module" (handle))
(declare-function opencode--module-version "ext:opencode-module" ())
(declare-function opencode--module-parse-json "ext:opencode-module" (string))

;; Replies and failures go to their requests (opencode-connection-requests.el).
(declare-function opencode-connection--complete "opencode-connection-requests"
                  (conn id status data raw headers))
(declare-function opencode-connection--fail "opencode-connection-requests"
                  (conn id code message))
(declare-function opencode-connection--failure "opencode-connection-requests"
                  (conn method path why code))

;;;; Options

(defcustom opencode-reconnect-min-delay 1.0
  "Seconds to wait before the first reconnection attempt.
Each further attempt waits twice as long, with jitter, up to
`opencode-reconnect-max-delay'."
  :type 'number
  :group 'opencode)

(defcustom opencode-reconnect-max-delay 30.0
  "Longest wait, in seconds, between reconnection attempts."
  :type 'number
  :group 'opencode)

(defcustom opencode-reconnect-down-max-delay 2.0
  "Longest wait, in seconds, between attempts while nothing listens.
When a connection is refused the server is down or restarting, and an
attempt costs nothing: so a server that comes back is found within this
many seconds, whatever `opencode-reconnect-max-delay' says."
  :type 'number
  :group 'opencode)

(defcustom opencode-answer-timeout 4.0
  "Seconds a connected server may take to start its answer.
A server accepts connections a moment before it is ready and never
answers what arrives in that moment.  The event stream, when no answer
has begun in this time, is reconnected; a GET request is sent again."
  :type 'number
  :group 'opencode)

(defcustom opencode-stream-stall-timeout 35
  "Seconds without a byte after which the event stream is reconnected.
The server sends a heartbeat every 10 seconds."
  :type 'integer
  :group 'opencode)

(defcustom opencode-max-event-size (* 16 1024 1024)
  "Largest event, in bytes, the stream accepts; larger ones are skipped."
  :type 'integer
  :group 'opencode)

(defcustom opencode-tls-insecure nil
  "When non-nil, do not verify TLS certificates of https servers.
This is unsafe; a warning is shown each time a connection uses it."
  :type 'boolean
  :group 'opencode)

;;;; Hooks

(defvar opencode-connection-state-functions nil
  "Abnormal hook run when a connection's stream changes state.
Each function gets CONNECTION, STATE (`connecting', `connected' or
`disconnected') and DETAIL (a string or nil).")

;;;; The connection object

(cl-defstruct (opencode-connection
               (:constructor opencode-connection--make)
               (:copier nil))
  "A connection to one OpenCode server for one project directory."
  (url nil :documentation "Base URL, without a trailing slash.")
  (directory nil :documentation "Project directory, absolute, no trailing slash.
nil for a global connection.")
  (global nil :documentation "Non-nil for a connection to every project of the server.
Its stream is /global/event; its requests name no directory unless
their query does; only handlers declared `:global' see its events.")
  (handle nil :documentation "The module's handle.")
  (process nil :documentation "The pipe process the worker wakes.")
  (callbacks (make-hash-table :test 'eql)
             :documentation "Request id -> (METHOD PATH CALLBACK ERRBACK).")
  (state 'connecting :documentation "Stream state symbol.")
  (state-detail nil :documentation "Why the stream is in its state.")
  (retry-at nil :documentation "When the stream tries again (`float-time'), if down.")
  (user nil :documentation "User name for HTTP basic auth, or nil.")
  (server nil :documentation "The local server process this uses, if any.")
  (store nil :documentation "What is known of the server (see `opencode-store').")
  (responder nil :documentation "With no server: a function that answers requests.
It gets METHOD, PATH, QUERY and BODY and returns (STATUS . DATA).  A
replayed capture answers so (see opencode-capture.el).")
  (plist nil :documentation "Free slot for other parts of the package.")
  (drained-at nil :documentation "When a drain last took everything queued (`float-time').")
  (drain-timer nil :documentation "The timer of a drain put off by `opencode-drain-interval'."))

(defvar opencode-connection--passwords (make-hash-table :test 'eq :weakness 'key)
  "Connection -> its password, kept out of the struct so it never prints.")

(defun opencode-connection-password (conn)
  "Return CONN's password for HTTP basic auth, or nil."
  (gethash conn opencode-connection--passwords))

(defun opencode-connection--set-password (conn password)
  "Make PASSWORD CONN's password for HTTP basic auth."
  (if password
      (puthash conn password opencode-connection--passwords)
    (remhash conn opencode-connection--passwords)))

(defvar opencode-connections nil
  "Open connections, newest first.")

(defvar opencode-connection--closed (make-hash-table :test 'equal :weakness 'value)
  "Directory -> its last closed connection, to be opened again in place.
Buffers that showed it then show the reopened one: no dead buffers.")

(defun opencode-connection-find (directory)
  "Return the connection for DIRECTORY: an open one, else a closed one, or nil."
  (or (cl-find directory opencode-connections
               :key #'opencode-connection-directory :test #'equal)
      (gethash directory opencode-connection--closed)))

(defun opencode-connection-table (conn key)
  "Return the `equal' hash table kept under KEY in CONN's plist.
It is made on first use: views keep their per-connection indexes so."
  (or (plist-get (opencode-connection-plist conn) key)
      (let ((table (make-hash-table :test 'equal)))
        (setf (opencode-connection-plist conn)
              (plist-put (opencode-connection-plist conn) key table))
        table)))

(defun opencode-connection--start (conn)
  "Give CONN a new module handle for its URL, directory and credentials."
  (let ((url (opencode-connection-url conn))
        (proc (opencode-connection-process conn)))
    (when (and opencode-tls-insecure (string-prefix-p "https:" url))
      (display-warning 'opencode
                       (format "TLS certificates are not checked for %s" url)))
    (setf (opencode-connection-state conn) 'connecting
          (opencode-connection-state-detail conn) nil
          (opencode-connection-retry-at conn) nil
          (opencode-connection-handle conn)
          (opencode--module-open
           url proc
           :event-path (if (opencode-connection-global conn) "/global/event"
                         (concat "/event?" (opencode--query-string
                                            `(("directory" . ,(opencode-remote-host-name
                                                               (opencode-connection-directory conn)))))))
           :user (opencode-connection-user conn)
           :password (opencode-connection-password conn)
           :insecure opencode-tls-insecure
           :answer-timeout (round (* 1000 opencode-answer-timeout))
           :stall-timeout opencode-stream-stall-timeout
           :backoff-min (round (* 1000 opencode-reconnect-min-delay))
           :backoff-max (round (* 1000 opencode-reconnect-max-delay))
           :down-retry-max (round (* 1000 opencode-reconnect-down-max-delay))
           :max-event opencode-max-event-size))))

(defun opencode-connection--notify-process (conn)
  "Make the pipe process CONN's worker wakes; its filter drains CONN.
Adaptive read buffering is off: it would hold back each one-byte
wake-up by up to 50 ms, and a drain that stopped after its slice
would wait that long to go on."
  (let ((process-adaptive-read-buffering nil))
    (make-pipe-process
     :name (format " *opencode-notify %s*" (or (opencode-connection-directory conn)
                                               "(all projects)"))
     :noquery t :coding 'binary
     :filter (lambda (_p _s) (opencode-connection--wake conn))
     :sentinel #'ignore)))

(defun opencode-connection-open (url directory &rest args)
  "Open a connection to the server at URL for DIRECTORY and return it.
ARGS is a plist: :user and :password for HTTP basic auth, :server the
server process this connection uses, :global non-nil for a connection
to every project (DIRECTORY is then nil; see `opencode-connection-global').
A global connection is not in `opencode-connections': it is nobody's
project, and counting its sessions there would count them twice."
  (opencode-module-ensure)
  (let* ((url (string-remove-suffix "/" url))
         (global (plist-get args :global))
         (dir (and (not global) (opencode--normalize-directory directory)))
         (conn (opencode-connection--make :url url :directory dir :global global
                                          :user (plist-get args :user)
                                          :server (plist-get args :server)))
         (proc (opencode-connection--notify-process conn)))
    (setf (opencode-connection-process conn) proc)
    (opencode-connection--set-password conn (plist-get args :password))
    (condition-case err
        (opencode-connection--start conn)
      (error (delete-process proc)
             (signal (car err) (cdr err))))
    (unless global (push conn opencode-connections))
    conn))

(defun opencode-connection--stop (conn why)
  "Close CONN's module handle, failing its pending requests with WHY."
  (opencode-connection--cancel-drain-timer conn)
  (when-let ((h (opencode-connection-handle conn)))
    (opencode--module-close h)
    (setf (opencode-connection-handle conn) nil))
  (let ((pending nil))
    (maphash (lambda (id entry) (push (cons id entry) pending))
             (opencode-connection-callbacks conn))
    (clrhash (opencode-connection-callbacks conn))
    (dolist (p pending)
      (pcase-let ((`(,_id ,method ,path ,_callback ,errback . ,_) p))
        (condition-case err
            (funcall errback (opencode-connection--failure conn method path why 0))
          (error (opencode-events-log-error err errback (format "the failure of %s %s" method path))))))))

(defun opencode-connection-reopen (conn &rest args)
  "Open CONN again, in place, with what ARGS change.
ARGS may give :url, :user, :password and :server (the local server
process it uses).
Every buffer that shows CONN keeps showing it; requests still pending
fail.  The stream starts afresh, with no backoff.  Return CONN."
  (opencode--log "%s: reopened%s" (opencode-connection-url conn)
                 (if (plist-member args :url) (format " at %s" (plist-get args :url)) ""))
  (opencode-connection--stop conn "the connection was reopened")
  (when (plist-member args :url)
    (setf (opencode-connection-url conn) (string-remove-suffix "/" (plist-get args :url))))
  (when (plist-member args :user)
    (setf (opencode-connection-user conn) (plist-get args :user)))
  (when (plist-member args :password)
    (opencode-connection--set-password conn (plist-get args :password)))
  (when (plist-member args :server)
    (setf (opencode-connection-server conn) (plist-get args :server)))
  (unless (opencode-connection-global conn)
    (remhash (opencode-connection-directory conn) opencode-connection--closed))
  (unless (process-live-p (opencode-connection-process conn))
    (setf (opencode-connection-process conn)
          (opencode-connection--notify-process conn)))
  (opencode-connection--start conn)
  (unless (opencode-connection-global conn)
    (cl-pushnew conn opencode-connections))
  (run-hook-with-args 'opencode-connection-state-functions conn 'connecting nil)
  conn)

(defun opencode-connection-reconnect (conn)
  "Make CONN's stream, if it is down, reconnect now with a fresh backoff.
A connection whose handle was stopped (a refused password) is reopened."
  (if (opencode-connection-live-p conn)
      (opencode--module-reconnect (opencode-connection-handle conn))
    (opencode-connection-reopen conn)))

(defun opencode-connection-live-p (conn)
  "Return non-nil if CONN is open."
  (and (opencode-connection-handle conn)
       (opencode--module-live-p (opencode-connection-handle conn))))

(defun opencode-connection-usable-p (conn)
  "Return non-nil if requests can be sent on CONN now.
Its module handle is open, or it has no server but a responder."
  (or (opencode-connection-responder conn) (opencode-connection-live-p conn)))

(defun opencode-connection-close (conn)
  "Close CONN: stop its stream, drop its pending requests."
  (when-let ((h (opencode-connection-handle conn)))
    (opencode--module-close h))
  (when-let ((p (opencode-connection-process conn)))
    (when (process-live-p p) (delete-process p)))
  (clrhash (opencode-connection-callbacks conn))
  (setf (opencode-connection-retry-at conn) nil)
  (unless (opencode-connection-global conn)
    (puthash (opencode-connection-directory conn) conn opencode-connection--closed))
  (setf (opencode-connection-state conn) 'closed)
  (setq opencode-connections (delq conn opencode-connections))
  nil)

;;;; Dispatch

(defcustom opencode-drain-slice 0.005
  "Seconds a drain of a connection's queue may run before it yields.
Under a flood of events the drain stops once this time is used, at
the end of a batch, and leaves the rest queued: Emacs redisplays,
reads input and runs timers, and the module wakes the drain again for
the rest.  Text deltas still queued go on merging meanwhile.  nil
drains everything at once."
  :type '(choice (const :tag "Everything at once" nil) number)
  :group 'opencode)

(defcustom opencode-drain-interval 0.016
  "Least seconds between two drains of a connection while events trickle in.
A reply streams as a delta every few milliseconds; draining each one
as it comes costs a redisplay per delta.  A wake-up this soon after a
drain that took everything is put off until the interval has passed,
the deltas meanwhile merged in the module: at most one drain and one
redisplay per 60 Hz frame.  A drain that stopped at the end of its
slice (`opencode-drain-slice') goes on at once.  nil drains at every
wake-up."
  :type '(choice (const :tag "At every wake-up" nil) number)
  :group 'opencode)

(defun opencode-connection--wake (conn)
  "Drain CONN, woken by its module, now or after `opencode-drain-interval'."
  (let* ((last (opencode-connection-drained-at conn))
         (wait (and opencode-drain-interval last
                    (- (+ last opencode-drain-interval) (float-time)))))
    (cond
     ((not (and wait (> wait 0)))
      (opencode-connection--drain conn))
     ((not (opencode-connection-drain-timer conn))
      ;; The module's wake-up is spent: until this drain takes
      ;; everything, it writes no other, so the timer must come.
      (setf (opencode-connection-drain-timer conn)
            (run-at-time wait nil #'opencode-connection--drain-later conn))))))

(defun opencode-connection--cancel-drain-timer (conn)
  "Cancel the drain of CONN put off by `opencode-connection--wake', if any."
  (when (opencode-connection-drain-timer conn)
    (cancel-timer (opencode-connection-drain-timer conn))
    (setf (opencode-connection-drain-timer conn) nil)))

(defun opencode-connection--drain-later (conn)
  "Drain CONN, put off by `opencode-connection--wake'."
  (setf (opencode-connection-drain-timer conn) nil)
  (opencode-connection--drain conn))

(defconst opencode-connection--batch-max 256
  "Most items a sliced drain takes from the module at once.")

(defvar opencode-connection--gc-room (* 16 1024 1024)
  "Bytes a drain may allocate before a collection (`opencode--gc-room').
A slice allocates far less, so this only bounds the garbage, hence the
pause, of the collection after one large reply; doc/architecture.md
gives the figures.")

(defun opencode-connection--dispatch-all (conn handle items)
  "Dispatch ITEMS drained from HANDLE, CONN's module handle, each on its own.
An error in one handler is logged and does not stop the others.  Stop
when a handler closed or reopened CONN: what the old handle still held
is dropped with it."
  (while (and items (eq handle (opencode-connection-handle conn))
              (opencode--module-live-p handle))
    (let ((item (pop items)))
      (condition-case err
          (opencode-connection--dispatch conn item)
        (error (opencode-events-log-error err 'opencode-connection--dispatch
                                          (format "an item %S" (car-safe item))))))))

(defun opencode-connection--drain (conn)
  "Take CONN's pending items from the module and dispatch each one.
Stop after `opencode-drain-slice' seconds; the module then wakes the
connection's process again for what is left.  An error in one handler
is logged and does not stop the others."
  (let ((h (opencode-connection-handle conn)))
    (when (and h (opencode--module-live-p h))
      ;; A large reply becomes many Lisp objects at once: collect once
      ;; after it rather than every `gc-cons-threshold' bytes during.
      (let ((opencode--gc-room opencode-connection--gc-room)
            (start (float-time)))
        (opencode-connection--cancel-drain-timer conn)
        (opencode--with-gc-room
         (if (not opencode-drain-slice)
             (progn
               (setf (opencode-connection-drained-at conn) start)
               (opencode-connection--dispatch-all conn h (opencode--module-drain h)))
           ;; Batches sized from the time items took so far, so the
           ;; slice ends close to its deadline without a clock read per
           ;; item; the first batch is one item (it may be a large reply).
           (let* ((deadline (+ start opencode-drain-slice))
                  (size 1) (done 0) (more t))
             (while more
               (let* ((items (opencode--module-drain h size))
                      (n (length items)))
                 ;; Everything queued is taken: the next wake-up may wait.
                 (setf (opencode-connection-drained-at conn) (and (< n size) start))
                 (opencode-connection--dispatch-all conn h items)
                 (setq done (+ done n))
                 (let ((now (float-time)))
                   (setq more (and (= n size) (< now deadline)
                                   ;; Closed or reopened by a handler.
                                   (eq h (opencode-connection-handle conn))
                                   (opencode--module-live-p h))
                         size (if (> now start)
                                  (max 1 (min opencode-connection--batch-max
                                              (floor (* done (- deadline now))
                                                     (- now start))))
                                opencode-connection--batch-max))))))))))))

(defcustom opencode-event-log nil
  "Whether every event is written to the *opencode-events* buffer.
For debugging; `opencode-show-events' turns it on and shows it."
  :type 'boolean
  :group 'opencode)

(defcustom opencode-event-log-max-lines 5000
  "Lines kept in the *opencode-events* buffer."
  :type 'integer
  :group 'opencode)

(defcustom opencode-event-log-line-max 400
  "Characters of one event kept in the *opencode-events* buffer."
  :type 'integer
  :group 'opencode)

(defun opencode--log-event (conn item)
  "Append ITEM drained from CONN to the *opencode-events* buffer."
  (with-current-buffer (get-buffer-create "*opencode-events*")
    (let ((inhibit-read-only t)
          (line (truncate-string-to-width
                 (replace-regexp-in-string
                  "\n" "\\\\n"
                  (format "%s %s %S" (format-time-string "%T.%3N")
                          (if (opencode-connection-global conn) "(all projects)"
                            (file-name-nondirectory (opencode-connection-directory conn)))
                          item))
                 opencode-event-log-line-max nil nil "…")))
      (save-excursion
        (goto-char (point-max))
        (insert line "\n")
        (when (> (count-lines (point-min) (point-max)) opencode-event-log-max-lines)
          (goto-char (point-min))
          (forward-line (/ opencode-event-log-max-lines 4))
          (delete-region (point-min) (point)))))))

(defun opencode-show-events ()
  "Show the *opencode-events* buffer, turning the event log on if needed."
  (interactive)
  (unless opencode-event-log
    (setq opencode-event-log t)
    (message "Event log on (`opencode-event-log'); it shows events from now on"))
  (with-current-buffer (get-buffer-create "*opencode-events*")
    (unless (derived-mode-p 'special-mode) (special-mode)))
  (display-buffer "*opencode-events*"))

(defvar opencode-connection-traffic-functions nil
  "Abnormal hook run with CONN, DIRECTION and ITEM for all CONN's traffic.
DIRECTION is `in' for an ITEM drained from the module (as dispatched),
`out' for a request, ITEM then (request ID METHOD PATH QUERY BODY).
For capturing a connection (`opencode-capture-start'); nil costs nothing.")

(defun opencode-connection--dispatch (conn item)
  "Dispatch one ITEM drained from CONN's module handle."
  (when opencode-event-log
    (opencode--log-event conn item))
  (when opencode-connection-traffic-functions
    (run-hook-with-args 'opencode-connection-traffic-functions conn 'in item))
  (pcase item
    (`(event ,type ,props)
     (opencode-events-route conn type props (opencode-connection-global conn)))
    (`(delta ,session ,message ,part ,field ,text)
     ;; A global stream carries every project's deltas; no view of it
     ;; draws text, and the chats have their own project's stream.
     (unless (opencode-connection-global conn)
       ;; A reply streams: hold the collector off (opencode-gc.el).
       (opencode--gc-hold)
       (opencode-events-route-delta conn session message part field text)))
    (`(state ,state ,ms ,detail)
     (opencode-connection--set-state conn state ms detail))
    (`(response ,id ,status ,data ,raw ,headers)
     (opencode-connection--complete conn id status data raw headers))
    (`(failure ,id ,code ,message)
     (opencode-connection--fail conn id code message))
    (`(warning ,message)
     (opencode--log "%s: %s" (opencode-connection-directory conn) message))
    (_ (opencode--log "unknown item from the module: %S" item))))

(defun opencode-connection-dispatch (conn item)
  "Dispatch ITEM on CONN as if drained from its module handle.
ITEM is one of the forms `opencode--module-drain' returns: a recorded
one played back, say."
  (opencode-connection--dispatch conn item))

(defun opencode-connection-make-offline (name directory responder)
  "Return a connection to no server, called NAME, for DIRECTORY.
RESPONDER answers its requests (see the `responder' slot).  It is not
in `opencode-connections' until the caller puts it there."
  (opencode-connection--make :url name :directory directory :state 'connected
                             :responder responder))

(defcustom opencode-password-function #'opencode-read-password
  "Function that asks for the password of a server that refused it.
It gets the server's URL and returns a password, or nil to give up.
nil never asks: a connection whose password is refused stays down."
  :type '(choice (const :tag "Never ask" nil) function)
  :group 'opencode)

(defvar opencode-password-functions nil
  "Abnormal hook run with URL, USER and PASSWORD the user just gave.
The local server list keeps it there for this Emacs session, so later
connections to URL use it.")

(defun opencode-read-password (url)
  "Ask for the password of the OpenCode server at URL; nil in batch mode."
  (unless noninteractive
    (let ((pw (read-passwd (format "Password for the OpenCode server at %s: " url))))
      (and (not (string-empty-p pw)) pw))))

(defun opencode-connection-auth-text (url)
  "Return what to say when the server at URL refused the password."
  (format "wrong or missing password for %s (auth-source or OPENCODE_SERVER_PASSWORD)" url))

(defun opencode-connection-auth-failed-p (conn)
  "Return non-nil if CONN is down because its server refused the password."
  (and (eq (opencode-connection-state conn) 'disconnected)
       (stringp (opencode-connection-state-detail conn))
       (string-prefix-p "wrong or missing password" (opencode-connection-state-detail conn))))

(defvar opencode-connection--asking nil
  "Non-nil while a password is being asked for, so only one prompt shows.")

(defun opencode-connection--ask-password (conn)
  "Ask for CONN's password with `opencode-password-function'; reopen with it.
Once the stream connects with it, offer to save it with auth-source."
  (when (and opencode-password-function (not opencode-connection--asking)
             (memq conn opencode-connections))
    (let* ((url (opencode-connection-url conn))
           (password (let ((opencode-connection--asking t))
                       (condition-case nil (funcall opencode-password-function url)
                         (quit nil)))))
      (when password
        (run-hook-with-args 'opencode-password-functions url
                            (or (opencode-connection-user conn) "opencode") password)
        (opencode-connection-reopen conn :password password
                                    :user (or (opencode-connection-user conn) "opencode"))
        (add-hook 'opencode-connection-state-functions
                  (opencode-connection--offer-save conn url password))))))

(defun opencode-connection--offer-save (conn url password)
  "Return a state hook that offers to save PASSWORD for URL once CONN connects."
  (let (hook)
    (setq hook
          (lambda (c state _detail)
            (when (eq c conn)
              (remove-hook 'opencode-connection-state-functions hook)
              (when (and (eq state 'connected) (not noninteractive)
                         (require 'auth-source nil t))
                (opencode-connection--save-password url password)))))
    hook))

(declare-function auth-source-search "auth-source" (&rest spec))
(declare-function url-generic-parse-url "url-parse" (url))

(defun opencode-connection--save-password (url password)
  "Offer to save PASSWORD for the server at URL with auth-source."
  (require 'url-parse)
  (let* ((parsed (url-generic-parse-url url))
         (found (car (auth-source-search :host (url-host parsed)
                                         :port (number-to-string (url-port parsed))
                                         :user "opencode" :secret password
                                         :create t :max 1)))
         (save (plist-get found :save-function)))
    (when (functionp save) (funcall save))))

(defun opencode-connection--set-state (conn state ms detail)
  "Record STATE of CONN's stream; MS is the retry delay, DETAIL why.
A refused password stops the stream (retrying cannot help) and asks for
another one; any other loss is retried after MS."
  (let ((old (opencode-connection-state conn))
        (auth (and (eq state 'disconnected) (stringp detail)
                   (string-match-p "\\`HTTP 401" detail))))
    (cond (auth
           (setq detail (opencode-connection-auth-text (opencode-connection-url conn))))
          ((eq state 'disconnected)
           (opencode--log "%s: stream down: %s" (opencode-connection-url conn) detail)
           (setq detail (opencode-connection--plain-reason
                         detail (opencode-connection-url conn)))
           (when (and detail (string-match "\\`\\(HTTP [0-9]+\\): *[^{]" detail))
             ;; The start of a body that is not JSON: a web page, say.
             (setq detail (format "%s: not an OpenCode server" (match-string 1 detail))))))
    (setf (opencode-connection-state conn) state
          (opencode-connection-state-detail conn) detail
          (opencode-connection-retry-at conn)
          (and (eq state 'disconnected) (not auth) (+ (float-time) (/ ms 1000.0))))
    (pcase state
      ('disconnected
       (opencode--log "%s: disconnected (%s)%s" (opencode-connection-url conn) detail
                      (if auth "" (format "; retrying in %.1fs" (/ ms 1000.0))))
       (cond (auth
              (opencode-connection--stop conn detail)
              (message "OpenCode: %s" detail)
              (run-at-time 0 nil #'opencode-connection--ask-password conn))
             ((eq old 'connected)
              (message "OpenCode: lost %s (%s); reconnecting"
                       (opencode-connection-url conn) detail)))
       (opencode-connection--tick))
      ('connected
       (opencode--log "%s: connected" (opencode-connection-url conn))))
    (run-hook-with-args 'opencode-connection-state-functions conn state detail)))

(defun opencode-connection-give-up (conn why)
  "Stop CONN's retries and show WHY it is down, until it is reconnected.
For a server that will not come back by itself; `opencode-reconnect'
and `g' in a chat or list open CONN again."
  (opencode-connection--stop conn why)
  (setf (opencode-connection-state conn) 'disconnected
        (opencode-connection-state-detail conn) why
        (opencode-connection-retry-at conn) nil)
  (opencode-connection--tick)
  (run-hook-with-args 'opencode-connection-state-functions conn 'disconnected why))

(defun opencode-connection--plain-reason (detail url)
  "Return DETAIL, why a stream to URL went down, in plain words."
  (cond ((null detail) nil)
        ((string-match-p "\\`Couldn't connect to server" detail)
         (format "nothing listens at %s" url))
        ((string-match-p "\\`Transferred a partial file\\|the server closed the stream" detail)
         "the server closed the stream")
        ((string-match "no answer in \\([0-9]+\\)000 ms" detail)
         (format "no answer in %s s" (match-string 1 detail)))
        ((string-match "no data for \\([0-9]+\\) s" detail)
         (format "no data for %s s" (match-string 1 detail)))
        ((string-match-p "\\`Timeout was reached" detail)
         (format "no answer from %s in time" url))
        ((string-match-p "\\`Couldn't resolve host" detail)
         (format "unknown host in %s" url))
        (t detail)))

(defun opencode-connection-state-text (conn)
  "Return CONN's stream state in plain words, for a header or a mode line.
\"connected\", \"connecting\", \"reconnecting in 3 s (why)\", or
\"disconnected: why\"."
  (pcase (opencode-connection-state conn)
    ('connected "connected")
    ('connecting "connecting")
    ('closed "closed")
    (_ (let ((at (opencode-connection-retry-at conn))
             (why (opencode-connection-state-detail conn)))
         (if at
             (format "reconnecting in %d s%s" (max 0 (ceiling (- at (float-time))))
                     (if why (format " (%s)" why) ""))
           (format "disconnected%s" (if why (concat ": " why) "")))))))

(defvar opencode-connection--tick-timer nil
  "Timer that redraws mode and header lines while a connection counts down.")

(defun opencode-connection--tick ()
  "Redraw mode and header lines each second while a reconnection is due."
  (force-mode-line-update t)
  (let ((waiting (cl-some #'opencode-connection-retry-at opencode-connections)))
    (cond ((and waiting (not opencode-connection--tick-timer))
           (setq opencode-connection--tick-timer
                 (run-with-timer 1 1 #'opencode-connection--tick)))
          ((and (not waiting) opencode-connection--tick-timer)
           (cancel-timer opencode-connection--tick-timer)
           (setq opencode-connection--tick-timer nil)))))

(provide 'opencode-connection)
;;; opencode-connection.el ends here

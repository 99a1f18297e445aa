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
;; request results to their callbacks (as data, or as an
;; `opencode-reply' with the status and headers), connection state
;; changes to `opencode-connection-state-functions'.
;;
;; Events are plists as `json-parse-string' would give with
;; :object-type plist :null-object :null :false-object :false.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'opencode-lib)
(require 'opencode-events)
(require 'opencode-module)

;; The module's entry points, defined when `opencode-module-ensure' loads it.
(declare-function opencode--module-open "ext:opencode-module"
                  (url process &rest options))
(declare-function opencode--module-close "ext:opencode-module" (handle))
(declare-function opencode--module-reconnect "ext:opencode-module" (handle))
(declare-function opencode--module-live-p "ext:opencode-module" (handle))
(declare-function opencode--module-drain "ext:opencode-module" (handle))
(declare-function opencode--module-request "ext:opencode-module"
                  (handle method path body &optional timeout))
(declare-function opencode--module-cancel "ext:opencode-module" (handle id))
(declare-function opencode--module-stats "ext:opencode-module" (handle))
(declare-function opencode--module-version "ext:opencode-module" ())
(declare-function opencode--module-parse-json "ext:opencode-module" (string))

;;;; Options

(defcustom opencode-request-timeout 30
  "Seconds an HTTP request to the server may take."
  :type 'number
  :group 'opencode)

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
  (directory nil :documentation "Project directory, absolute, no trailing slash.")
  (handle nil :documentation "The module's handle.")
  (process nil :documentation "The pipe process the worker wakes.")
  (callbacks (make-hash-table :test 'eql)
             :documentation "Request id -> (METHOD PATH CALLBACK ERRBACK).")
  (state 'connecting :documentation "Stream state symbol.")
  (state-detail nil :documentation "Why the stream is in its state.")
  (server nil :documentation "The local server process this uses, if any.")
  (store nil :documentation "What is known of the server (see `opencode-store').")
  (plist nil :documentation "Free slot for other parts of the package."))

(defvar opencode-connections nil
  "Open connections, newest first.")

(defun opencode-connection-table (conn key)
  "Return the `equal' hash table kept under KEY in CONN's plist.
It is made on first use: views keep their per-connection indexes so."
  (or (plist-get (opencode-connection-plist conn) key)
      (let ((table (make-hash-table :test 'equal)))
        (setf (opencode-connection-plist conn)
              (plist-put (opencode-connection-plist conn) key table))
        table)))

(defun opencode-connection-open (url directory &rest args)
  "Open a connection to the server at URL for DIRECTORY and return it.
ARGS is a plist: :user and :password for HTTP basic auth, :server the
server process this connection uses."
  (opencode-module-ensure)
  (let* ((url (string-remove-suffix "/" url))
         (dir (opencode--normalize-directory directory))
         (conn (opencode-connection--make :url url :directory dir
                                          :server (plist-get args :server)))
         (proc (make-pipe-process
                :name (format " *opencode-notify %s*" dir)
                :noquery t :coding 'binary
                :filter (lambda (_p _s) (opencode-connection--drain conn))
                :sentinel #'ignore)))
    (when (and opencode-tls-insecure (string-prefix-p "https:" url))
      (display-warning 'opencode
                       (format "TLS certificates are not checked for %s" url)))
    (condition-case err
        (setf (opencode-connection-handle conn)
              (opencode--module-open
               url proc
               :event-path (concat "/event?" (opencode--query-string
                                              `(("directory" . ,dir))))
               :user (plist-get args :user)
               :password (plist-get args :password)
               :insecure opencode-tls-insecure
               :answer-timeout (round (* 1000 opencode-answer-timeout))
               :stall-timeout opencode-stream-stall-timeout
               :backoff-min (round (* 1000 opencode-reconnect-min-delay))
               :backoff-max (round (* 1000 opencode-reconnect-max-delay))
               :down-retry-max (round (* 1000 opencode-reconnect-down-max-delay))
               :max-event opencode-max-event-size))
      (error (delete-process proc)
             (signal (car err) (cdr err))))
    (setf (opencode-connection-process conn) proc)
    (push conn opencode-connections)
    conn))

(defun opencode-connection-reconnect (conn)
  "Make CONN's stream, if it is down, reconnect now with a fresh backoff."
  (when (opencode-connection-live-p conn)
    (opencode--module-reconnect (opencode-connection-handle conn))))

(defun opencode-connection-live-p (conn)
  "Return non-nil if CONN is open."
  (and (opencode-connection-handle conn)
       (opencode--module-live-p (opencode-connection-handle conn))))

(defun opencode-connection-close (conn)
  "Close CONN: stop its stream, drop its pending requests."
  (when-let ((h (opencode-connection-handle conn)))
    (opencode--module-close h))
  (when-let ((p (opencode-connection-process conn)))
    (when (process-live-p p) (delete-process p)))
  (clrhash (opencode-connection-callbacks conn))
  (setf (opencode-connection-state conn) 'closed)
  (setq opencode-connections (delq conn opencode-connections))
  nil)

;;;; Dispatch

(defun opencode-connection--drain (conn)
  "Take CONN's pending items from the module and dispatch each one.
An error in one handler is logged and does not stop the others."
  (let ((h (opencode-connection-handle conn)))
    (when (and h (opencode--module-live-p h))
      ;; A large reply becomes many Lisp objects at once: collect once
      ;; after it rather than every `gc-cons-threshold' bytes during.
      (opencode--with-gc-room
        (dolist (item (opencode--module-drain h))
          (condition-case err
              (opencode-connection--dispatch conn item)
            (error (opencode--log "error while handling %S: %S"
                                  (car-safe item) err))))))))

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
                          (file-name-nondirectory (opencode-connection-directory conn))
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

(defun opencode-connection--dispatch (conn item)
  "Dispatch one ITEM drained from CONN's module handle."
  (when opencode-event-log
    (opencode--log-event conn item))
  (pcase item
    (`(event ,type ,props)
     (opencode-events-route conn type props))
    (`(delta ,session ,message ,part ,field ,text)
     (opencode-events-route-delta conn session message part field text))
    (`(state ,state ,ms ,detail)
     (opencode-connection--set-state conn state ms detail))
    (`(response ,id ,status ,data ,raw ,headers)
     (opencode-connection--complete conn id status data raw headers))
    (`(failure ,id ,code ,message)
     (opencode-connection--fail conn id code message))
    (`(warning ,message)
     (opencode--log "%s: %s" (opencode-connection-directory conn) message))
    (_ (opencode--log "unknown item from the module: %S" item))))

(defun opencode-connection--set-state (conn state ms detail)
  "Record STATE of CONN's stream; MS is the retry delay, DETAIL why."
  (let ((old (opencode-connection-state conn)))
    (setf (opencode-connection-state conn) state
          (opencode-connection-state-detail conn) detail)
    (pcase state
      ('disconnected
       (opencode--log "%s: disconnected (%s); retrying in %.1fs"
                      (opencode-connection-url conn) detail (/ ms 1000.0))
       (when (eq old 'connected)
         (message "OpenCode: lost %s (%s); reconnecting"
                  (opencode-connection-url conn) detail)))
      ('connected
       (opencode--log "%s: connected" (opencode-connection-url conn))))
    (run-hook-with-args 'opencode-connection-state-functions conn state detail)))

;;;; Requests

(cl-defstruct (opencode-reply (:constructor opencode-reply--make)
                              (:copier nil))
  "A server's reply to a request, for callbacks that ask for all of it."
  (status nil :documentation "The HTTP status, an integer.")
  (data nil :documentation "The parsed JSON body.")
  (headers nil :documentation "The raw header lines, a unibyte string."))

(defun opencode-reply-header (reply name)
  "Return the value of header NAME of REPLY, an `opencode-reply', or nil.
NAME is matched without regard to case."
  (let ((headers (opencode-reply-headers reply))
        (case-fold-search t))
    (when (and headers
               (string-match (concat "^" (regexp-quote name) ":[ \t]*\\([^\r\n]*\\)")
                             headers))
      (match-string 1 headers))))

(defun opencode--http-reason (status data raw)
  "Return a short human reason for an HTTP error STATUS with DATA or RAW."
  (let ((msg (or (and (listp data)
                      (or (plist-get (plist-get data :data) :message)
                          (plist-get data :message)
                          (plist-get (plist-get data :error) :message)
                          (and (stringp (plist-get data :name))
                               (plist-get data :name))))
                 (and raw (string-trim
                           (truncate-string-to-width
                            (decode-coding-string raw 'utf-8) 200))))))
    (format "HTTP %d%s" status
            (if (and msg (not (string-empty-p msg))) (concat ": " msg) ""))))

(defun opencode-error-text (err)
  "Return a one-line description of ERR, an error object.
For the package's own errors that is their message, which names the
request (\"GET /session: HTTP 500: …\"); else `error-message-string'."
  (if (and (consp err) (stringp (cadr err))
           (get (car err) 'error-conditions)
           (memq 'opencode-error (get (car err) 'error-conditions)))
      (cadr err)
    (error-message-string err)))

(defun opencode--default-errback (method path)
  "Return an error handler that reports a failure of METHOD on PATH."
  (lambda (err)
    (let ((text (opencode-error-text err)))
      (message "OpenCode: %s" (if (string-match-p (regexp-quote path) text)
                                  text
                                (format "%s %s: %s" method path text))))))

(defun opencode-connection--complete (conn id status data raw headers)
  "Deliver response ID of CONN: STATUS with parsed DATA or RAW body.
HEADERS are the reply's header lines."
  (when-let ((entry (gethash id (opencode-connection-callbacks conn))))
    (remhash id (opencode-connection-callbacks conn))
    (pcase-let ((`(,method ,path ,callback ,errback ,full) entry))
      (if (and (>= status 200) (< status 300))
          (if (and raw (not data))
              (funcall errback
                       (list 'opencode-json-error
                             (format "%s %s: the reply is not JSON" method path)))
            (when callback
              (funcall callback (if full
                                    (opencode-reply--make :status status :data data
                                                          :headers headers)
                                  data))))
        (funcall errback
                 (list 'opencode-http-error
                       (format "%s %s: %s" method path
                               (opencode--http-reason status data raw))
                       status data))))))

(defun opencode-connection--fail (conn id code message)
  "Deliver failure ID of CONN: curl error CODE with MESSAGE."
  (when-let ((entry (gethash id (opencode-connection-callbacks conn))))
    (remhash id (opencode-connection-callbacks conn))
    (pcase-let ((`(,method ,path ,_callback ,errback) entry))
      (funcall errback
               (list (if (eq code 28) 'opencode-timeout 'opencode-curl-error)
                     (format "%s %s: %s" method path message) code)))))

(cl-defun opencode-request (conn method path
                                 &key query body callback errback timeout full sync)
  "Send an HTTP request on CONN; return its id.
METHOD is a string (\"GET\", \"POST\", …); PATH starts with /, each
segment already encoded (see `opencode--path').  QUERY is an alist; the
connection's directory is added to it.  BODY is a Lisp value encoded
with `json-serialize' (plists with keyword keys, :null, :false).
CALLBACK gets the parsed reply, or with FULL non-nil the whole
`opencode-reply' (status, data and headers).  ERRBACK gets an error
object (ERROR-SYMBOL . DATA), whose symbol is a child of
`opencode-error', and defaults to a message in the echo area.  TIMEOUT
is in seconds.

With SYNC non-nil, wait for the reply and return it (the data, or the
`opencode-reply' with FULL) instead of the id; signal its error; then
CALLBACK and ERRBACK are not used.  \\[keyboard-quit] cancels the wait
and the request."
  (if sync
      (opencode-connection--wait conn method path query body timeout full)
    (opencode-connection--send conn method path query body callback errback
                               timeout full)))

(defun opencode-connection--send (conn method path query body callback errback
                                       timeout full)
  "Send a request on CONN; see `opencode-request' for the arguments.
METHOD, PATH, QUERY, BODY, CALLBACK, ERRBACK, TIMEOUT and FULL are as
there.  Return the request's id."
  (let* ((target (concat path "?"
                         (opencode--query-string
                          (append query `(("directory" . ,(opencode-connection-directory conn)))))))
         (json (and body (json-serialize body)))
         (id (opencode--module-request
              (opencode-connection-handle conn) method target json
              (round (* 1000 (or timeout opencode-request-timeout))))))
    (puthash id (list method path callback
                      (or errback (opencode--default-errback method path))
                      full)
             (opencode-connection-callbacks conn))
    id))

(defun opencode-connection--wait (conn method path query body timeout full)
  "Send a request on CONN and wait for its reply, which is returned.
METHOD, PATH, QUERY, BODY, TIMEOUT and FULL are as for
`opencode-request'.  Signal the request's error.  \\[keyboard-quit]
cancels the request."
  (let* ((done nil) (result nil) (failure nil)
         (timeout (or timeout opencode-request-timeout))
         (id (opencode-connection--send
              conn method path query body
              (lambda (data) (setq done t result data))
              (lambda (err) (setq done t failure err))
              timeout full))
         (deadline (+ (float-time) timeout 2)))
    (unwind-protect
        (while (not done)
          (when (> (float-time) deadline)
            (setq done t
                  failure (list 'opencode-timeout
                                (format "%s %s: no reply in %ss" method path timeout))))
          (accept-process-output (opencode-connection-process conn) 0.05)
          (opencode-connection--drain conn))
      ;; Timed out, quit or failed while waiting: forget the request.
      (when (gethash id (opencode-connection-callbacks conn))
        (remhash id (opencode-connection-callbacks conn))
        (when (opencode-connection-live-p conn)
          (opencode--module-cancel (opencode-connection-handle conn) id))))
    (when failure
      (signal (car failure) (cdr failure)))
    result))

(defun opencode-request-sync (conn method path &rest args)
  "Send a request on CONN and wait for its reply, which is returned.
METHOD, PATH and ARGS (:query, :body, :timeout, :full) are as for
`opencode-request' with :sync t."
  (apply #'opencode-request conn method path :sync t args))

(provide 'opencode-connection)
;;; opencode-connection.el ends here

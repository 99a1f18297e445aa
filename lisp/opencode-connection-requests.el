;;; opencode-connection-requests.el --- Requests on a connection, and their replies  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; An HTTP request on a connection (opencode-connection.el): sent
;; through its module handle, or answered by its responder when it has
;; no server, or failed at once when it is closed; its reply delivered
;; to its callback (as data, or as an `opencode-reply' with the status
;; and headers), its failure to its errback as an `opencode-error' in
;; one sentence naming the server.  `opencode-request-sync' waits for
;; the reply, C-g cancelling it.  And
;; `opencode-connection-probe', which asks a URL whether an OpenCode
;; server answers there, with no connection.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'opencode-lib)
(require 'opencode-module)
(require 'opencode-connection)
(require 'opencode-remote)

(declare-function opencode--module-open "ext:opencode-module"
                  (url process &rest options))
(declare-function opencode--module-close "ext:opencode-module" (handle))
(declare-function opencode--module-drain "ext:opencode-module"
                  (handle &optional max))
(declare-function opencode--module-request "ext:opencode-module"
                  (handle method path body &optional timeout))
(declare-function opencode--module-cancel "ext:opencode-module" (handle id))

(defcustom opencode-request-timeout 30
  "Seconds an HTTP request to the server may take."
  :type 'number
  :group 'opencode)

;;;; Replies

(cl-defstruct (opencode-reply (:constructor opencode-connection--reply)
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

(defun opencode--http-text (status data raw url)
  "Return the words for an HTTP error STATUS with DATA or RAW from URL.
The server's own message when its reply says one, then the status and
URL: \"Session not found: ses_x (HTTP 404 from http://127.0.0.1:4096)\".
A body that is not JSON (a web page, say) goes to the log, never into
the words; nor does the rest of the reply's data."
  (let ((msg (and (listp data)
                  (or (plist-get (plist-get data :data) :message)
                      (plist-get data :message)
                      (plist-get (plist-get data :error) :message)
                      (and (stringp (plist-get data :name))
                           (plist-get data :name))))))
    (when (and raw (not msg))
      (opencode--log "HTTP %d reply, not JSON: %s" status
                     (truncate-string-to-width (decode-coding-string raw 'utf-8) 4000
                                               nil nil "…")))
    (cond ((and (stringp msg) (not (string-empty-p (string-trim msg))))
           (format "%s (HTTP %d from %s)"
                   (string-trim-right (string-trim msg) "[.]+") status url))
          (raw (format "HTTP %d from %s, not a JSON reply (the body is in *opencode-log*)"
                       status url))
          (t (format "HTTP %d from %s" status url)))))

(defun opencode--default-errback (_method _path)
  "Return an error handler that reports a failure in the echo area.
The request, METHOD on PATH, is named in the log, not there."
  (lambda (err) (message "OpenCode: %s" (opencode-error-text err))))

(defun opencode-connection--complete (conn id status data raw headers)
  "Deliver response ID of CONN: STATUS with parsed DATA or RAW body.
HEADERS are the reply's header lines."
  (when-let ((entry (gethash id (opencode-connection-callbacks conn))))
    (remhash id (opencode-connection-callbacks conn))
    (pcase-let ((`(,method ,path ,callback ,errback ,full) entry))
      (if (and (>= status 200) (< status 300))
          (if (and raw (not data))
              (let ((text (opencode--sentence
                           (format "The reply from %s is not JSON (its body is in *opencode-log*)"
                                   (opencode-connection-url conn)))))
                (opencode--log "%s %s: %s %s" method path text
                               (truncate-string-to-width (decode-coding-string raw 'utf-8)
                                                         4000 nil nil "…"))
                (funcall errback (list 'opencode-json-error text)))
            (when callback
              (funcall callback (if full
                                    (opencode-connection--reply :status status :data data
                                                          :headers headers)
                                  data))))
        (let ((text (opencode--sentence
                     (if (= status 401)
                         (opencode-connection-auth-text (opencode-connection-url conn))
                       (opencode--http-text status data raw (opencode-connection-url conn))))))
          (opencode--log "%s %s: %s" method path text)
          (funcall errback (list 'opencode-http-error text status data)))))))

(defun opencode-connection--fail (conn id code message)
  "Deliver failure ID of CONN: curl error CODE with MESSAGE."
  (when-let ((entry (gethash id (opencode-connection-callbacks conn))))
    (remhash id (opencode-connection-callbacks conn))
    (pcase-let ((`(,method ,path ,_callback ,errback) entry))
      (funcall errback (opencode-connection--failure conn method path message code)))))

(defun opencode-connection--failure (conn method path why code)
  "Return the error of request METHOD PATH on CONN that failed for WHY.
CODE is curl's (28: a timeout); WHY is curl's message or the package's
own words.  The error's message is one sentence naming the server; the
request is named in the log."
  (let* ((url (opencode-connection-url conn))
         (why (or (opencode-connection--plain-reason why url) "no reason given"))
         (text (opencode--sentence
                (if (string-search url why) why (format "%s (%s)" why url)))))
    (opencode--log "%s %s: %s" method path text)
    (list (if (eq code 28) 'opencode-timeout 'opencode-curl-error) text code)))

;;;; Sending

(cl-defun opencode-request (conn method path
                                 &key query body callback errback timeout full sync)
  "Send an HTTP request on CONN; return its id.
METHOD is a string (\"GET\", \"POST\", …); PATH starts with /, each
segment already encoded (see `opencode--path').  QUERY is an alist; the
connection's directory is added to it, unless QUERY names a
\"directory\" itself (a global connection has none to add).  BODY is
a Lisp value encoded with `json-serialize' (plists with keyword keys,
:null, :false).
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

(defun opencode-request-sync (conn method path &rest args)
  "Send a request on CONN and wait for its reply, which is returned.
METHOD, PATH and ARGS (:query, :body, :timeout, :full) are as for
`opencode-request' with :sync t."
  (apply #'opencode-request conn method path :sync t args))

(defvar opencode-connection--next-local-id -1
  "Ids of requests answered with no server count down from -1.
A responder answers them, or they fail at once: their connection is closed.")

(defun opencode-connection--send (conn method path query body callback errback
                                       timeout full)
  "Send a request on CONN; see `opencode-request' for the arguments.
METHOD, PATH, QUERY, BODY, CALLBACK, ERRBACK, TIMEOUT and FULL are as
there.  Return the request's id."
  (cond
   ((opencode-connection-responder conn)
    (opencode-connection--respond conn method path query body callback errback full))
   ((not (opencode-connection-handle conn))
    ;; Closed, or stopped (the server refused the password): the request
    ;; fails as any other does, later, through its errback, so that an
    ;; event handler asking for something never signals here.
    (run-at-time 0 nil (or errback (opencode--default-errback method path))
                 (opencode-connection--failure
                  conn method path (or (opencode-connection-state-detail conn) "not connected")
                  0))
    (cl-decf opencode-connection--next-local-id))
   (t (opencode-connection--send-1 conn method path query body callback errback
                                   timeout full))))

(defun opencode-connection--respond (conn method path query body callback errback full)
  "Answer a request on CONN, which has no server, with its responder.
METHOD, PATH, QUERY, BODY, CALLBACK, ERRBACK and FULL are as for
`opencode-request'.  The reply comes as from a server: later, from the
command loop.  Return the request's id."
  (let ((id (cl-decf opencode-connection--next-local-id)))
    (puthash id (list method path callback
                      (or errback (opencode--default-errback method path))
                      full)
             (opencode-connection-callbacks conn))
    (pcase-let ((`(,status . ,data) (funcall (opencode-connection-responder conn)
                                             method path query body)))
      (run-at-time 0 nil #'opencode-connection--complete conn id status data nil nil))
    id))

(defun opencode-connection--wire-query (query)
  "Return QUERY with its directory named as the server's host names it."
  (mapcar (lambda (kv)
            (if (equal (car kv) "directory")
                (cons "directory" (opencode-remote-host-name (cdr kv)))
              kv))
          query))

(defun opencode-connection--send-1 (conn method path query body callback errback
                                         timeout full)
  "Send a request on CONN through its module handle; return the request's id.
METHOD, PATH, QUERY, BODY, CALLBACK, ERRBACK, TIMEOUT and FULL are as
for `opencode-request'."
  (let* ((target (concat path "?"
                         (opencode--query-string
                          (opencode-connection--wire-query
                           (if (or (assoc "directory" query) (opencode-connection-global conn))
                               query
                             (append query `(("directory" . ,(opencode-connection-directory conn)))))))))
         (json (and body (json-serialize body)))
         (id (opencode--module-request
              (opencode-connection-handle conn) method target json
              (round (* 1000 (or timeout opencode-request-timeout))))))
    (puthash id (list method path callback
                      (or errback (opencode--default-errback method path))
                      full)
             (opencode-connection-callbacks conn))
    (when opencode-connection-traffic-functions
      (run-hook-with-args 'opencode-connection-traffic-functions conn 'out
                          (list 'request id method path query body)))
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
                  failure (opencode-connection--failure
                           conn method path (format "no answer in %s s" timeout) 28)))
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

;;;; Probing a URL

(defun opencode-connection-probe (url &optional user password timeout)
  "Ask the server at URL whether it is an OpenCode server, and return how.
USER and PASSWORD are sent if given.  Return the reply of its health
route, a plist with :version, or one of the symbols `refused' (nothing
listens), `unauthorized' (a password is wanted or wrong), `timeout' or
a string saying what else is wrong.  Wait at most TIMEOUT seconds (5)."
  (opencode-module-ensure)
  (let* ((timeout (or timeout 5))
         (h (opencode--module-open (string-remove-suffix "/" url) nil
                                   :user user :password password
                                   :insecure opencode-tls-insecure
                                   :answer-timeout (round (* 1000 timeout))))
         (id (opencode--module-request h "GET" "/global/health" nil (round (* 1000 timeout))))
         (deadline (+ (float-time) timeout 1))
         (result nil))
    (unwind-protect
        (while (not result)
          (when (> (float-time) deadline) (setq result 'timeout))
          (dolist (item (opencode--module-drain h))
            (pcase item
              (`(response ,(pred (eql id)) ,status ,data ,raw ,_)
               (setq result
                     (cond ((= status 401) 'unauthorized)
                           ((and (= status 200) (eq (plist-get data :healthy) t)) data)
                           (t (opencode--log "%s/global/health: HTTP %d %s" url status
                                             (if raw (truncate-string-to-width
                                                      (decode-coding-string raw 'utf-8)
                                                      4000 nil nil "…")
                                               (format "%S" data)))
                              (format "HTTP %d" status)))))
              (`(failure ,(pred (eql id)) ,code ,message)
               (setq result (pcase code (7 'refused) (28 'timeout) (_ message))))))
          (unless result (accept-process-output nil 0.02)))
      (opencode--module-close h))
    result))

(provide 'opencode-connection-requests)
;;; opencode-connection-requests.el ends here

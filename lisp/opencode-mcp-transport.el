;;; opencode-mcp-transport.el --- The Emacs tool server's HTTP/1.1 and JSON-RPC  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The transport of the Emacs tool server (opencode-mcp.el): MCP's
;; "streamable HTTP", served from a `make-network-process' server on
;; 127.0.0.1, on a port the kernel picks.  JSON-RPC 2.0 messages come in
;; POST bodies and are answered with one JSON body, or, for a call that
;; waits for the user, with an event stream that carries progress
;; notifications (each resets the client's timeout) and then the
;; answer.  Notifications are answered 202, GET 405 (no server-sent
;; stream is offered).  `initialize' gives a session id
;; (Mcp-Session-Id), which later requests may carry.
;;
;; HTTP/1.1 is parsed here: request line, headers, a Content-Length
;; body, keep-alive, requests split across packets or several in one.
;; A request without a known bearer token gets 401 and nothing else;
;; the token says which connection, so which project, the request is
;; for.  What a request asks is answered by `opencode-mcp--dispatch'
;; (opencode-mcp.el); nothing the agent sends is evaluated.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'opencode-lib)
(require 'opencode-connection)

(declare-function opencode-mcp--dispatch "opencode-mcp" (conn message done))
(declare-function opencode-mcp--may-wait-p "opencode-mcp" (message))

;;;; Options and limits

(defcustom opencode-mcp-progress-interval 10
  "Seconds between progress notifications of a call that waits for you."
  :type 'number
  :group 'opencode)

(defconst opencode-mcp-protocol-versions
  '("2025-11-25" "2025-06-18" "2025-03-26" "2024-11-05")
  "The MCP protocol versions spoken here, newest first.")

(defconst opencode-mcp--max-head 65536 "Bytes allowed in a request's head.")
(defconst opencode-mcp--max-body (* 8 1024 1024) "Bytes allowed in a request's body.")
(defconst opencode-mcp--request-line
  "\\`\\([A-Z]+\\) \\([^ ]+\\) HTTP/\\(1\\.[01]\\)\\'"
  "What a request line is: method, target and version are its groups.")
(defconst opencode-mcp--linger 5
  "Seconds a client connection stays open after its last answer.
The client closes it itself once it has read the answer; closing it
here at once, while it still sends, could lose the answer.")

;;;; State

(defvar opencode-mcp--server nil "The listening process, or nil.")

(defvar opencode-mcp--tokens (make-hash-table :test 'equal)
  "Bearer token -> the connection it was given to.")

(defvar opencode-mcp--sessions (make-hash-table :test 'equal)
  "MCP session id -> the connection whose server opened it.")

(defvar opencode-mcp--pending (make-hash-table :test 'equal)
  "(DIRECTORY . REQUEST-ID) -> what cancels a call waiting for the user.
DIRECTORY is the directory of the connection whose server made the call.")

(defun opencode-mcp--key (conn id)
  "Return the key of request ID of CONN's server in `opencode-mcp--pending'."
  (cons (opencode-connection-directory conn) id))

(defun opencode-mcp-port ()
  "Return the port the Emacs tool server listens on, or nil."
  (and (process-live-p opencode-mcp--server)
       (process-contact opencode-mcp--server :service)))

(defun opencode-mcp-url ()
  "Return the URL of the Emacs tool server, or nil when it does not run."
  (when-let ((port (opencode-mcp-port)))
    (format "http://127.0.0.1:%d/mcp" port)))

(defun opencode-mcp--random-token ()
  "Return 32 random bytes as hex: from /dev/urandom, else from `random'."
  (let ((bytes (with-temp-buffer
                 (set-buffer-multibyte nil)
                 (when (file-readable-p "/dev/urandom")
                   (ignore-errors
                     (call-process "head" "/dev/urandom" t nil "-c" "32")))
                 (buffer-string))))
    (if (= (length bytes) 32)
        (mapconcat (lambda (b) (format "%02x" b)) bytes "")
      (random t)
      (secure-hash 'sha256 (format "%s %s %s %s" (random) (random) (float-time)
                                   (emacs-pid))))))

;;;; The listener

(defun opencode-mcp-start ()
  "Start the Emacs tool server on 127.0.0.1 if it does not run; return its URL."
  (unless (process-live-p opencode-mcp--server)
    (setq opencode-mcp--server
          (make-network-process
           :name "opencode-mcp" :server t :host "127.0.0.1" :service t
           :family 'ipv4 :coding 'binary :noquery t
           :filter #'opencode-mcp--filter
           :sentinel #'opencode-mcp--sentinel
           :log (lambda (_server client _message)
                  (process-put client 'opencode-mcp-in "")
                  (process-put client 'opencode-mcp-client t))))
    (opencode--log "Emacs tools: listening at %s" (opencode-mcp-url)))
  (opencode-mcp-url))

(defun opencode-mcp-stop ()
  "Stop the Emacs tool server: its connections, sessions and tokens go."
  (maphash (lambda (_k cancel) (ignore-errors (funcall cancel))) opencode-mcp--pending)
  (clrhash opencode-mcp--pending)
  (dolist (p (process-list))
    (when (process-get p 'opencode-mcp-client)
      (delete-process p)))
  (when (process-live-p opencode-mcp--server)
    (delete-process opencode-mcp--server)
    (opencode--log "Emacs tools: stopped"))
  (setq opencode-mcp--server nil)
  (clrhash opencode-mcp--tokens)
  (clrhash opencode-mcp--sessions))

(defun opencode-mcp--sentinel (proc _event)
  "Forget client PROC once its connection is gone."
  (when (and (process-get proc 'opencode-mcp-client)
             (memq (process-status proc) '(closed failed exit signal)))
    (when-let ((timer (process-get proc 'opencode-mcp-timer)))
      (cancel-timer timer))
    ;; A client that stops waiting for the user cancels the call.
    (when-let ((key (process-get proc 'opencode-mcp-waiting))
               (cancel (gethash key opencode-mcp--pending)))
      (remhash key opencode-mcp--pending)
      (funcall cancel))
    (delete-process proc)))

;;;; HTTP/1.1

(defun opencode-mcp--filter (proc data)
  "Add DATA to what client PROC sent, and answer every whole request in it.
Once PROC's last answer is sent (a refusal, or one that closes), what
else comes is dropped."
  (unless (process-get proc 'opencode-mcp-done)
    (process-put proc 'opencode-mcp-in
                 (concat (process-get proc 'opencode-mcp-in) data))
    (opencode-mcp--serve proc)))

(defun opencode-mcp--serve (proc)
  "Answer the whole requests client PROC has sent, one at a time.
While one waits for its answer, the next ones wait in the buffer."
  (let (req)
    (while (and (process-live-p proc)
                (not (process-get proc 'opencode-mcp-busy))
                (not (process-get proc 'opencode-mcp-done))
                (setq req (opencode-mcp--take-request proc)))
      (if (plist-get req :refuse)
          (progn
            (when (plist-get req :note)
              (opencode--log "Emacs tools: refused a request (%d): %s"
                             (plist-get req :refuse) (plist-get req :note)))
            (process-put proc 'opencode-mcp-in "")
            (opencode-mcp--send proc (plist-get req :refuse) nil (plist-get req :body) t))
        (condition-case err
            (opencode-mcp--handle proc req)
          (error
           (opencode--log "Emacs tools: error answering %s %s: %S"
                          (plist-get req :method) (plist-get req :path) err)
           ;; Answer 500 and close, or, if an event stream has begun, just close.
           (process-put proc 'opencode-mcp-busy nil)
           (if (process-get proc 'opencode-mcp-streaming)
               (delete-process proc)
             (opencode-mcp--send proc 500 nil nil t))))))))

(defun opencode-mcp--token-in (lines)
  "Return the connection whose bearer token the header LINES carry, or nil.
Only the first Authorization line counts."
  (let ((case-fold-search t))
    (when-let ((auth (cl-find-if (lambda (l) (string-match-p "\\`authorization:" l)) lines)))
      (and (string-match "\\`authorization:[ \t]*Bearer +\\([0-9a-f]+\\)[ \t]*\\'" auth)
           (let ((case-fold-search nil))
             (string-match-p "\\`[0-9a-f]+\\'" (match-string 1 auth)))
           (gethash (match-string 1 auth) opencode-mcp--tokens)))))

(defun opencode-mcp--describe-head (lines)
  "Return a short text of a refused request whose head has LINES, for the log.
Its request line, cut short, and what it carried for a token; never
the token itself."
  (let ((case-fold-search t))
    (format "%s (%s)"
            (truncate-string-to-width (or (car lines) "") 60 nil nil "…")
            (if (cl-find-if (lambda (l) (string-match-p "\\`authorization:" l)) (cdr lines))
                "an unknown token"
              "no token"))))

(defun opencode-mcp--take-request (proc)
  "Take the first whole request from what client PROC sent.
Return it as a plist (:method :path :version :headers :body), nil if
it has not all come yet, or (:refuse STATUS :note TEXT :body TEXT) for
a request that is refused (then the connection is closed).
The token is checked as soon as the head is in, before anything else
and before the body is waited for: without a valid one, the answer is
401 and nothing else, whatever the rest of the request says."
  (let* ((in (process-get proc 'opencode-mcp-in))
         (end (string-search "\r\n\r\n" in))
         (lines (split-string (substring in 0 (or end (min (length in) opencode-mcp--max-head)))
                              "\r\n"))
         (conn (opencode-mcp--token-in (cdr lines))))
    (cond
     ((and (null end) (<= (length in) opencode-mcp--max-head)) nil)
     ((null conn) (list :refuse 401 :note (opencode-mcp--describe-head lines)))
     ((or (null end) (> end opencode-mcp--max-head)) (list :refuse 431))
     (t
      (let* ((line (car lines))
             (headers (cl-loop for l in (cdr lines)
                               if (string-match "\\`\\([!#$%&'*+.^_`|~0-9A-Za-z-]+\\):[ \t]*\\(.*?\\)[ \t]*\\'" l)
                               collect (cons (downcase (match-string 1 l)) (match-string 2 l))
                               else return 'bad))
             (clen (and (listp headers) (cdr (assoc "content-length" headers)))))
        (cond
         ((or (eq headers 'bad)
              (not (string-match opencode-mcp--request-line line)))
          (list :refuse 400))
         ((assoc "transfer-encoding" headers) (list :refuse 411)) ; Chunked bodies are not read.
         ((and clen (not (string-match-p "\\`[0-9]\\{1,10\\}\\'" clen))) (list :refuse 400))
         ((> (string-to-number (or clen "0")) opencode-mcp--max-body)
          (list :refuse 413
                :note (format "a body of %s bytes" clen)
                :body (opencode-mcp--json
                       (opencode-mcp--error
                        nil -32600 (format "Request body too large: %s bytes, at most %d"
                                           clen opencode-mcp--max-body)))))
         (t
          (let* ((n (string-to-number (or clen "0")))
                 (start (+ end 4)))
            (string-match opencode-mcp--request-line line) ; Its parts, again.
            (when (>= (length in) (+ start n))
              (process-put proc 'opencode-mcp-in (substring in (+ start n)))
              (list :method (match-string 1 line) :path (match-string 2 line)
                    :version (match-string 3 line) :headers headers
                    :body (substring in start (+ start n))))))))))))

(defconst opencode-mcp--reasons
  '((200 . "OK") (202 . "Accepted") (400 . "Bad Request") (401 . "Unauthorized")
    (403 . "Forbidden") (404 . "Not Found") (405 . "Method Not Allowed")
    (406 . "Not Acceptable") (411 . "Length Required") (413 . "Payload Too Large")
    (415 . "Unsupported Media Type") (431 . "Request Header Fields Too Large")
    (500 . "Internal Server Error"))
  "Reason phrases of the statuses answered.")

(defun opencode-mcp--send (proc status headers body &optional close)
  "Answer on PROC with STATUS, HEADERS (an alist) and BODY (a string or nil).
With CLOSE, or when the request asked for it, close the connection after."
  (when (process-live-p proc)
    (let ((bytes (if body (encode-coding-string body 'utf-8) ""))
          (close (or close (process-get proc 'opencode-mcp-close))))
      (process-send-string
       proc
       (concat (format "HTTP/1.1 %d %s\r\n" status
                       (alist-get status opencode-mcp--reasons "Unknown"))
               (mapconcat (lambda (h) (format "%s: %s\r\n" (car h) (cdr h))) headers "")
               (if body "Content-Type: application/json\r\n" "")
               (format "Content-Length: %d\r\n" (length bytes))
               (if close "Connection: close\r\n" "")
               "\r\n" bytes))
      (when close
        (opencode-mcp--finish proc)))))

(defun opencode-mcp--finish (proc)
  "End the answers on client PROC: send end of file, drop what else comes.
The connection goes when the client closes it, or after
`opencode-mcp--linger' seconds."
  (process-put proc 'opencode-mcp-done t)
  (process-put proc 'opencode-mcp-in "")
  (when (process-live-p proc)
    (process-send-eof proc)
    (run-at-time opencode-mcp--linger nil
                 (lambda () (when (process-live-p proc) (delete-process proc))))))

(defun opencode-mcp--header (req name)
  "Return header NAME (lower case) of request REQ, or nil."
  (cdr (assoc name (plist-get req :headers))))

(defun opencode-mcp--authorize (req)
  "Return the connection whose token request REQ carries, or nil."
  (let ((auth (opencode-mcp--header req "authorization")))
    (and auth (string-match "\\`Bearer +\\([0-9a-f]+\\)\\'" auth)
         (gethash (match-string 1 auth) opencode-mcp--tokens))))

(defun opencode-mcp--origin-ok-p (req)
  "Return non-nil unless request REQ comes from a web page elsewhere.
A browser sends Origin; only pages on the loopback host may call."
  (let ((origin (opencode-mcp--header req "origin")))
    (or (null origin)
        (string-match-p "\\`https?://\\(?:127\\.0\\.0\\.1\\|localhost\\|\\[::1\\]\\)\\(?::[0-9]+\\)?\\'"
                        origin))))

(defun opencode-mcp--handle (proc req)
  "Answer request REQ from client PROC."
  (let ((conn (opencode-mcp--authorize req))
        (path (car (split-string (plist-get req :path) "?")))
        (method (plist-get req :method)))
    (process-put proc 'opencode-mcp-close
                 (or (equal (plist-get req :version) "1.0")
                     (equal (downcase (or (opencode-mcp--header req "connection") ""))
                            "close")))
    (cond
     ((null conn)                       ; Its token was revoked meanwhile.
      (opencode--log "Emacs tools: refused a request (401): %s %s (a revoked token)"
                     method path)
      (opencode-mcp--send proc 401 nil nil t))
     ((not (opencode-mcp--origin-ok-p req)) (opencode-mcp--send proc 403 nil nil))
     ((not (equal path "/mcp")) (opencode-mcp--send proc 404 nil nil))
     ((equal method "DELETE")
      (let ((sid (opencode-mcp--header req "mcp-session-id")))
        (when (and sid (eq (gethash sid opencode-mcp--sessions) conn))
          (remhash sid opencode-mcp--sessions)))
      (opencode-mcp--send proc 200 nil nil))
     ((not (equal method "POST"))
      (opencode-mcp--send proc 405 '(("Allow" . "POST, DELETE")) nil))
     (t (opencode-mcp--post proc conn req)))))

;;;; JSON-RPC

(defun opencode-mcp--json (value)
  "Return VALUE as JSON text."
  (json-serialize value :null-object :null :false-object :false))

(defun opencode-mcp--error (id code message)
  "Return the JSON-RPC error answer to ID with CODE and MESSAGE."
  `(:jsonrpc "2.0" :id ,(or id :null) :error (:code ,code :message ,message)))

(defun opencode-mcp--post (proc conn req)
  "Answer the JSON-RPC POST request REQ of CONN's server on client PROC."
  (let* ((sid (opencode-mcp--header req "mcp-session-id"))
         (version (opencode-mcp--header req "mcp-protocol-version"))
         (message (condition-case nil
                      (json-parse-string (decode-coding-string (plist-get req :body) 'utf-8)
                                         :object-type 'hash-table :null-object :null
                                         :false-object :false)
                    (error 'bad))))
    (cond
     ((and sid (not (eq (gethash sid opencode-mcp--sessions) conn)))
      (opencode-mcp--send proc 404 nil (opencode-mcp--json
                                        (opencode-mcp--error nil -32001 "Session not found"))))
     ((and version (not (member version opencode-mcp-protocol-versions)))
      (opencode-mcp--send proc 400 nil (opencode-mcp--json
                                        (opencode-mcp--error
                                         nil -32600 (format "Unsupported protocol version %s"
                                                            version)))))
     ((eq message 'bad)
      (opencode-mcp--send proc 400 nil (opencode-mcp--json
                                        (opencode-mcp--error nil -32700 "Parse error"))))
     ((and (vectorp message) (> (length message) 0))
      (opencode-mcp--batch proc conn (append message nil)))
     ((hash-table-p message)
      (if (opencode-mcp--request-p message)
          (opencode-mcp--single proc conn req message)
        ;; A notification or a response: nothing to answer.
        (opencode-mcp--notification conn message)
        (opencode-mcp--send proc 202 nil nil)))
     (t (opencode-mcp--send proc 400 nil (opencode-mcp--json
                                          (opencode-mcp--error nil -32600 "Invalid Request")))))))

(defun opencode-mcp--request-p (message)
  "Return non-nil if MESSAGE, a parsed JSON value, is a JSON-RPC request."
  (and (hash-table-p message)
       (gethash "method" message)
       (not (memq (gethash "id" message 'none) '(none :null)))))

(defun opencode-mcp--notification (conn message)
  "Act on notification MESSAGE from CONN's server (only cancellation matters)."
  (when (and (hash-table-p message)
             (equal (gethash "method" message) "notifications/cancelled"))
    (let* ((params (gethash "params" message))
           (id (and (hash-table-p params) (gethash "requestId" params)))
           (cancel (gethash (opencode-mcp--key conn id) opencode-mcp--pending)))
      (when cancel
        (remhash (opencode-mcp--key conn id) opencode-mcp--pending)
        (funcall cancel)))))

(defun opencode-mcp--session-headers (conn message)
  "Return the headers that answer MESSAGE of CONN's server.
An `initialize' gets a new session id."
  (when (and (hash-table-p message) (equal (gethash "method" message) "initialize"))
    (let ((sid (opencode-mcp--random-token)))
      (puthash sid conn opencode-mcp--sessions)
      `(("Mcp-Session-Id" . ,sid)))))

(defun opencode-mcp--batch (proc conn messages)
  "Answer MESSAGES, a JSON-RPC batch from CONN's server, on PROC in one body."
  (let* ((requests (cl-remove-if-not #'opencode-mcp--request-p messages))
         (answers (make-vector (length requests) nil))
         (left (length requests))
         (headers nil))
    (dolist (m messages)
      (cond ((opencode-mcp--request-p m)
             (setq headers (or headers (opencode-mcp--session-headers conn m))))
            ((hash-table-p m) (opencode-mcp--notification conn m))))
    (if (zerop left)
        (opencode-mcp--send proc 202 nil nil)
      (process-put proc 'opencode-mcp-busy t)
      (cl-loop for m in requests for i from 0
               do (let ((i i))
                    (opencode-mcp--dispatch
                     conn m
                     (lambda (answer)
                       (aset answers i answer)
                       (when (zerop (cl-decf left))
                         (process-put proc 'opencode-mcp-busy nil)
                         (opencode-mcp--send proc 200 headers (opencode-mcp--json answers))
                         (opencode-mcp--serve proc)))))))))

(defun opencode-mcp--single (proc conn req message)
  "Answer MESSAGE, one JSON-RPC request from CONN's server, on PROC.
A call that may wait for the user is answered as an event stream when
the client takes one (REQ's Accept header), with progress meanwhile."
  (let ((headers (opencode-mcp--session-headers conn message))
        (stream (and (opencode-mcp--may-wait-p message)
                     (string-match-p "text/event-stream"
                                     (or (opencode-mcp--header req "accept") "")))))
    (process-put proc 'opencode-mcp-busy t)
    (when stream
      (process-put proc 'opencode-mcp-waiting (opencode-mcp--key conn (gethash "id" message)))
      (opencode-mcp--stream-start proc headers message))
    (opencode-mcp--dispatch
     conn message
     (lambda (answer)
       (if stream
           (opencode-mcp--stream-end proc answer)
         (process-put proc 'opencode-mcp-busy nil)
         (opencode-mcp--send proc 200 headers (opencode-mcp--json answer))
         (opencode-mcp--serve proc))))))

(defun opencode-mcp--stream-start (proc headers message)
  "Begin an event stream answer on PROC with HEADERS for request MESSAGE.
If MESSAGE asked for progress, send some every
`opencode-mcp-progress-interval' seconds until the answer."
  (process-put proc 'opencode-mcp-streaming t)
  (process-send-string
   proc (concat "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                "Cache-Control: no-cache\r\nConnection: close\r\n"
                (mapconcat (lambda (h) (format "%s: %s\r\n" (car h) (cdr h))) headers "")
                "\r\n"))
  (let* ((params (gethash "params" message))
         (meta (and (hash-table-p params) (gethash "_meta" params)))
         (token (and (hash-table-p meta) (gethash "progressToken" meta)))
         (n 0))
    (when token
      (process-put
       proc 'opencode-mcp-timer
       (run-at-time opencode-mcp-progress-interval opencode-mcp-progress-interval
                    (lambda ()
                      (when (process-live-p proc)
                        (opencode-mcp--stream-event
                         proc `(:jsonrpc "2.0" :method "notifications/progress"
                                         :params (:progressToken ,token :progress ,(cl-incf n)
                                                                 :message "waiting for the user"))))))))))

(defun opencode-mcp--stream-event (proc message)
  "Send MESSAGE as one event of the stream on PROC."
  (when (process-live-p proc)
    (process-send-string
     proc (encode-coding-string
           (concat "event: message\ndata: " (opencode-mcp--json message) "\n\n")
           'utf-8))))

(defun opencode-mcp--stream-end (proc answer)
  "Send ANSWER as the last event of the stream on PROC, and close it."
  (when-let ((timer (process-get proc 'opencode-mcp-timer)))
    (cancel-timer timer)
    (process-put proc 'opencode-mcp-timer nil))
  (process-put proc 'opencode-mcp-waiting nil)
  (when (process-live-p proc)
    (opencode-mcp--stream-event proc answer)
    (opencode-mcp--finish proc)))

(provide 'opencode-mcp-transport)
;;; opencode-mcp-transport.el ends here

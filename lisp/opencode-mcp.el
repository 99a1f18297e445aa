;;; opencode-mcp.el --- Emacs as an MCP server for the agent  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; With `opencode-emacs-tools' on, Emacs serves the Model Context
;; Protocol (MCP) on 127.0.0.1, on a free port, and registers itself
;; with every connected OpenCode server (POST /mcp) as a remote MCP
;; server named `opencode-mcp-server-name'.  The agent can then call
;; the tools of opencode-mcp-tools.el: diagnostics, xref, imenu, the
;; text of a buffer, the user's region, the project's files, and, when
;; allowed, opening a file or proposing a change for the user to take.
;;
;; The transport is MCP's "streamable HTTP": JSON-RPC 2.0 messages in
;; POST bodies, answered with one JSON body, or, for a call that waits
;; for the user, with an event stream that carries progress
;; notifications (each resets the client's timeout) and then the
;; answer.  Notifications are answered 202, GET 405 (no server-sent
;; stream is offered).  `initialize' gives a session id
;; (Mcp-Session-Id), which later requests may carry.
;;
;; HTTP/1.1 is parsed here, from a `make-network-process' server:
;; request line, headers, a Content-Length body, keep-alive, requests
;; split across packets or several in one.  Each registration gets a
;; random bearer token of its own; a request without a known token gets
;; 401 and nothing else, and the token says which connection, so which
;; project, the request is for.  Nothing the agent sends is evaluated.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'opencode-lib)
(require 'opencode-connection)
(require 'opencode-tools)

;;;; Options

(defcustom opencode-mcp-server-name "emacs"
  "The name Emacs registers under as an MCP server.
The server names each tool NAME_TOOL, with characters other than
letters, digits, _ and - made _: the agent sees `emacs_diagnostics'."
  :type 'string
  :group 'opencode)

(defvar opencode-emacs-tools)

(defun opencode-mcp--set-and-reregister (symbol value)
  "Set SYMBOL to VALUE; register Emacs again if its tool server runs.
The server asks for the list of tools only when it connects."
  (set-default symbol value)
  (when (and (boundp 'opencode-emacs-tools) opencode-emacs-tools)
    (opencode-mcp-register-all)))

(defcustom opencode-mcp-allowed-tools
  '("diagnostics" "xref_definitions" "xref_references" "imenu"
    "read_buffer" "selection" "project_files")
  "The Emacs tools the agent may see and call.
By default the ones that only read.  Add \"open_file\" (the agent opens
a file at a line in your Emacs) and \"propose_change\" (the agent shows
a change as a diff and waits for you to accept or reject it) to let it
reach you.  Setting this with `customize' or `customize-set-variable'
registers Emacs again, for the server to see the new list."
  :type '(repeat (choice (const "diagnostics") (const "xref_definitions")
                         (const "xref_references") (const "imenu")
                         (const "read_buffer") (const "selection")
                         (const "project_files") (const "open_file")
                         (const "propose_change") string))
  :set #'opencode-mcp--set-and-reregister
  :group 'opencode)

(defcustom opencode-mcp-confirm nil
  "Which Emacs tool calls to ask about first, with `y-or-n-p'.
nil asks about none, t about every call, or a list of tool names.
A call you decline is answered with an error that says so."
  :type '(choice (const :tag "None" nil) (const :tag "All" t)
                 (repeat :tag "These tools" string))
  :group 'opencode)

(defcustom opencode-mcp-timeout 30000
  "Milliseconds the server waits for Emacs to answer (connect, list, call).
A call that waits for you (a proposed change, a confirmation) sends
progress every `opencode-mcp-progress-interval' seconds, and each one
gives the server this long again."
  :type 'integer
  :group 'opencode)

(defcustom opencode-mcp-progress-interval 10
  "Seconds between progress notifications of a call that waits for you."
  :type 'number
  :group 'opencode)

(defcustom opencode-mcp-status-calls 10
  "How many recent Emacs tool calls of each project the status view lists."
  :type 'integer
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

;;;; The tools table

(define-error 'opencode-mcp-tool-error "Emacs tool error" 'opencode-error)

(defvar opencode-mcp-tools nil
  "The tools Emacs offers, an alist of (NAME . SPEC), in order.
SPEC is a plist: :description and :schema (the JSON Schema of the
arguments, as a plist for `json-serialize'), :function, :title,
:read-only (non-nil: it changes nothing), :waits (non-nil: it waits
for the user, so it answers through a callback) and :summary (a
function from the arguments to a short text for logs and prompts).
:function gets ARGS (a hash table of the arguments) and CONTEXT (a
plist with :connection and :root, the project's directory) and returns
the result's text, or signals `opencode-mcp-tool-error'.  With :waits
it also gets DONE, and calls it later with the text and, for an
error, a non-nil second argument.  See `opencode-mcp-define-tool'.")

(defun opencode-mcp-define-tool (name &rest spec)
  "Offer the agent the tool NAME, a string; SPEC is as in `opencode-mcp-tools'.
A new tool goes last; one defined again keeps its place."
  (let ((cell (assoc name opencode-mcp-tools)))
    (if cell
        (setcdr cell spec)
      (setq opencode-mcp-tools (append opencode-mcp-tools (list (cons name spec)))))))

(defun opencode-mcp-tool-error (format-string &rest args)
  "Fail the current tool call with a message from FORMAT-STRING and ARGS.
The agent gets the message as the tool's error."
  (signal 'opencode-mcp-tool-error (list (apply #'format format-string args))))

(defun opencode-mcp-allowed-p (name)
  "Return non-nil if the tool NAME exists and the user allows it."
  (and (assoc name opencode-mcp-tools)
       (member name opencode-mcp-allowed-tools)))

;;;; State

(defvar opencode-mcp--server nil "The listening process, or nil.")

(defvar opencode-mcp--tokens (make-hash-table :test 'equal)
  "Bearer token -> the connection it was given to.")

(defvar opencode-mcp--registrations (make-hash-table :test 'eq :weakness 'key)
  "Connection -> plist: :token, :status, :error, :calls, :recent.
:in-flight is non-nil while a registration is on its way, :again if
another is to follow it.
:recent holds the newest calls first, each (TIME TOOL SUMMARY OUTCOME
DURATION); see `opencode-mcp--remember'.")

(defvar opencode-mcp--sessions (make-hash-table :test 'equal)
  "MCP session id -> the connection whose server opened it.")

(defvar opencode-mcp--pending (make-hash-table :test 'equal)
  "(DIRECTORY . REQUEST-ID) -> what cancels a call waiting for the user.
DIRECTORY is the directory of the connection whose server made the call.")

(defun opencode-mcp--key (conn id)
  "Return the key of request ID of CONN's server in `opencode-mcp--pending'."
  (cons (opencode-connection-directory conn) id))

(defvar opencode-mcp-calls 0 "Emacs tool calls answered since Emacs started.")

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

(defun opencode-mcp--registration (conn)
  "Return the registration plist of CONN, or nil."
  (gethash conn opencode-mcp--registrations))

(defun opencode-mcp--update (conn &rest props)
  "Set PROPS in CONN's registration plist."
  (let ((reg (opencode-mcp--registration conn)))
    (while props
      (setq reg (plist-put reg (pop props) (pop props))))
    (puthash conn reg opencode-mcp--registrations)))

(defun opencode-mcp-issue-token (conn)
  "Give CONN a new bearer token and return it; its old one stops working."
  (let ((old (plist-get (opencode-mcp--registration conn) :token))
        (token (opencode-mcp--random-token)))
    (when old (remhash old opencode-mcp--tokens))
    (puthash token conn opencode-mcp--tokens)
    (opencode-mcp--update conn :token token)
    token))

(defun opencode-mcp--revoke (conn)
  "Forget CONN's token and its MCP sessions."
  (when-let ((token (plist-get (opencode-mcp--registration conn) :token)))
    (remhash token opencode-mcp--tokens))
  (opencode-mcp--update conn :token nil)
  (let (gone)
    (maphash (lambda (k v) (when (eq v conn) (push k gone))) opencode-mcp--sessions)
    (dolist (k gone) (remhash k opencode-mcp--sessions))))

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

;;;; Methods

(defun opencode-mcp--may-wait-p (message)
  "Return non-nil if MESSAGE is a tool call that may wait for the user."
  (and (equal (gethash "method" message) "tools/call")
       (let* ((params (gethash "params" message))
              (name (and (hash-table-p params) (gethash "name" params)))
              (spec (and (stringp name) (cdr (assoc name opencode-mcp-tools)))))
         (and spec (or (plist-get spec :waits) (opencode-mcp--confirm-p name))))))

(defun opencode-mcp--confirm-p (name)
  "Return non-nil if a call of tool NAME is to be confirmed first."
  (or (eq opencode-mcp-confirm t) (member name opencode-mcp-confirm)))

(defun opencode-mcp--dispatch (conn message done)
  "Answer JSON-RPC request MESSAGE of CONN's server: call DONE with the answer.
DONE may be called at once or later (a tool call runs from a timer)."
  (let* ((id (gethash "id" message))
         (method (gethash "method" message))
         (params (gethash "params" message))
         (reply (lambda (result) (funcall done `(:jsonrpc "2.0" :id ,id :result ,result)))))
    (pcase method
      ((guard (not (stringp method)))
       (funcall done (opencode-mcp--error id -32600 "Invalid Request")))
      ("initialize"
       (let ((asked (and (hash-table-p params) (gethash "protocolVersion" params))))
         (funcall reply
                  `(:protocolVersion ,(if (member asked opencode-mcp-protocol-versions) asked
                                        (car opencode-mcp-protocol-versions))
                                     :capabilities (:tools (:listChanged :false))
                                     :serverInfo (:name "opencode.el" :title "Emacs"
                                                        :version "0.1.0")
                                     :instructions
                                     ,(concat "Tools of the user's Emacs, for the project at "
                                              (opencode-connection-directory conn)
                                              ": diagnostics, definitions and references as the "
                                              "editor knows them, buffers with their unsaved "
                                              "changes, and what the user has selected.")))))
      ("ping" (funcall reply (make-hash-table)))
      ("tools/list"
       (funcall reply `(:tools ,(apply #'vector (opencode-mcp--tool-list)))))
      ("tools/call"
       (let ((name (and (hash-table-p params) (gethash "name" params)))
             (args (and (hash-table-p params) (gethash "arguments" params))))
         (cond ((not (and (stringp name) (opencode-mcp-allowed-p name)))
                (opencode-mcp--refused conn name args
                                       (if (assoc name opencode-mcp-tools) "not allowed" "unknown"))
                (funcall done (opencode-mcp--error id -32602 (format "Unknown tool: %s" name))))
               ((not (or (null args) (hash-table-p args)))
                (opencode-mcp--refused conn name nil "arguments not an object")
                (funcall done (opencode-mcp--error id -32602 "arguments must be an object")))
               (t (run-at-time 0 nil #'opencode-mcp--call conn id name
                               (or args (make-hash-table :test 'equal))
                               (lambda (text error)
                                 (funcall reply `(:content [(:type "text" :text ,text)]
                                                           :isError ,(if error t :false)))))))))
      (_ (funcall done (opencode-mcp--error id -32601 (format "Method not found: %s" method)))))))

(defun opencode-mcp--tool-list ()
  "Return the allowed tools as MCP tool objects."
  (cl-loop for (name . spec) in opencode-mcp-tools
           when (opencode-mcp-allowed-p name)
           collect `(:name ,name
                           :title ,(or (plist-get spec :title) name)
                           :description ,(plist-get spec :description)
                           :inputSchema ,(plist-get spec :schema)
                           :annotations (:readOnlyHint ,(if (plist-get spec :read-only) t :false)
                                                       :openWorldHint :false))))

(defun opencode-mcp--summary (name args)
  "Return a short text of the call of tool NAME with ARGS, for logs and prompts."
  (let* ((spec (cdr (assoc name opencode-mcp-tools)))
         (f (plist-get spec :summary)))
    (truncate-string-to-width
     (or (and f (ignore-errors (funcall f args)))
         (let (parts)
           (maphash (lambda (k v) (push (format "%s=%s" k (if (stringp v) v (opencode-mcp--json v)))
                                        parts))
                    args)
           (string-join (nreverse parts) " ")))
     120 nil nil "…")))

(defun opencode-mcp--remember (conn name summary outcome duration)
  "Add a call of tool NAME to CONN's recent calls, and count it.
SUMMARY is its input in short, OUTCOME `ok', `error' or `refused',
DURATION in seconds.  `opencode-mcp-status-calls' are kept."
  (let* ((reg (opencode-mcp--registration conn))
         (recent (cons (list (current-time) name summary outcome duration)
                       (plist-get reg :recent))))
    (when (> (length recent) opencode-mcp-status-calls)
      (setq recent (cl-subseq recent 0 (max 0 opencode-mcp-status-calls))))
    (opencode-mcp--update conn :recent recent)
    (unless (eq outcome 'refused)
      (cl-incf opencode-mcp-calls)
      (opencode-mcp--update conn :calls (1+ (or (plist-get reg :calls) 0))))))

(defun opencode-mcp--refused (conn name args why)
  "Log and remember the refused call of tool NAME with ARGS for CONN's server.
WHY says why it was refused."
  (let ((summary (if (hash-table-p args) (opencode-mcp--summary name args) "")))
    (opencode--log "Emacs tool %s (%s) for %s: refused, %s"
                   (truncate-string-to-width (format "%s" name) 60 nil nil "…")
                   summary (opencode-connection-directory conn) why)
    (opencode-mcp--remember conn (truncate-string-to-width (format "%s" name) 40 nil nil "…")
                            summary 'refused 0)))

(defun opencode-mcp--call (conn id name args reply)
  "Run tool NAME with ARGS for CONN's server; call REPLY with the result.
ID is the request's id.  REPLY gets the text and whether it is an
error.  The call is logged, counted, and confirmed first when
`opencode-mcp-confirm' says so."
  (let* ((spec (cdr (assoc name opencode-mcp-tools)))
         (summary (opencode-mcp--summary name args))
         (context (list :connection conn :root (opencode-connection-directory conn)
                        :request id))
         (answered nil)
         (start (float-time))
         (finish (lambda (text &optional error)
                   (unless answered
                     (setq answered t)
                     (remhash (opencode-mcp--key conn id) opencode-mcp--pending)
                     (opencode-mcp--remember conn name summary (if error 'error 'ok)
                                             (- (float-time) start))
                     (opencode--log "Emacs tool %s (%s) for %s: %s, %d characters"
                                    name summary (opencode-connection-directory conn)
                                    (if error (concat "error: " (opencode--first-line text 80)) "ok")
                                    (length text))
                     (funcall reply text error)))))
    (condition-case err
        (if (and (opencode-mcp--confirm-p name)
                 (not (with-local-quit
                        (y-or-n-p (format "Let the agent run Emacs tool %s (%s)? " name summary)))))
            (funcall finish "The user declined this call." t)
          (if (plist-get spec :waits)
              (progn
                (puthash (opencode-mcp--key conn id)
                         (lambda () (funcall finish "The call was cancelled." t))
                         opencode-mcp--pending)
                (funcall (plist-get spec :function) args context finish))
            (funcall finish (funcall (plist-get spec :function) args context))))
      (opencode-mcp-tool-error (funcall finish (cadr err) t))
      (error (funcall finish (format "Emacs failed: %s" (error-message-string err)) t)))))

(defun opencode-mcp-on-cancel (context function)
  "Call FUNCTION if the waiting call of CONTEXT is cancelled.
The server cancels a call when the agent is stopped or gives up
waiting; FUNCTION should then take back what the call shows the user."
  (let* ((key (opencode-mcp--key (plist-get context :connection) (plist-get context :request)))
         (old (gethash key opencode-mcp--pending)))
    (when old
      (puthash key (lambda () (unwind-protect (funcall function) (funcall old)))
               opencode-mcp--pending))))

;;;; Registration with the servers

(defun opencode-mcp--registrable-p (conn)
  "Return non-nil if CONN has a real server to register with.
Not a global connection: a registration belongs to a project."
  (and (not (opencode-connection-responder conn))
       (not (opencode-connection-global conn))
       (opencode-connection-live-p conn)))

(defun opencode-mcp-register (conn)
  "Register the Emacs tool server with CONN's server, under a new token.
One registration at a time goes to a server: asked again while one is
on its way, Emacs registers again once it is answered, so the server
ends with the newest token, whatever order it answers in."
  (when (and (opencode-mcp--registrable-p conn) (opencode-mcp-url))
    (if (plist-get (opencode-mcp--registration conn) :in-flight)
        (opencode-mcp--update conn :again t)
      (let* ((token (opencode-mcp-issue-token conn))
             (name opencode-mcp-server-name)
             (current-p (lambda () (equal token (plist-get (opencode-mcp--registration conn)
                                                            :token))))
             (next (lambda ()
                     (let ((again (plist-get (opencode-mcp--registration conn) :again)))
                       (opencode-mcp--update conn :in-flight nil :again nil)
                       (when again (opencode-mcp-register conn))))))
        (opencode-mcp--update conn :status "registering" :error nil :in-flight t :again nil)
        (opencode-request
         conn "POST" "/mcp"
         :body `(:name ,name
                       :config (:type "remote" :url ,(opencode-mcp-url)
                                      :headers (:Authorization ,(concat "Bearer " token))
                                      :oauth :false :timeout ,opencode-mcp-timeout))
         :timeout 60
         :callback (lambda (reply)
                     (let* ((st (plist-get reply (intern (concat ":" name))))
                            (status (or (plist-get st :status) "?")))
                       (when (funcall current-p)
                         (opencode-mcp--update conn :status status :error (plist-get st :error)))
                       (opencode--log "Emacs tools: registered with %s for %s: %s%s"
                                      (opencode-connection-url conn)
                                      (opencode-connection-directory conn) status
                                      (if (stringp (plist-get st :error))
                                          (concat " " (plist-get st :error)) ""))
                       (funcall next)))
         :errback (lambda (err)
                    (when (funcall current-p)
                      (opencode-mcp--update conn :status "failed"
                                            :error (opencode-error-text err)))
                    (opencode--log "Emacs tools: registering with %s failed: %s"
                                   (opencode-connection-url conn) (opencode-error-text err))
                    (funcall next)))))))

(defun opencode-mcp-register-all ()
  "Register the Emacs tool server with every connected server."
  (dolist (conn opencode-connections)
    (when (eq (opencode-connection-state conn) 'connected)
      (opencode-mcp-register conn))))

(defun opencode-mcp-deregister (conn &optional callback)
  "Disconnect CONN's server from the Emacs tool server and forget its token.
Return non-nil if the server is told; CALLBACK, if given, is called
with no argument once it answered or failed."
  (when (plist-get (opencode-mcp--registration conn) :token)
    (opencode-mcp--revoke conn)
    (opencode-mcp--update conn :status nil :error nil :again nil)
    (when (opencode-mcp--registrable-p conn)
      (condition-case err
          (progn
            (opencode-request conn "POST" (opencode--path "mcp" opencode-mcp-server-name "disconnect")
                              :timeout 1
                              :callback (lambda (_) (when callback (funcall callback)))
                              :errback (lambda (e)
                                         (opencode--log "Emacs tools: disconnect: %s"
                                                        (opencode-error-text e))
                                         (when callback (funcall callback))))
            t)
        (error (opencode--log "Emacs tools: disconnect: %s" (opencode-error-text err))
               nil)))))

(defun opencode-mcp--on-state (conn state _detail)
  "Register again with CONN's server when its STATE is `connected' again.
A server that restarted forgot the tool server; one that only lost the
stream is registered again anyway, which does no harm."
  (when (and opencode-emacs-tools (eq state 'connected))
    (opencode-mcp-register conn)))

(defun opencode-mcp--kill-emacs ()
  "Disconnect every server from the Emacs tool server, and stop it.
Emacs exits: every server is told at once, and Emacs waits for their
answers, a second at most in all, while the tool server still answers
what the servers send it as they close their side.  Then it stops."
  (when (process-live-p opencode-mcp--server)
    (let ((left 0)
          (deadline (+ (float-time) 1)))
      (dolist (conn opencode-connections)
        (when (ignore-errors (opencode-mcp-deregister conn (lambda () (cl-decf left))))
          (cl-incf left)))
      (while (and (> left 0) (< (float-time) deadline))
        (accept-process-output nil 0.01)))
    (opencode-mcp-stop)))

;;;###autoload
(define-minor-mode opencode-emacs-tools
  "Let the agent use Emacs as a tool: an MCP server inside Emacs.
When on, Emacs serves the Model Context Protocol on 127.0.0.1 and
registers with every connected OpenCode server, and with each one that
connects (or restarts) later, as the MCP server
`opencode-mcp-server-name'.  The agent then sees the tools of
`opencode-mcp-allowed-tools' (diagnostics, xref, imenu, buffers, the
region, the project's files; opening files and proposing changes when
you allow them), each limited to its connection's project.  Every call
is written to *opencode-log*; `opencode-mcp-confirm' asks first.
When off, or when Emacs exits, the servers are disconnected from it
and it stops."
  :global t
  :group 'opencode
  (if opencode-emacs-tools
      (progn
        (require 'opencode-mcp-tools)
        (opencode-mcp-start)
        (add-hook 'opencode-connection-state-functions #'opencode-mcp--on-state)
        (add-hook 'kill-emacs-hook #'opencode-mcp--kill-emacs)
        (opencode-mcp-register-all))
    (remove-hook 'opencode-connection-state-functions #'opencode-mcp--on-state)
    (remove-hook 'kill-emacs-hook #'opencode-mcp--kill-emacs)
    (dolist (conn opencode-connections)
      (opencode-mcp-deregister conn))
    (opencode-mcp-stop)))

;;;; In the chat

(defun opencode-mcp--tool-prefix ()
  "Return how the server begins the names of Emacs's tools: \"emacs_\"."
  (concat (replace-regexp-in-string "[^a-zA-Z0-9_-]" "_" opencode-mcp-server-name) "_"))

;;;###autoload
(defun opencode-mcp-tool-renderer (tool)
  "Return the renderer of TOOL if it is one of Emacs's tools, else nil.
Its name says so, whatever tool it is and whether the tools are on
now: an old session's parts are drawn the same way.  This is in
`opencode-chat-tool-renderer-functions'."
  (and (stringp tool) (string-prefix-p (opencode-mcp--tool-prefix) tool)
       #'opencode-mcp-render))

(defun opencode-mcp--heading-summary (input)
  "Return what a heading says of an Emacs tool's INPUT, a plist."
  (let ((path (plist-get input :path))
        (line (or (plist-get input :line) (plist-get input :start_line)))
        (end (plist-get input :end_line)))
    (opencode--first-line
     (string-join
      (delq nil (list (and (stringp (plist-get input :symbol)) (plist-get input :symbol))
                      (and (stringp path)
                           (concat path
                                   (if (natnump line) (format ":%d" line) "")
                                   (if (natnump end) (format "-%d" end) "")))
                      (and (stringp (plist-get input :pattern)) (plist-get input :pattern))))
      " in ")
     80)))

(defun opencode-mcp-render (part)
  "Show the tool PART of an Emacs tool: its name and input, then its result."
  (let* ((state (plist-get part :state))
         (tool (plist-get part :tool))
         (name (string-remove-prefix (opencode-mcp--tool-prefix) tool))
         (input (plist-get state :input))
         (output (plist-get state :output))
         (err (plist-get state :error))
         (summary (if (consp input) (opencode-mcp--heading-summary input) "")))
    (list :heading (concat "Emacs " name
                           (if (string-empty-p summary) "" (concat " " summary))
                           (opencode-tools-status state))
          :body (concat (if (consp input) (concat (opencode-tools-key-values input) "\n") "")
                        (if (stringp output) (concat "\n" output) "")
                        (if (and (stringp err) (not (string-empty-p err)))
                            (concat "\n" (propertize (concat "Error: " err)
                                                     'face 'opencode-chat-error))
                          "")))))

;;;; For the status view

(defun opencode-mcp-status-insert (conn)
  "Insert the state of the Emacs tool server for CONN, for the status view."
  (insert (propertize "Emacs tools" 'face 'bold)
          (if opencode-emacs-tools "\n" "  (M-x opencode-emacs-tools turns them on)\n"))
  (if (not (and opencode-emacs-tools (opencode-mcp-url)))
      (insert "  off\n")
    (let* ((reg (opencode-mcp--registration conn))
           (status (plist-get reg :status)))
      (insert (format "  URL        %s\n" (opencode-mcp-url))
              (format "  Server     %s as \"%s\"%s\n"
                      (if status
                          (propertize status 'face (if (equal status "connected") 'success 'warning))
                        "not registered")
                      opencode-mcp-server-name
                      (if (stringp (plist-get reg :error)) (concat "  " (plist-get reg :error)) ""))
              (format "  Tools      %s\n"
                      (string-join (cl-remove-if-not #'opencode-mcp-allowed-p
                                                     (mapcar #'car opencode-mcp-tools))
                                   ", "))
              (format "  Calls      %d for this project, %d in all%s\n"
                      (or (plist-get reg :calls) 0) opencode-mcp-calls
                      (if (plist-get reg :recent) "; the last ones, newest first:" "")))
      (dolist (call (plist-get reg :recent))
        (insert (opencode-mcp--call-line call))))))

(defun opencode-mcp--call-line (call)
  "Return the status view's line of CALL, an element of :recent."
  (pcase-let ((`(,time ,tool ,summary ,outcome ,duration) call))
    (format "    %s  %-16s %-8s %7s  %s\n"
            (format-time-string "%T" time) tool
            (propertize (symbol-name outcome) 'face (if (eq outcome 'ok) 'success 'warning))
            (if (< duration 1) (format "%d ms" (round (* 1000 duration)))
              (format "%.1f s" duration))
            summary)))

(provide 'opencode-mcp)
;;; opencode-mcp.el ends here

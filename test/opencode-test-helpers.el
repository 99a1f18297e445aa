;;; opencode-test-helpers.el --- Loopback servers for the tests  -*- lexical-binding: t; -*-

;;; Commentary:

;; Everything the tests serve runs inside the test Emacs, on 127.0.0.1:
;; a tiny HTTP server (`opencode-test-http-start'), an SSE replayer that
;; sends a recorded stream in chunks of a chosen size, and a scripted
;; mock of an OpenAI-compatible Chat Completions endpoint that the real
;; OpenCode server uses as its model.  Also: starting the real server in
;; a scratch HOME and project (`opencode-test-with-real-server'), the
;; fixture readers, chat buffers on a connection with no server
;; (`opencode-test-with-chat') or on the real one
;; (`opencode-test-with-chat-on-real-server'), and what a person sees
;; in them (`opencode-test--visible-text', `opencode-test--list-titles'),
;; and the readers of recorded captures (`opencode-test-capture-stored').
;; Every test file requires this one and no other test file.

;;; Code:

(require 'cl-lib)
(require 'ert)
(require 'json)
(require 'opencode)
(require 'opencode-api)
(require 'opencode-chat)
(require 'opencode-sessions)
(require 'opencode-cache)

;; Tests never touch the user's cache: each run keeps its own.
(setq opencode-cache-directory (make-temp-file "opencode-test-cache-" t))
(add-hook 'kill-emacs-hook (lambda () (ignore-errors (delete-directory opencode-cache-directory t))))

;; Leaving a busy chat asks by default; a batch Emacs has nobody to
;; answer, and the tests leave and kill busy chats all the time.  The
;; tests of that question bind it themselves.
(setq opencode-abort-on-switch nil)

(defconst opencode-test-dir
  (file-name-directory (or load-file-name buffer-file-name))
  "The test directory.")

(defun opencode-test-wait (pred &optional seconds)
  "Process events until PRED returns non-nil or SECONDS (default 20) pass.
Return PRED's value, or nil on timeout."
  (let ((deadline (+ (float-time) (or seconds 20)))
        (v nil))
    (while (and (not (setq v (funcall pred))) (< (float-time) deadline))
      (accept-process-output nil 0.02))
    v))

;;;; No handler error goes unseen

(defvar opencode-test-handler-errors nil
  "The errors of event handlers and callbacks logged during the running test.
Each is (ERROR FUNCTION WHAT), newest first.")

(defvar opencode-test-allowed-handler-errors nil
  "A regexp matching the handler errors the running test provokes on purpose.")

(defun opencode-test--record-handler-error (err function what)
  "Record ERR of FUNCTION while handling WHAT, unless the test allows it."
  (unless (and opencode-test-allowed-handler-errors
               (string-match-p opencode-test-allowed-handler-errors
                               (error-message-string err)))
    (push (list err function what) opencode-test-handler-errors)))

(defun opencode-test--fail-on-handler-errors (run test)
  "Call RUN on TEST; fail TEST if a handler error was logged meanwhile.
An error in an event handler is caught and logged, so the test would
not see it; a test during which one happened fails with it."
  (let ((opencode-test-handler-errors nil))
    (funcall run test)
    (let ((result (ert-test-most-recent-result test)))
      (when (and opencode-test-handler-errors (ert-test-passed-p result))
        (setf (ert-test-most-recent-result test)
              (make-ert-test-failed
               :duration (ert-test-result-duration result)
               :condition (list 'ert-test-failed
                                (cons "Handler errors were logged"
                                      (mapcar (pcase-lambda (`(,err ,fn ,what))
                                                (format "%s in %S for %s"
                                                        (error-message-string err) fn what))
                                              (reverse opencode-test-handler-errors))))
               :backtrace nil :infos nil
               :messages (ert-test-result-messages result)))))
    (ert-test-most-recent-result test)))

(advice-add 'opencode-events-log-error :before #'opencode-test--record-handler-error)
(advice-add 'ert-run-test :around #'opencode-test--fail-on-handler-errors)

;;;; A tiny HTTP server

(defun opencode-test--http-filter (handler)
  "Return a process filter that parses one request and calls HANDLER."
  (lambda (proc string)
    (let ((buf (concat (or (process-get proc 'buf) "") string)))
      (process-put proc 'buf buf)
      (when-let ((end (string-search "\r\n\r\n" buf)))
        (let* ((head (substring buf 0 end))
               (lines (split-string head "\r\n"))
               (request (split-string (car lines) " "))
               (headers (mapcar (lambda (l)
                                  (when (string-match "\\`\\([^:]+\\): *\\(.*\\)\\'" l)
                                    (cons (downcase (match-string 1 l)) (match-string 2 l))))
                                (cdr lines)))
               (len (string-to-number (or (cdr (assoc "content-length" headers)) "0")))
               (body (substring buf (+ end 4))))
          (when (and (>= (length body) len) (not (process-get proc 'handled)))
            (process-put proc 'handled t)
            ;; A client that went away before its answer (the module
            ;; gave up the request): writing to it fails, and that is
            ;; no failure of the test.
            (condition-case err
                (funcall handler proc (nth 0 request) (nth 1 request) headers
                         (decode-coding-string body 'utf-8))
              (error (if (process-live-p proc)
                         (signal (car err) (cdr err))
                       (message "Test server: %s went away before its answer"
                                (nth 1 request)))))))))))

(defun opencode-test-http-start (handler)
  "Start a loopback HTTP server calling HANDLER; return the server process.
HANDLER gets PROC METHOD PATH HEADERS BODY and answers on PROC."
  (make-network-process :name "opencode-test-http" :server t
                        :host "127.0.0.1" :service t :family 'ipv4
                        :coding 'binary :noquery t
                        :filter (opencode-test--http-filter handler)))

(defun opencode-test-port (server)
  "Return the port SERVER listens on."
  (process-contact server :service))

(defun opencode-test-respond (proc status content-type body)
  "Answer on PROC with STATUS, CONTENT-TYPE and BODY, then close."
  (let ((bytes (encode-coding-string body 'utf-8)))
    (process-send-string
     proc (format "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                  status content-type (length bytes)))
    (process-send-string proc bytes)
    (process-send-eof proc)))

(defun opencode-test-send-chunked (proc bytes size &optional keep-open)
  "Send unibyte BYTES on PROC in pieces of SIZE bytes, then close.
Each piece is flushed on its own so the reader sees the boundaries.
With KEEP-OPEN, do not close."
  (let ((i 0) (n (length bytes)))
    (while (< i n)
      (when (process-live-p proc)
        (process-send-string proc (substring bytes i (min n (+ i size)))))
      (setq i (+ i size))
      (when (< size 64) (accept-process-output nil 0.0005))))
  (unless keep-open
    (when (process-live-p proc) (delete-process proc))))

(defun opencode-test-fixture (name)
  "Return the bytes of fixture NAME, unibyte."
  (with-temp-buffer
    (set-buffer-multibyte nil)
    (insert-file-contents-literally (expand-file-name (concat "fixtures/" name) opencode-test-dir))
    (buffer-string)))

(defun opencode-test--json-fixture (name)
  "Parse fixture NAME as JSON into plists."
  (json-parse-string (decode-coding-string (opencode-test-fixture name) 'utf-8)
                     :object-type 'plist :null-object :null :false-object :false))

(defun opencode-test--stream-events (name)
  "Return the events of SSE fixture NAME as (TYPE . PROPS), in order."
  (let (events)
    (dolist (line (split-string (decode-coding-string (opencode-test-fixture name) 'utf-8) "\n"))
      (when (string-prefix-p "data: " line)
        (let ((e (json-parse-string (substring line 6) :object-type 'plist
                                    :null-object :null :false-object :false)))
          (push (cons (plist-get e :type) (plist-get e :properties)) events))))
    (nreverse events)))

;;;; A fault-injecting proxy

(cl-defstruct (opencode-test-proxy (:constructor opencode-test-proxy--make)
                                   (:copier nil))
  "A loopback TCP proxy in front of a server, that misbehaves on demand.
MODE is `pass', `drip' (the event stream's bytes one write each),
`stall' (the event stream's bytes dropped, the connection kept) or
`error500' (new requests answered 500, the server never sees them).
With CUT-NEXT set, the next chunk of an event stream is cut in half and
both connections are dropped."
  server target (mode 'pass) cut-next (clients nil))

(defun opencode-test-proxy-start (target-port)
  "Start a proxy to 127.0.0.1:TARGET-PORT; return it."
  (let ((proxy (opencode-test-proxy--make :target target-port)))
    (setf (opencode-test-proxy-server proxy)
          (make-network-process
           :name "opencode-test-proxy" :server t :host "127.0.0.1" :service t
           :family 'ipv4 :coding 'binary :noquery t
           :filter (lambda (client data) (opencode-test-proxy--from-client proxy client data))
           :sentinel (lambda (client _event)
                       (unless (process-live-p client)
                         (when-let ((up (process-get client 'up)))
                           (delete-process up))))))
    proxy))

(defun opencode-test-proxy-url (proxy)
  "Return the URL of PROXY."
  (format "http://127.0.0.1:%d" (opencode-test-port (opencode-test-proxy-server proxy))))

(defun opencode-test-proxy-stop (proxy)
  "Stop PROXY and drop its connections."
  (opencode-test-proxy-cut-all proxy)
  (delete-process (opencode-test-proxy-server proxy)))

(defun opencode-test-proxy-cut-all (proxy)
  "Drop every connection through PROXY."
  (dolist (c (opencode-test-proxy-clients proxy))
    (when-let ((up (process-get c 'up))) (delete-process up))
    (delete-process c))
  (setf (opencode-test-proxy-clients proxy) nil))

(defun opencode-test-proxy--from-client (proxy client data)
  "Forward DATA from CLIENT through PROXY, or misbehave."
  (let ((up (process-get client 'up)))
    (cond
     ((and up (process-live-p up)) (process-send-string up data))
     (up (delete-process client))
     ((eq (opencode-test-proxy-mode proxy) 'error500)
      (opencode-test-respond client "500 Internal Server Error" "application/json"
                             "{\"name\":\"UnknownError\",\"data\":{\"message\":\"injected\"}}"))
     (t
      (let ((up (condition-case nil
                    (make-network-process
                     :name "opencode-test-proxy-up" :host "127.0.0.1"
                     :service (opencode-test-proxy-target proxy) :family 'ipv4
                     :coding 'binary :noquery t
                     :filter (lambda (_up out) (opencode-test-proxy--from-server proxy client out))
                     :sentinel (lambda (up _event)
                                 (unless (process-live-p up)
                                   (when (process-live-p client) (delete-process client)))))
                  (file-error nil))))
        (if (not up)
            (delete-process client)     ; The server is down: refuse.
          (process-put client 'up up)
          (process-put client 'event (string-match-p "\\`GET /\\(?:global/\\)?event" data))
          (push client (opencode-test-proxy-clients proxy))
          (process-send-string up data)))))))

(defun opencode-test-proxy--from-server (proxy client out)
  "Forward OUT from the server to CLIENT through PROXY, or misbehave."
  (let ((event (process-get client 'event)))
    (cond
     ((not (process-live-p client)))
     ((and event (opencode-test-proxy-cut-next proxy) (> (length out) 20))
      ;; Dropped in the middle of an event.
      (setf (opencode-test-proxy-cut-next proxy) nil)
      (process-send-string client (substring out 0 (/ (length out) 2)))
      (when-let ((up (process-get client 'up))) (delete-process up))
      (delete-process client))
     ((and event (eq (opencode-test-proxy-mode proxy) 'stall)))
     ((and event (eq (opencode-test-proxy-mode proxy) 'drip))
      (dotimes (i (length out))
        (when (process-live-p client)
          (process-send-string client (substring out i (1+ i))))))
     (t (process-send-string client out)))))

;;;; The scripted mock model

(defvar opencode-test-mock-script nil
  "What the mock model answers, a list of turns consumed in order.
Each turn is a list of chunk deltas (plists such as (:content \"Hi\")),
optionally followed by a finish reason keyword :stop or :tool_calls;
with :hang, the reply stays open after its deltas, like a slow model.
A delta (:http-status 429 :message \"…\") makes that turn an HTTP error;
a delta (:usage (:prompt_tokens N :completion_tokens M)) is sent as the
usage chunk a provider ends with.
When empty, the mock answers \"Hello from the mock.\".")

(defvar opencode-test-mock-hanging nil
  "Connections of replies the mock keeps open (turns with :hang).")

(defvar opencode-test-mock-requests nil
  "The parsed bodies of chat requests the mock received, newest first.")

(defun opencode-test--mock-chunk (delta &optional finish)
  "Return one SSE chunk carrying DELTA with FINISH reason."
  (concat "data: "
          (json-serialize
           `(:id "chatcmpl-mock" :object "chat.completion.chunk" :created 0
                 :model "mock-1"
                 :choices [(:index 0 :delta ,(or delta (make-hash-table))
                                   :finish_reason ,(or finish :null))]))
          "\n\n"))

(defun opencode-test--mock-handler (proc method path _headers body)
  "Answer a request to the mock model: PROC, METHOD, PATH and BODY."
  (cond
   ((and (equal method "POST") (string-suffix-p "/chat/completions" path))
    (let* ((req (json-parse-string body :object-type 'plist))
           (tools (plist-get req :tools))
           (turn (cond ((or (null tools) (equal tools [])) ; title request
                        '((:content "Mock title") :stop))
                       (opencode-test-mock-script (pop opencode-test-mock-script))
                       (t '((:content "Hello") (:content " from the")
                            (:content " mock.") :stop))))
           (hang (memq :hang turn))
           (finish (if (keywordp (car (last turn)))
                       (substring (symbol-name (car (last turn))) 1)
                     "stop"))
           (deltas (cl-remove-if #'keywordp turn))
           (fail (cl-find-if (lambda (d) (plist-get d :http-status)) deltas)))
      (push req opencode-test-mock-requests)
      (if fail
          ;; A failing provider: an HTTP error with an OpenAI-style body.
          (opencode-test-respond
           proc (format "%d %s" (plist-get fail :http-status) (or (plist-get fail :reason) "Error"))
           "application/json"
           (json-serialize `(:error (:message ,(or (plist-get fail :message) "mock failure")
					      :type "mock_error" :code ,(plist-get fail :http-status)))))
        (process-send-string
	 proc "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
	(process-send-string proc (opencode-test--mock-chunk '(:role "assistant" :content "")))
	(dolist (d deltas)
          (process-send-string
           proc (if (plist-get d :usage)
                    (concat "data: " (json-serialize `(:id "chatcmpl-mock" :object "chat.completion.chunk"
                                                           :created 0 :model "mock-1" :choices []
                                                           :usage ,(plist-get d :usage)))
                            "\n\n")
                  (encode-coding-string (opencode-test--mock-chunk d) 'utf-8))))
	(if hang
            ;; Keep the reply open, as a slow model would, until aborted.
            (push proc opencode-test-mock-hanging)
          (process-send-string proc (opencode-test--mock-chunk nil finish))
          (process-send-string proc "data: [DONE]\n\n")
          (process-send-eof proc)))))
   (t (opencode-test-respond proc "404 Not Found" "application/json"
                             "{\"error\":\"not found\"}"))))

(defun opencode-test--tool-call (name args)
  "Return mock deltas that call tool NAME with ARGS (a plist), in pieces."
  (let ((json (json-serialize args)))
    (list `(:tool_calls [(:index 0 :id ,(format "call_%s" name) :type "function"
                                 :function (:name ,name :arguments ""))])
          `(:tool_calls [(:index 0 :function (:arguments ,(substring json 0 (/ (length json) 2))))])
          `(:tool_calls [(:index 0 :function (:arguments ,(substring json (/ (length json) 2))))]))))

;;;; Windows

(defun opencode-test-run-window-change-functions (&optional frame)
  "Run `window-buffer-change-functions' for FRAME as redisplay would.
Batch Emacs never redisplays, so nothing runs them there and
`window-old-buffer' stays nil.  This runs, for each window of FRAME
\(default: the selected one) whose buffer changed since the last call,
the buffer-local functions of its buffer with the window, then once
the global ones with FRAME, as `run_window_change_functions' does."
  (let ((frame (or frame (selected-frame))) (changed nil))
    (dolist (w (window-list frame 'no-minibuf))
      (let ((buf (window-buffer w)))
        (unless (eq buf (window-parameter w 'opencode-test-shown))
          (set-window-parameter w 'opencode-test-shown buf)
          (setq changed t)
          (with-current-buffer buf
            (when (local-variable-p 'window-buffer-change-functions)
              (dolist (f window-buffer-change-functions)
                (unless (eq f t) (funcall f w))))))))
    (when changed
      (dolist (f (default-value 'window-buffer-change-functions))
        (funcall f frame)))))

;;;; The real server

(defun opencode-test-server-program ()
  "Return the pinned `opencode' binary, or nil."
  (let ((pinned (expand-file-name "../.deps/node_modules/.bin/opencode" opencode-test-dir)))
    (or (getenv "OPENCODE_TEST_SERVER")
        (and (file-executable-p pinned) pinned))))

(defconst opencode-test-config-seed
  (expand-file-name "../.deps/opencode-config/" opencode-test-dir)
  "The config directory `make deps' warmed for the tests' servers.
It holds what a server installs into each config directory at its first
request (@opencode-ai/plugin, with its own npm, from the registry):
package.json, package-lock.json and node_modules.  The server skips the
install when node_modules exists and the lock names every dependency.")

(defun opencode-test-scratch-home (home)
  "Make HOME a scratch home for a real server; return its environment.
The value is a list of VAR=VALUE strings to put before
`process-environment': HOME and the XDG directories inside HOME, so
nothing of the user's is read or written, and switches that keep the
server off the network.  HOME's config directory gets a copy of
`opencode-test-config-seed''s package.json and package-lock.json and a
link to its node_modules, so the server installs nothing: node_modules
is shared by every test server, which only reads it (a config naming a
plugin would make the server install into it)."
  (unless (file-exists-p (expand-file-name "package-lock.json" opencode-test-config-seed))
    (error "No warmed OpenCode config in %s: run `make deps'" opencode-test-config-seed))
  (let ((config (expand-file-name ".config/opencode" home)))
    (make-directory config t)
    (dolist (f '("package.json" "package-lock.json"))
      (copy-file (expand-file-name f opencode-test-config-seed) (expand-file-name f config)))
    (make-symbolic-link (expand-file-name "node_modules" opencode-test-config-seed)
                        (expand-file-name "node_modules" config)))
  (opencode-test-scratch-environment home))

(defun opencode-test-scratch-environment (home)
  "Return the environment of a real server whose scratch HOME is HOME.
See `opencode-test-scratch-home', which makes HOME."
  (list (concat "HOME=" home)
        (concat "XDG_CONFIG_HOME=" home "/.config")
        (concat "XDG_DATA_HOME=" home "/.local/share")
        (concat "XDG_CACHE_HOME=" home "/.cache")
        (concat "XDG_STATE_HOME=" home "/.local/state")
        "OPENCODE_DISABLE_AUTOUPDATE=1"
        "OPENCODE_DISABLE_SHARE=1"
        ;; No hourly fetch of https://models.opencode.ai (the server
        ;; uses the model list built into it, as when the fetch fails).
        "OPENCODE_DISABLE_MODELS_FETCH=1"
        "OPENCODE_DISABLE_LSP_DOWNLOAD=1"))

(defvar opencode-test-extra-config nil
  "A plist added to the opencode.json of `opencode-test-with-real-server'.")

(defvar opencode-test-mock-model-config nil
  "A plist added to the mock model's entry in that opencode.json (variants...).")

;;;; One real server for the tests of an Emacs

(defvar opencode-test-own-server nil
  "Non-nil gives the next `opencode-test-with-real-server' a server of its own.
By default the tests of one Emacs share a real server (started once,
about 4 s of CPU each time), each test in a project of its own.  A
test that looks at what the whole server holds (every project, its
providers) binds this to t.")

(defvar opencode-test--shared nil
  "The real server the tests of this Emacs share, or nil.
A plist: :server (the `opencode-server'), :process (its process when
started), :root (a scratch directory it runs in) and :home (its
scratch HOME, inside :root).")

(defun opencode-test--shared-drop ()
  "Stop the shared real server, if any, and remove its directory."
  (when opencode-test--shared
    (ignore-errors (opencode-server-stop (plist-get opencode-test--shared :server)))
    (ignore-errors (delete-directory (plist-get opencode-test--shared :root) t))
    (setq opencode-test--shared nil)))

(add-hook 'kill-emacs-hook #'opencode-test--shared-drop)

(defun opencode-test--shared-intact-p ()
  "Return non-nil if the shared server runs the process it started with.
Nil once a test stopped, killed or restarted it."
  (when-let ((server (plist-get opencode-test--shared :server)))
    (let ((proc (opencode-server-process server)))
      (and (eq proc (plist-get opencode-test--shared :process))
           (process-live-p proc)
           (not (opencode-server-stopping server))))))

(defun opencode-test--shared-server ()
  "Return `opencode-test--shared', starting its server if it is not running."
  (unless (opencode-test--shared-intact-p)
    (opencode-test--shared-drop)
    (let* ((root (make-temp-file "opencode-test-shared-" t))
           (home (expand-file-name "home" root))
           (process-environment (append (opencode-test-scratch-home home) process-environment))
           (opencode-server-program (opencode-test-server-program))
           (server (opencode-server-start root)))
      (setq opencode-test--shared
            (list :server server :process (opencode-server-process server)
                  :root root :home home))))
  opencode-test--shared)

(defun opencode-test--make-project (project &optional title)
  "Make PROJECT a git repository with one commit, its own project.
The server names a project by its first commit, so the commit holds
PROJECT's name: two tests' projects are never one to a shared server.
TITLE, if given, is the README's first line."
  (make-directory project t)
  (call-process "git" nil nil nil "-C" project "init" "-q")
  (with-temp-file (expand-file-name "README" project)
    (insert (or title "test project") "\n" project "\n"))
  (call-process "git" nil nil nil "-C" project "add" "README")
  (call-process "git" nil nil nil "-C" project "-c" "user.name=test" "-c" "user.email=test@127.0.0.1"
                "commit" "-q" "-m" "start"))

(defun opencode-test--real-server-end (shared)
  "Close the test's connections; stop or keep the server it used.
SHARED is the shared server's plist when the test used it.  If the
test left it running as it found it, each project the test opened is
disposed of on it (its instance, file watcher and running replies),
and it stays for the next test; else every server is stopped, and the
next test starts a new shared one."
  (if (and shared (eq opencode-server--local (plist-get shared :server))
           (opencode-test--shared-intact-p))
      (dolist (conn (opencode--all-connections))
        (when (and (opencode-connection-directory conn)
                   (eq (opencode-connection-state conn) 'connected))
          (ignore-errors (opencode-request-sync conn "POST" "/instance/dispose" :timeout 10)))
        (opencode-connection-close conn))
    (opencode-disconnect-all)
    (when shared (opencode-test--shared-drop))))

(defmacro opencode-test-with-real-server (conn-var &rest body)
  "Run BODY with CONN-VAR connected to a real OpenCode server.
The server runs with a scratch HOME (`opencode-test-scratch-home'); it
is the one the tests of this Emacs share unless
`opencode-test-own-server' is non-nil.  BODY runs in a scratch git
project of its own, whose opencode.json points at the mock model, with
`root', `home' (the server's HOME) and `project' bound; the project is
removed afterwards, and a server of the test's own stopped."
  (declare (indent 1) (debug (symbolp body)))
  `(let* ((shared (unless opencode-test-own-server (opencode-test--shared-server)))
          (root (make-temp-file "opencode-test-" t))
          (home (if shared (plist-get shared :home) (expand-file-name "home" root)))
          (project (expand-file-name "project" root))
          (mock (opencode-test-http-start #'opencode-test--mock-handler))
          (opencode-test-mock-requests nil)
          (opencode-test-mock-hanging nil)
          (process-environment (append (if shared
                                           (opencode-test-scratch-environment home)
                                         (opencode-test-scratch-home home))
                                       process-environment))
          (opencode-server-program (opencode-test-server-program))
          (opencode-server-url nil)
          (opencode-server--local (plist-get shared :server))
          (opencode-connections nil)
          (opencode-global-connection nil)
          (opencode-cache-directory (expand-file-name "cache" root))
          (,conn-var nil))
     (unless opencode-server-program
       (error "No OpenCode server: run `make deps'"))
     ;; A first commit makes it a real project, with snapshots and diffs.
     (opencode-test--make-project project)
     (with-temp-file (expand-file-name "opencode.json" project)
       (insert (json-serialize
                `(:$schema "https://opencode.ai/config.json"
			   :provider (:mock (:npm "@ai-sdk/openai-compatible" :name "Mock"
						  :options (:baseURL ,(format "http://127.0.0.1:%d/v1"
									      (opencode-test-port mock))
								     :apiKey "x")
						  :models (:mock-1 (:name "Mock 1" ,@opencode-test-mock-model-config))))
			   :model "mock/mock-1" :small_model "mock/mock-1"
			   ,@opencode-test-extra-config))))
     (unwind-protect
         (let ((default-directory (file-name-as-directory project)))
           (setq ,conn-var (opencode-connect project))
           (should (opencode-test-wait
                    (lambda () (eq (opencode-connection-state ,conn-var) 'connected))
                    30))
           ,@body)
       (opencode-test--real-server-end shared)
       (mapc #'delete-process opencode-test-mock-hanging)
       (delete-process mock)
       (delete-directory root t))))

(defmacro opencode-test-with-own-real-server (conn-var &rest body)
  "As `opencode-test-with-real-server', on a server started for BODY alone.
For a test that looks at what the whole server holds: every project,
projects with no commit, its exit with Emacs."
  (declare (indent 1) (debug (symbolp body)))
  `(let ((opencode-test-own-server t))
     (opencode-test-with-real-server ,conn-var ,@body)))

;;;; A server of the test's own, on a port it picked

(defun opencode-test-serve-on-port (port password directory name)
  "Start the real server on 127.0.0.1:PORT in DIRECTORY, asking PASSWORD.
NAME names its process.  Not the package's local server: the test
kills and restarts it itself.  Return the process."
  (let ((process-environment (cons (concat "OPENCODE_SERVER_PASSWORD=" password)
                                   process-environment))
        (default-directory (file-name-as-directory directory)))
    (make-process :name name :buffer (generate-new-buffer (concat " *" name "*"))
                  :command (list opencode-server-program "serve" "--hostname"
                                 "127.0.0.1" "--port" (number-to-string port))
                  :connection-type 'pipe :noquery t)))

(defun opencode-test-serve-listening-p (proc)
  "Return non-nil once PROC, from `opencode-test-serve-on-port', listens."
  (with-current-buffer (process-buffer proc)
    (string-match-p "listening on" (buffer-string))))

;;;; What a person sees

(defun opencode-test--visible-text ()
  "Return the text of the current buffer a person sees (no folded parts).
Invisible text is left out; text with a string `display' property
counts as that string (a bullet, a rendered table row)."
  (let ((out nil) (pos (point-min)))
    (while (< pos (point-max))
      (let ((next (next-char-property-change pos))
            (display (get-char-property pos 'display)))
        (cond ((invisible-p pos))
              ((stringp display)
               (push (substring-no-properties display) out)
               (setq next (next-single-char-property-change pos 'display)))
              (t (push (buffer-substring-no-properties pos next) out)))
        (setq pos next)))
    (apply #'concat (nreverse out))))

(defun opencode-test--window-text (window)
  "Return the text WINDOW shows: its screen lines from its start.
As `opencode-test--visible-text', of the `window-body-height' lines
that start at `window-start' (batch Emacs never redisplays, so that is
where the window starts as the commands left it)."
  (with-current-buffer (window-buffer window)
    (save-excursion
      (let ((start (window-start window)))
        (goto-char start)
        (vertical-motion (window-body-height window) window)
        (save-restriction
          (narrow-to-region start (point))
          (opencode-test--visible-text))))))

(defun opencode-test--server-view (conn sid)
  "Return the text a fresh chat of SID shows, from CONN's stored messages."
  (let ((messages (opencode-request-sync conn "GET" (opencode--path "session" sid "message")))
        (buf (generate-new-buffer " *opencode-server-view*")))
    (unwind-protect
        (with-current-buffer buf
          (opencode-chat-mode)
          ;; Connected, its session idle: a reply the server never
          ;; finished shows as cut off, as in a chat opened now.
          (opencode-chat--attach (opencode-connection--make :url "http://127.0.0.1:1"
                                                            :directory "/tmp" :state 'connected)
                                 (list :id sid))
          (let ((opencode-chat-render-batch 100000))
            (opencode-chat--fill messages))
          (opencode-test--visible-text))
      (kill-buffer buf))))

(defun opencode-test-replay-through-module (bytes chunk setup collect)
  "Serve BYTES as the event stream, in pieces of CHUNK bytes, to the module.
SETUP is called with the connection first (to open a chat or a
timeline on it).  Nothing is drained until the module has read the
whole stream, which it proves by asking for the stream again, so it
merges all it can; then everything is drained at once, and COLLECT is
called with the connection and how many text deltas reached Lisp.
Return COLLECT's value."
  (let* ((served nil) (asked-again nil) (clients nil) (deltas 0)
         (server (opencode-test-http-start
                  (lambda (proc _method path _headers _body)
                    (push proc clients)
                    (cond
                     ((not (string-prefix-p "/event" path))
                      (opencode-test-respond proc "404 Not Found" "text/plain" "no"))
                     (served
                      ;; The stream again: the first was read to its end.
                      (setq asked-again t)
                      (process-send-string
                       proc "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"))
                     (t
                      (setq served t)
                      (process-send-string
                       proc "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
                      (opencode-test-send-chunked proc bytes chunk))))))
         (opencode-reconnect-min-delay 0.05)
         (opencode-reconnect-max-delay 0.2)
         ;; Events only: a chat reloads its session when the stream
         ;; connects, and this server stores nothing.
         (opencode-connection-state-functions nil)
         (opencode-event-functions
          (cons (lambda (_c type _p) (when (equal type "message.part.delta") (cl-incf deltas)))
                opencode-event-functions))
         (conn (opencode-connection-open
                (format "http://127.0.0.1:%d" (opencode-test-port server)) "/tmp"))
         (pipe (opencode-connection-process conn))
         (filter (process-filter pipe)))
    ;; The worker's wake-ups are read and ignored: no drain until asked.
    (set-process-filter pipe #'ignore)
    (unwind-protect
        (progn
          (funcall setup conn)
          (should (opencode-test-wait (lambda () asked-again) 20))
          (set-process-filter pipe filter)
          ;; One drain of everything: no slice left for later.
          (let ((opencode-drain-slice nil))
            (opencode-connection--drain conn))
          (funcall collect conn deltas))
      (opencode-connection-close conn)
      (mapc #'delete-process clients)
      (delete-process server))))

(defun opencode-test-event (conn type props)
  "Deliver event TYPE with PROPS on CONN as the module hands it over.
A text delta goes the way the module sends it, not as a plist."
  (opencode-connection--dispatch
   conn (if (equal type "message.part.delta")
            (list 'delta (plist-get props :sessionID) (plist-get props :messageID)
                  (plist-get props :partID) (plist-get props :field) (plist-get props :delta))
          (list 'event type props))))

(defmacro opencode-test-with-chat (session-id &rest body)
  "Run BODY in a chat buffer for SESSION-ID on an unopened connection `conn'."
  (declare (indent 1))
  `(let* ((conn (opencode-connection--make :url "http://127.0.0.1:1" :directory "/tmp"))
          (buf (generate-new-buffer "*opencode-chat-test*")))
     (unwind-protect
         (with-current-buffer buf
           (opencode-chat-mode)
           (opencode-chat--attach conn (list :id ,session-id :title "fixture"))
           ,@body)
       (kill-buffer buf))))

;; What an event's handlers do to the current chat: the timeline's
;; first, then the chat's.
(defun opencode-test-chat-message (info)
  "Put message INFO in the current chat's timeline and draw it."
  (opencode-timeline-put-message (opencode-chat-timeline) info)
  (opencode-chat--update-message (plist-get info :id)))

(defun opencode-test-chat-part (part)
  "Put PART in the current chat's timeline and draw it."
  (opencode-timeline-put-part (opencode-chat-timeline) part)
  (opencode-chat--update-part (plist-get part :id)))

(defun opencode-test-chat-delta (part-id field text)
  "Append TEXT to FIELD of PART-ID in the current chat's timeline, and show it."
  (opencode-timeline-append (opencode-chat-timeline) part-id field text)
  (opencode-chat--append-delta part-id field text))

(defmacro opencode-test-with-chat-on-real-server (script &rest body)
  "Run BODY with `conn', `sid' and `chat' while the mock plays SCRIPT.
`chat' is the chat buffer of the session `sid'."
  (declare (indent 1))
  `(opencode-test-with-real-server conn
     (let* ((opencode-test-mock-script ,script)
            (session (opencode-request-sync conn "POST" "/session" :body '(:title "tools")))
            (sid (plist-get session :id))
            (chat (save-window-excursion (opencode-chat-open conn session))))
       (ignore sid)
       (unwind-protect (with-current-buffer chat ,@body)
         (kill-buffer chat)))))

(defun opencode-test--prompt (chat text &optional setup)
  "Type TEXT in CHAT's prompt, run SETUP there and send it.
Wait until the server accepted it."
  (let ((prompt (with-current-buffer chat (save-window-excursion (opencode-chat-prompt)))))
    (with-current-buffer prompt
      (insert text)
      (when setup (funcall setup))
      (opencode-prompt-send)
      (should (opencode-test-wait (lambda () (= (buffer-size) 0)) 60)))
    (kill-buffer prompt)))

(defun opencode-test--list-titles ()
  "Return the session titles shown in the current list buffer."
  (save-excursion
    (goto-char (point-min))
    (let (titles)
      (while (not (eobp))
        (when-let ((id (tabulated-list-get-id)))
          (push (plist-get (opencode-sessions--get id) :title) titles))
        (forward-line 1))
      (nreverse titles))))

;;;; Captures of the real server, replayed

(defun opencode-test-capture-file (name)
  "Return the path of capture fixture NAME."
  (expand-file-name (concat "fixtures/" name) opencode-test-dir))

(defun opencode-test-capture-session (conn)
  "Return the id of the session created in replay CONN's recording."
  (cl-loop for r in (plist-get (opencode-connection-plist conn) :replay)
           when (equal (plist-get r :type) "session.created")
           return (plist-get (plist-get (plist-get r :props) :info) :id)))

(defun opencode-test-capture-stored (conn)
  "Return the last recorded reply of GET /session/ID/message in CONN's recording."
  (let ((ids nil) (last nil))
    (dolist (r (plist-get (opencode-connection-plist conn) :replay))
      (cond ((and (equal (plist-get r :out) "request")
                  (string-suffix-p "/message" (plist-get r :path))
                  (equal (plist-get r :method) "GET"))
             (push (plist-get r :id) ids))
            ((and (equal (plist-get r :in) "response") (memq (plist-get r :id) ids))
             (setq last (plist-get r :data)))))
    last))

(provide 'opencode-test-helpers)
;;; opencode-test-helpers.el ends here

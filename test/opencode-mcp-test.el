;;; opencode-mcp-test.el --- Tests of the Emacs MCP server  -*- lexical-binding: t; -*-

;;; Commentary:

;; The HTTP and JSON-RPC of the Emacs tool server
;; (opencode-mcp-transport.el) spoken to over loopback with raw requests
;; (split across packets, several in one, bad JSON, no token), the tools
;; of opencode-mcp-tools.el on a scratch project, and the whole path
;; with the real server: the mock model calls each Emacs tool by name,
;; the server calls Emacs, the chat shows the result.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-mcp)
(require 'opencode-mcp-views)
(require 'opencode-mcp-tools)

;;;; A raw HTTP client

(defun opencode-mcp-test--parse-responses (bytes)
  "Return the whole HTTP responses in BYTES as plists, and the rest.
Each is (:status N :headers ALIST :body STRING); a response with no
Content-Length runs to the end of BYTES (an event stream)."
  (let ((out nil) (done nil))
    (while (and (not done) (string-match "\r\n\r\n" bytes))
      (let* ((end (match-beginning 0))
             (lines (split-string (substring bytes 0 end) "\r\n"))
             (status (string-to-number (cadr (split-string (car lines) " "))))
             (headers (mapcar (lambda (l)
                                (when (string-match "\\`\\([^:]+\\): *\\(.*\\)\\'" l)
                                  (cons (downcase (match-string 1 l)) (match-string 2 l))))
                              (cdr lines)))
             (len (cdr (assoc "content-length" headers))))
        (if (and len (< (length bytes) (+ end 4 (string-to-number len))))
            (setq done t)
          (let ((stop (if len (+ end 4 (string-to-number len)) (length bytes))))
            (push (list :status status :headers headers
                        :body (decode-coding-string (substring bytes (+ end 4) stop) 'utf-8))
                  out)
            (setq bytes (substring bytes stop))))))
    (cons (nreverse out) bytes)))

(defun opencode-mcp-test--exchange (chunks count &optional until-closed)
  "Send CHUNKS (unibyte strings) one by one to the Emacs tool server.
Return the first COUNT responses, or, with UNTIL-CLOSED, every byte
received until the server closes, as one response list."
  (let* ((got "") (closed nil)
         (proc (make-network-process
                :name "opencode-mcp-test-client" :host "127.0.0.1"
                :service (opencode-mcp-port) :family 'ipv4 :coding 'binary :noquery t
                :filter (lambda (_p s) (setq got (concat got s)))
                :sentinel (lambda (_p _e) (setq closed t)))))
    (unwind-protect
        (progn
          (dolist (c chunks)
            (process-send-string proc c)
            ;; Each chunk arrives on its own.
            (accept-process-output nil 0.01))
          (should (opencode-test-wait
                   (lambda ()
                     (if until-closed closed
                       (>= (length (car (opencode-mcp-test--parse-responses got))) count)))
                   30))
          (car (opencode-mcp-test--parse-responses got)))
      (delete-process proc))))

(defun opencode-mcp-test--request (body &optional token headers)
  "Return the bytes of a POST /mcp request with BODY (a string).
TOKEN is the bearer token (none if nil); HEADERS more header lines."
  (let ((bytes (encode-coding-string body 'utf-8)))
    (concat "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            (if token (format "Authorization: Bearer %s\r\n" token) "")
            (mapconcat (lambda (h) (concat h "\r\n")) headers "")
            (format "Content-Length: %d\r\n\r\n" (length bytes))
            bytes)))

(defun opencode-mcp-test--rpc (method params &optional id)
  "Return the JSON text of a JSON-RPC request of METHOD with PARAMS and ID.
With ID nil, a notification."
  (json-serialize `(:jsonrpc "2.0" ,@(and id `(:id ,id)) :method ,method
                             ,@(and params `(:params ,params)))))

(defun opencode-mcp-test--json (response)
  "Return the body of RESPONSE parsed, objects as plists."
  (json-parse-string (plist-get response :body) :object-type 'plist
                     :null-object :null :false-object :false))

(defun opencode-mcp-test--events (bytes)
  "Return the data of the events in BYTES, an event stream, parsed."
  (let ((pos 0) (out nil))
    (while (string-match "^data: \\(.*\\)\n\n" bytes pos)
      (push (json-parse-string (decode-coding-string (match-string 1 bytes) 'utf-8)
                               :object-type 'plist)
            out)
      (setq pos (match-end 0)))
    (nreverse out)))

(defvar opencode-mcp-test--token nil "The token of the endpoint under test.")
(defvar opencode-mcp-test--root nil "The project of the endpoint under test.")

(defmacro opencode-mcp-test--with-endpoint (&rest body)
  "Run BODY with the Emacs tool server on, for a scratch project.
`opencode-mcp-test--token' is the token of a connection (never opened)
to that project, `opencode-mcp-test--root' its directory."
  (declare (indent 0))
  `(let* ((opencode-mcp-test--root
           (file-name-as-directory (file-truename (make-temp-file "opencode-mcp-" t))))
          (conn (opencode-connection--make
                 :url "http://127.0.0.1:1"
                 :directory (directory-file-name opencode-mcp-test--root)))
          (opencode-mcp--server nil)
          (opencode-mcp--tokens (make-hash-table :test 'equal))
          (opencode-mcp--sessions (make-hash-table :test 'equal))
          (opencode-mcp--pending (make-hash-table :test 'equal))
          (opencode-mcp-test--token nil))
     (unwind-protect
         (progn
           (opencode-mcp-start)
           (setq opencode-mcp-test--token (opencode-mcp-issue-token conn))
           ,@body)
       (opencode-mcp-stop)
       (dolist (b (buffer-list))
         (when (and (buffer-file-name b)
                    (string-prefix-p opencode-mcp-test--root (buffer-file-name b)))
           (with-current-buffer b (set-buffer-modified-p nil))
           (kill-buffer b)))
       (delete-directory opencode-mcp-test--root t))))

(defun opencode-mcp-test--call (method params &optional id)
  "Call METHOD with PARAMS (request ID, default 1) and return the parsed answer.
The answer may be JSON or an event stream (whose last event it is)."
  (let ((r (car (opencode-mcp-test--exchange
                 (list (opencode-mcp-test--request (opencode-mcp-test--rpc method params (or id 1))
                                                   opencode-mcp-test--token '("Connection: close")))
                 1 t))))
    (if (string-prefix-p "text/event-stream" (or (cdr (assoc "content-type" (plist-get r :headers))) ""))
        (car (last (opencode-mcp-test--events (plist-get r :body))))
      (opencode-mcp-test--json r))))

(defun opencode-mcp-test--tool (name args)
  "Call tool NAME with ARGS (a plist); return (TEXT . ERRORP)."
  (let ((result (plist-get (opencode-mcp-test--call
                            "tools/call" `(:name ,name :arguments ,(or args (make-hash-table))))
                           :result)))
    (cons (plist-get (aref (plist-get result :content) 0) :text)
          (eq (plist-get result :isError) t))))

(defun opencode-mcp-test--write (name text)
  "Write TEXT to file NAME of the project under test; return its name."
  (let ((file (expand-file-name name opencode-mcp-test--root)))
    (make-directory (file-name-directory file) t)
    (with-temp-file file (insert text))
    file))

;;;; The HTTP and JSON-RPC layer

(ert-deftest opencode-mcp/initialize-list-and-notifications ()
  "initialize gives a session id; notifications get 202; GET 405; tools/list the allowed tools."
  (opencode-mcp-test--with-endpoint
    (let* ((init (car (opencode-mcp-test--exchange
                       (list (opencode-mcp-test--request
                              (opencode-mcp-test--rpc
                               "initialize" '(:protocolVersion "2025-06-18" :capabilities (:roots nil)
                                                               :clientInfo (:name "t" :version "1"))
                               0)
                              opencode-mcp-test--token))
                       1)))
           (sid (cdr (assoc "mcp-session-id" (plist-get init :headers))))
           (result (plist-get (opencode-mcp-test--json init) :result)))
      (should (= (plist-get init :status) 200))
      (should (stringp sid))
      (should (equal (plist-get result :protocolVersion) "2025-06-18"))
      (should (plist-get (plist-get result :capabilities) :tools))
      ;; An unknown version is answered with ours.
      (should (equal (plist-get (plist-get (opencode-mcp-test--call
                                            "initialize" '(:protocolVersion "1999-01-01"))
                                           :result)
                                :protocolVersion)
                     (car opencode-mcp-protocol-versions)))
      (let ((rs (opencode-mcp-test--exchange
                 (list (opencode-mcp-test--request
                        (opencode-mcp-test--rpc "notifications/initialized" nil)
                        opencode-mcp-test--token (list (concat "Mcp-Session-Id: " sid)))
                       (format "GET /mcp HTTP/1.1\r\nAuthorization: Bearer %s\r\nMcp-Session-Id: %s\r\nAccept: text/event-stream\r\n\r\n"
                               opencode-mcp-test--token sid)
                       (opencode-mcp-test--request
                        (opencode-mcp-test--rpc "tools/list" nil 2)
                        opencode-mcp-test--token (list (concat "Mcp-Session-Id: " sid)
                                                       "MCP-Protocol-Version: 2025-06-18")))
                 3)))
        (should (equal (mapcar (lambda (r) (plist-get r :status)) rs) '(202 405 200)))
        (should (equal (plist-get (car rs) :body) ""))
        (let ((names (mapcar (lambda (tl) (plist-get tl :name))
                             (plist-get (plist-get (opencode-mcp-test--json (nth 2 rs)) :result)
                                        :tools))))
          (should (equal names opencode-mcp-allowed-tools))
          (should-not (member "propose_change" names))))
      ;; A session id this server never gave: 404, as the transport says.
      (should (= 404 (plist-get (car (opencode-mcp-test--exchange
                                      (list (opencode-mcp-test--request
                                             (opencode-mcp-test--rpc "ping" nil 3)
                                             opencode-mcp-test--token '("Mcp-Session-Id: nope")))
                                      1))
                                :status))))))

(ert-deftest opencode-mcp/errors ()
  "Bad JSON, an unknown method, an unknown or refused tool: JSON-RPC errors."
  (opencode-mcp-test--with-endpoint
    (let ((r (car (opencode-mcp-test--exchange
                   (list (opencode-mcp-test--request "{\"jsonrpc\": \"2.0\", \"id\": 1,"
                                                     opencode-mcp-test--token))
                   1))))
      (should (= (plist-get r :status) 400))
      (should (= (plist-get (plist-get (opencode-mcp-test--json r) :error) :code) -32700)))
    (let ((answer (opencode-mcp-test--call "resources/list" nil 7)))
      (should (= (plist-get answer :id) 7))
      (should (= (plist-get (plist-get answer :error) :code) -32601)))
    (should (= (plist-get (plist-get (opencode-mcp-test--call "tools/call" '(:name "eval" :arguments (:form "(kill-emacs)")))
                                     :error)
                          :code)
               -32602))
    ;; A tool the user did not allow is as unknown as one that does not exist.
    (should (= (plist-get (plist-get (opencode-mcp-test--call "tools/call" '(:name "open_file" :arguments (:path "x")))
                                     :error)
                          :code)
               -32602))
    ;; Both refusals are logged.
    (with-current-buffer "*opencode-log*"
      (should (string-match-p "Emacs tool eval (form=(kill-emacs)) for .*: refused, unknown"
                              (buffer-string)))
      (should (string-match-p "Emacs tool open_file (x) for .*: refused, not allowed"
                              (buffer-string))))
    ;; A batch: answers in one array, the notification left out.
    (let ((answers (opencode-mcp-test--json
                    (car (opencode-mcp-test--exchange
                          (list (opencode-mcp-test--request
                                 (format "[%s,%s,%s]" (opencode-mcp-test--rpc "ping" nil 1)
                                         (opencode-mcp-test--rpc "notifications/initialized" nil)
                                         (opencode-mcp-test--rpc "nope" nil 2))
                                 opencode-mcp-test--token))
                          1)))))
      (should (= (length answers) 2))
      (should (equal (plist-get (aref answers 0) :result) nil))
      (should (= (plist-get (plist-get (aref answers 1) :error) :code) -32601)))))

(ert-deftest opencode-mcp/token ()
  "No token, a wrong one, another scheme: 401 with nothing else; a web page's Origin: 403."
  (opencode-mcp-test--with-endpoint
    (dolist (token (list nil "0123abcd" (concat opencode-mcp-test--token "0")))
      (let ((r (car (opencode-mcp-test--exchange
                     (list (opencode-mcp-test--request (opencode-mcp-test--rpc "tools/list" nil 1) token))
                     1))))
        (should (= (plist-get r :status) 401))
        (should (equal (plist-get r :body) ""))
        (should-not (assoc "content-type" (plist-get r :headers)))))
    (let ((r (car (opencode-mcp-test--exchange
                   (list (concat "GET /anything HTTP/1.1\r\nAuthorization: Basic "
                                 (base64-encode-string (concat "opencode:" opencode-mcp-test--token) t)
                                 "\r\n\r\n"))
                   1))))
      (should (= (plist-get r :status) 401)))
    (let ((r (car (opencode-mcp-test--exchange
                   (list (opencode-mcp-test--request (opencode-mcp-test--rpc "tools/list" nil 1)
                                                     opencode-mcp-test--token
                                                     '("Origin: http://evil.example")))
                   1))))
      (should (= (plist-get r :status) 403)))
    ;; After the token is revoked, it is refused too.
    (let ((conn (gethash opencode-mcp-test--token opencode-mcp--tokens)))
      (opencode-mcp-issue-token conn)
      (should (= 401 (plist-get (car (opencode-mcp-test--exchange
                                      (list (opencode-mcp-test--request
                                             (opencode-mcp-test--rpc "ping" nil 1)
                                             opencode-mcp-test--token))
                                      1))
                                :status))))))

(ert-deftest opencode-mcp/split-packets ()
  "Requests cut anywhere, and several in one packet, are each answered, in order."
  (opencode-mcp-test--with-endpoint
    (let* ((one (opencode-mcp-test--request (opencode-mcp-test--rpc "ping" nil 1)
                                            opencode-mcp-test--token))
           (two (opencode-mcp-test--request (opencode-mcp-test--rpc "tools/list" nil 2)
                                            opencode-mcp-test--token))
           (three (opencode-mcp-test--request (opencode-mcp-test--rpc "ping" nil 3)
                                              opencode-mcp-test--token '("Connection: close"))))
      (dolist (size '(1 7 50))
        (let* ((bytes (concat one two))
               (chunks (cl-loop for i from 0 below (length bytes) by size
                                collect (substring bytes i (min (length bytes) (+ i size)))))
               (rs (opencode-mcp-test--exchange chunks 2)))
          (should (equal (mapcar (lambda (r) (plist-get (opencode-mcp-test--json r) :id)) rs)
                         '(1 2)))))
      ;; Three in one packet, the last asking to close: all answered, then closed.
      (let ((rs (opencode-mcp-test--exchange (list (concat one two three)) 3 t)))
        (should (equal (mapcar (lambda (r) (plist-get (opencode-mcp-test--json r) :id)) rs)
                       '(1 2 3)))
        (should (equal (cdr (assoc "connection" (plist-get (nth 2 rs) :headers))) "close"))))
    ;; Not HTTP: 401 and closed without a token; with one, 400 and closed.
    (should (= 401 (plist-get (car (opencode-mcp-test--exchange (list "HELLO\r\n\r\n") 1 t))
                              :status)))
    (should (= 400 (plist-get (car (opencode-mcp-test--exchange
                                    (list (format "HELLO\r\nAuthorization: Bearer %s\r\n\r\n"
                                                  opencode-mcp-test--token))
                                    1 t))
                              :status)))))

(ert-deftest opencode-mcp/token-first ()
  "The token is checked before anything else and before the body is read.
Without one, whatever the request (not HTTP, chunked, a huge body not
sent yet), the answer is 401 at once, and nothing more on that
connection; with one, a body too large is a clear 413 at once.  Both
are logged."
  (opencode-mcp-test--with-endpoint
    (dolist (head '("HELLO\r\n\r\n"
                    "POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "POST /mcp HTTP/1.1\r\nContent-Length: x\r\n\r\n"
                    "POST /mcp HTTP/1.1\r\nContent-Length: 8000000\r\n\r\n"
                    "POST /mcp HTTP/1.1\r\nBad header\r\nAuthorization: Bearer 00\r\n\r\n"))
      ;; What follows the head, another request in the same packet, is not answered.
      (let ((rs (opencode-mcp-test--exchange
                 (list (concat head (opencode-mcp-test--request (opencode-mcp-test--rpc "ping" nil 1)
                                                                opencode-mcp-test--token)))
                 1 t)))
        (should (equal (mapcar (lambda (r) (plist-get r :status)) rs) '(401)))
        (should (equal (plist-get (car rs) :body) ""))))
    ;; A head too long, with no token: 401, not 431.
    (should (= 401 (plist-get (car (opencode-mcp-test--exchange
                                    (list (concat "GET /mcp HTTP/1.1\r\nX: "
                                                  (make-string 70000 ?a)))
                                    1 t))
                              :status)))
    (with-current-buffer "*opencode-log*"
      (should (string-match-p "refused a request (401): POST /mcp HTTP/1.1 (no token)"
                              (buffer-string)))
      (should (string-match-p "refused a request (401): POST /mcp HTTP/1.1 (an unknown token)"
                              (buffer-string))))
    ;; With the token, a body over the limit is refused before it is sent.
    (let ((r (car (opencode-mcp-test--exchange
                   (list (format "POST /mcp HTTP/1.1\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n"
                                 opencode-mcp-test--token (1+ opencode-mcp--max-body)))
                   1 t))))
      (should (= (plist-get r :status) 413))
      (should (string-match-p "Request body too large: [0-9]+ bytes, at most [0-9]+"
                              (plist-get (plist-get (opencode-mcp-test--json r) :error) :message))))))

;;;; The tools

(ert-deftest opencode-mcp/outside-the-project ()
  "Paths out of the project (.., absolute, ~, a symlink out, remote) are tool errors."
  (opencode-mcp-test--with-endpoint
    (let ((outside (make-temp-file "opencode-mcp-outside")))
      (unwind-protect
          (progn
            (make-symbolic-link outside (expand-file-name "link" opencode-mcp-test--root))
            (opencode-mcp-test--write "in.txt" "inside\n")
            (dolist (path (list "../x" outside "~/.bashrc" "link" "sub/../../x"
                                "/ssh:host:/etc/passwd" (concat opencode-mcp-test--root "../x")))
              (let ((r (opencode-mcp-test--tool "read_buffer" `(:path ,path))))
                (should (cdr r))
                (should (string-match-p "outside the project" (car r)))))
            (should-not (cdr (opencode-mcp-test--tool "read_buffer" '(:path "sub/../in.txt"))))
            (let ((r (opencode-mcp-test--tool "read_buffer" '(:path "missing.txt"))))
              (should (cdr r))
              (should (string-match-p "No such file" (car r)))))
        (delete-file outside)))))

;; What a file the agent makes Emacs visit may try to run.
(defvar opencode-mcp-test--ran nil "What ran of it: symbols, newest first.")

(defconst opencode-mcp-test--evil
  (concat ";; -*- mode: opencode-mcp-test-evil -*-\n"
          "(defun opencode-mcp-test-evil-fn () 1)\n"
          ";; Local Variables:\n"
          ";; eval: (push 'eval opencode-mcp-test--ran)\n"
          ";; End:\n")
  "A file that asks for a mode by cookie and for Lisp by `eval:'.")

(ert-deftest opencode-mcp/visits-run-nothing ()
  "Files visited for the agent run nothing they, or their directory, ask for.
With `enable-local-variables' :all, a file with a -*- mode: cookie and
an `eval:' local variable, and a .dir-locals.el with an `eval': imenu,
xref (whose backend visits the defining file itself), a proposed
change to it and its acceptance run none of them, nor the mode's hooks
or `find-file-hook', nor ask about the file's size; the buffers visited
only for the agent are gone after, one the user had open stays.
open_file, for the user, runs the mode's hooks but still no local
variable."
  (let ((opencode-mcp-allowed-tools (append '("open_file" "propose_change") opencode-mcp-allowed-tools))
        (enable-local-variables :all)
        (large-file-warning-threshold 10)
        (opencode-mcp-test--ran nil)
        (emacs-lisp-mode-hook (list (lambda () (push 'mode-hook opencode-mcp-test--ran))))
        (find-file-hook (list (lambda () (push 'find-file-hook opencode-mcp-test--ran)))))
    (cl-letf (((symbol-function 'opencode-mcp-test-evil-mode)
               (lambda () (push 'cookie-mode opencode-mcp-test--ran) (fundamental-mode)))
              ((symbol-function 'files--ask-user-about-large-file)
               (lambda (&rest _) (push 'asked-size opencode-mcp-test--ran) nil)))
      (opencode-mcp-test--with-endpoint
        (opencode-mcp-test--write ".dir-locals.el"
                                  "((nil . ((eval . (push 'dir-locals opencode-mcp-test--ran)))))\n")
        (let ((evil (opencode-mcp-test--write "evil.el" opencode-mcp-test--evil))
              (user (opencode-mcp-test--write "user.el" "(opencode-mcp-test-evil-fn)\n"))
              (kept (find-file-noselect (opencode-mcp-test--write "kept.el" "(defun kept () 1)\n"))))
          (setq opencode-mcp-test--ran nil)
          (load evil nil t)               ; For xref: the function and its file.
          (let ((r (car (opencode-mcp-test--tool "imenu" '(:path "evil.el")))))
            (should (string-match-p "(emacs-lisp-mode):\nopencode-mcp-test-evil-fn  (line 2)" r)))
          (let ((r (car (opencode-mcp-test--tool "xref_definitions"
                                                 '(:symbol "opencode-mcp-test-evil-fn" :path "user.el")))))
            (should (string-match-p "^evil\\.el:2: (defun opencode-mcp-test-evil-fn)" r)))
          (should (string-match-p "kept  (line 1)" (car (opencode-mcp-test--tool "imenu" '(:path "kept.el")))))
          (should-not opencode-mcp-test--ran)
          (should-not (find-buffer-visiting evil))
          (should-not (find-buffer-visiting user))
          (should (buffer-live-p kept))
          ;; The agent's proposed text: its mode by name, no cookie, no local variable.
          (let ((text (opencode-mcp-test--answer
                       (opencode-mcp-test--request
                        (opencode-mcp-test--rpc
                         "tools/call" `(:name "propose_change"
                                              :arguments (:path "evil.el"
                                                                :new_content ,(concat opencode-mcp-test--evil ";; more\n")))
                         3)
                        opencode-mcp-test--token))))
            (should (string-match-p "accepted" text)))
          (should-not opencode-mcp-test--ran)
          (should (string-match-p ";; more" (with-temp-buffer (insert-file-contents evil) (buffer-string))))
          (should-not (find-buffer-visiting evil))
          ;; open_file: the user's buffer from now on, its hooks run, no local variable.
          (save-window-excursion
            (should (string-match-p "Opened evil.el" (car (opencode-mcp-test--tool "open_file" '(:path "evil.el"))))))
          (should (memq 'mode-hook opencode-mcp-test--ran))
          (should-not (cl-intersection '(eval cookie-mode dir-locals) opencode-mcp-test--ran))
          (should (eq (buffer-local-value 'major-mode (find-buffer-visiting evil)) 'emacs-lisp-mode)))))))

(ert-deftest opencode-mcp/proposal-mode-by-name ()
  "A proposal's text gets the mode of its file's name, never what the text asks."
  (cl-letf (((symbol-function 'opencode-mcp-test-evil-mode) (lambda () (error "Called"))))
    (should (eq (opencode-mcp-tools--mode-by-name "/p/a.el") 'emacs-lisp-mode))
    (should (eq (opencode-mcp-tools--mode-by-name "/p/a.el.gz") 'emacs-lisp-mode))
    (should (eq (opencode-mcp-tools--mode-by-name "/p/a.el~") 'emacs-lisp-mode))
    (should (eq (opencode-mcp-tools--mode-by-name "/p/Makefile") 'makefile-gmake-mode))
    (should-not (opencode-mcp-tools--mode-by-name "/p/no-such-kind-of-name"))))

(ert-deftest opencode-mcp/project-files-inside ()
  "A connection whose directory is inside a larger git repository sees only its files."
  (opencode-mcp-test--with-endpoint
    (opencode-mcp-test--write "top-secret.txt" "no\n")
    (opencode-mcp-test--write "sub/inner.txt" "yes\n")
    (opencode-mcp-test--write "sub/deeper/more.txt" "yes\n")
    (opencode-mcp-test--write "subway.txt" "no\n")
    (call-process "git" nil nil nil "-C" opencode-mcp-test--root "init" "-q")
    (call-process "git" nil nil nil "-C" opencode-mcp-test--root "add" "top-secret.txt" "sub/inner.txt")
    (let* ((sub (opencode-connection--make :url "http://127.0.0.1:1"
                                           :directory (concat opencode-mcp-test--root "sub")))
           (opencode-mcp-test--token (opencode-mcp-issue-token sub))
           (r (car (opencode-mcp-test--tool "project_files" nil))))
      (should (string-match-p "\\`2 files in the project:\ndeeper/more\\.txt\ninner\\.txt\\'" r))
      (should-not (string-match-p "secret\\|subway\\|\\.\\./" r)))))

(ert-deftest opencode-mcp/read-only-tools ()
  "Each read-only tool answers from what Emacs has: unsaved text, outline, region, diagnostics, xref."
  (opencode-mcp-test--with-endpoint
    (let* ((file (opencode-mcp-test--write
                  "lib.el" ";;; lib.el --- test  -*- lexical-binding: t; -*-\n(defun opencode-mcp-test-target () 1)\n\n(defun opencode-mcp-test-caller () (opencode-mcp-test-target))\n"))
           (buf (find-file-noselect file)))
      (opencode-mcp-test--write "src/a.py" "x = 1\n")
      (call-process "git" nil nil nil "-C" opencode-mcp-test--root "init" "-q")
      (with-current-buffer buf
        (goto-char (point-max))
        (insert ";; unsaved-marker\n"))
      ;; read_buffer: the buffer's text, unsaved line included, a range.
      (let ((r (car (opencode-mcp-test--tool "read_buffer" '(:path "lib.el")))))
        (should (string-match-p "unsaved changes" r))
        (should (string-match-p "^     5\t;; unsaved-marker$" r)))
      (should (string-match-p "lines 2-2 of 5[^\n]*\n     2\t(defun opencode-mcp-test-target"
                              (car (opencode-mcp-test--tool "read_buffer" '(:path "lib.el" :start_line 2 :end_line 2)))))
      ;; imenu
      (let ((r (car (opencode-mcp-test--tool "imenu" '(:path "lib.el")))))
        (should (string-match-p "opencode-mcp-test-target  (line 2)" r))
        (should (string-match-p "opencode-mcp-test-caller  (line 4)" r)))
      ;; project_files
      (let ((r (car (opencode-mcp-test--tool "project_files" nil))))
        (should (string-match-p "^lib\\.el$" r))
        (should (string-match-p "^src/a\\.py$" r)))
      (let ((r (car (opencode-mcp-test--tool "project_files" '(:pattern "*.py")))))
        (should (string-match-p "\\`1 file matching" r))
        (should-not (string-match-p "lib\\.el" r)))
      ;; selection: the selected window's buffer, point and region.
      (save-window-excursion
        (switch-to-buffer buf)
        (goto-char (point-min))
        (forward-line 1)
        (set-mark (point))
        (forward-line 1)
        (setq mark-active t)
        (let ((r (car (opencode-mcp-test--tool "selection" nil))))
          (should (string-match-p "File: lib\\.el (in the selected window)" r))
          (should (string-match-p "Point: line 3:1" r))
          (should (string-match-p "Region: 2:1 to 3:1, [0-9]+ characters:\n(defun opencode-mcp-test-target" r))))
      ;; diagnostics: from a flymake backend that answers at once.
      (with-current-buffer buf
        (setq-local flymake-diagnostic-functions
                    (list (lambda (report &rest _)
                            (funcall report
                                     (let ((beg (save-excursion (goto-char (point-min))
                                                                (forward-line 1) (1+ (point)))))
                                       (list (flymake-make-diagnostic
                                              (current-buffer) beg (+ beg 5) :warning "test warning")))))))
        (flymake-mode 1)
        (flymake-start nil t))
      (should (opencode-test-wait
               (lambda () (string-match-p "lib\\.el:2:2: warning: test warning"
                                          (car (opencode-mcp-test--tool "diagnostics" nil))))))
      (should (string-match-p "1 diagnostic from flymake"
                              (car (opencode-mcp-test--tool "diagnostics" '(:path "lib.el")))))
      (should (string-match-p "not open in Emacs"
                              (car (opencode-mcp-test--tool "diagnostics" '(:path "src/a.py")))))
      ;; xref, with the elisp backend: the definition is found once loaded.
      (load file nil t)
      (let ((r (car (opencode-mcp-test--tool "xref_definitions"
                                             '(:symbol "opencode-mcp-test-target" :path "lib.el")))))
        (should (string-match-p "^lib\\.el:2: (defun opencode-mcp-test-target)" r)))
      (let ((r (car (opencode-mcp-test--tool "xref_references"
                                             '(:symbol "opencode-mcp-test-target" :path "lib.el" :line 4)))))
        (should (string-match-p "^lib\\.el:2: " r))
        (should (string-match-p "^lib\\.el:4: " r))))))

(defun opencode-mcp-test--proposal-buffer ()
  "Return the buffer of a change the agent proposes, or nil."
  (cl-find-if (lambda (b) (buffer-local-value 'opencode-mcp-tools-proposal-mode b))
              (buffer-list)))

(defmacro opencode-mcp-test--with-stream (var request &rest body)
  "Send REQUEST on a new connection; run BODY with VAR what came back so far.
VAR is a symbol bound to a function of no arguments."
  (declare (indent 2))
  (let ((bytes (make-symbol "bytes")) (proc (make-symbol "proc")))
    `(let* ((,bytes "")
            (,proc (make-network-process
                    :name "opencode-mcp-test-client" :host "127.0.0.1"
                    :service (opencode-mcp-port) :family 'ipv4 :coding 'binary :noquery t
                    :filter (lambda (_p s) (setq ,bytes (concat ,bytes s)))))
            (,var (lambda () ,bytes)))
       (unwind-protect
           (progn (process-send-string ,proc ,request) ,@body)
         (delete-process ,proc)))))

(defun opencode-mcp-test--answer (request)
  "Send REQUEST, a propose_change call, and accept the change as the user.
Return the text of the answer."
  (opencode-mcp-test--with-stream got request
    (should (opencode-test-wait #'opencode-mcp-test--proposal-buffer))
    (with-current-buffer (opencode-mcp-test--proposal-buffer)
      (opencode-mcp-tools-accept))
    (should (opencode-test-wait
             (lambda () (plist-get (car (last (opencode-mcp-test--events (funcall got)))) :result))))
    (plist-get (aref (plist-get (plist-get (car (last (opencode-mcp-test--events (funcall got))))
                                           :result)
                                :content)
                     0)
               :text)))

(ert-deftest opencode-mcp/propose-change ()
  "A proposed change waits for the user, as an event stream with progress; accepted it is saved."
  (let ((opencode-mcp-allowed-tools (append '("propose_change" "open_file") opencode-mcp-allowed-tools))
        (opencode-mcp-progress-interval 0.2))
    (opencode-mcp-test--with-endpoint
      (let ((file nil))
        (dolist (decision '(accept reject))
          (when-let ((b (and file (find-buffer-visiting file)))) (kill-buffer b))
          (setq file (opencode-mcp-test--write "a.txt" "one\ntwo\nthree\n"))
          (opencode-mcp-test--with-stream got
              (opencode-mcp-test--request
               (opencode-mcp-test--rpc
                "tools/call" '(:name "propose_change"
                                     :arguments (:path "a.txt" :old_string "two" :new_string "TWO"
                                                       :description "Shout")
                                     :_meta (:progressToken 5))
                9)
               opencode-mcp-test--token)
            (should (opencode-test-wait #'opencode-mcp-test--proposal-buffer))
            ;; While the user looks, an event stream of progress, each resetting the client's timeout.
            (should (opencode-test-wait (lambda () (opencode-mcp-test--events (funcall got)))))
            (should (string-match-p "\\`HTTP/1.1 200 OK\r\nContent-Type: text/event-stream" (funcall got)))
            (let ((progress (car (opencode-mcp-test--events (funcall got)))))
              (should (equal (plist-get progress :method) "notifications/progress"))
              (should (equal (plist-get (plist-get progress :params) :progressToken) 5)))
            (with-current-buffer (opencode-mcp-test--proposal-buffer)
              (should (string-match-p "The agent proposes a change to a.txt:\n  Shout" (buffer-string)))
              (should (string-match-p "^-two\n\\+TWO$" (buffer-string)))
              (if (eq decision 'accept)
                  (opencode-mcp-tools-accept)
                (opencode-mcp-tools-reject "not now")))
            (should (opencode-test-wait
                     (lambda () (plist-get (car (last (opencode-mcp-test--events (funcall got)))) :result))))
            (let ((answer (car (last (opencode-mcp-test--events (funcall got))))))
              (should (equal (plist-get answer :id) 9))
              (should (string-match-p (if (eq decision 'accept) "accepted" "rejected.*Their reason: not now")
                                      (plist-get (aref (plist-get (plist-get answer :result) :content) 0)
                                                 :text))))
            (should-not (opencode-mcp-test--proposal-buffer))
            (should (equal (with-temp-buffer (insert-file-contents file) (buffer-string))
                           (if (eq decision 'accept) "one\nTWO\nthree\n" "one\ntwo\nthree\n")))))
        ;; A change the server cancels is withdrawn, and the call answered so.
        (opencode-mcp-test--with-stream got
            (opencode-mcp-test--request
             (opencode-mcp-test--rpc "tools/call" '(:name "propose_change"
                                                          :arguments (:path "a.txt" :new_content "new\n"))
                                     11)
             opencode-mcp-test--token)
          (should (opencode-test-wait #'opencode-mcp-test--proposal-buffer))
          (opencode-mcp-test--exchange
           (list (opencode-mcp-test--request
                  (opencode-mcp-test--rpc "notifications/cancelled" '(:requestId 11))
                  opencode-mcp-test--token))
           1)
          (should-not (opencode-mcp-test--proposal-buffer))
          (should (opencode-test-wait (lambda () (opencode-mcp-test--events (funcall got)))))
          (should (string-match-p "cancelled" (format "%S" (opencode-mcp-test--events (funcall got))))))
        ;; open_file shows the file at its line.
        (save-window-excursion
          (should (string-match-p "Opened a.txt at line 3"
                                  (car (opencode-mcp-test--tool "open_file" '(:path "a.txt" :line 3)))))
          (let ((win (get-buffer-window (find-buffer-visiting file))))
            (should win)
            (should (equal (with-current-buffer (window-buffer win)
                             (save-excursion (goto-char (window-point win))
                                             (line-number-at-pos)))
                           3))))))))

(ert-deftest opencode-mcp/confirm-and-log ()
  "A call can be confirmed first; declined, it is an error; every call is logged."
  (opencode-mcp-test--with-endpoint
    (opencode-mcp-test--write "a.txt" "x\n")
    (let ((opencode-mcp-confirm '("read_buffer")) (asked nil))
      (cl-letf (((symbol-function 'y-or-n-p) (lambda (prompt) (setq asked prompt) nil)))
        (let ((r (opencode-mcp-test--tool "read_buffer" '(:path "a.txt"))))
          (should (cdr r))
          (should (string-match-p "declined" (car r)))
          (should (string-match-p "read_buffer (a.txt" asked)))))
    (with-current-buffer "*opencode-log*"
      (should (string-match-p "Emacs tool read_buffer (a.txt 1-) for .*: error: The user declined"
                              (buffer-string))))))

(ert-deftest opencode-mcp/status-lists-calls ()
  "The status view lists the last calls, newest first, refused ones too.
As many as `opencode-mcp-status-calls' are kept."
  (let ((opencode-mcp-status-calls 3)
        (opencode-emacs-tools t))
    (opencode-mcp-test--with-endpoint
      (opencode-mcp-test--write "a.txt" "x\n")
      (let ((conn (gethash opencode-mcp-test--token opencode-mcp--tokens)))
        (opencode-mcp-test--tool "read_buffer" '(:path "a.txt"))
        (opencode-mcp-test--tool "read_buffer" '(:path "missing.txt"))
        (opencode-mcp-test--call "tools/call" '(:name "eval" :arguments (:form "1")))
        (opencode-mcp-test--tool "project_files" '(:pattern "*.txt"))
        (with-temp-buffer
          (opencode-mcp-status-insert conn)
          (let ((text (buffer-string)))
            (should (string-match-p "^  Calls      3 for this project, [0-9]+ in all; the last ones, newest first:$"
                                    text))
            (should (string-match-p
                     (concat "^    [0-9:]\\{8\\}  project_files +ok +[0-9]+ ms  \\*\\.txt\n"
                             "    [0-9:]\\{8\\}  eval +refused +0 ms  form=1\n"
                             "    [0-9:]\\{8\\}  read_buffer +error +[0-9]+ ms  missing\\.txt 1-\n\\'")
                     text))))))))

;;;; In the chat

(defconst opencode-mcp-test--part
  '(:type "tool" :tool "emacs_later_tool" :id "prt_1"
          :state (:status "completed" :input (:path "x.el" :line 3) :output "the result"))
  "A part of an Emacs tool that no table names.")

(ert-deftest opencode-mcp/renderer-by-name ()
  "Any tool named as Emacs's tools are is drawn as one of them.
Whether the tools are on or off, and the tool defined or not."
  (let ((opencode-emacs-tools nil))
    (should-not (assoc "later_tool" opencode-mcp-tool-table))
    (let ((r (opencode-parts-rendered opencode-mcp-test--part)))
      (should (equal (plist-get r :heading) "Emacs later_tool x.el:3  [completed]"))
      (should (string-match-p "path: x\\.el\nline: 3\n\nthe result" (plist-get r :body))))
    ;; The server's name for them follows the option.
    (let ((opencode-mcp-server-name "my emacs"))
      (should (eq (opencode-chat-tool-renderer "my_emacs_imenu") #'opencode-mcp-render))
      (should-not (opencode-chat-tool-renderer "emacs_imenu")))
    ;; A renderer given for one tool by name still wins.
    (let ((opencode-chat-tool-renderers
           (cons (cons "emacs_later_tool" (lambda (_) '(:heading "mine" :body "")))
                 opencode-chat-tool-renderers)))
      (should (equal (plist-get (opencode-parts-rendered opencode-mcp-test--part) :heading) "mine")))))

(ert-deftest opencode-mcp/renderer-without-the-tools ()
  "An Emacs that never loaded the Emacs tools shows an old part of one as one."
  (let* ((lisp (expand-file-name "../lisp" opencode-test-dir))
         (out (with-temp-buffer
                (call-process
                 (expand-file-name invocation-name invocation-directory) nil t nil
                 "-Q" "--batch" "-L" lisp "-l" "opencode-parts"
                 "--eval" (format "(princ (format \"%%s|%%s|%%s\" (plist-get (opencode-parts-rendered '%S) :heading) (featurep 'opencode-mcp-tools) (bound-and-true-p opencode-emacs-tools)))"
                                  opencode-mcp-test--part))
                (buffer-string))))
    (should (string-match-p "^Emacs later_tool x\\.el:3  \\[completed\\]|nil|nil\\'" out))))

;;;; Registration

(ert-deftest opencode-mcp/registration ()
  "Registering posts a remote config with a fresh token; connected again, it registers again; off, it disconnects."
  (let ((opencode-emacs-tools nil)
        (opencode-connections nil)
        (opencode-mcp--server nil)
        (opencode-mcp--tokens (make-hash-table :test 'equal))
        (opencode-mcp--sessions (make-hash-table :test 'equal))
        (opencode-connection-state-functions nil)
        (kill-emacs-hook nil)
        (conn (opencode-connection--make :url "http://127.0.0.1:1" :directory "/tmp/p"))
        (sent nil))
    (cl-letf (((symbol-function 'opencode-mcp--registrable-p) (lambda (_c) t))
              ((symbol-function 'opencode-request)
               (lambda (c method path &rest args)
                 (push (list c method path (plist-get args :body)) sent)
                 (when-let ((cb (plist-get args :callback)))
                   (funcall cb '(:emacs (:status "connected")))))))
      (unwind-protect
          (progn
            (opencode-emacs-tools 1)
            (should (string-match-p "\\`http://127\\.0\\.0\\.1:[0-9]+/mcp\\'" (opencode-mcp-url)))
            (should (memq #'opencode-mcp--kill-emacs kill-emacs-hook))
            ;; Not connected yet: nothing sent.  Connected: registered.
            (should-not sent)
            (run-hook-with-args 'opencode-connection-state-functions conn 'connected nil)
            (pcase-let ((`(,c ,method ,path ,body) (car sent)))
              (should (eq c conn))
              (should (equal (list method path) '("POST" "/mcp")))
              (should (equal (plist-get body :name) "emacs"))
              (let* ((config (plist-get body :config))
                     (auth (plist-get (plist-get config :headers) :Authorization)))
                (should (equal (plist-get config :type) "remote"))
                (should (equal (plist-get config :url) (opencode-mcp-url)))
                (should (eq (plist-get config :oauth) :false))
                (should (string-match "\\`Bearer \\([0-9a-f]\\{64\\}\\)\\'" auth))
                (should (eq (gethash (match-string 1 auth) opencode-mcp--tokens) conn))))
            (should (equal (plist-get (opencode-mcp--registration conn) :status) "connected"))
            ;; Lost and connected again (a restarted server forgot it): registered again, a new token.
            (let ((old (plist-get (opencode-mcp--registration conn) :token)))
              (run-hook-with-args 'opencode-connection-state-functions conn 'disconnected "gone")
              (should (= (length sent) 1))
              (run-hook-with-args 'opencode-connection-state-functions conn 'connected nil)
              (should (= (length sent) 2))
              (should-not (gethash old opencode-mcp--tokens)))
            ;; Off: the server is told to disconnect, the token goes, the listener stops.
            (setq opencode-connections (list conn))
            (opencode-emacs-tools -1)
            (should (equal (cadr (cdar sent)) "/mcp/emacs/disconnect"))
            (should (= (hash-table-count opencode-mcp--tokens) 0))
            (should-not (opencode-mcp-url))
            (should-not opencode-connection-state-functions))
        (when opencode-emacs-tools (opencode-emacs-tools -1))))))

(ert-deftest opencode-mcp/registration-one-at-a-time ()
  "Asked to register again while a registration is on its way, Emacs waits for it.
Then it registers once more, with the newest token; the older answer
does not set the status."
  (let ((opencode-mcp--server nil)
        (opencode-mcp--tokens (make-hash-table :test 'equal))
        (opencode-mcp--sessions (make-hash-table :test 'equal))
        (conn (opencode-connection--make :url "http://127.0.0.1:1" :directory "/tmp/p"))
        (sent nil))
    (cl-letf (((symbol-function 'opencode-mcp--registrable-p) (lambda (_c) t))
              ((symbol-function 'opencode-request)
               (lambda (_c _method _path &rest args) (push args sent))))
      (unwind-protect
          (let ((auth (lambda (args) (plist-get (plist-get (plist-get (plist-get args :body) :config)
                                                           :headers)
                                                :Authorization))))
            (opencode-mcp-start)
            (opencode-mcp-register conn)
            (opencode-mcp-register conn)
            (opencode-mcp-register conn)
            (should (= (length sent) 1))
            ;; The first is answered (its token already old): one more goes, with the newest.
            (funcall (plist-get (car sent) :callback) '(:emacs (:status "failed" :error "401")))
            (should (= (length sent) 2))
            (should-not (equal (plist-get (opencode-mcp--registration conn) :status) "failed"))
            (should (equal (funcall auth (car sent))
                           (concat "Bearer " (plist-get (opencode-mcp--registration conn) :token))))
            (funcall (plist-get (car sent) :callback) '(:emacs (:status "connected")))
            (should (= (length sent) 2))
            (should (equal (plist-get (opencode-mcp--registration conn) :status) "connected")))
        (opencode-mcp-stop)
        (remhash conn opencode-mcp--registrations)))))

;;;; With the real server

(ert-deftest opencode-mcp/real-server ()
  "The server lists and calls every Emacs tool; the chat shows each call and its result."
  (let ((opencode-mcp-allowed-tools (append opencode-mcp-allowed-tools '("open_file" "propose_change")))
        (opencode-emacs-tools nil))
    (opencode-test-with-chat-on-real-server nil
      (let* ((root (file-name-as-directory (opencode-connection-directory conn)))
             (file (expand-file-name "lib.el" root)))
        (with-temp-file file
          (insert "(defun opencode-mcp-test-e2e () 1)\n(defun opencode-mcp-test-e2e-2 () (opencode-mcp-test-e2e))\n"))
        (load file nil t)
        (unwind-protect
            (let ((buf (find-file-noselect file)))
              (with-current-buffer buf
                (goto-char (point-max))
                (insert ";; unsaved-e2e\n")
                (setq-local flymake-diagnostic-functions
                            (list (lambda (report &rest _)
                                    (funcall report (list (flymake-make-diagnostic
                                                           (current-buffer) 1 7 :error "e2e error"))))))
                (flymake-mode 1)
                (flymake-start nil t))
              (opencode-emacs-tools 1)
              (should (opencode-test-wait
                       (lambda () (equal (plist-get (opencode-mcp--registration conn) :status) "connected"))
                       60))
              (should (equal (plist-get (plist-get (opencode-request-sync conn "GET" "/mcp") :emacs) :status)
                             "connected"))
              (let* ((calls `(("emacs_read_buffer" (:path "lib.el") "unsaved-e2e")
                              ("emacs_imenu" (:path "lib.el") "opencode-mcp-test-e2e  (line 1)")
                              ("emacs_project_files" (:pattern "*.el") "lib\\.el")
                              ("emacs_selection" nil "File: lib\\.el")
                              ("emacs_diagnostics" (:path "lib.el") "lib\\.el:1:1: error: e2e error")
                              ("emacs_xref_definitions" (:symbol "opencode-mcp-test-e2e" :path "lib.el") "lib\\.el:1: ")
                              ("emacs_xref_references" (:symbol "opencode-mcp-test-e2e" :path "lib.el" :line 2) "lib\\.el:2: ")
                              ("emacs_open_file" (:path "lib.el" :line 2) "Opened lib\\.el at line 2")
                              ("emacs_propose_change" (:path "lib.el" :old_string "() 1)" :new_string "() 2)") "accepted")
                              ("emacs_read_buffer" (:path "../outside") "outside the project")))
                     (opencode-test-mock-script
                      (append (mapcar (lambda (c) (append (opencode-test--tool-call (car c) (or (cadr c) (make-hash-table)))
                                                          '(:tool_calls)))
                                      calls)
                              (list '((:content "All Emacs tools called.") :stop)))))
                (save-window-excursion
                  (switch-to-buffer buf)
                  (opencode-api-session-prompt-async conn sid "Use Emacs")
                  (should (opencode-test-wait #'opencode-mcp-test--proposal-buffer 120))
                  (with-current-buffer (opencode-mcp-test--proposal-buffer)
                    (opencode-mcp-tools-accept)))
                (set-buffer chat)
                (should (opencode-test-wait
                         (lambda () (string-match-p "^All Emacs tools called\\.$" (opencode-test--visible-text)))
                         120))
                ;; The model was offered each tool under the server's name for it.
                (let ((offered (mapcar (lambda (tl) (plist-get (plist-get tl :function) :name))
                                       (plist-get (car (last opencode-test-mock-requests)) :tools))))
                  (dolist (c calls) (should (member (car c) offered))))
                ;; Each result reached the model.
                (let ((results (cl-loop for m across (plist-get (car opencode-test-mock-requests) :messages)
                                        when (equal (plist-get m :role) "tool")
                                        collect (plist-get m :content))))
                  (should (= (length results) (length calls)))
                  (cl-loop for c in calls for r in results
                           do (should (string-match-p (nth 2 c) r))))
                ;; The change was applied and saved.
                (should (string-match-p "() 2)" (with-temp-buffer (insert-file-contents file) (buffer-string))))
                ;; The chat shows each call: its heading, and folded open, input and result.
                (let ((text (opencode-test--visible-text)))
                  (should (string-match-p "Emacs read_buffer lib\\.el  \\[completed\\]" text))
                  (should (string-match-p "Emacs propose_change lib\\.el  \\[completed\\]" text))
                  (should (string-match-p "Emacs read_buffer \\.\\./outside  \\[error\\]" text))
                  (should (string-match-p "Emacs xref_references opencode-mcp-test-e2e in lib\\.el:2  \\[completed\\]"
                                          text)))
                (goto-char (point-min))
                (search-forward "Emacs imenu lib.el")
                (opencode-chat-toggle-fold)
                (should (string-match-p "path: lib\\.el\n\nOutline of lib\\.el (emacs-lisp-mode):\nopencode-mcp-test-e2e  (line 1)"
                                        (opencode-test--visible-text)))
                (should (>= (plist-get (opencode-mcp--registration conn) :calls) (length calls)))
                ;; The status view lists the calls, newest first.
                (let ((status (save-window-excursion
                                (opencode-server-status (opencode-connection-directory conn)))))
                  (unwind-protect
                      (with-current-buffer status
                        (let ((text (opencode-test--visible-text)))
                          (should (string-match-p
                                   (format "^  Calls      %d for this project, [0-9]+ in all; the last ones, newest first:\n    [0-9:]\\{8\\}  read_buffer +error +[0-9]+ ms  \\.\\./outside 1-\n    [0-9:]\\{8\\}  propose_change +ok +[0-9.]+ m?s  lib\\.el\n    [0-9:]\\{8\\}  open_file +ok +[0-9]+ ms  lib\\.el:2\n"
                                           (length calls))
                                   text))
                          (should (string-match-p "^    [0-9:]\\{8\\}  imenu +ok +[0-9]+ ms  lib\\.el$" text))))
                    (kill-buffer status)))))
          (opencode-emacs-tools -1)
          (dolist (b (buffer-list))
            (when (and (buffer-file-name b) (string-prefix-p root (buffer-file-name b)))
              (with-current-buffer b (set-buffer-modified-p nil))
              (kill-buffer b))))
        (should-not (opencode-mcp-url))))))

(defun opencode-mcp-test--server-status (conn)
  "Return the status CONN's server gives the Emacs tool server, or nil."
  (plist-get (plist-get (opencode-request-sync conn "GET" "/mcp") :emacs) :status))

(defun opencode-mcp-test--registered (conn old)
  "Wait until CONN is registered under a token other than OLD; return it.
The server must say the Emacs tool server is connected: it has
initialized and listed the tools with that token."
  (should (opencode-test-wait
           (lambda ()
             (let ((reg (opencode-mcp--registration conn)))
               (and (plist-get reg :token)
                    (not (equal (plist-get reg :token) old))
                    (equal (plist-get reg :status) "connected"))))
           90))
  (should (equal (opencode-mcp-test--server-status conn) "connected"))
  (plist-get (opencode-mcp--registration conn) :token))

(defun opencode-mcp-test--ping (token)
  "Return the HTTP status of a ping to the Emacs tool server with TOKEN."
  (let ((opencode-mcp-test--token token))
    (plist-get (car (opencode-mcp-test--exchange
                     (list (opencode-mcp-test--request (opencode-mcp-test--rpc "ping" nil 1) token))
                     1))
               :status)))

(ert-deftest opencode-mcp/real-server-lifecycle ()
  "Registered again after a reconnect and after a server restart; gone at exit.
Each time under a new token, the old one refused.  The exit hook tells
the server, which then reports the Emacs tool server disabled, stops
the listener and revokes the tokens, in well under its one second;
with two projects on a server that answers nothing, in a second in
all, not a second each."
  (let ((opencode-emacs-tools nil))
    (opencode-test-with-own-real-server conn
      (unwind-protect
          (progn
            (opencode-emacs-tools 1)
            (let* ((first (opencode-mcp-test--registered conn nil))
                   (second (progn (opencode-connection-reopen conn)
                                  (opencode-mcp-test--registered conn first))))
              (should (= (opencode-mcp-test--ping first) 401))
              (should (= (opencode-mcp-test--ping second) 200))
              ;; The server restarts on its port, forgetting Emacs; Emacs registers again.
              (should (opencode-connection-server conn))
              (opencode-server-restart)
              (let ((third (opencode-mcp-test--registered conn second)))
                (should (= (opencode-mcp-test--ping second) 401))
                (should (= (opencode-mcp-test--ping third) 200))))
            (let ((start (float-time)))
              (opencode-mcp--kill-emacs)
              (should (< (- (float-time) start) 0.8)))
            (should-not (opencode-mcp-url))
            (should (= (hash-table-count opencode-mcp--tokens) 0))
            (should-not (plist-get (opencode-mcp--registration conn) :token))
            (should (equal (opencode-mcp-test--server-status conn) "disabled"))
            ;; Two projects, and a server that answers nothing (stopped): the
            ;; servers are told all at once, so exit waits a second in all.
            (opencode-emacs-tools -1)
            (let ((other (expand-file-name "other" root)))
              (make-directory other t)
              (call-process "git" nil nil nil "-C" other "init" "-q")
              (copy-file (expand-file-name "opencode.json" project)
                         (expand-file-name "opencode.json" other))
              (let ((conn2 (opencode-connect other))
                    (proc (opencode-server-process (opencode-connection-server conn))))
                (should (opencode-test-wait
                         (lambda () (eq (opencode-connection-state conn2) 'connected)) 60))
                (opencode-emacs-tools 1)
                (opencode-mcp-test--registered conn nil)
                (opencode-mcp-test--registered conn2 nil)
                (signal-process proc 'SIGSTOP)
                (unwind-protect
                    (let ((start (float-time)))
                      (opencode-mcp--kill-emacs)
                      (should (< (- (float-time) start) 1.6)))
                  (signal-process proc 'SIGCONT))
                (should-not (opencode-mcp-url)))))
        (opencode-emacs-tools -1)))))

(provide 'opencode-mcp-test)
;;; opencode-mcp-test.el ends here

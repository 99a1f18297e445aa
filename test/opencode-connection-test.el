;;; opencode-connection-test.el --- Tests of the module and connections  -*- lexical-binding: t; -*-

;;; Commentary:

;; The module against a loopback SSE server inside the test Emacs, fed
;; with a recorded stream in several chunk sizes; dropped connections,
;; malformed events, HTTP errors and refused arguments.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)

(declare-function opencode--module-drain "ext:opencode-module" (handle))
(declare-function opencode--module-request "ext:opencode-module" (handle method path body &optional timeout))
(declare-function opencode--module-parse-json "ext:opencode-module" (string))

(defun opencode-test--log-count (regexp)
  "Count lines of *opencode-log* matching REGEXP."
  (with-current-buffer (get-buffer-create "*opencode-log*")
    (count-matches regexp (point-min) (point-max))))

(defun opencode-test--replay (fixture chunk &optional until)
  "Replay FIXTURE in pieces of CHUNK bytes to a new connection.
Collect (TYPE . PROPS) of every event until UNTIL (a predicate on the
list, newest first) holds; return the list oldest first, and the
connection states seen, as (EVENTS . STATES)."
  (let* ((bytes (opencode-test-fixture fixture))
         (server (opencode-test-http-start
                  (lambda (proc _method path _headers _body)
                    (if (string-prefix-p "/event" path)
                        (progn
                          (process-send-string
                           proc "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
                          (opencode-test-send-chunked proc bytes chunk))
                      (opencode-test-respond proc "404 Not Found" "text/plain" "no")))))
         (opencode-reconnect-min-delay 0.05)
         (opencode-reconnect-max-delay 0.2)
         (events nil) (states nil)
         (conn (opencode-connection-open
                (format "http://127.0.0.1:%d" (opencode-test-port server)) "/tmp"))
         (opencode-event-functions
          (list (lambda (c type props) (when (eq c conn) (push (cons type props) events)))))
         (opencode-connection-state-functions
          (list (lambda (c state _d) (when (eq c conn) (push state states))))))
    (unwind-protect
        (opencode-test-wait
         (lambda ()
           (funcall (or until
                        (lambda (evs)
                          (cl-find-if (lambda (e)
                                        (and (equal (car e) "session.status")
                                             (equal (plist-get (plist-get (cdr e) :status) :type)
                                                    "idle")))
                                      evs)))
                    events))
         30)
      (opencode-connection-close conn)
      (delete-process server))
    (cons (nreverse events) (nreverse states))))

(defun opencode-test--delta-text (events part)
  "Concatenate the deltas of PART in EVENTS."
  (mapconcat (lambda (e) (plist-get (cdr e) :delta))
             (cl-remove-if-not (lambda (e) (and (equal (car e) "message.part.delta")
                                                (equal (plist-get (cdr e) :partID) part)))
                               events)
             ""))

(defconst opencode-test--expected-text
  (concat (mapconcat (lambda (i) (format "tok%d é中😀 " i)) (number-sequence 0 49) "")
          "END"))

(ert-deftest opencode-connection/replay-chunk-sizes ()
  "The recorded stream gives the same events in every chunk size."
  (dolist (chunk '(1 7 400 8192))
    (let* ((warnings-before (opencode-test--log-count "malformed event skipped"))
           (result (opencode-test--replay "stream-basic.sse" chunk))
           (events (car result))
           (types (delete-dups (mapcar #'car events))))
      (ert-info ((format "chunk size %d" chunk))
        (should (equal (car types) "server.connected"))
        (should (equal types '("server.connected" "session.created" "session.status"
                               "message.updated" "message.part.updated"
                               "message.part.delta" "future.unknown.type")))
        (should (equal (opencode-test--delta-text events "prt_r")
                       (mapconcat (lambda (i) (format "think%d " i)) (number-sequence 0 9) "")))
        (should (equal (opencode-test--delta-text events "prt_t") opencode-test--expected-text))
        ;; Deltas are merged: never more events than the stream had.
        (should (<= (cl-count "message.part.delta" events :key #'car :test #'equal) 61))
        ;; Unknown types pass through with their data.
        (should (equal (plist-get (cdr (assoc "future.unknown.type" events)) :anything)
                       [1 :null :false t 1.5]))
        ;; The broken JSON and the invalid UTF-8 event were logged and skipped.
        (should (>= (- (opencode-test--log-count "malformed event skipped") warnings-before) 2))
        (should (equal (seq-take (cdr result) 2) '(connecting connected)))))))

(ert-deftest opencode-connection/reconnects-after-drop ()
  "A stream the server closes is reopened, with backoff, and events go on."
  (let* ((result (opencode-test--replay
                  "stream-basic.sse" 8192
                  (lambda (evs) (>= (cl-count "server.connected" evs :key #'car :test #'equal) 3))))
         (states (cdr result)))
    (should (>= (cl-count "server.connected" (car result) :key #'car :test #'equal) 3))
    (should (equal (seq-take states 6)
                   '(connecting connected disconnected connecting connected disconnected)))))

(ert-deftest opencode-connection/parse-json-matches-emacs ()
  "The module's JSON objects are what `json-parse-string' gives."
  (opencode-module-ensure)
  (dolist (s '("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"é\"},\"e\":-2.5}"
               "[]" "{}" "[{\"k\":{}}]" "12345678901"))
    (should (equal (opencode--module-parse-json s)
                   (json-parse-string s :object-type 'plist :null-object :null
                                      :false-object :false))))
  ;; NUL, which Emacs's own parser refuses, is kept.
  (should (equal (opencode--module-parse-json "\"x\\u0000y\"") "x\0y"))
  (should-error (opencode--module-parse-json "{\"a\":") :type 'opencode-module-error)
  (should-error (opencode--module-parse-json (decode-coding-string "\"\xff\"" 'binary))
                :type 'opencode-module-error))

(ert-deftest opencode-connection/requests-and-errors ()
  "Replies, HTTP errors, non-JSON bodies and timeouts reach Lisp typed."
  (let* ((server (opencode-test-http-start
                  (lambda (proc method path headers body)
                    (pcase path
                      ((pred (string-prefix-p "/ok"))
                       (opencode-test-respond
                        proc "200 OK" "application/json"
                        (json-serialize `(:method ,method :path ,path :body ,body
                                                  :auth ,(or (cdr (assoc "authorization" headers)) "")))))
                      ((pred (string-prefix-p "/boom"))
                       (opencode-test-respond proc "500 Internal Server Error" "application/json"
                                              "{\"name\":\"UnknownError\",\"data\":{\"message\":\"it broke\"}}"))
                      ((pred (string-prefix-p "/html"))
                       (opencode-test-respond proc "200 OK" "text/html" "<html>"))
                      ((pred (string-prefix-p "/slow")) nil)
                      (_ (opencode-test-respond proc "404 Not Found" "text/plain" "nope"))))))
         (conn (opencode-connection-open
                (format "http://127.0.0.1:%d" (opencode-test-port server)) "/tmp/my dir"
                :user "opencode" :password "pw")))
    (unwind-protect
        (progn
          (let ((r (opencode-request-sync conn "POST" "/ok" :body '(:x "é" :y [1 2]))))
            (should (equal (plist-get r :method) "POST"))
            (should (equal (plist-get r :path) "/ok?directory=%2Ftmp%2Fmy%20dir"))
            (should (equal (json-parse-string (plist-get r :body) :object-type 'plist)
                           '(:x "é" :y [1 2])))
            (should (equal (plist-get r :auth)
                           (concat "Basic " (base64-encode-string "opencode:pw")))))
          (let ((err (should-error (opencode-request-sync conn "GET" "/boom")
                                   :type 'opencode-http-error)))
            (should (equal (format "It broke (HTTP 500 from %s)." (opencode-connection-url conn))
                           (cadr err)))
            (should (equal (opencode-error-text err) (cadr err)))
            (should (equal (nth 2 err) 500)))
          (should-error (opencode-request-sync conn "GET" "/html") :type 'opencode-json-error)
          (should-error (opencode-request-sync conn "GET" "/slow" :timeout 0.3)
                        :type 'opencode-timeout)
          (should-error (opencode-request conn "GET" "/a\nb") :type 'opencode-module-error)
          (should-error (opencode-request conn "TRACE" "/a") :type 'opencode-module-error)
          ;; Async: the callback runs later, from the pipe's filter.
          (let ((got nil))
            (opencode-request conn "GET" (opencode--path "ok" "ses/../x")
                              :callback (lambda (d) (setq got d)))
            (should (opencode-test-wait (lambda () got) 10))
            (should (equal (plist-get got :path) "/ok/ses%2F..%2Fx?directory=%2Ftmp%2Fmy%20dir")))
          (should (zerop (hash-table-count (opencode-connection-callbacks conn)))))
      (opencode-connection-close conn)
      (delete-process server))))

(ert-deftest opencode-connection/wrong-password-and-dead-server ()
  "A 401 and a refused port give clear states; closing is clean."
  (let* ((server (opencode-test-http-start
                  (lambda (proc _m _p _h _b)
                    (opencode-test-respond proc "401 Unauthorized" "text/plain" "Unauthorized"))))
         (opencode-reconnect-min-delay 0.05)
         (opencode-reconnect-max-delay 0.1)
         (conn (opencode-connection-open
                (format "http://127.0.0.1:%d" (opencode-test-port server)) "/tmp")))
    (unwind-protect
        (progn
          (should (opencode-test-wait
                   (lambda () (opencode-connection--drain conn)
                     (eq (opencode-connection-state conn) 'disconnected))))
          (should (equal (opencode-connection-state-detail conn)
                         (format "wrong or missing password for http://127.0.0.1:%d \
(auth-source or OPENCODE_SERVER_PASSWORD)" (opencode-test-port server))))
          (should (opencode-connection-auth-failed-p conn))
          ;; Retrying cannot help: the stream stays down, with no countdown.
          (should-not (opencode-connection-retry-at conn))
          (should-not (opencode-connection-live-p conn))
          (should (string-prefix-p "disconnected: wrong or missing password"
                                   (opencode-connection-state-text conn)))
          ;; A request says why, not "not a handle".
          (should (string-match-p "wrong or missing password"
                                  (cadr (should-error (opencode-request-sync conn "GET" "/x")
                                                      :type 'opencode-error)))))
      (opencode-connection-close conn)
      (delete-process server)))
  (let ((conn (opencode-connection-open "http://127.0.0.1:1" "/tmp")))
    (unwind-protect
        (progn
          (should-error (opencode-request-sync conn "GET" "/x") :type 'opencode-curl-error)
          (should (opencode-test-wait
                   (lambda () (eq (opencode-connection-state conn) 'disconnected)))))
      (should (null (opencode-connection-close conn)))
      (should-not (opencode-connection-live-p conn))
      (should-error (opencode--module-request (opencode-connection-handle conn) "GET" "/" nil)
                    :type 'opencode-module-error)
      (should-error (opencode--module-drain 42) :type 'opencode-module-error))))

(ert-deftest opencode-connection/password-asked-and-replaced ()
  "A refused password is asked for again and the same connection goes on with it."
  (let* ((good (concat "Basic " (base64-encode-string "opencode:right-one")))
         (events 0)
         (server (opencode-test-http-start
                  (lambda (proc _m path headers _b)
                    (cond ((not (equal (cdr (assoc "authorization" headers)) good))
                           (opencode-test-respond proc "401 Unauthorized" "text/plain" ""))
                          ((string-prefix-p "/event" path)
                           (cl-incf events)
                           (process-send-string
                            proc (concat "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
                                         "data: {\"type\":\"server.connected\",\"properties\":{}}\n\n")))
                          (t (opencode-test-respond proc "200 OK" "application/json" "{\"ok\":true}"))))))
         (asked nil)
         (opencode-password-function (lambda (url) (push url asked) "right-one"))
         (conn (opencode-connection-open
                (format "http://127.0.0.1:%d" (opencode-test-port server)) "/tmp"
                :user "opencode" :password "wrong")))
    (unwind-protect
        (progn
          (should (opencode-test-wait (lambda () (eq (opencode-connection-state conn) 'connected))))
          (should (equal asked (list (opencode-connection-url conn))))
          (should (= events 1))
          ;; The same object, now with the password that works.
          (should (memq conn opencode-connections))
          (should (equal (opencode-request-sync conn "GET" "/x") '(:ok t))))
      (opencode-connection-close conn)
      (delete-process server))))

(ert-deftest opencode-connection/credentials-never-shown ()
  "The password reaches the server as basic auth, never a log, buffer or message."
  (let* ((secret "pw-SECRET-7f3a")
         (seen-auth nil)
         (refuse nil)
         (server (opencode-test-http-start
                  (lambda (proc _m _path headers _b)
                    (push (cdr (assoc "authorization" headers)) seen-auth)
                    (if refuse
                        (opencode-test-respond proc "401 Unauthorized" "text/plain" "Unauthorized")
                      (opencode-test-respond proc "500 Internal Server Error" "application/json"
                                             "{\"name\":\"UnknownError\",\"data\":{\"message\":\"boom\"}}")))))
         (opencode-password-function nil)
         (opencode-reconnect-min-delay 0.05)
         (opencode-reconnect-max-delay 0.1)
         (messages nil)
         (conn (opencode-connection-open
                (format "http://127.0.0.1:%d" (opencode-test-port server)) "/tmp"
                :user "opencode" :password secret)))
    (unwind-protect
        (cl-letf (((symbol-function 'message)
                   (lambda (fmt &rest args) (push (apply #'format-message fmt args) messages))))
          (should (opencode-test-wait
                   (lambda () (eq (opencode-connection-state conn) 'disconnected))))
          (opencode-request conn "GET" "/x")
          (should-error (opencode-request-sync conn "GET" "/y") :type 'opencode-http-error)
          (should (opencode-test-wait (lambda () (>= (length messages) 1))))
          (should (member (concat "Basic " (base64-encode-string (concat "opencode:" secret)))
                          seen-auth))
          ;; Then the server refuses the password: the stream stops, says why.
          (setq refuse t)
          (should (opencode-test-wait (lambda () (opencode-connection-auth-failed-p conn))))
          (should-error (opencode-request-sync conn "GET" "/z") :type 'opencode-error)
          (dolist (text (append messages
                                (list (opencode-connection-state-detail conn)
                                      (with-current-buffer (get-buffer-create "*opencode-log*")
                                        (buffer-string))
                                      (format "%S" conn))))
            (should-not (string-match-p (regexp-quote secret) (or text "")))))
      (opencode-connection-close conn)
      (delete-process server))))

(provide 'opencode-connection-test)
;;; opencode-connection-test.el ends here

;;;; Bad input and dead servers

(defun opencode-test--stream-server (send)
  "Start a server whose /event answers 200 then calls SEND with the process."
  (opencode-test-http-start
   (lambda (proc _method path _headers _body)
     (if (string-prefix-p "/event" path)
         (progn
           (process-send-string
            proc "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
           (funcall send proc))
       (opencode-test-respond proc "404 Not Found" "text/plain" "no")))))

(defmacro opencode-test--with-stream (send &rest body)
  "Open a connection to a stream server using SEND; run BODY with `conn', `events'."
  (declare (indent 1))
  `(let* ((server (opencode-test--stream-server ,send))
          (opencode-reconnect-min-delay 0.05)
          (opencode-reconnect-max-delay 0.2)
          (events nil)
          (conn (opencode-connection-open
                 (format "http://127.0.0.1:%d" (opencode-test-port server)) "/tmp"))
          (opencode-event-functions
           (list (lambda (c type props) (when (eq c conn) (push (cons type props) events))))))
     (unwind-protect (progn ,@body)
       (opencode-connection-close conn)
       (delete-process server))))

(ert-deftest opencode-connection/huge-event-skipped ()
  "An event over 16 MiB is logged and skipped; the next one arrives."
  (let ((before (opencode-test--log-count "over the size limit")))
    (opencode-test--with-stream
        (lambda (proc)
          (process-send-string proc "data: {\"type\":\"big\",\"properties\":{\"x\":\"")
          (let ((chunk (make-string (* 1024 1024) ?x)))
            (dotimes (_ 17) (process-send-string proc chunk)))
          (process-send-string proc "\"}}\n\ndata: {\"type\":\"after.big\",\"properties\":{}}\n\n"))
      (should (opencode-test-wait (lambda () (assoc "after.big" events)) 30))
      (should-not (assoc "big" events))
      (should (= (1+ before) (opencode-test--log-count "over the size limit"))))))

(ert-deftest opencode-connection/cut-mid-event ()
  "A stream cut inside an event is logged, dropped and reopened."
  (let ((before (opencode-test--log-count "stream cut in the middle")))
    (opencode-test--with-stream
        (lambda (proc)
          (process-send-string proc "data: {\"type\":\"whole\",\"properties\":{}}\n\ndata: {\"type\":\"half")
          (delete-process proc))
      (should (opencode-test-wait
               (lambda () (>= (cl-count "whole" events :key #'car :test #'equal) 2))))
      (should-not (cl-find-if (lambda (e) (string-prefix-p "half" (car e))) events))
      (should (> (opencode-test--log-count "stream cut in the middle") before)))))

(ert-deftest opencode-connection/silent-server-is-dropped ()
  "A stream that sends nothing for the stall timeout is reconnected."
  (let ((opencode-stream-stall-timeout 1)
        (opened 0))
    (opencode-test--with-stream
        (lambda (_proc) (cl-incf opened))   ; Headers, then silence.
      (should (opencode-test-wait (lambda () (>= opened 2)) 15))
      (should (eq (opencode-connection-state conn) 'connecting)))))

(ert-deftest opencode-connection/sync-request-quits ()
  "\\[keyboard-quit] during a synchronous request cancels it."
  (let ((server (opencode-test-http-start (lambda (&rest _) nil))))  ; Never answers.
    (let ((conn (opencode-connection-open
                 (format "http://127.0.0.1:%d" (opencode-test-port server)) "/tmp")))
      (unwind-protect
          (progn
            (run-with-timer 0.3 nil (lambda () (setq quit-flag t)))
            (should (eq 'quit
                        (condition-case nil
                            (let ((inhibit-quit nil))
                              (opencode-request-sync conn "GET" "/never" :timeout 20)
                              'returned)
                          (quit 'quit))))
            (should (zerop (hash-table-count (opencode-connection-callbacks conn)))))
        (opencode-connection-close conn)
        (delete-process server)))))

(ert-deftest opencode-connection/loading-builds-nothing ()
  "Loading the package neither builds nor loads the module."
  (let ((out (with-temp-buffer
               (call-process (expand-file-name invocation-name invocation-directory)
                             nil t nil "-Q" "--batch" "-L"
                             (expand-file-name "../lisp" opencode-test-dir)
                             "-l" "opencode" "-l" "opencode-sessions"
                             "--eval" "(princ (list (fboundp 'opencode--module-open) (get-buffer \"*opencode-module-build*\")))")
               (buffer-string))))
    (should (string-match-p "(nil nil)" out))))

(ert-deftest opencode-connection/missing-headers-named ()
  "Without the C headers, the build error names the Debian packages."
  (cl-letf (((symbol-function 'opencode-module--have-library-p) (lambda (&rest _) nil)))
    (let ((err (should-error (opencode-module-compile) :type 'opencode-module-error)))
      (should (string-match-p "libjson-c-dev" (cadr err)))
      (should (string-match-p "libcurl4-openssl-dev" (cadr err)))
      (should (string-match-p "apt-get install" (cadr err))))))

;;;; TLS and credentials

(ert-deftest opencode-connection/https-checks-certificates ()
  "A self-signed certificate is refused unless `opencode-tls-insecure'."
  (let* ((dir (make-temp-file "opencode-tls-" t))
         (cert (expand-file-name "cert.pem" dir))
         (key (expand-file-name "key.pem" dir))
         (port (opencode-server-free-port))
         (proc nil))
    (unwind-protect
        (progn
          (should (eq 0 (call-process "openssl" nil nil nil "req" "-x509" "-newkey" "rsa:2048"
                                      "-nodes" "-keyout" key "-out" cert "-days" "1"
                                      "-subj" "/CN=127.0.0.1")))
          (setq proc (start-process "opencode-test-tls" nil "openssl" "s_server" "-quiet"
                                    "-accept" (format "127.0.0.1:%d" port)
                                    "-cert" cert "-key" key "-www"))
          (should (opencode-test-wait
                   (lambda () (ignore-errors
                                (delete-process
                                 (make-network-process :name "probe" :host "127.0.0.1"
                                                       :service port))
                                t))
                   10))
          (let* ((url (format "https://127.0.0.1:%d" port))
                 (conn (opencode-connection-open url "/tmp")))
            (unwind-protect
                (let ((err (should-error (opencode-request-sync conn "GET" "/x" :timeout 5)
                                         :type 'opencode-curl-error)))
                  (should (string-match-p "certificate\\|SSL" (cadr err))))
              (opencode-connection-close conn)))
          (let* ((opencode-tls-insecure t)
                 (conn (opencode-connection-open (format "https://127.0.0.1:%d" port) "/tmp")))
            (unwind-protect
                ;; The TLS handshake succeeds; s_server's page is HTML, not JSON.
                (should-error (opencode-request-sync conn "GET" "/x" :timeout 5)
                              :type 'opencode-json-error)
              (opencode-connection-close conn))))
      (when (and proc (process-live-p proc)) (delete-process proc))
      (delete-directory dir t))))

(ert-deftest opencode-connection/credentials-from-auth-source ()
  "The password comes from auth-source, else the environment."
  (let* ((netrc (make-temp-file "opencode-netrc"))
         (auth-sources (list netrc))
         (auth-source-cache-expiry nil)
         (process-environment (cons "OPENCODE_SERVER_PASSWORD" process-environment)))
    (unwind-protect
        (progn
          (with-temp-file netrc
            (insert "machine 127.0.0.1 port 4999 login alice password s3cret\n"))
          (should (equal (opencode-server-auth "http://127.0.0.1:4999")
                         '("alice" . "s3cret")))
          (should (null (opencode-server-auth "http://127.0.0.1:5000")))
          (setenv "OPENCODE_SERVER_PASSWORD" "fromenv")
          (should (equal (opencode-server-auth "http://127.0.0.1:5000")
                         '("opencode" . "fromenv"))))
      (delete-file netrc))))

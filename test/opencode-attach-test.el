;;; opencode-attach-test.el --- Attaching to servers, and keeping them  -*- lexical-binding: t; -*-

;;; Commentary:

;; Connections a user can trust and fix: attaching checks the URL
;; first and changes nothing when it is wrong; a directory has one
;; connection object for good, reopened in place; an attached server
;; (not started by this Emacs) that restarts on its port is found again
;; within about two seconds of listening.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-status)
(require 'opencode-sessions)
(require 'opencode-chat)

(defun opencode-attach-test--dead-port ()
  "Return a loopback port nothing listens on."
  (let* ((probe (make-network-process :name "dead" :server t :host "127.0.0.1"
                                      :service t :family 'ipv4 :noquery t))
         (port (process-contact probe :service)))
    (delete-process probe)
    port))

(defun opencode-attach-test--user-error (url)
  "Attach to URL and return the `user-error' message it gives."
  (cadr (should-error (cl-letf (((symbol-function 'message) #'ignore))
                        (opencode-attach url "/tmp"))
                      :type 'user-error)))

(ert-deftest opencode-attach/checks-the-url-first ()
  "A dead port, a web server that is not OpenCode, a refused password:
each is said in plain words, and the server in use stays in use."
  (let* ((web (opencode-test-http-start
               (lambda (proc _m _p _h _b)
                 (opencode-test-respond proc "404 Not Found" "text/html"
                                        "<!DOCTYPE HTML><html lang=\"en\"><body>nope</body></html>"))))
         (good (concat "Basic " (base64-encode-string "opencode:s3cret")))
         (locked (opencode-test-http-start
                  (lambda (proc _m _p headers _b)
                    (if (equal (cdr (assoc "authorization" headers)) good)
                        (opencode-test-respond proc "200 OK" "application/json"
                                               "{\"healthy\":true,\"version\":\"1.18.33\"}")
                      (opencode-test-respond proc "401 Unauthorized" "text/plain" "")))))
         (working "http://127.0.0.1:1")
         (opencode-server-url working)
         (opencode-server--given (make-hash-table :test 'equal))
         (process-environment (cons "OPENCODE_SERVER_PASSWORD" process-environment))
         (asked nil)
         (opencode-password-function nil))
    (cl-letf (((symbol-function 'auth-source-search) (lambda (&rest _) nil))
              ((symbol-function 'opencode-sessions) (lambda (&rest _) 'listed)))
      (unwind-protect
          (let ((dead (format "http://127.0.0.1:%d" (opencode-attach-test--dead-port)))
                (web-url (format "http://127.0.0.1:%d" (opencode-test-port web)))
                (locked-url (format "http://127.0.0.1:%d" (opencode-test-port locked))))
            (should (equal (opencode-attach-test--user-error dead)
                           (format "Nothing listens at %s" dead)))
            (let ((text (opencode-attach-test--user-error web-url)))
              (should (string-prefix-p (format "Not an OpenCode server at %s (HTTP 404" web-url) text))
              ;; No raw body in the message; the whole of it in the log.
              (should-not (string-match-p "DOCTYPE\\|<html" text))
              (with-current-buffer "*opencode-log*"
                (should (string-match-p "<!DOCTYPE HTML><html lang=\"en\"><body>nope" (buffer-string)))))
            (should (equal (opencode-attach-test--user-error locked-url)
                           (format "wrong or missing password for %s \
\(auth-source or OPENCODE_SERVER_PASSWORD)" locked-url)))
            (should (equal opencode-server-url working))
            ;; Asked for the password, it attaches, and remembers it.
            (let ((opencode-password-function (lambda (url) (push url asked) "s3cret")))
              (should (eq (cl-letf (((symbol-function 'message) #'ignore))
                            (opencode-attach locked-url "/tmp"))
                          'listed)))
            (should (equal asked (list locked-url)))
            (should (equal opencode-server-url locked-url))
            (should (equal (opencode-server-auth locked-url) '("opencode" . "s3cret"))))
        (delete-process web)
        (delete-process locked)))))

(defun opencode-attach-test--type (keys)
  "Run M-x opencode-attach, type KEYS at its question and RET.
Return (PROMPT CONTENTS): the question and the text it offered."
  (let ((seen nil))
    (let ((minibuffer-setup-hook
           (cons (lambda () (push (list (minibuffer-prompt) (minibuffer-contents)) seen))
                 minibuffer-setup-hook)))
      (cl-letf (((symbol-function 'message) #'ignore))
        (save-window-excursion
          (execute-kbd-macro (vconcat (kbd "M-x") "opencode-attach" (kbd "RET")
                                      keys (kbd "RET"))))))
    (car seen)))

(ert-deftest opencode-attach/a-typed-port-or-the-default ()
  "M-x opencode-attach offers the server in use as its default, not as text.
A port typed there is the port, RET alone takes the default."
  (opencode-test-with-real-server conn
    (let* ((server opencode-server--local)
           (url (opencode-server-url server))
           (port (substring url (1+ (string-match ":[0-9]+\\'" url))))
           (process-environment (cons (concat "OPENCODE_SERVER_PASSWORD="
                                              (opencode-server-password server))
                                      process-environment))
           (opencode-server-url nil))
      (ignore conn)
      ;; The default port, offered and not typed: a port typed is the port.
      (should (equal (opencode-attach-test--type port)
                     '("OpenCode server URL or port (default 4096): " "")))
      (should (equal opencode-server-url url))
      ;; Now the server in use is the default: RET alone keeps it.
      (should (equal (opencode-attach-test--type "")
                     (list (format "OpenCode server URL or port (default %s): " url) "")))
      (should (equal opencode-server-url url)))))

(ert-deftest opencode-attach/one-connection-per-directory ()
  "Closing and connecting again, or moving to another URL, keeps the object."
  (let* ((served 0)
         (server (opencode-test-http-start
                  (lambda (proc _m path _h _b)
                    (if (string-prefix-p "/event" path)
                        (progn (cl-incf served)
                               (process-send-string
                                proc (concat "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
                                             "data: {\"type\":\"server.connected\",\"properties\":{}}\n\n")))
                      (opencode-test-respond proc "200 OK" "application/json" "[]")))))
         (url (format "http://127.0.0.1:%d" (opencode-test-port server)))
         (opencode-server-url url)
         (opencode-connections nil)
         (opencode-connection--closed (make-hash-table :test 'equal :weakness 'value))
         (opencode-server--given (make-hash-table :test 'equal))
         (dir (make-temp-file "opencode-attach-" t)))
    (cl-letf (((symbol-function 'opencode-server-auth) (lambda (_) nil)))
      (unwind-protect
          (let ((conn (opencode-connect dir)))
            (should (opencode-test-wait (lambda () (eq (opencode-connection-state conn) 'connected))))
            (should (eq (opencode-connect dir) conn))
            (opencode-connection-close conn)
            (should-not (memq conn opencode-connections))
            ;; Connecting again opens the same object in place.
            (should (eq (opencode-connect dir) conn))
            (should (memq conn opencode-connections))
            (should (opencode-test-wait (lambda () (eq (opencode-connection-state conn) 'connected))))
            (should (= served 2))
            ;; Another URL: the connection moves there, still the same object.
            (let* ((other (opencode-test-http-start
                           (lambda (proc _m _p _h _b)
                             (process-send-string
                              proc (concat "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
                                           "data: {\"type\":\"server.connected\",\"properties\":{}}\n\n")))))
                   (opencode-server-url (format "http://127.0.0.1:%d" (opencode-test-port other))))
              (unwind-protect
                  (progn
                    (should (eq (opencode-connect dir) conn))
                    (should (equal (opencode-connection-url conn) opencode-server-url))
                    (should (opencode-test-wait
                             (lambda () (eq (opencode-connection-state conn) 'connected))))
                    (should (= 1 (length opencode-connections))))
                (opencode-connection-close conn)
                (delete-process other))))
        (mapc #'opencode-connection-close (copy-sequence opencode-connections))
        (delete-process server)
        (delete-directory dir t)))))

(ert-deftest opencode-attach/attached-server-restarts-on-its-port ()
  "An attached server killed and started again on its port is found again soon.
While it is down, attempts are never more than 2 s apart."
  (opencode-test-with-real-server conn
    (let* ((port (opencode-server-free-port))
           (url (format "http://127.0.0.1:%d" port))
           (password "attached-pw")
           (start (lambda () (opencode-test-serve-on-port
                               port password (opencode-connection-directory conn) "attached")))
           (listening #'opencode-test-serve-listening-p)
           (proc (funcall start))
           (list-buf nil)
           (chat nil)
           (waits nil)
           (opencode-password-function nil))
      (unwind-protect
          (progn
            (should (opencode-test-wait (lambda () (funcall listening proc)) 60))
            ;; A wrong password, and none given when asked: refused, nothing moves.
            (let ((process-environment (cons "OPENCODE_SERVER_PASSWORD=wrong" process-environment))
                  (before (opencode-connection-url conn)))
              (should (equal (cadr (should-error (opencode-attach url (opencode-connection-directory conn))
                                                 :type 'user-error))
                             (format "wrong or missing password for %s \
\(auth-source or OPENCODE_SERVER_PASSWORD)" url)))
              (should (equal (opencode-connection-url conn) before))
              (should-not opencode-server-url))
            ;; Asked for it, the right one: attached.
            (let ((process-environment (cons "OPENCODE_SERVER_PASSWORD=wrong" process-environment))
                  (opencode-password-function (lambda (_url) password)))
              (cl-letf (((symbol-function 'message) #'ignore))
                (setq list-buf (save-window-excursion
                                 (opencode-attach url (opencode-connection-directory conn))))))
            ;; The project's connection moved to the attached server.
            (should (equal (opencode-connection-url conn) url))
            (should (opencode-test-wait (lambda () (eq (opencode-connection-state conn) 'connected)) 20))
            (should-not (opencode-connection-server conn))
            ;; A chat open on it, through what follows.
            (let* ((session (opencode-api-session-create conn :title "kept" :sync t)))
              (setq chat (save-window-excursion (opencode-chat-open conn session))))
            ;; Killed, then started again on its port a few seconds later.
            (add-hook 'opencode-connection-state-functions
                      (lambda (c state _detail)
                        (when (and (eq c conn) (eq state 'disconnected)
                                   (opencode-connection-retry-at c))
                          (push (- (opencode-connection-retry-at c) (float-time)) waits))))
            (signal-process proc 'SIGKILL)
            (should (opencode-test-wait
                     (lambda () (eq (opencode-connection-state conn) 'disconnected)) 10))
            ;; Down for a while, long enough for the backoff to grow.
            (sleep-for 5)
            (setq proc (funcall start))
            (should (opencode-test-wait (lambda () (funcall listening proc)) 60))
            (let ((up (float-time)))
              (should (opencode-test-wait
                       (lambda () (eq (opencode-connection-state conn) 'connected)) 10))
              (message "Attached server found again %.2f s after it listened" (- (float-time) up))
              ;; The policy that finds it within about 2 s: however long it
              ;; was down, no wait between attempts was over the 2 s cap
              ;; (the backoff alone would have grown to 4 s and 8 s).
              (should (>= (length waits) 3))
              (should (<= (apply #'max waits) (+ opencode-reconnect-down-max-delay 0.05)))
            ;; The chat is the same buffer on the same connection, and says so.
            (should (buffer-live-p chat))
            (should (eq (opencode-chat-connection chat) conn))
            (should-not (get-buffer (concat (buffer-name chat) "<2>")))
            (with-current-buffer chat
              (should (string-match-p "kept.*idle" (opencode-chat--header-line))))))
        (when (process-live-p proc) (kill-process proc))
        (kill-buffer (process-buffer proc))
        (when (buffer-live-p list-buf) (kill-buffer list-buf))
        (when (buffer-live-p chat) (kill-buffer chat))))))

;; A chat of the first server, once its connection moved to another
;; one: it once still said `idle', and a send from it put the error's
;; Lisp data in the echo area (`…", 404, (:name "NotFoundError" …)').
(ert-deftest opencode-attach/chat-of-the-server-left ()
  "After attaching elsewhere, a chat of the first server says where it is.
Its header names both servers; a send is refused in words, the text
staying in the prompt; a send that reaches the other server gets one
sentence; attaching back finds the session again."
  (opencode-test-with-chat-on-real-server nil
    (let* ((port (opencode-server-free-port))
           (url-b (format "http://127.0.0.1:%d" port))
           (url-a (opencode-connection-url conn))
           (password-a (opencode-connection-password conn))
           (dir (opencode-connection-directory conn))
           ;; Server B keeps its sessions apart: a HOME of its own.
           (home-b (make-temp-file "opencode-home-b-" t))
           (proc (let ((process-environment
                        (append (opencode-test-scratch-home home-b)
                                process-environment)))
                   (opencode-test-serve-on-port port "pw-b" dir "server-b")))
           (opencode-password-function (lambda (url) (if (equal url url-b) "pw-b" password-a)))
           (opencode-server--given (make-hash-table :test 'equal))
           (messages nil)
           (lists nil)
           (prompt (with-current-buffer chat (save-window-excursion (opencode-chat-prompt))))
           (header (lambda () (with-current-buffer chat (opencode-chat--header-line))))
           (attach (lambda (url)
                     (push (save-window-excursion (opencode-attach url dir)) lists)
                     (should (equal (opencode-connection-url conn) url))
                     (should (opencode-test-wait
                              (lambda () (eq (opencode-connection-state conn) 'connected)) 20)))))
      (cl-letf (((symbol-function 'auth-source-search) (lambda (&rest _) nil)))
        (unwind-protect
            (progn
              (should (opencode-test-wait (lambda () (opencode-test-serve-listening-p proc)) 90))
              (should (opencode-test-wait (lambda () (string-match-p "tools.*idle" (funcall header))) 20))
              (with-current-buffer prompt (insert "keep these words"))
              (advice-add 'message :before
                          (lambda (fmt &rest args)
                            (when fmt (push (apply #'format-message fmt args) messages)))
                          '((name . opencode-test-messages)))
              ;; Attached to B: the chat's session is not there.
              (funcall attach url-b)
              (should (opencode-test-wait
                       (lambda () (string-match-p
                                   (format "session not on %s, the server in use now: it was loaded from %s: read only"
                                           (regexp-quote url-b) (regexp-quote url-a))
                                   (funcall header)))
                       20))
              (should-not (string-match-p "idle" (funcall header)))
              ;; The prompt's line too.
              (should (string-prefix-p (format "not on %s · " url-b)
                                       (with-current-buffer chat (opencode-chat-context-line))))
              (should (cl-some (lambda (m) (string-match-p
                                            (format "\\`OpenCode: session \"tools\" is not on %s"
                                                    (regexp-quote url-b))
                                            m))
                               messages))
              ;; A send is refused in words; the text stays.
              (with-current-buffer prompt
                (should (equal (cadr (should-error (opencode-prompt-send) :type 'user-error))
                               (format "Not sent: this session is not on %s, the server in use now: \
it was loaded from %s (your text stays in the prompt)" url-b url-a)))
                (should (equal (buffer-string) "keep these words")))
              ;; A send that reaches B before the chat knew: one sentence.
              (with-current-buffer chat (setq opencode-chat--missing nil))
              (setq messages nil)
              (with-current-buffer prompt (opencode-prompt-send))
              (should (opencode-test-wait
                       (lambda () (cl-some (lambda (m) (string-prefix-p "OpenCode: not sent" m)) messages))
                       20))
              (should (member (format "OpenCode: not sent (your text is kept): Session not found: %s \
\(HTTP 404 from %s)." sid url-b)
                              messages))
              (with-current-buffer prompt (should (equal (buffer-string) "keep these words")))
              (should (string-match-p "session not on" (funcall header)))
              ;; Back to A: the session is found again.
              (funcall attach url-a)
              (should (opencode-test-wait (lambda () (string-match-p "tools.*idle" (funcall header))) 20))
              (should-not (string-match-p "not on" (funcall header)))
              (should (string-prefix-p "idle · " (with-current-buffer chat (opencode-chat-context-line))))
              (should (cl-some (lambda (m) (string-match-p "is on .* again" m)) messages))
              ;; No message held Lisp data or a raw request line.
              (dolist (m messages)
                (should-not (string-match-p "(:name\\|NotFoundError\\|\\[GET\\|POST\\|PATCH\\] /" m))))
          (advice-remove 'message 'opencode-test-messages)
          (mapc #'kill-buffer (cl-remove-if-not #'bufferp lists))
          (when (buffer-live-p prompt) (kill-buffer prompt))
          (when (process-live-p proc) (kill-process proc))
          (kill-buffer (process-buffer proc))
          (delete-directory home-b t))))))

(ert-deftest opencode-attach/down-in-plain-words ()
  "Why a stream is down is said in plain words; a server given up stops the retries."
  (let ((conn (opencode-connection-open (format "http://127.0.0.1:%d" (opencode-attach-test--dead-port))
                                        "/tmp/proj")))
    (unwind-protect
        (progn
          (should (opencode-test-wait
                   (lambda () (eq (opencode-connection-state conn) 'disconnected))))
          (should (string-match-p
                   (format "\\`reconnecting in [0-9] s (nothing listens at %s)\\'"
                           (regexp-quote (opencode-connection-url conn)))
                   (opencode-connection-state-text conn)))
          (should (equal (opencode-connection--plain-reason
                          "Timeout was reached: no answer in 4000 ms" "u")
                         "no answer in 4 s"))
          (should (equal (opencode-connection--plain-reason
                          "Transferred a partial file: transfer closed with outstanding read data remaining"
                          "u")
                         "the server closed the stream"))
          ;; The local server will not come back by itself: no countdown, why instead.
          (opencode-connection-give-up conn "the local server exited 3 times")
          (should-not (opencode-connection-retry-at conn))
          (should-not (opencode-connection-live-p conn))
          (should (equal (opencode-connection-state-text conn)
                         "disconnected: the local server exited 3 times"))
          ;; Reconnecting opens it again.
          (opencode-connection-reconnect conn)
          (should (opencode-connection-live-p conn)))
      (opencode-connection-close conn))))

(ert-deftest opencode-attach/g-starts-a-stopped-local-server ()
  "g in a chat or a list whose local server was stopped starts one again.
The connection moves to it in place, and the views load from it."
  (opencode-test-with-real-server conn
    (let* ((s (opencode-request-sync conn "POST" "/session" :body '(:title "kept")))
           (chat (save-window-excursion (opencode-chat-open conn s)))
           (list (save-window-excursion (opencode-sessions (opencode-connection-directory conn))))
           (old-url (opencode-connection-url conn)))
      (unwind-protect
          (progn
            (opencode-server-stop-local)
            (should (opencode-test-wait
                     (lambda () (not (eq (opencode-connection-state conn) 'connected))) 20))
            (with-current-buffer chat
              (call-interactively #'opencode-chat-reload))
            ;; A new local server, the same connection object on its URL.
            (should (opencode-test-wait
                     (lambda () (eq (opencode-connection-state conn) 'connected)) 60))
            (should-not (equal (opencode-connection-url conn) old-url))
            (should (eq (opencode-connection-server conn) opencode-server--local))
            (with-current-buffer list
              (should (opencode-test-wait
                       (lambda () (string-match-p "kept" (opencode-test--visible-text))) 30))
              ;; And g in the list, the server up, just loads.
              (call-interactively #'opencode-sessions-refresh)
              (should (eq (opencode-connection-state conn) 'connected)))
            (with-current-buffer chat
              (should (opencode-test-wait
                       (lambda () (string-match-p "kept" (opencode-chat--header-line))) 20))))
        (kill-buffer chat)
        (kill-buffer list)))))

(provide 'opencode-attach-test)
;;; opencode-attach-test.el ends here

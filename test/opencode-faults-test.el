;;; opencode-faults-test.el --- Fault injection against the real server  -*- lexical-binding: t; -*-

;;; Commentary:

;; The real OpenCode server, with the mock model, behind a loopback
;; proxy that misbehaves (`opencode-test-proxy'): the event stream is
;; cut in the middle of an event, dripped one byte per write, stalled
;; past the stall timeout, answered with 500s, and the server itself is
;; killed and restarted by the package while a reply streams.  After
;; each fault, once the server is back, the chat buffer must show
;; exactly what GET /session/:id/message returns: nothing lost, nothing
;; doubled.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-api)
(require 'opencode-chat)

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
            (opencode-chat--render-all messages))
          (opencode-test--visible-text))
      (kill-buffer buf))))

(defun opencode-test--chat-matches-server (chat conn sid)
  "Wait until CHAT shows what CONN's server stores for SID; return t if so."
  (let ((chat-text nil) (server-text nil))
    (or (opencode-test-wait
         (lambda ()
           (and (null (plist-get (opencode-request-sync conn "GET" "/session/status")
                                 (intern (concat ":" sid))))
                (with-current-buffer chat (opencode-chat-loaded-p))
                (progn (setq chat-text (with-current-buffer chat (opencode-test--visible-text))
                             server-text (opencode-test--server-view conn sid))
                       (equal chat-text server-text))))
         30)
        (progn (message "chat:\n%s\nserver:\n%s" chat-text server-text) nil))))

(defun opencode-test--reply-done-p (conn sid text)
  "Return non-nil when SID's stored messages on CONN contain TEXT, settled."
  (and (string-match-p (regexp-quote text)
                       (json-serialize (opencode-request-sync
                                        conn "GET" (opencode--path "session" sid "message"))))
       (null (plist-get (opencode-request-sync conn "GET" "/session/status")
                        (intern (concat ":" sid))))))

(ert-deftest opencode-faults/nothing-lost-nothing-doubled ()
  "Cuts, drips, stalls, 500s and server crashes: the chat ends as the server's."
  (opencode-test-with-real-server conn
    (let* ((server opencode-server--local)
           (proxy (opencode-test-proxy-start (opencode-server--port server)))
           (opencode-reconnect-min-delay 0.2)
           (opencode-reconnect-max-delay 1.0)
           (opencode-stream-stall-timeout 2)
           (pconn (opencode-connection-open (opencode-test-proxy-url proxy)
                                            (opencode-connection-directory conn)
                                            :user (opencode-server-user server)
                                            :password (opencode-server-password server)))
           (session (opencode-request-sync conn "POST" "/session" :body '(:title "faults")))
           (sid (plist-get session :id))
           (chat nil)
           (turn 0)
           (reply (lambda (fault)
                    ;; One model turn of several deltas; returns its last words.
                    (cl-incf turn)
                    (let ((words (format "end of reply %d (%s)" turn fault)))
                      (setq opencode-test-mock-script
                            (list `((:content ,(format "Reply %d " turn)) (:content "streams ")
                                    (:content "in ") (:content "several ") (:content "deltas; ")
                                    (:content ,words) :stop)))
                      (opencode-api-session-prompt-async conn sid (format "Prompt %d" turn))
                      words))))
      (unwind-protect
          (progn
            (should (opencode-test-wait
                     (lambda () (eq (opencode-connection-state pconn) 'connected)) 20))
            (setq chat (save-window-excursion (opencode-chat-open pconn session)))
            ;; 1. Dropped in the middle of an event, while the reply streams.
            (setf (opencode-test-proxy-cut-next proxy) t)
            (let ((words (funcall reply "cut")))
              (should (opencode-test-wait (lambda () (opencode-test--reply-done-p conn sid words)) 30))
              (should (opencode-test--chat-matches-server chat conn sid))
              (should (string-search words (with-current-buffer chat (opencode-test--visible-text)))))
            ;; 2. One byte per write.
            (setf (opencode-test-proxy-mode proxy) 'drip)
            (let ((words (funcall reply "drip")))
              (should (opencode-test-wait (lambda () (opencode-test--reply-done-p conn sid words)) 30))
              (should (opencode-test--chat-matches-server chat conn sid))
              (should (string-match-p (regexp-quote words)
                                      (with-current-buffer chat (opencode-test--visible-text)))))
            (setf (opencode-test-proxy-mode proxy) 'pass)
            ;; 3. A stall longer than the stall timeout, during a reply.
            (setf (opencode-test-proxy-mode proxy) 'stall)
            (let ((words (funcall reply "stall")))
              (should (opencode-test-wait (lambda () (opencode-test--reply-done-p conn sid words)) 30))
              (should (opencode-test-wait
                       (lambda () (not (eq (opencode-connection-state pconn) 'connected))) 10))
              (setf (opencode-test-proxy-mode proxy) 'pass)
              (should (opencode-test-wait
                       (lambda () (eq (opencode-connection-state pconn) 'connected)) 20))
              (should (opencode-test--chat-matches-server chat conn sid))
              (should (string-search words (with-current-buffer chat (opencode-test--visible-text)))))
            ;; 4. 500s for every request, the stream included, during a reply.
            (setf (opencode-test-proxy-mode proxy) 'error500)
            (opencode-test-proxy-cut-all proxy)
            (let ((words (funcall reply "500"))
                  (before nil)
                  (messages nil))
              (should (opencode-test-wait (lambda () (opencode-test--reply-done-p conn sid words)) 30))
              ;; The stream is refused too, and says so.
              (should (opencode-test-wait
                       (lambda () (and (eq (opencode-connection-state pconn) 'disconnected)
                                       (string-match-p "\\`HTTP 500"
                                                       (or (opencode-connection-state-detail pconn) ""))))
                       20))
              (setq before (with-current-buffer chat (opencode-test--visible-text)))
              ;; The chat's own requests fail cleanly, say why, and its text stays.
              (cl-letf (((symbol-function 'message)
                         (lambda (fmt &rest args) (push (apply #'format-message fmt args) messages))))
                (with-current-buffer chat (opencode-chat-reload))
                (should (opencode-test-wait
                         (lambda () (zerop (hash-table-count (opencode-connection-callbacks pconn))))
                         20)))
              (should (cl-some (lambda (m) (string-match-p
                                            (format "GET /session/%s/message.*HTTP 500: injected"
                                                    (regexp-quote sid))
                                            m))
                               messages))
              (should (equal (with-current-buffer chat (opencode-test--visible-text)) before))
              (should-not (string-search words before))
              (setf (opencode-test-proxy-mode proxy) 'pass)
              (should (opencode-test-wait
                       (lambda () (eq (opencode-connection-state pconn) 'connected)) 20))
              (should (opencode-test--chat-matches-server chat conn sid))
              ;; What the stream missed while refused is there once it is back.
              (should (string-search words (with-current-buffer chat (opencode-test--visible-text)))))
            ;; 5. The server killed while replies stream, three times; the
            ;; package restarts it on its port and everything reconnects.
            (dotimes (i 3)
              (setq opencode-test-mock-script
                    (list `((:content ,(format "Crash %d starts" i)) :hang)))
              (opencode-api-session-prompt-async conn sid (format "Crash %d" i))
              (should (opencode-test-wait
                       (lambda () (string-match-p (format "Crash %d starts" i)
                                                  (with-current-buffer chat
                                                    (opencode-test--visible-text))))
                       30))
              (let ((old (opencode-server-process server)))
                (signal-process old 'KILL)
                (should (opencode-test-wait
                         (lambda () (and (not (eq old (opencode-server-process server)))
                                         (process-live-p (opencode-server-process server))))
                         20)))
              (should (opencode-test-wait
                       (lambda () (and (eq (opencode-connection-state conn) 'connected)
                                       (eq (opencode-connection-state pconn) 'connected)))
                       60)))
            (should (= (opencode-server-restarts server) 3))
            (let ((words (funcall reply "after crashes")))
              (should (opencode-test-wait (lambda () (opencode-test--reply-done-p conn sid words)) 60)))
            (should (opencode-test--chat-matches-server chat conn sid))
            ;; Nothing doubled: each reply's last words once.
            (let ((text (with-current-buffer chat (opencode-test--visible-text))))
              (dolist (n '(1 2 3 4 5))
                (should (= 1 (cl-loop with start = 0
                                      while (string-match (format "end of reply %d " n) text start)
                                      count t do (setq start (match-end 0))))))))
        (when chat (kill-buffer chat))
        (opencode-connection-close pconn)
        (opencode-test-proxy-stop proxy)))))

(provide 'opencode-faults-test)
;;; opencode-faults-test.el ends here

;;; opencode-capture-test.el --- Captured real-server sessions, replayed  -*- lexical-binding: t; -*-

;;; Commentary:

;; Two sessions recorded from the real server with `opencode-capture-start'
;; (test/capture-replays.el made them) are played back with no server
;; through the same dispatch into a chat buffer: a chain of tool calls,
;; and a reply, a server restart, the reconnection and another reply.
;; What the chat shows at the end must be what the server had stored,
;; drawn from its own messages.  Capturing itself is checked too: what
;; it writes, and that no secret is written.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-capture)
(require 'opencode-chat)

(defun opencode-capture-test--replay (name)
  "Replay capture NAME into a chat; return (REPLAYED STORED STATES) texts.
REPLAYED is the chat's visible text after the replay, STORED the text
of a chat drawn from the server's stored messages at the end, STATES the
connection states the chat's header showed on the way."
  (let* ((conn (opencode-replay-connection (opencode-test-capture-file name)))
         (opencode-connections (list conn))
         (sid (opencode-test-capture-session conn))
         (states nil)
         (chat (save-window-excursion (opencode-chat-open conn (list :id sid))))
         replayed stored)
    (unwind-protect
        (with-current-buffer chat
          (should (opencode-test-wait #'opencode-chat-loaded-p 5))
          (add-hook 'opencode-connection-state-functions
                    (lambda (c _s _d) (when (eq c conn)
                                        (push (opencode-chat--header-line) states))))
          (opencode-replay-play conn)
          (should (opencode-test-wait #'opencode-chat-loaded-p 5))
          (setq replayed (opencode-test--visible-text)))
      (kill-buffer chat))
    ;; (The macro binds a `conn' of its own.)
    (let ((messages (opencode-test-capture-stored conn)))
      (should (> (length messages) 1))
      (opencode-test-with-chat sid
        (opencode-chat--fill messages)
        (setq stored (opencode-test--visible-text))))
    (list replayed stored (nreverse states))))

(ert-deftest opencode-capture/replays-a-tool-chain ()
  "Replayed with no server, a recorded tool chain draws what the server stored."
  (pcase-let ((`(,replayed ,stored ,_) (opencode-capture-test--replay "capture-tools.jsonl")))
    (should (equal replayed stored))
    (should (string-match-p "^Look around and run something$" replayed))
    (should (string-match-p "^▸ Todos 0/2 done  \\[completed\\]" replayed))
    (should (string-match-p "^▸ \\$ echo replayed-output  \\[completed\\]" replayed))
    (should (string-match-p "Done\\. The command said" replayed))))

(ert-deftest opencode-capture/replays-a-reconnect ()
  "A recorded restart and reconnection, replayed: both replies, once each."
  (pcase-let ((`(,replayed ,stored ,states) (opencode-capture-test--replay "capture-reconnect.jsonl")))
    (should (equal replayed stored))
    (should (= 1 (cl-count-if (lambda (l) (equal l "Before the restart."))
                              (split-string replayed "\n"))))
    (should (= 1 (cl-count-if (lambda (l) (equal l "After the restart, all is well."))
                              (split-string replayed "\n"))))
    ;; On the way, the header said the connection was down, in words.
    (should (cl-some (lambda (h) (string-match-p "reconnecting in [0-9]+ s" h)) states))))

(ert-deftest opencode-capture/records-and-redacts ()
  "A capture records both directions, as JSON lines, and no secret."
  (let* ((file (make-temp-file "opencode-capture-" nil ".jsonl"))
         (server (opencode-test-http-start
                  (lambda (proc _m path _h _b)
                    (if (string-prefix-p "/event" path)
                        (process-send-string
                         proc (concat "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
                                      "data: {\"type\":\"server.connected\",\"properties\":{}}\n\n"
                                      "data: {\"type\":\"x.test\",\"properties\":{\"apiKey\":\"k-SECRET\",\"n\":1}}\n\n"))
                      (opencode-test-respond proc "200 OK" "application/json"
                                             "{\"token\":\"t-SECRET\",\"ok\":true}")))))
         (opencode-server-url (format "http://127.0.0.1:%d" (opencode-test-port server)))
         (opencode-connections nil)
         (opencode-connection--closed (make-hash-table :test 'equal :weakness 'value))
         (process-environment (cons "OPENCODE_SERVER_PASSWORD=pw-SECRET" process-environment))
         (dir (make-temp-file "opencode-capture-dir-" t)))
    (unwind-protect
        (let ((conn (cl-letf (((symbol-function 'message) #'ignore))
                      (opencode-capture-start file dir))))
          (should (opencode-test-wait (lambda () (eq (opencode-connection-state conn) 'connected))))
          (should (equal (opencode-api-config conn :sync t) '(:token "t-SECRET" :ok t)))
          (should (opencode-test-wait
                   (lambda () (with-temp-buffer (insert-file-contents file)
                                                (string-match-p "x\\.test" (buffer-string))))))
          (cl-letf (((symbol-function 'message) #'ignore))
            (should (equal (opencode-capture-stop dir) file)))
          (let* ((records (opencode-capture-read file))
                 (text (with-temp-buffer (insert-file-contents file) (buffer-string))))
            (should (plist-get (car records) :capture))
            (should (cl-find "request" records :key (lambda (r) (plist-get r :out)) :test #'equal))
            (should (cl-find "response" records :key (lambda (r) (plist-get r :in)) :test #'equal))
            (should (cl-find "connected" records :key (lambda (r) (plist-get r :state)) :test #'equal))
            (should (string-match-p "\"apiKey\":\"\\[redacted\\]\"" text))
            (should-not (string-match-p "SECRET" text))
            ;; Stopped: nothing more is written.
            (let ((size (file-attribute-size (file-attributes file))))
              (opencode-api-config conn :sync t)
              (should (= size (file-attribute-size (file-attributes file)))))))
      (mapc #'opencode-connection-close (copy-sequence opencode-connections))
      (delete-process server)
      (delete-file file)
      (delete-directory dir t))))

(provide 'opencode-capture-test)
;;; opencode-capture-test.el ends here

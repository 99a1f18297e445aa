;;; opencode-runstate-test.el --- What Emacs shows is what the server has, across crashes  -*- lexical-binding: t; -*-

;;; Commentary:

;; The real server, with the mock model, killed with SIGKILL in the
;; middle of a reply and started again on its port: the reply it never
;; stored says it was cut off, in its chat and when the chat is opened
;; again; while the server is down, nothing says a session is busy, its
;; state is unknown; and an abort with prompts queued stops, the queue
;; kept, paused, until the user sends it.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-api)
(require 'opencode-chat)
(require 'opencode-sessions)
(require 'opencode-sidebar)

(defconst opencode-runstate-test--note
  "Interrupted: the server stopped during this reply, and the text shown before it stopped was not kept."
  "The note under a reply cut off by the server's end.")

(defun opencode-runstate-test--count (regexp text)
  "Return how many times REGEXP matches in TEXT."
  (cl-loop with start = 0
           while (string-match regexp text start)
           count t do (setq start (match-end 0))))

(defun opencode-runstate-test--kill (conn)
  "Kill CONN's local server with SIGKILL, not to be restarted by itself.
Wait until CONN's stream is down and given up (no countdown)."
  (let ((proc (opencode-server-process opencode-server--local)))
    (signal-process proc 'KILL)
    (should (opencode-test-wait
             (lambda () (and (eq (opencode-connection-state conn) 'disconnected)
                             (string-prefix-p "the local server exited"
                                              (or (opencode-connection-state-detail conn) ""))))
             20))))

(defun opencode-runstate-test--restart (conn)
  "Start CONN's local server again on its port; wait until CONN is back."
  (cl-letf (((symbol-function 'message) #'ignore))
    (opencode-server-restart))
  (should (opencode-test-wait (lambda () (eq (opencode-connection-state conn) 'connected)) 60)))

(defun opencode-runstate-test--idle-p (conn sid)
  "Return non-nil when the server says session SID on CONN is idle."
  (null (plist-get (opencode-request-sync conn "GET" "/session/status")
                   (intern (concat ":" sid)))))

(ert-deftest opencode-runstate/reply-cut-by-a-crash-says-so ()
  "A reply the server died in says its text was not kept, there and later.
Not while it streams, not for an aborted reply, not for a finished one."
  (let ((opencode-server-restart-limit 0))
    (opencode-test-with-real-server conn
      (let* ((opencode-test-mock-script
              (list '((:content "Words streamed before the crash") :hang)
                    '((:content "A finished reply.") :stop)
                    '((:content "Words of a reply to abort") :hang)))
             (session (opencode-request-sync conn "POST" "/session" :body '(:title "crash")))
             (sid (plist-get session :id))
             (chat (save-window-excursion (opencode-chat-open conn session)))
             (text (lambda () (with-current-buffer chat (opencode-test--visible-text)))))
        (unwind-protect
            (progn
              (opencode-api-session-prompt-async conn sid "Say something slowly")
              (should (opencode-test-wait
                       (lambda () (string-search "Words streamed before the crash" (funcall text)))
                       60))
              ;; Still streaming: nothing is cut off.
              (should-not (string-search "Interrupted" (funcall text)))
              (opencode-runstate-test--kill conn)
              ;; Down: the reply may still be running; nobody knows.
              (should-not (string-search "Interrupted" (funcall text)))
              (opencode-runstate-test--restart conn)
              ;; Back: the server never stored the streamed text, and
              ;; the chat says it is gone, in place of the reply.
              (should (opencode-test-wait
                       (lambda () (and (with-current-buffer chat (opencode-chat-loaded-p))
                                       (string-search opencode-runstate-test--note (funcall text))))
                       30))
              (should-not (string-search "Words streamed before the crash" (funcall text)))
              (should (string-match-p
                       (concat "^Assistant .*\n  " (regexp-quote opencode-runstate-test--note))
                       (funcall text)))
              (with-current-buffer chat
                (goto-char (point-min))
                (should (search-forward opencode-runstate-test--note nil t))
                (should (eq (get-text-property (match-beginning 0) 'face) 'opencode-chat-dim)))
              ;; Opened again later: the server's data says it still.
              (kill-buffer chat)
              (setq chat (save-window-excursion (opencode-chat-open conn session)))
              (should (opencode-test-wait
                       (lambda () (and (with-current-buffer chat (opencode-chat-loaded-p))
                                       (string-search "Say something slowly" (funcall text))))
                       30))
              (should (= 1 (opencode-runstate-test--count "Interrupted:" (funcall text))))
              ;; A reply that ends, and one aborted: no such note.
              (opencode-api-session-prompt-async conn sid "Finish this one")
              (should (opencode-test-wait
                       (lambda () (and (string-search "A finished reply." (funcall text))
                                       (opencode-runstate-test--idle-p conn sid)))
                       60))
              (opencode-api-session-prompt-async conn sid "Then stop")
              (should (opencode-test-wait
                       (lambda () (string-search "Words of a reply to abort" (funcall text))) 60))
              ;; While a later reply streams, the one cut off still says so.
              (should (opencode-store-busy-p conn sid))
              (should (= 1 (opencode-runstate-test--count "Interrupted:" (funcall text))))
              (with-current-buffer chat
                (cl-letf (((symbol-function 'message) #'ignore))
                  (opencode-chat-abort)))
              (should (opencode-test-wait
                       (lambda () (and (opencode-runstate-test--idle-p conn sid)
                                       (string-match-p "Aborted" (funcall text))))
                       30))
              (should (= 1 (opencode-runstate-test--count "Interrupted:" (funcall text))))
              ;; And again from the server's data.
              (with-current-buffer chat (opencode-chat-reload))
              (should (opencode-test-wait
                       (lambda () (and (with-current-buffer chat (opencode-chat-loaded-p))
                                       (string-search "A finished reply." (funcall text))
                                       (string-match-p "Aborted" (funcall text))))
                       30))
              (should (= 1 (opencode-runstate-test--count "Interrupted:" (funcall text)))))
          (when (buffer-live-p chat) (kill-buffer chat)))))))

(ert-deftest opencode-runstate/busy-is-unknown-while-the-server-is-down ()
  "While the server is down, no view says busy: the state is unknown.
The chat's header, the prompt's, the mode line and the session list;
once connected again, the server's state shows."
  (let ((opencode-server-restart-limit 0))
    (opencode-test-with-real-server conn
      (let* ((opencode-test-mock-script (list '((:content "Working on it") :hang)))
             (session (opencode-request-sync conn "POST" "/session" :body '(:title "down")))
             (sid (plist-get session :id))
             (list-buf (save-window-excursion (opencode-sessions (opencode-connection-directory conn))))
             (chat (save-window-excursion (opencode-chat-open conn session)))
             (prompt (with-current-buffer chat (save-window-excursion (opencode-chat-prompt))))
             (header (lambda () (with-current-buffer chat
                                  (substring-no-properties (opencode-chat--header-line)))))
             (prompt-header (lambda () (with-current-buffer prompt
                                         (substring-no-properties (opencode-prompt--header-line)))))
             (badge (lambda () (with-current-buffer list-buf
                                 (when (opencode-sessions--goto sid)
                                   (string-trim (substring-no-properties
                                                 (aref (tabulated-list-get-entry) 0))))))))
        (unwind-protect
            (progn
              (opencode-api-session-prompt-async conn sid "Take your time")
              (should (opencode-test-wait
                       (lambda () (and (string-match-p "  busy" (funcall header))
                                       (string-match-p "\\` busy · " (funcall prompt-header))
                                       (equal (opencode-sessions-mode-line) " OC[1 busy]")
                                       (string-suffix-p " busy" (or (funcall badge) ""))))
                       60))
              (opencode-runstate-test--kill conn)
              ;; Down: no view says busy; each says the state is unknown.
              (dolist (shown (list (funcall header) (funcall prompt-header)
                                   (opencode-sessions-mode-line) (funcall badge)))
                (should-not (string-match-p "busy" shown)))
              (should (string-match-p "  unknown (disconnected: the local server exited" (funcall header)))
              (should (string-match-p "\\` unknown (disconnected) · " (funcall prompt-header)))
              (should (equal (substring-no-properties (opencode-sessions-mode-line)) " OC[1 unknown]"))
              (should (equal (funcall badge) "unknown"))
              (opencode-runstate-test--restart conn)
              ;; Back: the restarted server runs nothing, and the views say so.
              (should (opencode-test-wait
                       (lambda () (and (string-match-p "  idle" (funcall header))
                                       (string-match-p "\\` idle · " (funcall prompt-header))
                                       (equal (opencode-sessions-mode-line) "")
                                       (equal (funcall badge) "idle")))
                       30))
              (should-not (string-match-p "unknown" (funcall header))))
          (kill-buffer prompt)
          (kill-buffer chat)
          (kill-buffer list-buf))))))

;; One function decides a session's state (`opencode-store-state'); a
;; session whose reply ended in an error said `error' in the list and
;; `idle' in its chat and prompt before.
(ert-deftest opencode-runstate/one-state-in-every-view ()
  "A reply that ends in an error: the list, chat, prompt and sidebar say error."
  (opencode-test-with-real-server conn
    (let* ((opencode-test-mock-script
            (list '((:http-status 400 :reason "Bad Request" :message "this request is broken"))))
           (dir (opencode-connection-directory conn))
           (session (opencode-request-sync conn "POST" "/session" :body '(:title "one state")))
           (sid (plist-get session :id))
           (list-buf (save-window-excursion (opencode-sessions dir)))
           (chat (save-window-excursion (opencode-chat-open conn session)))
           (prompt (with-current-buffer chat (save-window-excursion (opencode-chat-prompt))))
           (sidebar (save-window-excursion
                      (opencode-sidebar dir)
                      (get-buffer (format "*opencode-sidebar: %s*" (abbreviate-file-name dir)))))
           (views
            (lambda ()
              (list (with-current-buffer list-buf
                      (when (opencode-sessions--goto sid)
                        (string-trim (substring-no-properties
                                      (aref (tabulated-list-get-entry) 0)))))
                    (with-current-buffer chat
                      (substring-no-properties (opencode-chat--header-line)))
                    (with-current-buffer prompt
                      (substring-no-properties (opencode-prompt--header-line)))
                    (with-current-buffer sidebar
                      (save-excursion
                        (goto-char (point-min))
                        (let ((match (text-property-search-forward 'opencode-session sid t)))
                          (if (not match) ""
                            (goto-char (prop-match-beginning match))
                            (buffer-substring-no-properties (line-beginning-position)
                                                            (line-end-position)))))))))
           (says
            (lambda (word)
              (pcase-let ((`(,badge ,header ,prompt-header ,row) (funcall views)))
                (and (string-suffix-p word (or badge ""))
                     (string-match-p (concat "  " (regexp-quote word) "\\_>") header)
                     (string-prefix-p (concat " " word " · ") prompt-header)
                     (string-match-p (concat " " (regexp-quote word) "\\_>") row))))))
      (unwind-protect
          (progn
            (opencode-api-session-prompt-async conn sid "Break now")
            (unless (opencode-test-wait (lambda () (funcall says "error")) 60)
              (ert-fail (list "Not error in every view" (funcall views))))
            (should (string-match-p "  error: .*this request is broken"
                                    (nth 1 (funcall views))))
            ;; The same word in the list's mode line count.
            (should (string-match-p "1 error" (opencode-sessions-mode-line))))
        (kill-buffer prompt)
        (kill-buffer chat)
        (kill-buffer list-buf)
        (kill-buffer sidebar)))))

(defun opencode-runstate-test--queue-while-busy (chat conn sid)
  "Start a hanging reply in CHAT (SID on CONN), queue a prompt; return the prompt.
The mock's first turn must be \"A long reply\", left hanging."
  (opencode-test--prompt chat "Start working")
  (let ((prompt (save-window-excursion (with-current-buffer chat (opencode-chat-prompt)))))
    (should (opencode-test-wait
             (lambda () (and (string-search "A long reply"
                                            (with-current-buffer chat (opencode-test--visible-text)))
                             (opencode-store-busy-p conn sid)))
             60))
    (with-current-buffer prompt
      (insert "The queued prompt")
      (cl-letf (((symbol-function 'message) #'ignore))
        (opencode-prompt-queue)))
    prompt))

(ert-deftest opencode-runstate/abort-from-elsewhere-pauses-the-queue ()
  "An abort not made from the chat pauses its queue too.
From the session list, on leaving the chat, or from another client:
the reply ends aborted, and the prompt queued in the chat waits."
  (opencode-test-with-chat-on-real-server
      (list '((:content "A long reply") :hang))
    (let ((prompt nil)
          (text (lambda () (with-current-buffer chat (opencode-test--visible-text)))))
      (unwind-protect
          (progn
            (setq prompt (opencode-runstate-test--queue-while-busy chat conn sid))
            ;; As another client, or the session list, would.
            (opencode-api-session-abort conn sid :sync t)
            (should (opencode-test-wait
                     (lambda () (and (not (opencode-store-busy-p conn sid))
                                     (string-match-p "Aborted" (funcall text))))
                     30))
            (should (string-match-p "Queued, paused since the abort: C-c C-s sends it\n  1\\. The queued prompt"
                                    (funcall text)))
            (should-not (cl-some (lambda (req) (string-search "The queued prompt" (json-serialize req)))
                                 opencode-test-mock-requests)))
        (when (buffer-live-p prompt) (kill-buffer prompt))))))

(ert-deftest opencode-runstate/abort-pauses-the-queue ()
  "An abort with a prompt queued stops: the queue stays, paused, until sent.
A queue not paused goes when a reply ends."
  (opencode-test-with-chat-on-real-server
      (list '((:content "A long reply") :hang)
            '((:content "Answer to the queued prompt.") :stop)
            '((:content "Another long reply") :hang)
            '((:content "Answer to the second queued prompt.") :stop))
    (let ((prompt nil)
          (text (lambda () (with-current-buffer chat (opencode-test--visible-text))))
          (asked (lambda (words) (cl-some (lambda (req) (string-search words (json-serialize req)))
                                          opencode-test-mock-requests))))
      (unwind-protect
          (progn
            (setq prompt (opencode-runstate-test--queue-while-busy chat conn sid))
            (should (string-match-p "Queued, sent when the session is idle:\n  1\\. The queued prompt"
                                    (funcall text)))
            ;; C-c C-k in the prompt.
            (with-current-buffer prompt
              (cl-letf (((symbol-function 'message) #'ignore))
                (call-interactively (key-binding (kbd "C-c C-k")))))
            (should (opencode-test-wait
                     (lambda () (and (not (opencode-store-busy-p conn sid))
                                     (string-match-p "Aborted" (funcall text))))
                     30))
            ;; Stopped: the queued prompt was not sent, and stays, paused.
            (should-not (funcall asked "The queued prompt"))
            (should (equal (mapcar (lambda (q) (plist-get q :text))
                                   (buffer-local-value 'opencode-chat-queued chat))
                           '("The queued prompt")))
            (should (string-match-p "Queued, paused since the abort: C-c C-s sends it\n  1\\. The queued prompt"
                                    (funcall text)))
            (should (string-match-p " · 1 queued (paused)"
                                    (with-current-buffer prompt (opencode-prompt--header-line))))
            ;; C-c C-s in the chat sends it.
            (with-current-buffer chat
              (call-interactively (key-binding (kbd "C-c C-s"))))
            (should (opencode-test-wait
                     (lambda () (string-search "Answer to the queued prompt." (funcall text))) 60))
            (should-not (buffer-local-value 'opencode-chat-queued chat))
            (should-not (string-match-p "^Queued," (funcall text)))
            ;; A queue not paused goes when the reply ends, as before.
            (should (opencode-test-wait (lambda () (not (opencode-store-busy-p conn sid))) 30))
            (with-current-buffer prompt
              (insert "Reply at length")
              (opencode-prompt-send))
            (should (opencode-test-wait (lambda () (opencode-store-busy-p conn sid)) 30))
            (should (opencode-test-wait
                     (lambda () (string-search "Another long reply" (funcall text))) 60))
            (with-current-buffer prompt
              (insert "The second queued prompt")
              (cl-letf (((symbol-function 'message) #'ignore))
                (opencode-prompt-queue)))
            (should (string-match-p "Queued, sent when the session is idle:\n  1\\. The second"
                                    (funcall text)))
            ;; The model ends its reply.
            (let ((proc (pop opencode-test-mock-hanging)))
              (process-send-string proc (opencode-test--mock-chunk nil "stop"))
              (process-send-string proc "data: [DONE]\n\n")
              (process-send-eof proc))
            (should (opencode-test-wait
                     (lambda () (string-search "Answer to the second queued prompt." (funcall text)))
                     60))
            (should-not (buffer-local-value 'opencode-chat-queued chat)))
        (when (buffer-live-p prompt) (kill-buffer prompt))))))

;; The server ends a reply with two events, session.status idle and
;; session.idle: each says idle until the next prompt's busy arrives.
(ert-deftest opencode-runstate/queue-goes-one-prompt-at-a-time ()
  "Prompts queued go one at a time: each when the reply before it ended.
The model is asked the third prompt with the answer to the second in
its history, and the chat shows them in the server's order."
  (opencode-test-with-chat-on-real-server
      (list '((:content "A long reply") :hang)
            '((:content "Answer to the queued prompt.") :stop)
            '((:content "Answer to the third prompt.") :stop))
    (let ((prompt nil)
          (text (lambda () (with-current-buffer chat (opencode-test--visible-text)))))
      (unwind-protect
          (progn
            (setq prompt (opencode-runstate-test--queue-while-busy chat conn sid))
            (with-current-buffer prompt
              (insert "The third prompt")
              (cl-letf (((symbol-function 'message) #'ignore))
                (opencode-prompt-queue)))
            (should (string-match-p "Queued, sent when the session is idle:\n  1\\. The queued prompt\n  2\\. The third prompt"
                                    (funcall text)))
            ;; The model ends its reply.
            (let ((proc (pop opencode-test-mock-hanging)))
              (process-send-string proc (opencode-test--mock-chunk nil "stop"))
              (process-send-string proc "data: [DONE]\n\n")
              (process-send-eof proc))
            (should (opencode-test-wait
                     (lambda () (and (string-search "Answer to the third prompt." (funcall text))
                                     (not (opencode-store-busy-p conn sid))))
                     60))
            ;; The third prompt was asked after the second was answered.
            (let ((third (cl-find-if (lambda (req) (string-search "The third prompt" (json-serialize req)))
                                     opencode-test-mock-requests)))
              (should third)
              (should (string-search "Answer to the queued prompt." (json-serialize third))))
            (should (string-match-p
                     "The queued prompt\\(.\\|\n\\)*Answer to the queued prompt\\.\\(.\\|\n\\)*The third prompt\\(.\\|\n\\)*Answer to the third prompt\\."
                     (funcall text)))
            ;; And it shows what the server stores, as a chat opened now would.
            (should (opencode-test-wait
                     (lambda () (equal (funcall text) (opencode-test--server-view conn sid)))
                     10)))
        (when (buffer-live-p prompt) (kill-buffer prompt))))))

(provide 'opencode-runstate-test)
;;; opencode-runstate-test.el ends here

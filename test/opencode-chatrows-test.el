;;; opencode-chatrows-test.el --- Chat rows: init, abort on switch, events, small rows  -*- lexical-binding: t; -*-

;;; Commentary:

;; Against the real server with the scripted mock model: /init offered
;; in an empty chat and run with the model the server answers with when
;; none is configured; compaction through its event; leaving a busy
;; chat for another (`opencode-abort-on-switch'); a deleted session's
;; chat; an error of no session; slash commands at their message; the
;; slug and share URL in the header; revert to a part; a permission
;; refused with a message; retry, subtask and agent parts; what killing
;; a chat leaves behind (nothing).

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-chat)
(require 'opencode-sessions)

(defun opencode-chatrows-test--unconfigure-model (conn mock)
  "Take the model out of CONN's opencode.json (the MOCK provider stays).
The server reads its configuration again."
  (with-temp-file (expand-file-name "opencode.json" (opencode-connection-directory conn))
    (insert (json-serialize
             `(:provider (:mock (:npm "@ai-sdk/openai-compatible" :name "Mock"
                                      :options (:baseURL ,(format "http://127.0.0.1:%d/v1"
                                                                  (opencode-test-port mock))
                                                         :apiKey "x")
                                      :models (:mock-1 (:name "Mock 1"))))))))
  (opencode-request-sync conn "POST" "/instance/dispose")
  (should-not (plist-get (opencode-request-sync conn "GET" "/config") :model))
  ;; The server lists another provider's default first: not the one it uses.
  (should (equal (plist-get (plist-get (opencode-request-sync conn "GET" "/config/providers") :default)
                         :mock)
                 "mock-1")))

(defun opencode-chatrows-test--open (conn session)
  "Open the chat of SESSION on CONN without its prompt; wait until drawn."
  (let ((chat (save-window-excursion
                (let ((opencode-chat-open-prompt nil)) (opencode-chat-open conn session)))))
    (should (opencode-test-wait (lambda () (buffer-local-value 'opencode-chat--loaded chat)) 20))
    chat))

(defun opencode-chatrows-test--hint (chat)
  "Return the hint shown in empty CHAT, or nil."
  (let ((ov (buffer-local-value 'opencode-chat--hint chat)))
    (and ov (overlay-buffer ov) (overlay-get ov 'before-string))))

;;;; Item 3: init

(ert-deftest opencode-chatrows/init-on-a-key-with-the-servers-default-model ()
  "An empty chat offers /init; I runs it with the model the server answers with.
No model is configured: the server's default for a configured provider
is used, for compaction too, which the chat shows through its event.
The command's message says it ran /init."
  (opencode-test-with-real-server conn
    (opencode-chatrows-test--unconfigure-model conn mock)
    (let* ((s (opencode-request-sync conn "POST" "/session" :body '(:title "fresh")))
           (sid (plist-get s :id))
           (chat (opencode-chatrows-test--open conn s))
           (events nil)
           (opencode-event-functions
            (cons (lambda (_c type props)
                    (when (equal (plist-get props :sessionID) sid) (push type events)))
                  opencode-event-functions)))
      (unwind-protect
          (with-current-buffer chat
            (should (string-match-p "An empty session\\.  RET writes a prompt; I runs /init: the agent reads the project and writes AGENTS\\.md"
                                    (opencode-chatrows-test--hint chat)))
            (opencode-chat-init)
            (should (opencode-test-wait
                     (lambda () (cl-some (lambda (req) (string-match-p "AGENTS\\.md" (json-serialize req)))
                                         opencode-test-mock-requests))
                     60))
            ;; The model the server itself would answer with, not the
            ;; first default it lists (another provider's, offline).
            (should (equal (plist-get (car (last opencode-test-mock-requests)) :model) "mock-1"))
            (should (opencode-test-wait
                     (lambda () (and (member "session.idle" events)
                                     (string-match-p "^Hello from the mock\\.$" (opencode-test--visible-text))))
                     60))
            (should-not (opencode-chatrows-test--hint chat))
            (should (string-match-p "^Assistant  mock/mock-1" (opencode-test--visible-text)))
            ;; command.executed: the prompt /init made says so, once.  The
            ;; server publishes it when the command's prompt returns, which
            ;; can be after the session.idle of its reply.
            (should (opencode-test-wait (lambda () (member "command.executed" events)) 10))
            (should (opencode-test-wait
                     (lambda () (string-match-p "\\`You  [-0-9: ]+\n  ran /init\nCreate or update AGENTS\\.md"
                                                (opencode-test--visible-text)))
                     10))
            (should (= 1 (how-many "ran /init" (point-min) (point-max))))
            ;; Compaction, with the same model, shows through its event.
            (setq opencode-test-mock-requests nil events nil)
            (opencode-chat-compact)
            (should (opencode-test-wait (lambda () (member "session.compacted" events)) 60))
            (should (opencode-test-wait
                     (lambda () (string-match-p "context compacted" (opencode-test--visible-text))) 30))
            (should (equal (plist-get (car (last opencode-test-mock-requests)) :model) "mock-1")))
        (kill-buffer chat)))))

(ert-deftest opencode-chatrows/create-asks-before-init ()
  "`c' asks whether to run /init (the default, `ask'); no means a plain session."
  (should (eq (default-value 'opencode-session-init-after-create) 'ask))
  (opencode-test-with-real-server conn
    (let ((list-buf (opencode-sessions (opencode-connection-directory conn)))
          (asked nil))
      (unwind-protect
          (with-current-buffer list-buf
            (cl-letf (((symbol-function 'read-string) (lambda (&rest _) "plain one"))
                      ((symbol-function 'y-or-n-p) (lambda (q) (push q asked) nil)))
              (call-interactively #'opencode-sessions-create))
            (should (string-match-p "Run /init in it" (car asked)))
            (should (opencode-test-wait
                     (lambda () (cl-find "plain one" (opencode-request-sync conn "GET" "/session")
                                         :key (lambda (s) (plist-get s :title)) :test #'equal))
                     20))
            ;; Let any init request arrive: none does.
            (opencode-request-sync conn "GET" "/session")
            (should-not opencode-test-mock-requests))
        (kill-buffer list-buf)))))

;;;; Item 4: abort on switch

(ert-deftest opencode-chatrows/abort-on-switching-away-from-a-busy-chat ()
  "A window going from a busy session's chat to another's keeps, asks or aborts."
  (opencode-test-with-chat-on-real-server
      (list '((:content "Working on it") :hang))
    (opencode-api-session-prompt-async conn sid "Take your time")
    (should (opencode-test-wait (lambda () (opencode-store-busy-p conn sid)) 60))
    (let* ((other (opencode-request-sync conn "POST" "/session" :body '(:title "other")))
           (b (opencode-chatrows-test--open conn other))
           (win (selected-window))
           (asked nil))
      (unwind-protect
          (cl-flet ((switch ()
                      ;; What redisplay does: the window showed the busy
                      ;; chat, now it shows the other one.
                      (set-window-buffer win chat)
                      (set-window-buffer win b)
                      (cl-letf (((symbol-function 'window-old-buffer) (lambda (_) chat)))
                        (with-current-buffer b
                          (run-hook-with-args 'window-buffer-change-functions win)))))
            ;; Keep: nothing is scheduled.
            (let ((opencode-abort-on-switch nil))
              (should-not (switch)))
            ;; Ask, and the user says no: still busy.
            (let ((opencode-abort-on-switch 'ask))
              (cl-letf (((symbol-function 'y-or-n-p) (lambda (q) (push q asked) nil)))
                (switch)
                (should (opencode-test-wait (lambda () asked) 5))))
            (should (string-match-p "tools is busy: abort its reply\\?" (car asked)))
            (should (opencode-store-busy-p conn sid))
            ;; A window still showing the chat: it is not left.
            (let ((opencode-abort-on-switch 'abort)
                  (other-win (split-window win)))
              (set-window-buffer other-win chat)
              (should-not (switch))
              (delete-window other-win))
            ;; Abort: the reply stops.
            (let ((opencode-abort-on-switch 'abort))
              (switch)
              (should (opencode-test-wait (lambda () (not (opencode-store-busy-p conn sid))) 30))))
        (kill-buffer b)))))

;; Seed row 4 (must-fix 8), through real window switches.
(ert-deftest opencode-chatrows/abort-on-switch-through-the-list ()
  "A window going from a busy chat to the list, then to another chat, leaves it.
The window buffers really change (`switch-to-buffer', RET in the list)
and the window change functions run as redisplay runs them.  Going to
the list and back leaves nothing; nor does the other chat while a
second window still shows the busy one.  Keep schedules nothing, ask
asks (no keeps it busy), abort stops the reply."
  (opencode-test-with-chat-on-real-server
      (list '((:content "Working on it") :hang))
    (opencode-api-session-prompt-async conn sid "Take your time")
    (should (opencode-test-wait (lambda () (opencode-store-busy-p conn sid)) 60))
    (let* ((opencode-chat-display 'same-window)
           (opencode-chat-open-prompt nil)
           (other (opencode-request-sync conn "POST" "/session" :body '(:title "other")))
           (list-buf (save-window-excursion (opencode-sessions (opencode-connection-directory conn))))
           (win (selected-window))
           (asked nil)
           (b nil))
      (cl-labels ((run () (opencode-test-run-window-change-functions))
                  (show (buffer) (switch-to-buffer buffer) (run))
                  (scheduled ()
                    ;; The busy chat is to be followed up as left.
                    (cl-some (lambda (tm) (and (eq (timer--function tm) #'opencode-chat--left)
                                               (equal (timer--args tm) (list chat))))
                             timer-list))
                  (settle ()
                    ;; The question is asked from a timer: let it run.
                    (opencode-test-wait (lambda () (not (scheduled))) 5))
                  (open-other ()
                    ;; RET on the other session's row, in the list.
                    (show list-buf)
                    (should (opencode-sessions--goto (plist-get other :id)))
                    (call-interactively (key-binding (kbd "RET")))
                    (setq b (window-buffer win))
                    (run)))
        (unwind-protect
            (cl-letf (((symbol-function 'y-or-n-p) (lambda (q) (push q asked) nil)))
              (delete-other-windows)
              (with-current-buffer list-buf
                (should (opencode-test-wait (lambda () (opencode-sessions--goto (plist-get other :id))) 20)))
              (show chat)
              (should (eq (window-parameter win 'opencode-chat--last) chat))
              ;; Keep: nothing is scheduled, the window now remembers B.
              (let ((opencode-abort-on-switch nil))
                (open-other)
                (should (eq (window-buffer win) b))
                (should (equal (opencode-chat-session-id b) (plist-get other :id)))
                (should-not (scheduled))
                (should (eq (window-parameter win 'opencode-chat--last) b)))
              (let ((opencode-abort-on-switch 'ask))
                ;; To the list and back: not left.
                (show chat)
                (show list-buf)
                (show chat)
                (should-not (scheduled))
                (settle)
                (should-not asked)
                ;; To the list, then B: asked; no keeps it running.
                (show list-buf)
                (open-other)
                (should (settle))
                (should (string-match-p "tools is busy: abort its reply\\?" (car asked)))
                (should (= (length asked) 1))
                (should (opencode-store-busy-p conn sid)))
              (let ((opencode-abort-on-switch 'abort))
                ;; Another window still shows the busy chat: not left.
                (show chat)
                (let ((second (split-window win)))
                  (set-window-buffer second chat)
                  (run)
                  (show list-buf)
                  (open-other)
                  (should-not (scheduled))
                  (delete-window second)
                  (run))
                (should (opencode-store-busy-p conn sid))
                ;; Abort: chat, list, B, and the reply stops.
                (show chat)
                (show list-buf)
                (open-other)
                (should (scheduled))
                (should (opencode-test-wait (lambda () (not (opencode-store-busy-p conn sid))) 30))
                (should (= (length asked) 1)))
              ;; A killed chat is forgotten by the windows that remember it.
              (kill-buffer b)
              (run)
              (should-not (cl-some (lambda (w) (eq (window-parameter w 'opencode-chat--last) b))
                                   (window-list nil 'no-minibuf))))
          (when (buffer-live-p b) (kill-buffer b))
          (kill-buffer list-buf))))))

;;;; Item 8: events

(ert-deftest opencode-chatrows/deleted-session-and-error-of-no-session ()
  "A deleted session's chat says so and refuses prompts; an error of no
session shows in the session list and the log."
  (opencode-test-with-real-server conn
    (let* ((s (opencode-request-sync conn "POST" "/session" :body '(:title "doomed")))
           (sid (plist-get s :id))
           (chat (opencode-chatrows-test--open conn s))
           (list-buf (opencode-sessions (opencode-connection-directory conn)))
           (prompt nil))
      (unwind-protect
          (progn
            (with-current-buffer chat
              (setq prompt (save-window-excursion (opencode-chat-prompt)))
              (should (string-match-p "^ doomed · [a-z]+-[a-z]+" (opencode-chat--header-line)))
              (opencode-request-sync conn "DELETE" (opencode--path "session" sid))
              (should (opencode-test-wait
                       (lambda () (string-match-p "DELETED on the server" (opencode-chat--header-line)))
                       20))
              ;; What it was is still shown.
              (should (string-match-p "^ doomed" (opencode-chat--header-line)))
              (should (buffer-live-p chat))
              (should-error (opencode-chat-init) :type 'user-error))
            (with-current-buffer prompt
              (insert "Anyone there?")
              (should (equal (cadr (should-error (opencode-prompt-send) :type 'user-error))
                             "This session was deleted on the server: nothing can be sent to it"))
              (should (equal (buffer-string) "Anyone there?")))
            ;; An error that names no session is not dropped.
            (opencode-test-event conn "session.error"
                                 '(:error (:name "UnknownError" :data (:message "disk on fire"))))
            (with-current-buffer list-buf
              (should (string-match-p "server error: .*disk on fire" (opencode-sessions--header))))
            (with-current-buffer "*opencode-log*"
              (should (string-match-p "server error: .*disk on fire" (buffer-string)))))
        (dolist (b (list prompt chat list-buf))
          (when (buffer-live-p b) (kill-buffer b)))))))

;;;; Item 9: smaller rows

(ert-deftest opencode-chatrows/share-url-slug-and-revert-to-a-part ()
  "The header shows the slug and the share URL, W copies it, i in the list
says it; v reverts the session to the part at point."
  (opencode-test-with-chat-on-real-server
      (list (append '((:content "Let me look."))
                    (opencode-test--tool-call "glob" '(:pattern "*"))
                    '(:tool_calls))
            '((:content "Found it.") :stop))
    (let ((slug (plist-get (opencode-chat-session) :slug)))
      (should (string-match-p (concat "^ tools · " (regexp-quote slug)) (opencode-chat--header-line)))
      (should-error (opencode-chat-copy-share-url) :type 'user-error)
      (let ((list-buf (save-window-excursion
                        (prog1 (opencode-sessions (opencode-connection-directory conn))
                          (set-buffer chat))))
            (said nil))
        (unwind-protect
            (progn
              (with-current-buffer list-buf
                (should (opencode-test-wait (lambda () (opencode-sessions--goto sid)) 20)))
              ;; Sharing needs the network (disabled here): the server's
              ;; event as a shared session's would be.
              (opencode-test-event conn "session.updated"
                                   `(:info ,(append '(:share (:url "https://opncd.ai/s/abc123"))
                                                    (opencode-chat-session))))
              (should (string-match-p "shared: https://opncd\\.ai/s/abc123" (opencode-chat--header-line)))
              (opencode-chat-copy-share-url)
              (should (equal (current-kill 0) "https://opncd.ai/s/abc123"))
             (with-current-buffer list-buf
              (opencode-sessions--goto sid)
              (cl-letf (((symbol-function 'message)
                         (lambda (fmt &rest args) (setq said (apply #'format fmt args)))))
                (opencode-sessions-describe))
              (should (string-match-p "shared: https://opncd\\.ai/s/abc123" said))))
          (kill-buffer list-buf))))
    ;; Revert to a part: the server keeps the part only when text or a
    ;; tool comes before it in its message (else it reverts the message).
    (opencode-api-session-prompt-async conn sid "Look and answer")
    (should (opencode-test-wait
             (lambda () (string-match-p "^Found it\\.$" (opencode-test--visible-text))) 60))
    (should (opencode-test-wait (lambda () (not (opencode-store-busy-p conn sid))) 30))
    (let* ((part (cl-some (lambda (m) (cl-find "tool" (plist-get m :parts)
                                                :key (lambda (p) (plist-get p :type)) :test #'equal))
                          (opencode-chat-messages))))
      (goto-char (opencode-chat-section-beg (opencode-chat--section (plist-get part :id))))
      (should (equal (plist-get (opencode-chat-part-at) :id) (plist-get part :id)))
      (cl-letf (((symbol-function 'yes-or-no-p) (lambda (_) t)))
        (call-interactively #'opencode-chat-revert-part))
      (should (opencode-test-wait
               (lambda () (equal (plist-get (plist-get (opencode-chat-session) :revert) :partID)
                                 (plist-get part :id)))
               20))
      (should (equal (plist-get (plist-get (opencode-chat-session) :revert) :messageID)
                     (plist-get part :messageID)))
      (should (string-match-p "reverted" (opencode-chat--header-line))))))

(ert-deftest opencode-chatrows/permission-refused-with-a-message ()
  "A permission refused with a message: the agent gets the message."
  (let ((opencode-test-extra-config '(:permission (:bash "ask"))))
    (opencode-test-with-chat-on-real-server
        (list (append (opencode-test--tool-call "bash" '(:command "rm -rf build"
                                                              :description "Clean"))
                      '(:tool_calls))
              '((:content "Understood.") :stop))
      (opencode-api-session-prompt-async conn sid "Clean up")
      (should (opencode-test-wait (lambda () (opencode-requests-pending)) 60))
      (cl-letf (((symbol-function 'read-multiple-choice)
                 (lambda (_prompt choices &rest _) (assq ?m choices)))
                ((symbol-function 'read-string) (lambda (&rest _) "use make clean instead")))
        (opencode-chat-answer))
      (should (opencode-test-wait (lambda () (null (opencode-requests-pending))) 30))
      (should (opencode-test-wait
               (lambda () (cl-some (lambda (req) (string-match-p "use make clean instead"
                                                                 (json-serialize req)))
                                   opencode-test-mock-requests))
               60))
      (should (opencode-test-wait
               (lambda () (string-match-p "^Understood\\.$" (opencode-test--visible-text))) 60)))))

;;;; Item 10: parts, and what a killed chat leaves

(ert-deftest opencode-chatrows/subtask-and-agent-parts ()
  "A prompt naming an agent and a subtask: both parts show in the chat."
  (opencode-test-with-chat-on-real-server
      (list '((:content "Sub-agent done.") :stop)
            '((:content "All done.") :stop))
    (opencode-request-sync
     conn "POST" (opencode--path "session" sid "prompt_async")
     :body '(:parts [(:type "text" :text "Ask @general to look")
                     (:type "agent" :name "general")
                     (:type "subtask" :prompt "Look around the project" :description "Look around"
                            :agent "general")]))
    (should (opencode-test-wait
             (lambda () (string-match-p "Subtask (general): Look around" (opencode-test--visible-text)))
             60))
    (should (string-match-p "Agent general" (opencode-test--visible-text)))
    (should (opencode-test-wait (lambda () (not (opencode-store-busy-p conn sid))) 60))))

(defun opencode-chatrows-test--mentions-p (object buffer)
  "Return non-nil if OBJECT (a timer's function or arguments) holds BUFFER."
  (cond ((eq object buffer) t)
        ((consp object) (or (opencode-chatrows-test--mentions-p (car object) buffer)
                            (opencode-chatrows-test--mentions-p (cdr object) buffer)))
        ((or (byte-code-function-p object) (vectorp object))
         (cl-some (lambda (x) (opencode-chatrows-test--mentions-p x buffer))
                  (append object nil)))))

(ert-deftest opencode-chatrows/retry-part-and-a-killed-chat-leaves-nothing ()
  "A retry counts down in the header; a retry part shows; killing the chat
then leaves no timer, no registry entry and no hook behind."
  (opencode-test-with-chat-on-real-server
      (list '((:http-status 429 :reason "Too Many Requests" :message "slow down"))
            '((:content "After the retry.") :hang))
    (let ((prompt (save-window-excursion (opencode-chat-prompt))))
      (opencode-api-session-prompt-async conn sid "Go")
      (should (opencode-test-wait
               (lambda () (string-match-p "retry 1" (opencode-chat--header-line))) 60))
      (should opencode-chat--countdown-timer)
      (should (opencode-test-wait
               (lambda () (string-match-p "^After the retry\\." (opencode-test--visible-text))) 60))
      ;; This server tells a retry by the session's status only; a
      ;; retry part (the schema's RetryPart) it stores and sends back.
      (let* ((reply (cl-find "assistant" (opencode-chat-messages)
                             :key (lambda (m) (plist-get (plist-get m :info) :role)) :test #'equal))
             (mid (plist-get (plist-get reply :info) :id))
             (pid (opencode--ascending-id "prt")))
        (opencode-request-sync
         conn "PATCH" (opencode--path "session" sid "message" mid "part" pid)
         :body `(:id ,pid :sessionID ,sid :messageID ,mid :type "retry" :attempt 1
                     :error (:name "APIError" :data (:message "slow down" :isRetryable t))
                     :time (:created ,(truncate (* 1000 (float-time))))))
        ;; Drawn open, the error under its heading; TAB folds it.
        (should (opencode-test-wait
                 (lambda () (string-match-p "^After the retry\\.\n▾ Retry 1\nslow down$"
                                            (opencode-test--visible-text)))
                 20))
        (goto-char (point-min))
        (search-forward "Retry 1")
        (opencode-chat-toggle-fold)
        (should (string-match-p "^▸ Retry 1$" (opencode-test--visible-text))))
      ;; Timers of its own running as it is killed: a retry countdown
      ;; and a pending fontification.
      (opencode-test-event conn "session.status"
                           `(:sessionID ,sid :status (:type "retry" :attempt 2 :message "again"
                                                            :next ,(* 1000 (+ 600 (float-time))))))
      (should opencode-chat--countdown-timer)
      (opencode-chat--fontify-later (plist-get (opencode-chat-part-at (point-min)) :id))
      (should opencode-chat--fontify-timer)
      (should (cl-some (lambda (tm) (opencode-chatrows-test--mentions-p (timer--args tm) chat)) timer-list))
      (should (cl-some (lambda (tm) (opencode-chatrows-test--mentions-p (timer--function tm) chat)) timer-list))
      (kill-buffer chat)
      (should-not (buffer-live-p prompt))
      (should-not (gethash sid (opencode-chat--registry conn)))
      (should-not (cl-some (lambda (tm) (or (opencode-chatrows-test--mentions-p (timer--function tm) chat)
                                            (opencode-chatrows-test--mentions-p (timer--args tm) chat)))
                           (append timer-list timer-idle-list)))
      (dolist (hook '(window-buffer-change-functions kill-buffer-hook opencode-connection-state-functions
                                                     opencode-event-functions opencode-chat-event-functions))
        (should-not (memq #'opencode-chat--on-window-switch (default-value hook)))
        (should-not (memq #'opencode-chat--detach (default-value hook))))
      (opencode-api-session-abort conn sid :sync t))))

(provide 'opencode-chatrows-test)
;;; opencode-chatrows-test.el ends here

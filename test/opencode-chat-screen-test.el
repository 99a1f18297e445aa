;;; opencode-chat-screen-test.el --- Where a chat lands, prompts, threads, lifecycle  -*- lexical-binding: t; -*-

;;; Commentary:

;; What a user sees of a chat around its text: it opens on its newest
;; message, windows keep their place through reloads, a prompt shows at
;; once and is never doubled, prompts queue while the session is busy,
;; an abort is not an error, a prompt and its replies fold and move as
;; one, and the chat's other buffers follow its name and its life.

;;; Code:

(require 'opencode-test-helpers)
(require 'opencode-chat)
(require 'opencode-sessions)

(defun opencode-chat-screen--say (n)
  "Return mock turns answering N prompts, each with a numbered reply."
  (cl-loop for i from 1 to n
           collect `((:content ,(format "Reply number %d.\n\nWith a second paragraph." i)) :stop)))

(defun opencode-chat-screen--occurrences (regexp text)
  "Return how many times REGEXP matches in TEXT."
  (let ((n 0) (start 0))
    (while (string-match regexp text start)
      (setq n (1+ n) start (match-end 0)))
    n))

(ert-deftest opencode-chat-screen/lands-on-newest-and-windows-keep-their-place ()
  "A chat opens on its newest message; a reload keeps each window's place.
A window at the end follows what streams in; one elsewhere stays put."
  (opencode-test-with-real-server conn
    (let* ((opencode-test-mock-script (opencode-chat-screen--say 12))
           (session (opencode-api-session-create conn :title "long" :sync t))
           (sid (plist-get session :id))
           (chat nil))
      (dotimes (i 12)
        (opencode-api-session-prompt-async conn sid (format "Prompt %d" (1+ i)) :sync t)
        (should (opencode-test-wait
                 (lambda ()
                   (= (length (opencode-api-session-messages conn sid :sync t)) (* 2 (1+ i))))
                 30))
        (should (opencode-test-wait (lambda () (not (opencode-store-busy-p conn sid))) 30)))
      (delete-other-windows)
      (unwind-protect
          (let ((opencode-chat-display 'same-window))
            (setq chat (opencode-chat-open conn session))
            ;; The prompt is ready, below the chat, and selected.
            (with-current-buffer (window-buffer (selected-window))
              (should (derived-mode-p 'opencode-prompt-mode))
              (should (eq opencode-prompt--chat chat)))
            (with-current-buffer chat
              (should (opencode-test-wait
                       (lambda () (string-match-p "Reply number 12" (opencode-test--visible-text)))
                       20))
              (let ((w (get-buffer-window chat)))
                (should w)
                ;; Landed on the newest message, not at the top.
                (should (= (window-point w) (point-max)))
                (should (= (point) (point-max)))
                ;; Another place in the same window: the fourth prompt.
                (goto-char (point-min))
                (search-forward "Prompt 4")
                (let ((line (buffer-substring (line-beginning-position) (line-end-position))))
                  (set-window-point w (point))
                  (opencode-chat-reload)
                  (should (opencode-test-wait
                           (lambda ()
                             (equal (with-current-buffer chat
                                      (save-excursion
                                        (goto-char (window-point w))
                                        (buffer-substring (line-beginning-position)
                                                          (line-end-position))))
                                    line))
                           10)))
                ;; A reply while this window is elsewhere: it stays put.
                (let ((before (window-point w)))
                  (setq opencode-test-mock-script (opencode-chat-screen--say 1))
                  (opencode-api-session-prompt-async conn sid "One more" :sync t)
                  (should (opencode-test-wait
                           (lambda () (string-match-p "One more\\(.\\|\n\\)*Reply number 1"
                                                      (opencode-test--visible-text)))
                           20))
                  (should (opencode-test-wait (lambda () (not (opencode-store-busy-p conn sid))) 20))
                  (should (= (window-point w) before)))
                ;; At the end, it follows the stream.
                (opencode-chat-show-end)
                (setq opencode-test-mock-script (opencode-chat-screen--say 1))
                (opencode-api-session-prompt-async conn sid "And the last" :sync t)
                (should (opencode-test-wait
                         (lambda () (string-match-p "And the last\\(.\\|\n\\)*Reply number 1"
                                                    (opencode-test--visible-text)))
                         20))
                (should (opencode-test-wait (lambda () (not (opencode-store-busy-p conn sid))) 20))
                (should (= (window-point w) (point-max))))))
        (when (buffer-live-p chat) (kill-buffer chat))))))

(ert-deftest opencode-chat-screen/prompt-shows-at-once-and-queues ()
  "A prompt shows at once, marked, then is the server's, never doubled.
While the session is busy, a queued prompt waits under the chat; the
abort pauses it, and it goes when sent; one taken back returns to the
prompt."
  (opencode-test-with-chat-on-real-server
      (list '((:content "Working on the first") :hang)
            '((:content "Second answered.") :stop))
    (should (opencode-test-wait (lambda () (opencode-chat-loaded-p)) 10))
    (let ((prompt (save-window-excursion (opencode-chat-prompt))))
      (with-current-buffer prompt
        (insert "First prompt, shown at once")
        (opencode-prompt-send))
      ;; Before the server has answered the request, the prompt is there.
      (let ((text (opencode-test--visible-text)))
        (should (string-match-p "^You .*sending…\nFirst prompt, shown at once" text)))
      (should (opencode-test-wait
               (lambda () (string-match-p "Working on the first" (opencode-test--visible-text)))
               30))
      (let ((text (opencode-test--visible-text)))
        (should-not (string-match-p "sending…" text))
        (should (= 1 (opencode-chat-screen--occurrences "First prompt, shown at once" text))))
      (should (opencode-store-busy-p conn sid))
      ;; Busy: two prompts queued, the second taken back.
      (with-current-buffer prompt
        (insert "Queued prompt")
        (opencode-prompt-queue)
        (should (equal (buffer-string) ""))
        (insert "Changed my mind")
        (opencode-prompt-queue))
      (should (= 2 (length opencode-chat-queued)))
      (should (string-match-p "Queued, sent when the session is idle:\n  1\\. Queued prompt\n  2\\. Changed my mind"
                              (opencode-test--visible-text)))
      (with-current-buffer prompt (opencode-prompt-unqueue))
      (with-current-buffer prompt (should (equal (buffer-string) "Changed my mind")))
      (should (= 1 (length opencode-chat-queued)))
      (should-not (string-match-p "Changed my mind" (opencode-test--visible-text)))
      ;; Nothing was sent while busy.
      (should-not (cl-some (lambda (r) (string-match-p "Queued prompt" (json-serialize r)))
                           opencode-test-mock-requests))
      ;; The abort makes it idle and pauses the queue; sent, it is answered.
      (opencode-chat-abort)
      (should (opencode-test-wait
               (lambda () (string-match-p "^Queued, paused since the abort"
                                          (opencode-test--visible-text)))
               30))
      (opencode-chat-send-queue)
      (should (opencode-test-wait
               (lambda () (string-match-p "Second answered\\." (opencode-test--visible-text))) 30))
      (let ((text (opencode-test--visible-text)))
        (should (= 1 (opencode-chat-screen--occurrences "Queued prompt" text)))
        (should-not (string-match-p "Queued, sent" text)))
      (should (null opencode-chat-queued))
      (kill-buffer prompt))))

(ert-deftest opencode-chat-screen/abort-is-not-an-error ()
  "An aborted reply is noted as aborted: no error in the chat, list or mode line."
  (opencode-test-with-chat-on-real-server (list '((:content "Half a reply") :hang))
    (let ((list-buf (save-current-buffer
                      (save-window-excursion
                        (opencode-sessions (opencode-connection-directory conn))))))
      (unwind-protect
          (progn
            (opencode-api-session-prompt-async conn sid "Go on")
            (should (opencode-test-wait
                     (lambda () (string-match-p "Half a reply" (opencode-test--visible-text))) 30))
            (opencode-chat-abort)
            (should (opencode-test-wait (lambda () (not (opencode-store-busy-p conn sid))) 30))
            (should (opencode-test-wait
                     (lambda () (string-match-p "Aborted" (opencode-test--visible-text))) 10))
            (let ((text (opencode-test--visible-text)))
              (should-not (string-match-p "Error\\|MessageAbortedError" text)))
            (should-not (opencode-store-session-error conn sid))
            (should-not (string-match-p "error" (opencode-chat--header-line)))
            (should (= 0 (nth 2 (opencode-store-counts conn))))
            (with-current-buffer list-buf
              (should (opencode-sessions--goto sid))
              (should-not (string-match-p "error" (buffer-substring (line-beginning-position)
                                                                    (line-end-position))))))
        (kill-buffer list-buf)))))

(ert-deftest opencode-chat-screen/threads-fold-and-move-as-one ()
  "TAB on a prompt folds its replies; n and p move from prompt to prompt.
TAB does something on every line of a message."
  (opencode-test-with-chat "ses_t"
    (opencode-test-event conn "message.updated"
                         '(:info (:id "msg_01" :sessionID "ses_t" :role "user")))
    (opencode-test-event conn "message.part.updated"
                         '(:part (:id "prt_01" :messageID "msg_01" :sessionID "ses_t"
                                      :type "text" :text "First question")))
    (dolist (m '("msg_02" "msg_03"))
      (opencode-test-event conn "message.updated"
                           `(:info (:id ,m :sessionID "ses_t" :role "assistant" :parentID "msg_01")))
      (opencode-test-event conn "message.part.updated"
                           `(:part (:id ,(concat "prt_r" m) :messageID ,m :sessionID "ses_t"
                                        :type "reasoning" :text "Thinking hard\nabout it")))
      (opencode-test-event conn "message.part.updated"
                           `(:part (:id ,(concat "prt_t" m) :messageID ,m :sessionID "ses_t"
                                        :type "text" :text ,(format "Answer in %s\nline two" m)))))
    (opencode-test-event conn "message.updated"
                         '(:info (:id "msg_04" :sessionID "ses_t" :role "user")))
    (opencode-test-event conn "message.part.updated"
                         '(:part (:id "prt_04" :messageID "msg_04" :sessionID "ses_t"
                                      :type "text" :text "Second question")))
    ;; n / p go from prompt to prompt, over the replies.
    (goto-char (point-min))
    (opencode-chat-next-message 1)
    (should (looking-at "You"))
    (should (equal (get-text-property (point) 'opencode-message) "msg_04"))
    (opencode-chat-previous-message 1)
    (should (equal (get-text-property (point) 'opencode-message) "msg_01"))
    (opencode-chat-next-reply 1)
    (should (equal (get-text-property (point) 'opencode-message) "msg_02"))
    ;; TAB on the prompt's header folds both replies, and says so.
    (goto-char (point-min))
    (opencode-chat-toggle-fold)
    (let ((text (opencode-test--visible-text)))
      (should-not (string-match-p "Answer in" text))
      (should (string-match-p "First question" text))
      (should (string-match-p "Second question" text)))
    (should (cl-some (lambda (o) (equal (overlay-get o 'before-string)
                                        (opencode-chat--thread-summary
                                         (overlay-start o) (overlay-end o))))
                     (overlays-in (point-min) (point-max))))
    ;; A reply arriving in a folded thread stays folded with it.
    (opencode-test-event conn "message.part.updated"
                         '(:part (:id "prt_late" :messageID "msg_03" :sessionID "ses_t"
                                      :type "text" :text "Late words")))
    (should-not (string-match-p "Late words" (opencode-test--visible-text)))
    (goto-char (point-min))
    (opencode-chat-toggle-fold)
    (should (string-match-p "Answer in msg_02" (opencode-test--visible-text)))
    ;; Every line of every message: TAB works or says why not, never fails.
    (dotimes (line (count-lines (point-min) (point-max)))
      (goto-char (point-min))
      (forward-line line)
      (condition-case err (opencode-chat-toggle-fold)
        (user-error (should (member (cadr err) '("This prompt has no reply yet"
                                                 "Nothing in this reply folds"
                                                 "Nothing to fold here"))))))
    ;; On a reply's text, TAB folds that reply's parts.
    (goto-char (point-min))
    (search-forward "Answer in msg_02")
    (let ((folded (opencode-chat--part-folded-p (opencode-chat--part "prt_rmsg_02"))))
      (opencode-chat-toggle-fold)
      (should-not (eq folded (opencode-chat--part-folded-p (opencode-chat--part "prt_rmsg_02")))))))

(ert-deftest opencode-chat-screen/moving-puts-the-header-on-top ()
  "n, p, N and P leave the message they move to in view, header on top.
As magit-section's movement: a prompt moved to is not left on the
window's last line with its text out of sight."
  (opencode-test-with-chat "ses_m"
    (dotimes (i 8)
      (let ((u (format "msg_%02du" i)) (a (format "msg_%02da" i)))
        (opencode-test-event conn "message.updated"
                             `(:info (:id ,u :sessionID "ses_m" :role "user")))
        (opencode-test-event conn "message.part.updated"
                             `(:part (:id ,(concat "prt_" u) :messageID ,u :sessionID "ses_m"
                                          :type "text" :text ,(format "Question %d" i))))
        (opencode-test-event conn "message.updated"
                             `(:info (:id ,a :sessionID "ses_m" :role "assistant" :parentID ,u)))
        (opencode-test-event conn "message.part.updated"
                             `(:part (:id ,(concat "prt_" a) :messageID ,a :sessionID "ses_m"
                                          :type "text"
                                          :text ,(mapconcat (lambda (l) (format "Answer %d, line %d" i l))
                                                            (number-sequence 1 6) "\n\n"))))))
    (save-window-excursion
      (delete-other-windows)
      (switch-to-buffer (current-buffer))
      ;; A window of 10 lines, at the top of the chat.
      (split-window nil 12)
      (let ((w (selected-window)))
        (should (= (window-body-height w) 10))
        (goto-char (point-min))
        (set-window-start w (point-min))
        (cl-flet ((shows (what)
                    ;; The window's first line is the header moved to,
                    ;; the text under it in view.
                    (should (equal (list what (point)) (list what (window-start w))))
                    (should (string-match-p (concat "\\`You\n" what "\n")
                                            (opencode-test--window-text w)))))
          (opencode-chat-next-message 3)
          (shows "Question 3")
          (opencode-chat-next-message 2)
          (shows "Question 5")
          (opencode-chat-previous-message 4)
          (shows "Question 1")
          ;; N and P: a reply moved to starts the window too.
          (opencode-chat-next-reply 1)
          (should (= (point) (window-start w)))
          (should (string-match-p "\\`Assistant .*\nAnswer 1, line 1\n"
                                  (opencode-test--window-text w)))
          (opencode-chat-next-reply 5)
          (shows "Question 4")
          (opencode-chat-previous-reply 2)
          (shows "Question 3"))))))

(ert-deftest opencode-chat-screen/another-chat-takes-the-prompt-window ()
  "A chat opened where another was shown puts its prompt in that one's
prompt window, instead of adding a window each time."
  (opencode-test-with-real-server conn
    (let* ((a (opencode-request-sync conn "POST" "/session" :body '(:title "first")))
           (b (opencode-request-sync conn "POST" "/session" :body '(:title "second")))
           (opencode-chat-display 'same-window)
           (opencode-chat-open-prompt t)
           (chats nil))
      (save-window-excursion
        (delete-other-windows)
        (unwind-protect
            (progn
              (push (opencode-chat-open conn a) chats)
              (should (= 2 (count-windows)))
              ;; Back in the chat's window, open the other session there.
              (select-window (get-buffer-window (car chats)))
              (push (opencode-chat-open conn b) chats)
              (should (= 2 (count-windows)))
              (should (eq (window-buffer (selected-window))
                          (buffer-local-value 'opencode-prompt--buffer (car chats))))
              (should (eq (window-buffer (window-in-direction 'above)) (car chats))))
          (dolist (c chats) (when (buffer-live-p c) (kill-buffer c))))))))

(ert-deftest opencode-chat-screen/views-follow-the-chat ()
  "A rename reaches the prompt and todo buffers; killing the chat takes them.
A prompt with text in it stays, and sending from it reopens the chat."
  (opencode-test-with-chat-on-real-server nil
    (let* ((chat (current-buffer))
           (prompt (save-window-excursion (opencode-chat-prompt)))
           (todos (save-window-excursion (opencode-chat-todos))))
      (opencode-api-session-update conn sid :title "Renamed here" :sync t)
      (should (opencode-test-wait
               (lambda () (equal (buffer-name chat) "*opencode: Renamed here*")) 10))
      (should (equal (buffer-name prompt) "*opencode: Renamed here* prompt"))
      (should (equal (buffer-name todos) "*opencode-todos: Renamed here*"))
      ;; An empty prompt goes with its chat.
      (kill-buffer chat)
      (should-not (buffer-live-p prompt))
      (should-not (buffer-live-p todos))
      ;; A prompt with text stays; sending it reopens the chat.
      (setq chat (save-window-excursion (opencode-chat-open conn (list :id sid))))
      (setq prompt (with-current-buffer chat (save-window-excursion (opencode-chat-prompt))))
      (with-current-buffer prompt (insert "Keep me"))
      (kill-buffer chat)
      (should (buffer-live-p prompt))
      (with-current-buffer prompt
        (save-window-excursion (opencode-prompt-send))
        (should (buffer-live-p opencode-prompt--chat))
        (setq chat opencode-prompt--chat)
        (should (opencode-test-wait (lambda () (= (buffer-size) 0)) 30)))
      (with-current-buffer chat
        (should (opencode-test-wait
                 (lambda () (string-match-p "Keep me" (opencode-test--visible-text))) 20)))
      (kill-buffer chat)
      (should-not (buffer-live-p prompt)))))

(defun opencode-chat-screen--line-at (window)
  "Return the text of the line at WINDOW's point."
  (with-current-buffer (window-buffer window)
    (save-excursion
      (goto-char (window-point window))
      (buffer-substring-no-properties (line-beginning-position) (line-end-position)))))

(defun opencode-chat-screen--redrawn (chat thunk)
  "Call THUNK, then wait until CHAT was drawn again from the server."
  (let ((before (with-current-buffer chat
                  (opencode-chat-section-beg
                   (opencode-chat--section
                    (plist-get (plist-get (car (opencode-chat-messages)) :info) :id))))))
    (funcall thunk)
    (should (opencode-test-wait
             (lambda ()
               (with-current-buffer chat
                 (let ((section (opencode-chat--section
                                 (plist-get (plist-get (car (opencode-chat-messages)) :info) :id))))
                   (and section (not (eq (opencode-chat-section-beg section) before))
                        (opencode-chat-loaded-p)))))
             30))))

(ert-deftest opencode-chat-screen/two-windows-keep-their-places ()
  "Two windows on one chat: the selected one scrolled up, the other at the end.
A reload (g) and a real reconnection keep both where they were; sending
a prompt brings a window scrolled up to the end, and it follows the reply."
  (opencode-test-with-real-server conn
    (let* ((opencode-test-mock-script (opencode-chat-screen--say 8))
           (session (opencode-api-session-create conn :title "two windows" :sync t))
           (sid (plist-get session :id))
           (chat nil)
           (opencode-chat-open-prompt nil))
      (dotimes (i 8)
        (opencode-api-session-prompt-async conn sid (format "Prompt %d" (1+ i)) :sync t)
        (should (opencode-test-wait
                 (lambda ()
                   (= (length (opencode-api-session-messages conn sid :sync t)) (* 2 (1+ i))))
                 30))
        (should (opencode-test-wait (lambda () (not (opencode-store-busy-p conn sid))) 30)))
      (delete-other-windows)
      (unwind-protect
          (let ((opencode-chat-display 'same-window))
            (setq chat (opencode-chat-open conn session))
            (with-current-buffer chat
              (should (opencode-test-wait
                       (lambda () (string-match-p "Reply number 8" (opencode-test--visible-text)))
                       20)))
            ;; The chat in the selected window and in one below it.
            (let* ((selected (get-buffer-window chat))
                   (other (split-window selected nil 'below)))
              (set-window-buffer other chat)
              (should (eq (selected-window) selected))
              (with-current-buffer chat
                (opencode-chat-show-end other)
                ;; The selected window scrolled up, to the third prompt.
                (goto-char (point-min))
                (search-forward "Prompt 3")
                (set-window-point selected (point)))
              (should (equal (opencode-chat-screen--line-at selected) "Prompt 3"))
              (should (= (window-point other) (with-current-buffer chat (point-max))))
              (cl-flet ((check (what)
                          (should (equal (list what (opencode-chat-screen--line-at selected))
                                         (list what "Prompt 3")))
                          (should (equal (list what (window-point other))
                                         (list what (with-current-buffer chat (point-max)))))))
                ;; g: a reload.
                (opencode-chat-screen--redrawn
                 chat (lambda () (with-current-buffer chat (opencode-chat-reload))))
                (check 'reload)
                ;; A real reconnection: the stream opened afresh.
                (opencode-chat-screen--redrawn
                 chat (lambda ()
                        (opencode-connection-reopen conn)
                        (should (opencode-test-wait
                                 (lambda () (eq (opencode-connection-state conn) 'connected)) 30))))
                (check 'reconnect))
              ;; Sending from the prompt: the window scrolled up goes to the
              ;; end, and follows the reply.
              (let ((prompt (with-current-buffer chat (opencode-chat-prompt))))
                (should (eq (window-buffer (selected-window)) prompt))
                (setq opencode-test-mock-script
                      '(((:content "A late reply.\n\nWith more lines.") :stop)))
                (with-current-buffer prompt
                  (insert "One more prompt")
                  (opencode-prompt-send))
                (should (= (window-point selected) (with-current-buffer chat (point-max))))
                (with-current-buffer chat
                  (should (opencode-test-wait
                           (lambda () (string-match-p "A late reply" (opencode-test--visible-text)))
                           30)))
                (should (opencode-test-wait (lambda () (not (opencode-store-busy-p conn sid))) 30))
                (should (= (window-point selected) (with-current-buffer chat (point-max))))
                (should (= (window-point other) (with-current-buffer chat (point-max))))
                (kill-buffer prompt))))
        (delete-other-windows)
        (when (buffer-live-p chat) (kill-buffer chat))))))

(ert-deftest opencode-chat-screen/empty-session-names-the-server-defaults ()
  "An empty session's prompt header names the agent and model the server
answers with, not `default · default model'."
  (opencode-test-with-chat-on-real-server nil
    (let ((prompt (save-window-excursion (opencode-chat-prompt))))
      (unwind-protect
          (with-current-buffer prompt
            (should (opencode-test-wait
                     (lambda () (string-match-p " · build · mock/mock-1 · "
                                                (substring-no-properties (opencode-prompt--header-line))))
                     20))
            (should-not (string-match-p "default" (opencode-prompt--header-line))))
        (kill-buffer prompt)))))

(defun opencode-chat-screen--no-error-anywhere (conn sid list-buf)
  "Check that nothing says error for session SID on CONN: chat, list, mode line."
  (let ((text (opencode-test--visible-text)))
    (should-not (string-match-p "Error\\|MessageAbortedError" text)))
  (should-not (opencode-store-session-error conn sid))
  (should-not (string-match-p "error" (opencode-chat--header-line)))
  (should (= 0 (nth 2 (opencode-store-counts conn))))
  (with-current-buffer list-buf
    (should (opencode-sessions--goto sid))
    (should-not (string-match-p "error" (buffer-substring (line-beginning-position)
                                                          (line-end-position))))))

(ert-deftest opencode-chat-screen/abort-while-retrying-is-noted ()
  "A reply aborted while it waits to retry says \"Aborted\", not a bare header.
The server stores no error on it (the mock answers 429, 429, then a
reply); the chat still notes the abort, and nothing says error."
  (opencode-test-with-chat-on-real-server
      (list '((:http-status 429 :reason "Too Many Requests" :message "slow down"))
            '((:http-status 429 :reason "Too Many Requests" :message "slow down"))
            '((:content "After the retries.") :stop))
    (let ((list-buf (save-current-buffer
                      (save-window-excursion
                        (opencode-sessions (opencode-connection-directory conn))))))
      (unwind-protect
          (progn
            (opencode-api-session-prompt-async conn sid "Go")
            (should (opencode-test-wait
                     (lambda () (string-match-p "retry 1" (opencode-chat--header-line))) 60))
            (opencode-chat-abort)
            (should (opencode-test-wait (lambda () (not (opencode-store-busy-p conn sid))) 30))
            ;; What the server keeps: a reply done, with no error and no part.
            (let ((reply (cl-find "assistant" (opencode-api-session-messages conn sid :sync t)
                                  :key (lambda (m) (plist-get (plist-get m :info) :role))
                                  :test #'equal)))
              (should (equal (plist-get reply :parts) []))
              (should-not (plist-get (plist-get reply :info) :error)))
            (should (opencode-test-wait
                     (lambda () (string-match-p "^Assistant .*  Aborted$" (opencode-test--visible-text)))
                     10))
            (opencode-chat-screen--no-error-anywhere conn sid list-buf)
            ;; And so after a reload, from what the server stored.
            (opencode-chat-screen--redrawn chat #'opencode-chat-reload)
            (should (string-match-p "^Assistant .*  Aborted$" (opencode-test--visible-text)))
            (should-not (string-match-p "After the retries" (opencode-test--visible-text))))
        (kill-buffer list-buf)))))

(ert-deftest opencode-chat-screen/abort-in-a-later-step-is-one-note ()
  "A reply aborted in its second step has one header, which says \"Aborted\".
The aborted step (the server's abort error on it) gets no header of its own."
  (opencode-test-with-chat-on-real-server
      (list (append '((:content "Let me look."))
                    (opencode-test--tool-call "glob" '(:pattern "*"))
                    '(:tool_calls))
            '((:content "Half a second step") :hang))
    (let ((list-buf (save-current-buffer
                      (save-window-excursion
                        (opencode-sessions (opencode-connection-directory conn))))))
      (unwind-protect
          (progn
            (opencode-api-session-prompt-async conn sid "Look around")
            (should (opencode-test-wait
                     (lambda () (string-match-p "Half a second step" (opencode-test--visible-text)))
                     60))
            (opencode-chat-abort)
            (should (opencode-test-wait (lambda () (not (opencode-store-busy-p conn sid))) 30))
            (should (opencode-test-wait
                     (lambda () (cl-some (lambda (m) (opencode-api-aborted-p
                                                      (plist-get (plist-get m :info) :error)))
                                         (opencode-chat-messages)))
                     10))
            (let ((text (opencode-test--visible-text)))
              (should (= 1 (opencode-chat-screen--occurrences "^Assistant " text)))
              (should (= 1 (opencode-chat-screen--occurrences "Aborted" text)))
              (should (string-match-p "^Assistant .*  Aborted\nLet me look\\." text))
              (should (string-match-p "Half a second step" text)))
            (opencode-chat-screen--no-error-anywhere conn sid list-buf))
        (kill-buffer list-buf)))))

(ert-deftest opencode-chat-screen/steps-stack-and-patch-lines-fold-in ()
  "The steps of a reply stack their headings with no blank line between them,
text is set off by one, and no patch line repeats what a write or an edit
shows: the tool's heading links to the diff the patch line opened."
  (opencode-test-with-chat-on-real-server
      (list (append '((:reasoning_content "Plan it."))
                    (opencode-test--tool-call
                     "todowrite" '(:todos [(:content "Write it" :status "in_progress" :priority "high")]))
                    '(:tool_calls))
            (append (opencode-test--tool-call "bash" '(:command "echo hi" :description "Say hi"))
                    '(:tool_calls))
            (append (opencode-test--tool-call "write" '(:filePath "hello.py" :content "print('hi')\n"))
                    '(:tool_calls))
            (append (opencode-test--tool-call "edit" '(:filePath "hello.py" :oldString "'hi'"
                                                                 :newString "'hello'"))
                    '(:tool_calls))
            '((:content "All done.") :stop))
    (opencode-api-session-prompt-async conn sid "Write it")
    (should (opencode-test-wait
             (lambda () (string-match-p "^All done\\.$" (opencode-test--visible-text))) 90))
    (should (opencode-test-wait (lambda () (not (opencode-store-busy-p conn sid))) 30))
    ;; The server did make patch parts.
    (should (cl-some (lambda (m) (cl-find "patch" (plist-get m :parts)
                                          :key (lambda (p) (plist-get p :type)) :test #'equal))
                     (opencode-chat-messages)))
    (let ((text (opencode-test--visible-text)))
      (should (string-match-p
               (concat "^Assistant [^\n]*\n▸ Thinking\n▸ Todos 0/1 done[^\n]*\n"
                       "▸ \\$ echo hi  \\[completed\\][^\n]*\n"
                       "▸ Write hello\\.py (1 line)  \\[completed\\][^\n]*  diff\n"
                       "▸ Edit hello\\.py \\+1 -1  \\[completed\\][^\n]*  diff\n"
                       "\nAll done\\.\n")
               text))
      (should-not (string-match-p "Patch: " text)))
    ;; The same after a reload.
    (opencode-chat-screen--redrawn chat #'opencode-chat-reload)
    (should (string-match-p "  diff\n\nAll done\\.\n" (opencode-test--visible-text)))
    (should-not (string-match-p "Patch: " (opencode-test--visible-text)))
    ;; RET on the Write heading's link shows what the prompt changed there.
    (goto-char (point-min))
    (re-search-forward "^▸ Write hello\\.py.*  \\(diff\\)$")
    (goto-char (match-beginning 1))
    (save-window-excursion
      (call-interactively (key-binding (kbd "RET")))
      (should (opencode-test-wait (lambda () (get-buffer "*opencode-diff: hello.py*")) 20))
      (with-current-buffer "*opencode-diff: hello.py*"
        (should (opencode-test-wait
                 (lambda () (string-match-p "^\\+print('hello')" (buffer-string))) 20)))
      (kill-buffer "*opencode-diff: hello.py*"))))

(provide 'opencode-chat-screen-test)
;;; opencode-chat-screen-test.el ends here

;;; opencode-features-test.el --- Prompt conveniences, context, hooks, views  -*- lexical-binding: t; -*-

;;; Commentary:

;; The features users of other Emacs OpenCode clients rely on: @ and /
;; completion, the package's own slash commands, image paste, agent
;; cycling, the context line, hooks and tool renderers, sub-agents'
;; requests in the parent, windows, the sidebar, the server status
;; view, attach, the event log, large outputs and desktop.  Unit tests
;; and tests against the real server with the mock model.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-api)
(require 'opencode-chat)
(require 'opencode-sidebar)
(require 'opencode-status)

(defun opencode-test--capf-candidates (prompt text)
  "Insert TEXT in PROMPT and return the completion candidates at its end."
  (with-current-buffer prompt
    (erase-buffer)
    (insert text)
    (let* ((res (run-hook-with-args-until-success 'completion-at-point-functions))
           (table (nth 2 res))
           (input (buffer-substring-no-properties (nth 0 res) (nth 1 res)))
           (all (completion-all-completions input table nil (length input)
                                            (completion-metadata input table nil))))
      ;; The last cdr is the base size.
      (when all (setcdr (last all) nil))
      all)))

(defun opencode-test--stored-messages (conn sid)
  "Wait until session SID on CONN has stored messages; return them."
  (opencode-test-wait
   (lambda () (let ((m (opencode-request-sync conn "GET" (opencode--path "session" sid "message"))))
                (and (> (length m) 0) m)))
   20))

(ert-deftest opencode-features/mentions-and-slash-commands ()
  "@ completes project files and folders; / completes commands; both are sent."
  (let ((opencode-test-extra-config
         '(:command (:greet (:template "Say hello to $ARGUMENTS" :description "Greet someone")))))
    (opencode-test-with-chat-on-real-server nil
      (make-directory (expand-file-name "src" default-directory) t)
      (with-temp-file (expand-file-name "src/hello.el" default-directory) (insert "(hello)\n"))
      (let ((prompt (save-window-excursion (opencode-chat-prompt)))
            (sent nil))
        (unwind-protect
            (progn
              ;; Files and folders, fuzzily, from the server.
              ;; The server's first search builds its index: it may
              ;; take longer than a completion waits, and is asked again.
              (should (opencode-test-wait
                       (lambda () (member "README" (opencode-test--capf-candidates prompt "look at @REA")))
                       60))
              (should (member "src/hello.el" (opencode-test--capf-candidates prompt "see @hel")))
              (should (cl-some (lambda (c) (string-prefix-p "src" c))
                               (opencode-test--capf-candidates prompt "in @sr")))
              ;; Slash commands: the package's and the server's.
              (let ((cands (opencode-test--capf-candidates prompt "/")))
                (dolist (c '("undo" "redo" "compact" "rename" "fork" "share" "unshare" "greet"))
                  (should (member c cands))))
              ;; No completion in the middle of a sentence for /.
              (should-not (with-current-buffer prompt
                            (erase-buffer) (insert "a/b")
                            (run-hook-with-args-until-success 'completion-at-point-functions)))
              ;; The mention goes along as a file part; the hook sees the send.
              (let ((opencode-message-sent-functions
                     (list (lambda (buf text) (push (list buf text) sent)))))
                (with-current-buffer prompt
                  (erase-buffer)
                  (insert "Summarize @README and @src/ please")
                  (opencode-prompt-send)
                  (should (opencode-test-wait (lambda () (= (buffer-size) 0)) 30))))
              (should (equal sent (list (list chat "Summarize @README and @src/ please"))))
              (let* ((messages (opencode-test--stored-messages conn sid))
                     (parts (append (plist-get (aref messages 0) :parts) nil)))
                (should (cl-some (lambda (p) (and (equal (plist-get p :type) "file")
                                                  (equal (plist-get p :filename) "README")))
                                 parts))
                (should (cl-some (lambda (p) (and (equal (plist-get p :type) "file")
                                                  (equal (plist-get p :mime) "application/x-directory")))
                                 parts))
                ;; Each is one folded line, which holds the text the
                ;; server adds for it.
                (should (cl-some (lambda (p) (eq (plist-get p :synthetic) t)) parts))
                (with-current-buffer chat
                  (should (opencode-test-wait
                           (lambda () (string-match-p "^▸ File README\n▸ Folder src/\n"
                                                      (opencode-test--visible-text)))
                           20))
                  (should-not (string-match-p "<content>\\|Context added by the server"
                                              (opencode-test--visible-text))))))
          (kill-buffer prompt))))))

(ert-deftest opencode-features/own-slash-commands ()
  "/rename, /undo and /redo run in Emacs against the real server."
  (opencode-test-with-chat-on-real-server (list '((:content "First answer.") :stop))
    (opencode-test--prompt chat "/rename Renamed by slash")
    (should (opencode-test-wait
             (lambda () (equal (plist-get (opencode-request-sync conn "GET" (opencode--path "session" sid))
                                          :title)
                               "Renamed by slash"))
             10))
    (opencode-api-session-prompt-async conn sid "Hello")
    (should (opencode-test-wait
             (lambda () (string-match-p "^First answer\\.$" (opencode-test--visible-text))) 60))
    (should (opencode-test-wait
             (lambda () (null (plist-get (opencode-request-sync conn "GET" "/session/status")
                                         (intern (concat ":" sid)))))
             30))
    (opencode-test--prompt chat "/undo")
    (should (opencode-test-wait
             (lambda () (plist-get (opencode-request-sync conn "GET" (opencode--path "session" sid))
                                   :revert))
             20))
    (opencode-test--prompt chat "/redo")
    (should (opencode-test-wait
             (lambda () (null (plist-get (opencode-request-sync conn "GET" (opencode--path "session" sid))
                                         :revert)))
             20))))

(ert-deftest opencode-features/image-paste-and-agent-cycling ()
  "A clipboard image goes as an image file part; C-c C-t cycles the agents."
  (opencode-test-with-chat-on-real-server (list '((:content "Nice picture.") :stop))
    (let ((png (base64-decode-string        ; A real 1x1 PNG.
                "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="))
          (prompt (save-window-excursion (opencode-chat-prompt))))
      (unwind-protect
          (progn
            (with-current-buffer prompt
              (cl-letf (((symbol-function 'opencode-prompt--clipboard-image)
                         (lambda () (cons "image/png" png))))
                (opencode-prompt-paste-image))
              (should (string-match-p "clipboard image" (opencode-prompt--header-line)))
              (should (equal (plist-get (opencode-prompt--file-part (car opencode-prompt--files)) :url)
                             (concat "data:image/png;base64," (base64-encode-string png t))))
              (insert "What is this?")
              (opencode-prompt-send)
              (should (opencode-test-wait (lambda () (= (buffer-size) 0)) 30))
              (should (null opencode-prompt--files)))
            (let* ((messages (opencode-test--stored-messages conn sid))
                   (parts (append (plist-get (aref messages 0) :parts) nil)))
              (should (cl-some (lambda (p) (equal (plist-get p :mime) "image/png")) parts)))
            ;; Agents: the primary ones, in turn.
            (let ((agents (opencode-prompt--primary-agents)))
              (should (member "build" agents))
              (should (member "plan" agents))
              (should-not (member "general" agents))   ; a sub-agent
              (setq opencode-chat-agent nil)
              (with-current-buffer prompt (opencode-chat-cycle-agent))
              (should (equal opencode-chat-agent (cadr agents)))
              (dotimes (_ (1- (length agents))) (opencode-chat-cycle-agent))
              (should (equal opencode-chat-agent (car agents)))))
        (kill-buffer prompt)))))

(ert-deftest opencode-features/context-line ()
  "Model, agent, tokens, the context window bar and the cost at a glance."
  (opencode-test-with-chat "ses_x"
    ;; Connected: the status is known.
    (setf (opencode-connection-state conn) 'connected)
    (setf (opencode-connection-plist conn)
          (plist-put (opencode-connection-plist conn) :providers
                     [(:id "mock" :models (:mock-1 (:limit (:context 10000 :output 1000))))]))
    (opencode-test-chat-message '(:id "msg_1" :sessionID "ses_x" :role "assistant"
                                     :providerID "mock" :modelID "mock-1" :agent "build"
                                     :cost 0.25 :tokens (:input 1500 :output 200 :reasoning 0
                                                         :cache (:read 500 :write 0))))
    (opencode-test-chat-message '(:id "msg_2" :sessionID "ses_x" :role "assistant"
                                     :providerID "mock" :modelID "mock-1" :agent "build"
                                     :cost 0.5 :tokens (:input 3000 :output 400 :reasoning 0
                                                        :cache (:read 1000 :write 0))))
    (let ((c (opencode-chat-context)))
      (should (equal (plist-get c :model) "mock/mock-1"))
      (should (equal (plist-get c :agent) "build"))
      (should (= (plist-get c :used) 4000))
      (should (= (plist-get c :limit) 10000))
      (should (= (plist-get c :cost) 0.75)))
    (let ((line (substring-no-properties (opencode-chat-context-line))))
      ;; The status first, so a narrow window cuts the details, not it.
      (should (string-match-p "\\`idle · build · mock/mock-1 · 4.0k/10.0k ████░░░░░░ 40%" line))
      (should (string-match-p "40% · \\$0.7500 · in 3.0k out 400 cache 1.0k/0" line)))))

(ert-deftest opencode-features/context-line-real-server ()
  "The context window comes from the server's provider list."
  (let ((opencode-test-extra-config nil))
    (opencode-test-with-chat-on-real-server (list '((:content "Counted.") :stop))
      (opencode-api-session-prompt-async conn sid "Count")
      (should (opencode-test-wait
               (lambda () (string-match-p "^Counted\\.$" (opencode-test--visible-text))) 60))
      (should (opencode-test-wait
               (lambda () (string-match-p "\\`idle · build · mock/mock-1 · " (opencode-chat-context-line)))
               10)))))

(ert-deftest opencode-features/chat-event-hook-and-subagent-requests ()
  "Chat-local event hooks run; a sub-agent's permission shows in its parent."
  (let ((parent-buf (generate-new-buffer " *parent*"))
        (conn (opencode-connection--make :url "http://127.0.0.1:1" :directory "/tmp"))
        (seen nil))
    (unwind-protect
        (with-current-buffer parent-buf
          (opencode-chat-mode)
          (opencode-chat--attach conn '(:id "ses_parent" :title "parent"))
          (add-hook 'opencode-chat-event-functions
                    (lambda (type _props) (push type seen)) nil t)
          ;; The child is known to be a sub-agent of the parent.
          (opencode-test-event conn "session.created"
                                           '(:info (:id "ses_child" :parentID "ses_parent")))
          (opencode-test-event conn "permission.asked"
                                   '(:id "per_1" :sessionID "ses_child" :permission "bash"
                                         :patterns ["ls"]))
          (should (equal (plist-get (cdr (car (opencode-requests-pending))) :id) "per_1"))
          (should (string-match-p "Permission: bash" (opencode-chat--header-line)))
          (opencode-test-event conn "permission.replied"
                                   '(:sessionID "ses_child" :requestID "per_1" :reply "once"))
          (should (null (opencode-requests-pending)))
          ;; Its own events reach the buffer-local hook; others' do not.
          (opencode-test-event conn "session.status"
                                   '(:sessionID "ses_parent" :status (:type "busy")))
          (opencode-test-event conn "session.status"
                                   '(:sessionID "ses_child" :status (:type "busy")))
          (should (equal seen '("session.status"))))
      (kill-buffer parent-buf))))

(ert-deftest opencode-features/subagent-permission-answered-from-parent ()
  "A sub-agent's permission is answered in the parent's chat; ^ goes back up."
  (let ((opencode-test-extra-config '(:permission (:bash "ask"))))
    (opencode-test-with-chat-on-real-server
        (list (append (opencode-test--tool-call
                       "task" '(:description "Run it" :prompt "Run ls" :subagent_type "general"))
                      '(:tool_calls))
              (append (opencode-test--tool-call "bash" '(:command "echo from-child"
                                                          :description "Child runs"))
                      '(:tool_calls))
              '((:content "Child finished.") :stop)
              '((:content "Parent finished.") :stop))
      (opencode-api-session-prompt-async conn sid "Delegate")
      ;; The child's permission shows in the parent's chat.
      (should (opencode-test-wait (lambda () (opencode-requests-pending)) 60))
      (should (string-match-p "Permission: bash echo from-child" (opencode-chat--header-line)))
      (cl-letf (((symbol-function 'read-multiple-choice)
                 (lambda (_prompt choices &rest _) (assq ?o choices))))
        (opencode-chat-answer))
      (should (opencode-test-wait
               (lambda () (string-match-p "^Parent finished\\.$" (opencode-test--visible-text))) 90))
      (should (null (opencode-requests-pending)))
      (goto-char (point-min))
      (search-forward "Sub-agent session ses_")
      (goto-char (match-beginning 0))
      (let ((child (save-window-excursion (opencode-chat-open-linked-session))))
        (unwind-protect
            (with-current-buffer child
              (should (opencode-test-wait
                       (lambda () (string-match-p "from-child"
                                                  (json-serialize
                                                   (opencode-request-sync
                                                    conn "GET" (opencode--path "session" (opencode-chat-session-id)
                                                                               "message")))))
                       20))
              (should (eq (save-window-excursion (opencode-chat-goto-parent)) chat)))
          (kill-buffer child))))))

(ert-deftest opencode-features/tool-output-and-code-block-limits ()
  "Long tool output is cut with a button that shows it all; code blocks are capped."
  (opencode-test-with-chat "ses_x"
    (let ((opencode-chat-tool-output-max 100)
          (opencode-chat-fold-tools nil)
          (opencode-chat-tool-renderers nil)
          (long (mapconcat #'number-to-string (number-sequence 1 200) " ")))
      (opencode-test-chat-message '(:id "msg_1" :sessionID "ses_x" :role "assistant"))
      (opencode-test-chat-part `(:id "prt_1" :messageID "msg_1" :sessionID "ses_x" :type "tool"
                                    :tool "read" :state (:status "completed" :input (:filePath "x")
                                                         :output ,long)))
      (let ((text (opencode-test--visible-text)))
        (should (string-match-p "more characters: RET shows all" text))
        (should-not (string-match-p "200$" text)))
      (goto-char (point-min))
      (search-forward "more characters")
      (opencode-chat-expand-part)
      (let ((text (opencode-test--visible-text)))
        (should (string-match-p (regexp-quote long) text))
        (should-not (string-match-p "more characters" text)))))
  (opencode-test-with-chat "ses_x"
    (let ((opencode-chat-fontify-max-blocks 1))
      (opencode-test-chat-message '(:id "msg_1" :sessionID "ses_x" :role "assistant"))
      (opencode-test-chat-part
       '(:id "prt_1" :messageID "msg_1" :sessionID "ses_x" :type "text"
             :text "```elisp\n(defun a ())\n```\n\n```elisp\n(defun b ())\n```\n"))
      (goto-char (point-min))
      (search-forward "defun a")
      (should (eq (get-text-property (match-beginning 0) 'face) 'font-lock-keyword-face))
      (search-forward "defun b")
      (should (eq (get-text-property (match-beginning 0) 'face) 'opencode-chat-markdown-code)))))

(ert-deftest opencode-features/display-options ()
  "`opencode-chat-display' puts the chat where it says."
  (let ((buf (generate-new-buffer " *chat-display*")))
    (unwind-protect
        (save-window-excursion
          (delete-other-windows)
          (let ((opencode-chat-display 'same-window))
            (opencode-chat--display buf)
            (should (eq (window-buffer (selected-window)) buf))
            (should (= (length (window-list)) 1)))
          (switch-to-buffer "*scratch*")
          (let ((opencode-chat-display 'split))
            (opencode-chat--display buf)
            (should (= (length (window-list)) 2))
            (should (eq (window-buffer (selected-window)) buf)))
          (delete-other-windows)
          (switch-to-buffer "*scratch*")
          (let ((opencode-chat-display 'side))
            (opencode-chat--display buf)
            (should (window-parameter (selected-window) 'window-side)))
          (let ((opencode-chat-display 'full-frame))
            (opencode-chat--display buf)
            ;; Side windows the user keeps stay; the rest is the chat.
            (should (equal (mapcar #'window-buffer
                                   (cl-remove-if (lambda (w) (window-parameter w 'window-side))
                                                 (window-list)))
                           (list buf)))))
      (kill-buffer buf))))

(ert-deftest opencode-features/sidebar ()
  "The sidebar lists sessions as a tree, opens their files and chats."
  (opencode-test-with-real-server conn
    (let* ((s (opencode-request-sync conn "POST" "/session" :body '(:title "in the sidebar")))
           (buf (save-window-excursion (opencode-sidebar (opencode-connection-directory conn)))))
      (unwind-protect
          (with-current-buffer buf
            (should (opencode-test-wait
                     (lambda () (string-match-p "▸ in the sidebar" (buffer-string))) 20))
            (goto-char (point-min))
            (search-forward "in the sidebar")
            (opencode-sidebar-toggle)
            (should (opencode-test-wait
                     (lambda () (string-match-p "▾ in the sidebar\n +no changes" (buffer-string))) 20))
            ;; Live: a new session appears.
            (opencode-request-sync conn "POST" "/session" :body '(:title "second one"))
            (should (opencode-test-wait (lambda () (string-match-p "second one" (buffer-string))) 20))
            ;; A file line shows its diff.
            (let ((inhibit-read-only t))
              (goto-char (point-max))
              (insert (propertize "  +1 -0 x.txt\n" 'opencode-session (plist-get s :id)
                                  'opencode-diff '(:file "x.txt" :patch "--- a/x.txt\n+++ b/x.txt\n@@ -0,0 +1 @@\n+new\n")))
              (forward-line -1))
            (save-window-excursion
              (opencode-sidebar-visit)
              (with-current-buffer "*opencode-diff: x.txt*"
                (should (derived-mode-p 'diff-mode))
                (should (string-match-p "^\\+new$" (buffer-string)))))
            (goto-char (point-min))
            (search-forward "in the sidebar")
            (let ((chat (save-window-excursion (opencode-sidebar-visit) (current-buffer))))
              (should (eq (buffer-local-value 'major-mode chat) 'opencode-chat-mode))
              (kill-buffer chat)))
        (kill-buffer buf)))))

;; The server keeps `time.archived' at 0 after an unarchive (NOTES.md):
;; the sidebar once took any number for archived, and hid such a
;; session for good.
(ert-deftest opencode-features/sidebar-archive-and-back ()
  "The sidebar's `a' archives and unarchives, `A' shows archived sessions.
After the round trip the session is listed again, as before."
  (opencode-test-with-real-server conn
    (let* ((s (opencode-request-sync conn "POST" "/session" :body '(:title "round trip")))
           (sid (plist-get s :id))
           (buf (save-window-excursion (opencode-sidebar (opencode-connection-directory conn))))
           (key (lambda (k)
                  (goto-char (point-min))
                  (should (search-forward "round trip" nil t))
                  (funcall-interactively (lookup-key opencode-sidebar-mode-map k))))
           (shows (lambda (re)
                    (opencode-test-wait
                     (lambda () (string-match-p re (opencode-test--visible-text))) 20))))
      (unwind-protect
          (with-current-buffer buf
            (should (funcall shows "^▸ round trip\n"))
            (cl-letf (((symbol-function 'message) #'ignore))
              ;; Archived: gone from the sidebar.
              (funcall key "a")
              (should (opencode-test-wait
                       (lambda () (not (string-match-p "round trip"
                                                       (opencode-test--visible-text))))
                       20))
              (should (opencode-session-archived-p (opencode-store-session conn sid)))
              ;; Shown with the archived ones, marked so.
              (funcall-interactively (lookup-key opencode-sidebar-mode-map "A"))
              (should (funcall shows "+archived\n\\(?:.*\n\\)*▸ round trip  archived\n"))
              ;; Unarchived: the server keeps time.archived at 0.
              (funcall key "a")
              (should (funcall shows "^▸ round trip\n"))
              (should (eql 0 (plist-get (plist-get (opencode-session-data
                                                    (opencode-store-session conn sid))
                                                   :time)
                                        :archived)))
              ;; Archived ones hidden again: it stays, as a live session.
              (funcall-interactively (lookup-key opencode-sidebar-mode-map "A"))
              (should-not (string-match-p "+archived" (opencode-test--visible-text)))
              (should (string-match-p "^▸ round trip\n" (opencode-test--visible-text)))
              ;; And after the sessions are fetched again from the server.
              (opencode-sidebar-refresh)
              (should (funcall shows "^▸ round trip\n"))))
        (kill-buffer buf)))))

(ert-deftest opencode-features/server-status-health-attach ()
  "The status view shows health, MCP, LSP and formatters; attach by URL or port."
  (let ((opencode-test-extra-config
         '(:mcp (:fake (:type "local" :command ["false"] :enabled :false)))))
    (opencode-test-with-real-server conn
      (let ((buf (save-window-excursion (opencode-server-status (opencode-connection-directory conn)))))
        (unwind-protect
            (with-current-buffer buf
              (let ((text (buffer-string)))
                (should (string-match-p "Health +healthy, version 1\\.18\\.33" text))
                (should (string-match-p "Stream +connected" text))
                (should (string-match-p "started by this Emacs" text))
                (should (string-match-p "^  fake +disabled" text))
                (should (string-match-p "LSP servers" text))
                (should (string-match-p "Formatters" text)))
              (goto-char (point-min))
              (search-forward "fake")
              ;; Connecting a server that cannot start: it says so.
              (ignore-errors (opencode-status-mcp-connect "fake"))
              (should (string-match-p "^  fake +\\(failed\\|disabled\\|connected\\)" (buffer-string)))
              (opencode-status-mcp-disconnect "fake")
              (should (string-match-p "^  fake +\\(disabled\\|failed\\)" (buffer-string))))
          (kill-buffer buf)))
      (let ((messages nil))
        (cl-letf (((symbol-function 'message)
                   (lambda (fmt &rest args) (push (apply #'format fmt args) messages))))
          (opencode-server-health (opencode-connection-directory conn)))
        (should (string-match-p "healthy, version 1\\.18\\.33" (car messages))))
      ;; Restart by hand: same URL, a new process, everything reconnects.
      (let* ((server opencode-server--local)
             (old (opencode-server-process server))
             (url (opencode-server-url server))
             (ready nil)
             (opencode-server-ready-functions
              (cons (lambda (s) (push s ready)) opencode-server-ready-functions)))
        (cl-letf (((symbol-function 'message) #'ignore))
          (opencode-server-restart))
        (should-not (eq old (opencode-server-process server)))
        (should (equal url (opencode-server-url server)))
        (should (opencode-test-wait
                 (lambda () (eq (opencode-connection-state conn) 'disconnected)) 10))
        ;; Once it listens, its connections are told to reconnect at once.
        (should (opencode-test-wait (lambda () (memq server ready)) 30))
        (should (opencode-test-wait
                 (lambda () (eq (opencode-connection-state conn) 'connected)) 30))
        (should (= (opencode-server-restarts server) 0)))
      (should (equal (opencode--read-server-url "4096") "http://127.0.0.1:4096"))
      (should (equal (opencode--read-server-url "localhost:5000") "http://localhost:5000"))
      (should (equal (opencode--read-server-url "http://127.0.0.1:7/") "http://127.0.0.1:7"))
      (should-error (opencode--read-server-url "not a url") :type 'user-error)
      ;; Attach to the running server by its URL, with its password.
      (let* ((server opencode-server--local)
             (process-environment (cons (concat "OPENCODE_SERVER_PASSWORD="
                                                (opencode-server-password server))
                                        process-environment))
             (opencode-server-url nil)
             (list-buf nil))
        (cl-letf (((symbol-function 'message) #'ignore))
          (setq list-buf (save-window-excursion
                           (opencode-attach (opencode-server-url server)
                                            (opencode-connection-directory conn)))))
        (unwind-protect
            (progn
              (should (equal opencode-server-url (opencode-server-url server)))
              (should (buffer-live-p list-buf))
              (should (eq (buffer-local-value 'major-mode list-buf) 'opencode-sessions-mode))
              (with-current-buffer list-buf
                (should (equal (opencode-connection-url opencode-sessions--conn)
                               (opencode-server-url server))))
              ;; No second local server: the attached URL is used.
              (should (eq opencode-server--local server))
              (let ((c (opencode-connect (opencode-connection-directory conn))))
                (should (equal (opencode-connection-url c) (opencode-server-url server)))
                (should (opencode-test-wait
                         (lambda () (eq (opencode-connection-state c) 'connected)) 20))))
          (kill-buffer list-buf))))))

(ert-deftest opencode-features/event-log ()
  "The event log is off by default, on by command, and bounded."
  (let ((opencode-event-log nil)
        (opencode-event-log-max-lines 20)
        (conn (opencode-connection--make :url "http://127.0.0.1:1" :directory "/tmp/proj")))
    (when (get-buffer "*opencode-events*") (kill-buffer "*opencode-events*"))
    (opencode-connection--dispatch conn '(event "x.before" (:a 1)))
    (should-not (get-buffer "*opencode-events*"))
    (save-window-excursion
      (cl-letf (((symbol-function 'message) #'ignore))
        (opencode-show-events)))
    (should opencode-event-log)
    (dotimes (i 50)
      (opencode-connection--dispatch conn `(event "x.test" (:n ,i :text ,(make-string 1000 ?y)))))
    (with-current-buffer "*opencode-events*"
      (should (<= (count-lines (point-min) (point-max)) 20))
      (should (string-match-p "proj (event \"x.test\" (:n 49" (buffer-string)))
      (should-not (string-match-p "x.before" (buffer-string)))
      (should (<= (apply #'max (mapcar #'length (split-string (buffer-string) "\n")))
                  opencode-event-log-line-max)))
    (kill-buffer "*opencode-events*")))

(ert-deftest opencode-features/desktop ()
  "A chat is saved by desktop and reopened from what it saved."
  (opencode-test-with-chat "ses_d"
    (setf (opencode-connection-directory conn) "/tmp/proj")
    (let ((misc (funcall desktop-save-buffer "/tmp/"))
          (opened nil))
      (should (equal misc '(:directory "/tmp/proj" :session "ses_d" :title "fixture")))
      (should (eq (cdr (assq 'opencode-chat-mode desktop-buffer-mode-handlers))
                  'opencode-chat-desktop-restore))
      (cl-letf (((symbol-function 'opencode-connect) (lambda (dir) (list 'conn dir)))
                ((symbol-function 'opencode-chat-open)
                 (lambda (c s) (setq opened (list c s)) (current-buffer))))
        (should (eq (opencode-chat-desktop-restore "x" "y" misc) (current-buffer))))
      (should (equal opened '((conn "/tmp/proj") (:id "ses_d" :title "fixture")))))))

(provide 'opencode-features-test)
;;; opencode-features-test.el ends here

;;; opencode-integration-test.el --- Tests against the real OpenCode server  -*- lexical-binding: t; -*-

;;; Commentary:

;; These start the real `opencode serve' (the pinned npm package,
;; `make deps') on 127.0.0.1 with a scratch HOME and project, whose
;; model is the scripted mock in opencode-test-helpers.el.  See
;; test/README.md for running the server offline by hand.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-api)
(require 'opencode-chat)
(require 'opencode-sessions)

(ert-deftest opencode-integration/prompt-streams-text ()
  "A prompt sent from Emacs streams the mock's text back through the module."
  (opencode-test-with-real-server conn
    (let* ((events nil)
           (opencode-event-functions
            (list (lambda (c type props) (when (eq c conn) (push (cons type props) events)))))
           (session (opencode-request-sync conn "POST" "/session"
                                           :body '(:title "integration")))
           (sid (plist-get session :id)))
      (should (string-prefix-p "ses_" sid))
      (opencode-api-session-prompt-async conn sid "Say hello")
      ;; Wait for the reply to finish: the session goes idle after busy.
      (should (opencode-test-wait
               (lambda ()
                 (and (cl-find-if (lambda (e) (and (equal (car e) "session.status")
                                                   (equal (plist-get (plist-get (cdr e) :status) :type) "busy")))
                                  events)
                      (cl-find-if (lambda (e) (and (equal (car e) "session.status")
                                                   (equal (plist-get (cdr e) :sessionID) sid)
                                                   (equal (plist-get (plist-get (cdr e) :status) :type) "idle")))
                                  events)))
               60))
      (let* ((deltas (cl-remove-if-not (lambda (e) (and (equal (car e) "message.part.delta")
                                                        (equal (plist-get (cdr e) :sessionID) sid)
                                                        (equal (plist-get (cdr e) :field) "text")))
                                       (reverse events)))
             (streamed (mapconcat (lambda (e) (plist-get (cdr e) :delta)) deltas "")))
        ;; The text streamed as deltas, merged or not, is the mock's reply...
        (should (string-match-p "Hello from the mock\\." streamed))
        ;; ...and what the server stored.
        (let* ((messages (opencode-request-sync conn "GET" (opencode--path "session" sid "message")))
               (assistant (cl-find-if (lambda (m) (equal (plist-get (plist-get m :info) :role)
                                                         "assistant"))
                                      messages))
               (text (cl-find-if (lambda (p) (equal (plist-get p :type) "text"))
                                 (plist-get assistant :parts))))
          (should (equal (plist-get text :text) "Hello from the mock."))
          (should (equal (plist-get text :text) streamed))))
      ;; The mock was asked with the user's words.
      (should (cl-some (lambda (req) (string-match-p "Say hello" (json-serialize req)))
                       opencode-test-mock-requests))
      ;; Hermetic: the server found its config directory's plugin installed
      ;; (the warmed one `make deps' made) and ran no npm of its own, which
      ;; would have filled ~/.npm from the registry.
      (should (file-symlink-p (expand-file-name ".config/opencode/node_modules" home)))
      (should-not (file-exists-p (expand-file-name ".npm" home))))))

(ert-deftest opencode-integration/sessions-crud ()
  "Create, rename, list, search and delete sessions on the real server."
  (opencode-test-with-real-server conn
    (let* ((a (opencode-request-sync conn "POST" "/session" :body '(:title "alpha one")))
           (b (opencode-request-sync conn "POST" "/session" :body '(:title "beta two"))))
      (opencode-request-sync conn "PATCH" (opencode--path "session" (plist-get b :id))
                             :body '(:title "gamma three"))
      (let ((all (opencode-request-sync conn "GET" "/session"))
            (found (opencode-request-sync conn "GET" "/session" :query '(("search" . "gamma")))))
        (should (= (length all) 2))
        (should (equal (mapcar (lambda (s) (plist-get s :title)) found) '("gamma three"))))
      (opencode-request-sync conn "DELETE" (opencode--path "session" (plist-get a :id)))
      (should (= (length (opencode-request-sync conn "GET" "/session")) 1))
      (let ((err (should-error (opencode-request-sync conn "GET" (opencode--path "session" (plist-get a :id)))
                               :type 'opencode-http-error)))
        (should (string-match-p "404" (cadr err)))))))

(ert-deftest opencode-integration/session-list-buffer-is-live ()
  "`opencode-sessions' lists the project's sessions and follows events."
  (opencode-test-with-real-server conn
    (opencode-request-sync conn "POST" "/session" :body '(:title "first session"))
    (let ((buf (opencode-sessions (opencode-connection-directory conn))))
      (unwind-protect
          (with-current-buffer buf
            (should (opencode-test-wait
                     (lambda () (save-excursion
                                  (goto-char (point-min))
                                  (search-forward "first session" nil t)))))
            ;; A session made elsewhere shows up through session.created.
            (opencode-request conn "POST" "/session" :body '(:title "made elsewhere"))
            (should (opencode-test-wait
                     (lambda () (save-excursion
                                  (goto-char (point-min))
                                  (search-forward "made elsewhere" nil t)))))
            (should (= 2 (length tabulated-list-entries))))
        (kill-buffer buf)))))

(provide 'opencode-integration-test)
;;; opencode-integration-test.el ends here

(ert-deftest opencode-integration/two-projects-at-once ()
  "Two connections, one per project, each see their own sessions and events."
  (opencode-test-with-own-real-server conn
    (let* ((other-dir (make-temp-file "opencode-test-other-" t))
           (_ (call-process "git" nil nil nil "-C" other-dir "init" "-q"))
           (other (opencode-connect other-dir))
           (seen nil)
           (opencode-event-functions
            (list (lambda (c type props)
                    (when (equal type "session.created")
                      (push (cons c (plist-get (plist-get props :info) :title)) seen))))))
      (unwind-protect
          (progn
            (should (not (eq other conn)))
            (should (eq (opencode-connect (opencode-connection-directory conn)) conn))
            (should (opencode-test-wait
                     (lambda () (eq (opencode-connection-state other) 'connected)) 30))
            (opencode-request-sync conn "POST" "/session" :body '(:title "in first"))
            (opencode-request-sync other "POST" "/session" :body '(:title "in second"))
            (should (opencode-test-wait (lambda () (>= (length seen) 2))))
            (should (member (cons conn "in first") seen))
            (should (member (cons other "in second") seen))
            (should-not (member (cons conn "in second") seen))
            (should (equal (mapcar (lambda (s) (plist-get s :title))
                                   (opencode-request-sync other "GET" "/session"))
                           '("in second"))))
        (opencode-connection-close other)
        (delete-directory other-dir t)))))

(ert-deftest opencode-integration/local-server-stops-with-emacs ()
  "The local server is registered to stop when Emacs exits, and stops."
  (opencode-test-with-own-real-server conn
    (let ((server (opencode-connection-server conn)))
      (should (memq #'opencode-server-stop-local kill-emacs-hook))
      (should (process-live-p (opencode-server-process server)))
      (opencode-server-stop-local)
      (should-not (process-live-p (opencode-server-process server))))))

(ert-deftest opencode-integration/session-list-actions ()
  "Archive, show archived, search, page and delete from the list."
  (opencode-test-with-real-server conn
    ;; Each one made after the last one's time, so the order is theirs.
    (let ((created nil))
      (dotimes (i 5)
        (let ((s (opencode-request-sync conn "POST" "/session" :body `(:title ,(format "item %d" i)))))
          (push (plist-get (plist-get s :time) :created) created)
          (should (opencode-test-wait (lambda () (> (* 1000 (float-time)) (1+ (car created)))) 5))))
      (should (apply #'> created)))
    (let* ((opencode-sessions-page-size 2)
           (buf (opencode-sessions (opencode-connection-directory conn))))
      (unwind-protect
          (with-current-buffer buf
            (cl-flet ((shows (titles)
                        (opencode-test-wait (lambda () (equal (opencode-test--list-titles) titles))))
                      (shows-set (titles)
                        (opencode-test-wait (lambda () (equal (sort (opencode-test--list-titles) #'string<)
                                                              (sort (copy-sequence titles) #'string<))))))
              ;; The first page, then more on demand.
              (should (shows '("item 4" "item 3")))
              (opencode-sessions-load-more)
              (should (shows '("item 4" "item 3" "item 2" "item 1")))
              (opencode-sessions-load-more)
              (should (shows '("item 4" "item 3" "item 2" "item 1" "item 0")))
              (should-not opencode-sessions--cursor)
              ;; Archive: the row goes away; the toggle shows it again.
              (opencode-sessions--goto (cl-loop for id being the hash-keys of opencode-sessions--sessions
                                                when (equal (plist-get (opencode-sessions--get id) :title) "item 3") return id))
              (opencode-sessions-archive-toggle (tabulated-list-get-id))
              (should (opencode-test-wait
                       (lambda () (not (member "item 3" (opencode-test--list-titles))))))
              (let ((opencode-sessions-page-size 100))
                (opencode-sessions-toggle-archived)
                (should (opencode-test-wait
                         (lambda () (member "item 3" (opencode-test--list-titles)))))
                ;; Unarchive from the list.
                (opencode-sessions--goto (cl-loop for id being the hash-keys of opencode-sessions--sessions
                                                  when (equal (plist-get (opencode-sessions--get id) :title) "item 3") return id))
                (opencode-sessions-archive-toggle (tabulated-list-get-id))
                (should (opencode-test-wait
                         (lambda () (zerop (opencode-sessions--time
                                            (opencode-sessions--get (tabulated-list-get-id))
                                            :archived)))))
                (opencode-sessions-toggle-archived)
                ;; Search uses the server's filter.
                (opencode-sessions-search "item 2")
                (should (shows '("item 2")))
                (opencode-sessions-search "")
                ;; (Unarchiving updated "item 3", so it moved up.)
                (should (shows-set '("item 4" "item 3" "item 2" "item 1" "item 0")))
                ;; Rename and delete, confirmed.
                (opencode-sessions--goto (cl-loop for id being the hash-keys of opencode-sessions--sessions
                                                  when (equal (plist-get (opencode-sessions--get id) :title) "item 0") return id))
                (opencode-sessions-rename (tabulated-list-get-id) "renamed zero")
                (should (opencode-test-wait
                         (lambda () (member "renamed zero" (opencode-test--list-titles)))))
                (cl-letf (((symbol-function 'yes-or-no-p) (lambda (_) t)))
                  (opencode-sessions-delete (tabulated-list-get-id)))
                (should (shows-set '("item 4" "item 3" "item 2" "item 1"))))))
        (kill-buffer buf)))))

(ert-deftest opencode-integration/switch-session ()
  "`opencode-switch-session' offers annotated sessions and opens the pick's chat."
  (opencode-test-with-real-server conn
    (opencode-request-sync conn "POST" "/session" :body '(:title "pick me"))
    (opencode-request-sync conn "POST" "/session" :body '(:title "not me"))
    (let (seen-annotation)
      (cl-letf (((symbol-function 'completing-read)
                 (lambda (_prompt table &rest _)
                   (let* ((cands (all-completions "" table))
                          (meta (funcall table "" nil 'metadata))
                          (annot (cdr (assq 'annotation-function (cdr meta))))
                          (pick (cl-find-if (lambda (c) (string-prefix-p "pick me" c)) cands)))
                     (setq seen-annotation (funcall annot pick))
                     pick))))
        (let ((s (save-window-excursion
                   (opencode-switch-session (opencode-connection-directory conn)))))
          (should (equal (plist-get s :title) "pick me"))
          (should (string-match-p "idle +20[0-9][0-9]-" seen-annotation))
          ;; It opens the chat of the pick.
          (with-current-buffer (opencode-chat--buffer conn (plist-get s :id))
            (should (eq major-mode 'opencode-chat-mode))
            (kill-buffer)))))))

(ert-deftest opencode-integration/chat-prompt-and-stream ()
  "Open a chat from the list, send from its prompt, watch the reply stream in."
  (opencode-test-with-real-server conn
    (let ((opencode-test-mock-script
           (list '((:reasoning_content "Pondering") (:content "Streamed ") (:content "answer.") :stop)))
          (session (opencode-request-sync conn "POST" "/session" :body '(:title "chatting")))
          (list-buf nil) (chat nil) (prompt nil))
      (unwind-protect
          (progn
            (setq list-buf (opencode-sessions (opencode-connection-directory conn)))
            (with-current-buffer list-buf
              (should (opencode-test-wait (lambda () (opencode-sessions--goto (plist-get session :id)))))
              (setq chat (opencode-sessions-open (tabulated-list-get-id))))
            (with-current-buffer chat
              (should (eq major-mode 'opencode-chat-mode))
              (setq prompt (save-window-excursion (opencode-chat-prompt))))
            (with-current-buffer prompt
              (insert "Tell me something")
              (opencode-prompt-send)
              (should (opencode-test-wait (lambda () (= (buffer-size) 0)) 30)))
            (should (equal (car opencode-prompt-history) "Tell me something"))
            (with-current-buffer chat
              (should (opencode-test-wait
                       (lambda () (string-match-p "^Streamed answer\\.$" (opencode-test--visible-text)))
                       60))
              (should (opencode-test-wait
                       (lambda () (equal (plist-get (opencode-chat--session-status) :type) "idle")) 30))
              (let ((text (opencode-test--visible-text)))
                (should (string-match-p "^You .*\nTell me something\n" text))
                (should (string-match-p "^▸ Thinking$" text))
                (should-not (string-match-p "Pondering" text)))
              ;; What streamed in is what a fresh load shows.
              (let ((streamed (opencode-test--visible-text)))
                (opencode-chat-reload)
                (should (opencode-test-wait
                         (lambda () (equal (opencode-test--visible-text) streamed)) 10)))))
        (dolist (b (list prompt chat list-buf))
          (when (buffer-live-p b) (kill-buffer b)))))))

(ert-deftest opencode-integration/create-init-and-compact ()
  "`c' creates a session and runs /init; `C' compacts with the session's model."
  (opencode-test-with-real-server conn
    (let ((buf (opencode-sessions (opencode-connection-directory conn)))
          (opencode-session-init-after-create t))
      (unwind-protect
          (with-current-buffer buf
            (opencode-sessions-create "with init")
            (should (opencode-test-wait
                     (lambda () (opencode-sessions--goto
                                 (cl-loop for id being the hash-keys of opencode-sessions--sessions
                                          when (equal (plist-get (opencode-sessions--get id) :title) "with init") return id)))))
            (let ((id (tabulated-list-get-id)))
              ;; /init is a model turn: the mock is asked, the session gets messages.
              (should (opencode-test-wait
                       (lambda () (cl-some (lambda (req) (string-match-p "AGENTS\\.md" (json-serialize req)))
                                           opencode-test-mock-requests))
                       60))
              (should (opencode-test-wait
                       (lambda () (> (length (opencode-request-sync conn "GET" (opencode--path "session" id "message")))
                                     1))
                       60))
              (should (opencode-test-wait
                       (lambda () (not (opencode-store-busy-p conn id))) 60))
              (setq opencode-test-mock-requests nil)
              (opencode-sessions-compact id)
              (should (opencode-test-wait
                       (lambda ()
                         (cl-some (lambda (m) (cl-some (lambda (p) (equal (plist-get p :type) "compaction"))
                                                       (plist-get m :parts)))
                                  (opencode-request-sync conn "GET" (opencode--path "session" id "message"))))
                       60))
              ;; The summary is a model turn too.
              (should (opencode-test-wait (lambda () opencode-test-mock-requests) 30))))
        (kill-buffer buf)))))

(ert-deftest opencode-integration/abort-a-running-reply ()
  "A reply that does not end shows busy; C-c C-k in the chat aborts it."
  (opencode-test-with-real-server conn
    (let* ((opencode-test-mock-script (list '((:content "Working on it") :hang)))
           (session (opencode-request-sync conn "POST" "/session" :body '(:title "slow")))
           (sid (plist-get session :id))
           (list-buf (opencode-sessions (opencode-connection-directory conn)))
           (chat (save-window-excursion (opencode-chat-open conn session))))
      (unwind-protect
          (progn
            (opencode-api-session-prompt-async conn sid "Take your time")
            (with-current-buffer chat
              (should (opencode-test-wait
                       (lambda () (string-match-p "Working on it" (opencode-test--visible-text))) 30))
              (should (equal (plist-get (opencode-chat--session-status) :type) "busy")))
            (with-current-buffer list-buf
              (should (opencode-test-wait
                       (lambda () (string-match-p "busy" (opencode-sessions-mode-line))) 10)))
            (with-current-buffer chat
              (opencode-chat-abort)
              (should (opencode-test-wait
                       (lambda () (equal (plist-get (opencode-chat--session-status) :type) "idle")) 30))
              ;; The aborted reply says so.
              (should (opencode-test-wait
                       (lambda () (string-match-p "Abort" (opencode-test--visible-text))) 10)))
            (with-current-buffer list-buf
              (should (opencode-test-wait
                       (lambda () (not (string-match-p "busy" (opencode-sessions-mode-line)))) 10))))
        (kill-buffer chat)
        (kill-buffer list-buf)))))

(ert-deftest opencode-integration/fork-and-share-from-list ()
  "`f' forks the session at point; `s' asks the server to share it."
  (opencode-test-with-real-server conn
    (let* ((s (opencode-request-sync conn "POST" "/session" :body '(:title "original")))
           (buf (opencode-sessions (opencode-connection-directory conn))))
      (unwind-protect
          (with-current-buffer buf
            (should (opencode-test-wait (lambda () (opencode-sessions--goto (plist-get s :id)))))
            (opencode-sessions-fork (tabulated-list-get-id))
            (should (opencode-test-wait
                     (lambda () (member "original (fork #1)" (opencode-test--list-titles)))))
            ;; Sharing is off on this offline server: the reply says so, nothing breaks.
            (let ((messages nil))
              (cl-letf (((symbol-function 'message)
                         (lambda (fmt &rest args) (push (apply #'format fmt args) messages))))
                (opencode-sessions-share-toggle (plist-get s :id))
                (should (opencode-test-wait
                         (lambda () (cl-some (lambda (m) (string-match-p "did not share\\|Shared:" m))
                                             messages)))))))
        (kill-buffer buf)))))

(ert-deftest opencode-integration/permission-asked-and-answered ()
  "A bash call that needs permission waits, is answered once, then runs."
  (let ((opencode-test-extra-config '(:permission (:bash "ask"))))
    (opencode-test-with-chat-on-real-server
        (list (append (opencode-test--tool-call "bash" '(:command "echo hi-from-bash"
                                                          :description "Say hi"))
                      '(:tool_calls))
              '((:content "Ran it.") :stop))
      (opencode-api-session-prompt-async conn sid "Run something")
      (should (opencode-test-wait (lambda () (opencode-requests-pending)) 60))
      (should (string-match-p "Permission: bash echo hi-from-bash" (opencode-chat--header-line)))
      (cl-letf (((symbol-function 'read-multiple-choice)
                 (lambda (_prompt choices &rest _) (assq ?o choices))))
        (opencode-chat-answer))
      (should (opencode-test-wait (lambda () (null (opencode-requests-pending))) 30))
      (should (opencode-test-wait
               (lambda () (string-match-p "^Ran it\\.$" (opencode-test--visible-text))) 60))
      ;; The bash renderer: the command line on the heading, the output below.
      (should (string-match-p "^▸ \\$ echo hi-from-bash  \\[completed\\]"
                              (opencode-test--visible-text)))
      (goto-char (point-min))
      (search-forward "$ echo hi-from-bash")
      (opencode-chat-toggle-fold)
      (should (string-match-p "^# Say hi\nhi-from-bash$" (opencode-test--visible-text)))
      ;; A user's renderer changes the look; folding stays the package's.
      (let ((opencode-chat-tool-renderers nil))
        (opencode-chat-define-tool-renderer
         "bash" (lambda (part) (list :heading (concat "BASH " (plist-get (plist-get (plist-get part :state) :input) :command)))))
        (opencode-chat-reload)
        (should (opencode-test-wait
                 (lambda () (string-match-p "^▾ BASH echo hi-from-bash$" (opencode-test--visible-text))) 10))
        ;; Still open, as it was left: fold state survives the new look.
        (should (string-match-p "^command: echo hi-from-bash\ndescription: Say hi\n\nhi-from-bash$"
                                (opencode-test--visible-text)))))))

(ert-deftest opencode-integration/question-asked-and-answered ()
  "The question tool's options are offered with completion; the answer reaches the agent."
  (opencode-test-with-chat-on-real-server
      (list (append (opencode-test--tool-call
                     "question" '(:questions [(:question "Pick a color" :header "Color"
                                                         :options [(:label "Red" :description "warm")
                                                                   (:label "Blue" :description "cool")])]))
                    '(:tool_calls))
            '((:content "Blue it is.") :stop))
    (opencode-api-session-prompt-async conn sid "Ask me")
    (should (opencode-test-wait (lambda () (opencode-requests-pending)) 60))
    (let (offered)
      (cl-letf (((symbol-function 'completing-read)
                 (lambda (_prompt collection &rest _)
                   (setq offered (all-completions "" collection))
                   "Blue")))
        (opencode-chat-answer))
      (should (equal offered '("Red" "Blue"))))
    (should (opencode-test-wait
             (lambda () (string-match-p "^Blue it is\\.$" (opencode-test--visible-text))) 60))
    (should (cl-some (lambda (req) (string-match-p "Blue" (json-serialize req)))
                     opencode-test-mock-requests))))

(ert-deftest opencode-integration/todos ()
  "todowrite fills the todo window, which follows todo.updated."
  (opencode-test-with-chat-on-real-server
      (list (append (opencode-test--tool-call
                     "todowrite" '(:todos [(:content "Write tests" :status "in_progress" :priority "high")
                                           (:content "Ship it" :status "pending" :priority "low")]))
                    '(:tool_calls))
            '((:content "All done.") :stop))
    (let ((todo-buf (save-window-excursion (opencode-chat-todos))))
      (unwind-protect
          (progn
            (should (equal (with-current-buffer todo-buf (buffer-string)) "No todos."))
            (opencode-api-session-prompt-async conn sid "Plan")
            (should (opencode-test-wait
                     (lambda () (string-match-p "^All done\\.$" (opencode-test--visible-text))) 60))
            (should (opencode-test-wait
                     (lambda () (with-current-buffer todo-buf
                                  (string-match-p "^\\[>\\] Write tests  (high)\n\\[ \\] Ship it  (low)$"
                                                  (buffer-string))))
                     10)))
        (kill-buffer todo-buf)))))

(ert-deftest opencode-integration/prompt-shell-command-agent-model-file ()
  "! runs a shell command, /name a server command; agent, model and files go along."
  (let ((opencode-test-extra-config
         '(:command (:greet (:template "Say hello to $ARGUMENTS" :description "Greet someone")))))
    (opencode-test-with-chat-on-real-server nil
      (let ((messages (lambda () (opencode-request-sync conn "GET" (opencode--path "session" sid "message"))))
            (file (expand-file-name "notes.txt" default-directory)))
        (with-temp-file file (insert "attached notes\n"))
        ;; Shell: the output is in the session.
        (opencode-test--prompt chat "!echo shell-ok")
        (should (string-match-p "shell-ok" (json-serialize (funcall messages))))
        ;; A server slash command: its template reaches the model.
        (opencode-test--prompt chat "/greet the tester")
        (should (opencode-test-wait
                 (lambda () (cl-some (lambda (r) (string-match-p "Say hello to the tester" (json-serialize r)))
                                     opencode-test-mock-requests))
                 30))
        ;; Agent, model and an attachment.
        (cl-letf (((symbol-function 'completing-read)
                   (lambda (prompt coll &rest _)
                     (let ((all (all-completions "" coll)))
                       (cond ((string-prefix-p "Agent" prompt) (should (member "plan" all)) "plan")
                             (t (should (member "mock/mock-1" all)) "mock/mock-1"))))))
          (opencode-test--prompt chat "With a file"
                                 (lambda ()
                                   (opencode-chat-set-agent)
                                   (opencode-chat-set-model)
                                   (opencode-prompt-attach-file file))))
        (should (opencode-test-wait
                 (lambda ()
                   (let ((user (cl-find-if (lambda (m) (and (equal (plist-get (plist-get m :info) :role) "user")
                                                            (string-match-p "With a file" (json-serialize m))))
                                           (funcall messages))))
                     (and user
                          (equal (plist-get (plist-get user :info) :agent) "plan")
                          (equal (plist-get (plist-get (plist-get user :info) :model) :providerID) "mock")
                          (cl-some (lambda (p) (and (equal (plist-get p :type) "file")
                                                    (equal (plist-get p :filename) "notes.txt")))
                                   (plist-get user :parts)))))
                 30))))))

(ert-deftest opencode-integration/chat-pages-older-messages ()
  "A long session opens on its newest page; o loads older pages, keeping point."
  (opencode-test-with-real-server conn
    (let* ((s (opencode-request-sync conn "POST" "/session" :body '(:title "long")))
           (sid (plist-get s :id)))
      (dotimes (i 5)
        ;; noReply: a user message without a model turn.
        (opencode-request-sync conn "POST" (opencode--path "session" sid "message")
                               :body `(:noReply t :parts [(:type "text" :text ,(format "note %d" i))])))
      (let* ((opencode-chat-message-limit 2)
             (chat (save-window-excursion (opencode-chat-open conn s))))
        (unwind-protect
            (with-current-buffer chat
              (should (opencode-test-wait
                       (lambda () (string-match-p "note 3\n\\(.\\|\n\\)*note 4" (opencode-test--visible-text)))
                       20))
              ;; Late events of older messages do not creep in: a
              ;; rename made after them comes back on the same stream
              ;; behind them, so once the store has it, they were handled.
              (opencode-request-sync conn "PATCH" (opencode--path "session" sid)
                                     :body '(:title "long, checked"))
              (should (opencode-test-wait
                       (lambda () (equal (opencode-session-title (opencode-store-session conn sid))
                                         "long, checked"))
                       20))
              (should-not (string-match-p "note 2" (opencode-test--visible-text)))
              (goto-char (point-min))
              (search-forward "note 3")
              (goto-char (match-beginning 0))
              (opencode-chat-load-older)
              (should (opencode-test-wait
                       (lambda () (string-match-p "note 1" (opencode-test--visible-text))) 20))
              (should (looking-at "note 3"))
              (opencode-chat-load-older)
              (should (opencode-test-wait
                       (lambda () (string-match-p "note 0" (opencode-test--visible-text))) 20))
              (should (string-match-p "note 0\n\\(.\\|\n\\)*note 1\n\\(.\\|\n\\)*note 2\n\\(.\\|\n\\)*note 3\n\\(.\\|\n\\)*note 4"
                                      (opencode-test--visible-text)))
              (should-error (opencode-chat-load-older) :type 'user-error))
          (kill-buffer chat))))))

(ert-deftest opencode-integration/chat-first-screen-then-the-rest ()
  "A chat first asks for its newest screenful, then the rest of its page.
The rest is drawn above in order; a reload asks for the whole page."
  (opencode-test-with-real-server conn
    (let* ((s (opencode-request-sync conn "POST" "/session" :body '(:title "paged")))
           (sid (plist-get s :id))
           (limits nil))
      (dotimes (i 9)
        (opencode-request-sync conn "POST" (opencode--path "session" sid "message")
                               :body `(:noReply t :parts [(:type "text" :text ,(format "note %d" i))])))
      (let* ((opencode-chat-message-limit 6)
             (opencode-chat-render-batch 2)
             (opencode-changes-page 50)
             ;; The chat's requests, not those of the changes' reader.
             (record (lambda (_conn id &rest args)
                       (when (and (equal id sid) (not (eql (plist-get args :limit) 50)))
                         (push (list (plist-get args :limit) (and (plist-get args :before) t))
                               limits))))
             (chat nil))
        (advice-add 'opencode-api-session-messages :before record)
        (unwind-protect
            (progn
              (setq chat (save-window-excursion (opencode-chat-open conn s)))
              (with-current-buffer chat
                (should (opencode-test-wait
                         (lambda () (and (opencode-chat-loaded-p)
                                         (string-match-p "note 3" (opencode-test--visible-text))))
                         20))
                ;; The newest 2 first, then the 4 before them, from the cursor.
                (should (equal (list 2 nil) (car (last limits))))
                (should (member (list 4 t) limits))
                (should (string-match-p
                         "note 3\n\\(.\\|\n\\)*note 4\n\\(.\\|\n\\)*note 5\n\\(.\\|\n\\)*note 6\n\\(.\\|\n\\)*note 7\n\\(.\\|\n\\)*note 8"
                         (opencode-test--visible-text)))
                (should-not (string-match-p "note 2" (opencode-test--visible-text)))
                ;; o goes on from where the rest ended.
                (opencode-chat-load-older)
                (should (opencode-test-wait
                         (lambda () (string-match-p "note 0" (opencode-test--visible-text))) 20))
                (should (= 9 (length (opencode-chat-messages))))
                ;; A reload asks for the whole page at once.
                (setq limits nil)
                (opencode-chat-reload)
                (should (opencode-test-wait (lambda () limits) 20))
                (should (equal '((6 nil)) limits))))
          (advice-remove 'opencode-api-session-messages record)
          (when (buffer-live-p chat) (kill-buffer chat)))))))

(ert-deftest opencode-integration/retry-then-error ()
  "A rate limit shows a retry countdown, then the reply; a hard error shows in the timeline."
  (opencode-test-with-chat-on-real-server
      (list '((:http-status 429 :reason "Too Many Requests" :message "slow down please"))
            '((:content "Made it after the retry.") :stop)
            '((:http-status 400 :reason "Bad Request" :message "this request is broken")))
    (let ((headers nil) (list-buf (opencode-sessions (opencode-connection-directory conn))))
      (unwind-protect
          (progn
            (with-current-buffer chat
              ;; After the chat's own handler: what the header shows then.
              (let ((opencode-event-functions
                     (append (default-value 'opencode-event-functions)
                             (list (lambda (_c type props)
                                     (when (and (equal type "session.status")
                                                (equal (plist-get (plist-get props :status) :type)
                                                       "retry"))
                                       (with-current-buffer chat
                                         (push (opencode-chat--header-line) headers))))))))
                (opencode-api-session-prompt-async conn sid "Try hard")
              (should (opencode-test-wait
                       (lambda () (string-match-p "^Made it after the retry\\.$"
                                                  (opencode-test--visible-text)))
                       90)))
              (should headers)
              (should (string-match-p "retry 1 in [0-9]+s: .*slow down please" (car headers))))
            (with-current-buffer chat
              (opencode-api-session-prompt-async conn sid "Break now")
              (should (opencode-test-wait
                       (lambda () (string-match-p "Error: .*this request is broken"
                                                  (opencode-test--visible-text)))
                       60))
              (should (string-match-p "this request is broken" (opencode-chat--header-line))))
            (with-current-buffer list-buf
              (should (opencode-test-wait
                       (lambda () (string-match-p "1 error" (opencode-sessions-mode-line))) 10))))
        (kill-buffer list-buf)))))

(ert-deftest opencode-integration/subagent-task ()
  "A task tool call runs a sub-agent session; the chat links to it."
  (opencode-test-with-chat-on-real-server
      (list (append (opencode-test--tool-call
                     "task" '(:description "Look around" :prompt "Explore the project"
                              :subagent_type "general"))
                    '(:tool_calls))
            '((:content "Child finished.") :stop)
            '((:content "Parent finished.") :stop))
    (opencode-api-session-prompt-async conn sid "Delegate")
    (should (opencode-test-wait
             (lambda () (string-match-p "^Parent finished\\.$" (opencode-test--visible-text))) 90))
    (goto-char (point-min))
    (search-forward "Task (general): Look around")
    (opencode-chat-toggle-fold)
    (should (search-forward "Sub-agent session ses_" nil t))
    (goto-char (match-beginning 0))
    (let ((child (save-window-excursion (opencode-chat-open-linked-session))))
      (unwind-protect
          (with-current-buffer child
            (should (opencode-test-wait
                     (lambda () (string-match-p "^Child finished\\.$" (opencode-test--visible-text)))
                     20))
            (should (equal (plist-get (opencode-chat-session) :parentID) sid)))
        (kill-buffer child)))))

(ert-deftest opencode-integration/chat-session-operations ()
  "Revert/unrevert, fork, edit and delete at point; the branch in the header."
  (opencode-test-with-real-server conn
    (let* ((s (opencode-request-sync conn "POST" "/session" :body '(:title "ops")))
           (sid (plist-get s :id))
           (msgs (lambda () (opencode-request-sync conn "GET" (opencode--path "session" sid "message"))))
           (texts (lambda () (mapcar (lambda (m) (plist-get (aref (plist-get m :parts) 0) :text))
                                     (funcall msgs)))))
      (dolist (text '("first note" "second note"))
        (opencode-request-sync conn "POST" (opencode--path "session" sid "message")
                               :body `(:noReply t :parts [(:type "text" :text ,text)])))
      (let ((chat (save-window-excursion (opencode-chat-open conn s)))
            (opened nil))
        (unwind-protect
            (with-current-buffer chat
              (should (opencode-test-wait
                       (lambda () (string-match-p "second note" (opencode-test--visible-text)))))
              (should (opencode-test-wait
                       (lambda () (string-match-p "\\[\\(master\\|main\\)\\]" (opencode-chat--header-line)))))
              (cl-letf (((symbol-function 'yes-or-no-p) (lambda (_) t)))
                ;; Revert to before the second note, then restore.
                (goto-char (point-min)) (search-forward "second note")
                (opencode-chat-revert (opencode-chat-message-at-point))
                (should (opencode-test-wait (lambda () (plist-get (opencode-chat-session) :revert))))
                (should (string-match-p "reverted" (opencode-chat--header-line)))
                (should (overlayp opencode-chat--revert-overlay))
                (opencode-chat-unrevert)
                (should (opencode-test-wait (lambda () (not (plist-get (opencode-chat-session) :revert)))))
                (should-not opencode-chat--revert-overlay)
                ;; Fork at the second note: the fork holds what came before it.
                (goto-char (point-min)) (search-forward "second note")
                (cl-letf (((symbol-function 'opencode-chat-open) (lambda (_c s) (setq opened s))))
                  (opencode-chat-fork (opencode-chat-message-at-point))
                  (should (opencode-test-wait (lambda () opened))))
                (should (string-match-p "fork" (plist-get opened :title)))
                (should (equal (mapcar (lambda (m) (plist-get (aref (plist-get m :parts) 0) :text))
                                       (opencode-request-sync conn "GET" (opencode--path "session" (plist-get opened :id) "message")))
                               '("first note")))
                ;; Edit the first note's text.
                (goto-char (point-min)) (search-forward "first note")
                (goto-char (match-beginning 0))
                (opencode-chat-edit-part)
                (with-current-buffer "*opencode-edit-part*"
                  (erase-buffer) (insert "first note, edited")
                  (opencode-chat-edit-finish))
                (should (opencode-test-wait (lambda () (equal (car (funcall texts)) "first note, edited"))))
                (should (opencode-test-wait
                         (lambda () (string-match-p "first note, edited" (opencode-test--visible-text)))))
                ;; Delete the second message.
                (goto-char (point-min)) (search-forward "second note")
                (opencode-chat-delete-message (opencode-chat-message-at-point))
                (should (opencode-test-wait (lambda () (equal (funcall texts) '("first note, edited")))))
                (should (opencode-test-wait
                         (lambda () (not (string-match-p "second note" (opencode-test--visible-text))))))))
          (kill-buffer chat))))))

(ert-deftest opencode-integration/operation-on-deleted-session ()
  "Acting on a session deleted elsewhere says the server's reason in one sentence."
  (opencode-test-with-real-server conn
    (let* ((s (opencode-request-sync conn "POST" "/session" :body '(:title "doomed")))
           (buf (opencode-sessions (opencode-connection-directory conn)))
           (messages nil))
      (unwind-protect
          (with-current-buffer buf
            (should (opencode-test-wait (lambda () (opencode-sessions--goto (plist-get s :id)))))
            (opencode-request-sync conn "DELETE" (opencode--path "session" (plist-get s :id)))
            (cl-letf (((symbol-function 'message)
                       (lambda (fmt &rest args) (push (apply #'format fmt args) messages))))
              (opencode-sessions-rename (plist-get s :id) "too late")
              (should (opencode-test-wait
                       (lambda () (cl-some (lambda (m) (string-match-p
                                                        "\\`OpenCode: Session not found: ses_[^ ]+ (HTTP 404 from http://[^ ]+)\\.\\'"
                                                        m))
                                           messages)))))
            ;; The list shows the truth: the row is gone.
            (should (opencode-test-wait (lambda () (not (gethash (plist-get s :id) opencode-sessions--sessions))))))
        (kill-buffer buf)))))

(ert-deftest opencode-integration/file-edited-and-part-delete ()
  "A file the agent writes is reverted in its clean buffer; x deletes a part."
  (opencode-test-with-chat-on-real-server
      (list (append (opencode-test--tool-call
                     "write" `(:filePath ,(expand-file-name "seen.txt" default-directory)
                                         :content "new content from the agent\n"))
                    '(:tool_calls))
            '((:content "Wrote it.") :stop))
    (let* ((file (expand-file-name "seen.txt" default-directory))
           (fbuf (progn (with-temp-file file (insert "old content\n"))
                        (find-file-noselect file))))
      (unwind-protect
          (progn
            (opencode-api-session-prompt-async conn sid "Write the file")
            (should (opencode-test-wait
                     (lambda () (string-match-p "^Wrote it\\.$" (opencode-test--visible-text))) 60))
            (should (opencode-test-wait
                     (lambda () (with-current-buffer fbuf
                                  (equal (buffer-string) "new content from the agent\n")))
                     20))
            ;; Delete the "Wrote it." text part.
            (goto-char (point-min))
            (search-forward "Wrote it.")
            (goto-char (match-beginning 0))
            (cl-letf (((symbol-function 'yes-or-no-p) (lambda (_) t)))
              (opencode-chat-delete-part))
            (should (opencode-test-wait
                     (lambda () (not (string-match-p "Wrote it" (opencode-test--visible-text))))
                     20))
            (should-not (string-match-p "Wrote it"
                                        (json-serialize (opencode-request-sync
                                                         conn "GET" (opencode--path "session" sid "message"))))))
        (kill-buffer fbuf)))))

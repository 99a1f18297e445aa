;;; opencode-send-test.el --- Context and prompts from anywhere  -*- lexical-binding: t; -*-

;;; Commentary:

;; Mentions with line ranges and of agents, context providers, sending
;; from a file buffer, the Lisp API, and model variants, on the real
;; server.

;;; Code:

(require 'opencode-test-helpers)
(require 'opencode-send)
(require 'dired)
(require 'flymake)

(defun opencode-send-test--lines (dir)
  "Write lines.txt, 30 numbered lines, in DIR; return its name."
  (let ((f (expand-file-name "lines.txt" dir)))
    (with-temp-file f (dotimes (i 30) (insert (format "line number %d\n" (1+ i)))))
    f))

(defun opencode-send-test--user-text (request)
  "Return all the user text of REQUEST, a chat request the mock received."
  (mapconcat (lambda (m)
               (if (equal (plist-get m :role) "user")
                   (let ((c (plist-get m :content)))
                     (if (stringp c) c
                       (mapconcat (lambda (p) (or (plist-get p :text) "")) c "\n")))
                 ""))
             (plist-get request :messages) "\n"))

(defun opencode-send-test--stored-parts (conn sid)
  "Return the parts of the first user message of SID on CONN, once stored."
  (let (parts)
    (should (opencode-test-wait
             (lambda ()
               (let ((m (cl-find-if (lambda (m) (equal (plist-get (plist-get m :info) :role) "user"))
                                    (opencode-api-session-messages conn sid :sync t))))
                 (setq parts (and m (append (plist-get m :parts) nil)))))
             30))
    parts))

(ert-deftest opencode-send/parse-range ()
  "@path#L10-20, #L7 and none split as the prompt sends them."
  (should (equal (opencode-complete-parse-range "src/a.el#L10-20") '("src/a.el" 10 20)))
  (should (equal (opencode-complete-parse-range "a.el#L7") '("a.el" 7 7)))
  (should (equal (opencode-complete-parse-range "a.el#L9-L12") '("a.el" 9 12)))
  (should (equal (opencode-complete-parse-range "a.el") '("a.el" nil nil)))
  (should (equal (opencode-prompt--file-part '("/p/a.el" 3 5))
                 '(:type "file" :mime "text/plain" :filename "a.el#L3-5"
                         :url "file:///p/a.el?start=3&end=5"))))

(ert-deftest opencode-send/provider-names-are-words ()
  "@NAME calls its provider only as a word: not inside a file name."
  (let ((opencode-context-providers nil))
    (opencode-context-define "buffer" (lambda () (list :text "BUF" :files '("/f"))))
    (cl-letf (((symbol-function 'opencode-context-origin) (lambda () (current-buffer))))
      (should (equal (opencode-context-expand "see @buffer") '("see BUF" "/f")))
      (should (equal (opencode-context-expand "see @buffer.") '("see BUF." "/f")))
      (should (equal (opencode-context-expand "(@buffer), ok") '("(BUF), ok" "/f")))
      (should (equal (opencode-context-expand "@buffer\nnext") '("BUF\nnext" "/f")))
      (should (equal (opencode-context-expand "@buffer @buffer") '("BUF BUF" "/f" "/f")))
      (dolist (text '("open @buffer.el" "@buffer/x.el" "@buffer#L3" "mail@buffer" "@buffers"
                      "@buffer.el."))
        (should (equal (opencode-context-expand text) (list text)))))))

(ert-deftest opencode-send/mention-source ()
  "A mentioned file's part says where its mention is: value, start, end in UTF-16."
  (let* ((dir (make-temp-file "opencode-src-" t))
         (file (expand-file-name "a.txt" dir)))
    (unwind-protect
        (progn
          (make-directory (expand-file-name "sub" dir))
          (write-region "x\n" nil file)
          (should (equal (plist-get (opencode-prompt--file-part (list file 5 7) "Explain @a.txt#L5-7 please" dir)
                                    :source)
                         '(:type "file" :path "a.txt" :text (:value "@a.txt#L5-7" :start 8 :end 19))))
          ;; An emoji is two UTF-16 units, as the server counts.
          (should (equal (plist-get (opencode-prompt--file-part (file-name-as-directory
                                                                 (expand-file-name "sub" dir))
                                                                "😀 see (@sub/)." dir)
                                    :source)
                         '(:type "file" :path "sub/" :text (:value "@sub/" :start 8 :end 13))))
          (should-not (plist-get (opencode-prompt--file-part file "no mention" dir) :source))
          (should-not (plist-get (opencode-prompt--file-part (list file 1 2) "@a.txt#L5-7" dir) :source)))
      (delete-directory dir t))))

(ert-deftest opencode-send/range-and-agent-mentions ()
  "A line range sends those lines only; an @agent mention an agent part."
  (opencode-test-with-chat-on-real-server (list '((:content "Seen.") :stop)
                                                '((:content "Delegated.") :stop))
    (opencode-send-test--lines default-directory)
    (opencode-test--prompt chat "Explain @lines.txt#L5-7 please")
    (should (opencode-test-wait
             (lambda () (string-match-p "Seen\\." (opencode-test--visible-text))) 30))
    (let ((sent (opencode-send-test--user-text (car (last opencode-test-mock-requests)))))
      (should (string-match-p "line number 6" sent))
      (should-not (string-match-p "line number 12\\b" sent)))
    (let ((part (cl-find-if (lambda (p) (string-match-p "lines.txt\\?start=5&end=7" (or (plist-get p :url) "")))
                            (opencode-send-test--stored-parts conn sid))))
      (should part)
      ;; Its source says where the mention is in the text, as the TUI says it.
      (should (equal (plist-get part :source)
                     '(:text (:value "@lines.txt#L5-7" :start 8 :end 23) :type "file" :path "lines.txt"))))))

(ert-deftest opencode-send/agent-mention-and-providers ()
  "@general sends an agent part; @buffer sends the unsaved text of the buffer."
  (opencode-test-with-chat-on-real-server nil
    (let ((work (generate-new-buffer "notes.txt")))
      (unwind-protect
          (progn
            (with-current-buffer work (insert "unsaved thought 42\n"))
            ;; The buffer the user works in is the last selected one not ours.
            (switch-to-buffer work)
            (let ((prompt (save-window-excursion (with-current-buffer chat (opencode-chat-prompt)))))
              (with-current-buffer prompt
                (insert "Read @buffer and ask @general")
                (opencode-prompt-send)
                (should (opencode-test-wait (lambda () (= (buffer-size) 0)) 30)))
              (kill-buffer prompt))
            (let ((parts (opencode-send-test--stored-parts conn sid)))
              (should (cl-some (lambda (p) (and (equal (plist-get p :type) "agent")
                                                (equal (plist-get p :name) "general")))
                               parts))
              (should (cl-some (lambda (p) (string-match-p "unsaved thought 42" (or (plist-get p :text) "")))
                               parts))
              (should-not (cl-some (lambda (p) (string-match-p "@buffer" (or (plist-get p :text) "")))
                                   parts))))
        (kill-buffer work)))))

(ert-deftest opencode-send/region-from-a-file-and-the-api ()
  "The region of a file goes as its lines; `opencode-insert' and `opencode-send' work."
  (opencode-test-with-chat-on-real-server (list '((:content "Region seen.") :stop)
                                                '((:content "API seen.") :stop))
    (let* ((file (opencode-send-test--lines default-directory))
           (buf (find-file-noselect file)))
      (unwind-protect
          (with-current-buffer buf
            (goto-char (point-min))
            (forward-line 1)
            (push-mark (point) t t)
            (forward-line 2)
            ;; Without a prefix: into the prompt of this project's chat.
            (let ((prompt (save-window-excursion
                            (opencode-send-region (region-beginning) (region-end))
                            (window-buffer (selected-window)))))
              (with-current-buffer prompt
                (should (derived-mode-p 'opencode-prompt-mode))
                (should (equal (buffer-string) "@lines.txt#L2-3 "))
                (erase-buffer)))
            ;; With one: sent at once.
            (save-window-excursion
              (opencode-send-region (region-beginning) (region-end) t))
            (with-current-buffer chat
              (should (opencode-test-wait
                       (lambda () (string-match-p "Region seen\\." (opencode-test--visible-text))) 30)))
            (let ((sent (opencode-send-test--user-text (car (last opencode-test-mock-requests)))))
              (should (string-match-p "line number 2" sent))
              (should-not (string-match-p "line number 9" sent)))
            ;; The API.
            (let ((prompt (save-window-excursion (opencode-insert "typed by a package" :session sid))))
              (with-current-buffer prompt
                (should (string-match-p "typed by a package\\'" (buffer-string)))
                (erase-buffer)))
            (save-window-excursion (opencode-send "Sent by a package" :session sid))
            (with-current-buffer chat
              (should (opencode-test-wait
                       (lambda () (string-match-p "Sent by a package\\(.\\|\n\\)*API seen\\."
                                                  (opencode-test--visible-text)))
                       30))))
        (kill-buffer buf)))))

(ert-deftest opencode-send/a-hidden-chat-shows-when-sent-to ()
  "A region sent to the prompt of a chat no window shows: C-c C-c shows the chat.
The reply is in a window, the prompt stays selected; a second time,
`display-buffer-alist' says where the chat goes."
  (opencode-test-with-chat-on-real-server (list '((:content "Region answered.") :stop)
                                                '((:content "Second answer.") :stop))
    (let* ((file (opencode-send-test--lines default-directory))
           (buf (find-file-noselect file)))
      (unwind-protect
          (save-window-excursion
            (delete-other-windows)
            (switch-to-buffer buf)
            (goto-char (point-min))
            (forward-line 1)
            (push-mark (point) t t)
            (forward-line 2)
            ;; C-c o R: the prompt, under the file; no window shows the chat.
            (call-interactively #'opencode-send-region)
            (let ((prompt (window-buffer (selected-window))))
              (should (eq (buffer-local-value 'major-mode prompt) 'opencode-prompt-mode))
              (should-not (get-buffer-window chat))
              ;; C-c C-c there (as the command loop would, in the
              ;; selected window's buffer).
              (with-current-buffer prompt
                (goto-char (point-max))
                (insert "What do these do?")
                (call-interactively #'opencode-prompt-send))
              (let ((w (get-buffer-window chat)))
                (should w)
                (should (eq (window-buffer (selected-window)) prompt))
                (should (opencode-test-wait
                         (lambda () (string-match-p "@lines\\.txt#L2-3 What do these do\\?\\(?:.\\|\n\\)*\nRegion answered\\.\n"
                                                    (opencode-test--window-text w)))
                         30)))
              (should (opencode-test-wait (lambda () (not (opencode-store-busy-p conn sid))) 30))
              ;; Hidden again; the user's `display-buffer-alist' places it.
              (delete-window (get-buffer-window chat))
              (should-not (get-buffer-window chat))
              (let ((display-buffer-alist '(("\\`\\*opencode: " display-buffer-in-side-window
                                             (side . left)))))
                (with-current-buffer prompt
                  (insert "And again")
                  (opencode-prompt-send)))
              (let ((w (get-buffer-window chat)))
                (should w)
                (should (eq (window-parameter w 'window-side) 'left))
                (should (eq (window-buffer (selected-window)) prompt))
                (with-current-buffer chat
                  (should (opencode-test-wait
                           (lambda () (string-match-p "^Second answer\\.$" (opencode-test--visible-text)))
                           30))
                  ;; It follows the reply (batch Emacs does not redisplay,
                  ;; so its start stays where the prompt left it).
                  (should (= (window-point w) (point-max)))))))
        (kill-buffer buf)))))

(ert-deftest opencode-send/model-variants ()
  "The model's variants cycle, show in the context line and go with the prompt."
  (let ((opencode-test-mock-model-config '(:variants (:low (:reasoningEffort "low")
                                                      :high (:reasoningEffort "high")))))
    (opencode-test-with-chat-on-real-server (list '((:content "Thought hard.") :stop))
      (setq opencode-chat-model '("mock" . "mock-1"))
      (opencode-chat-cycle-variant)
      (should (member opencode-chat-variant '("low" "high")))
      (let ((first opencode-chat-variant))
        (opencode-chat-cycle-variant)
        (should (member opencode-chat-variant '("low" "high")))
        (should-not (equal first opencode-chat-variant))
        (opencode-chat-cycle-variant)
        (should (null opencode-chat-variant))
        (opencode-chat-cycle-variant)
        (should (equal opencode-chat-variant first)))
      (should (string-match-p (format "mock/mock-1 (%s)" opencode-chat-variant)
                              (opencode-chat-context-line)))
      (let ((variant opencode-chat-variant))
        (opencode-test--prompt chat "Think")
        (should (opencode-test-wait
                 (lambda () (string-match-p "Thought hard\\." (opencode-test--visible-text))) 30))
        (let ((user (cl-find-if (lambda (m) (equal (plist-get (plist-get m :info) :role) "user"))
                                (opencode-api-session-messages conn sid :sync t))))
          (should (equal (plist-get (plist-get (plist-get user :info) :model) :variant) variant)))))))

(ert-deftest opencode-send/edit-permission-shows-its-diff-from-anywhere ()
  "An edit asks first: answered from the prompt, its diff shown, always's patterns said.
`opencode-answer-next' finds a session that needs the user from any buffer."
  (let ((opencode-test-extra-config '(:permission (:edit "ask"))))
    (opencode-test-with-chat-on-real-server
        (list (append (opencode-test--tool-call "write" '(:filePath "greet.py"
                                                           :content "print('hello')\n"))
                      '(:tool_calls))
              '((:content "Written.") :stop))
      (opencode-api-session-prompt-async conn sid "Write greet.py")
      (should (opencode-test-wait (lambda () (opencode-requests-pending)) 60))
      (let ((prompt (save-window-excursion (opencode-chat-prompt)))
            (seen-diff nil) (seen-choices nil))
        (cl-letf (((symbol-function 'read-multiple-choice)
                   (lambda (_prompt choices &rest _)
                     (setq seen-choices choices)
                     (let ((b (get-buffer "*opencode-permission-diff*")))
                       (setq seen-diff (and b (get-buffer-window b)
                                            (with-current-buffer b (buffer-string)))))
                     (assq ?o choices))))
          ;; From a buffer that is none of the chat's: the next session that needs you.
          (with-temp-buffer
            (save-window-excursion (opencode-answer-next))))
        (should (string-match-p "^\\+print('hello')" seen-diff))
        (should (string-match-p "Allow from now on: " (nth 2 (assq ?a seen-choices))))
        (should-not (get-buffer-window "*opencode-permission-diff*"))
        (should (opencode-test-wait
                 (lambda () (string-match-p "Written\\." (opencode-test--visible-text))) 60))
        (should (file-exists-p (expand-file-name "greet.py" default-directory)))
        ;; Nothing waits now: the prompt's key says so.
        (with-current-buffer prompt
          (should-error (opencode-chat-answer) :type 'user-error))
        (kill-buffer prompt)))))

(defun opencode-send-test--last-user-text ()
  "Return the user text of the last request the mock received."
  (opencode-send-test--user-text (car opencode-test-mock-requests)))

(defun opencode-send-test--wait-reply (chat n)
  "Wait until CHAT shows N replies of the mock's default answer."
  (with-current-buffer chat
    (should (opencode-test-wait
             (lambda () (>= (how-many "^Hello from the mock\\.$" (point-min) (point-max)) n))
             60))))

(ert-deftest opencode-send/file-dired-and-a-fenced-region ()
  "The file of a buffer, Dired's marked files, the region of a buffer with no file."
  (opencode-test-with-chat-on-real-server nil
    (let* ((file (opencode-send-test--lines default-directory))
           (other (expand-file-name "other.txt" default-directory))
           (buf (find-file-noselect file))
           (scratch (generate-new-buffer "*notes*"))
           (dired nil))
      (write-region "other text 77\n" nil other)
      (unwind-protect
          (progn
            ;; The file: into the prompt, then with a prefix at once.
            (with-current-buffer buf
              (let ((prompt (save-window-excursion (opencode-send-file) (window-buffer))))
                (with-current-buffer prompt
                  (should (equal (buffer-string) "@lines.txt "))
                  (erase-buffer)))
              (with-current-buffer buf (save-window-excursion (opencode-send-file t))))
            (opencode-send-test--wait-reply chat 1)
            (should (string-match-p "line number 30" (opencode-send-test--last-user-text)))
            ;; Dired's marked files.
            (setq dired (dired-noselect default-directory))
            (with-current-buffer dired
              (dired-goto-file file) (dired-mark 1)
              (dired-goto-file other) (dired-mark 1)
              (let ((prompt (save-window-excursion (opencode-send-dired-files) (window-buffer))))
                (with-current-buffer prompt
                  (should (equal (buffer-string) "@lines.txt @other.txt "))
                  (erase-buffer)))
              (with-current-buffer dired (save-window-excursion (opencode-send-dwim t))))
            (opencode-send-test--wait-reply chat 2)
            (let ((sent (opencode-send-test--last-user-text)))
              (should (string-match-p "line number 30" sent))
              (should (string-match-p "other text 77" sent)))
            ;; A region of a buffer with no file: a fenced block in its language.
            (with-current-buffer scratch
              (emacs-lisp-mode)
              (insert ";; before\n(defun fenced-thing () 42)\n;; after\n")
              (goto-char (point-min))
              (forward-line 1)
              (push-mark (point) t t)
              (forward-line 1)
              (setq-local transient-mark-mode t)
              (should (use-region-p))
              (let ((prompt (save-window-excursion (opencode-send-dwim) (window-buffer))))
                (with-current-buffer prompt
                  (should (equal (buffer-string) "```elisp\n(defun fenced-thing () 42)\n```\n"))
                  (erase-buffer)))
              (with-current-buffer scratch
                (save-window-excursion (opencode-send-region (region-beginning) (region-end) t))))
            (opencode-send-test--wait-reply chat 3)
            (should (string-match-p "```elisp\n(defun fenced-thing () 42)\n```"
                                    (opencode-send-test--last-user-text))))
        (kill-buffer buf)
        (kill-buffer scratch)
        (when dired (kill-buffer dired))))))

(defun opencode-send-test--flymake-backend (report &rest _)
  "A flymake backend: an error on line 2, reported to REPORT."
  (save-excursion
    (goto-char (point-min))
    (forward-line 1)
    (funcall report (list (flymake-make-diagnostic (current-buffer) (point) (line-end-position)
                                                   :error "undefined thing on two")))))

(ert-deftest opencode-send/diagnostic-at-point-and-dwim ()
  "The flymake diagnostic at point asks for a fix with its line; dwim picks it there."
  (opencode-test-with-chat-on-real-server nil
    (let* ((file (opencode-send-test--lines default-directory))
           (buf (find-file-noselect file)))
      (unwind-protect
          (with-current-buffer buf
            (add-hook 'flymake-diagnostic-functions #'opencode-send-test--flymake-backend nil t)
            (flymake-mode 1)
            (flymake-start)
            (should (opencode-test-wait (lambda () (flymake-diagnostics)) 10))
            (goto-char (point-min))
            (forward-line 1)
            (let ((prompt (save-window-excursion (opencode-send-dwim) (window-buffer))))
              (with-current-buffer prompt
                (should (string-match-p "\\`Fix this at @lines\\.txt#L2:\nlines\\.txt:2: :error: undefined thing on two\n\\'"
                                        (buffer-string)))
                (erase-buffer)))
            (with-current-buffer buf (save-window-excursion (opencode-send-diagnostic t)))
            (opencode-send-test--wait-reply chat 1)
            (let ((sent (opencode-send-test--last-user-text)))
              (should (string-match-p "undefined thing on two" sent))
              ;; Line 2 went along, not the whole file.
              (should (string-match-p "line number 2" sent))
              (should-not (string-match-p "line number 9" sent)))
            ;; On a line with no diagnostic, dwim sends the file.
            (set-buffer buf)
            (goto-char (point-max))
            (let ((prompt (save-window-excursion (opencode-send-dwim) (window-buffer))))
              (with-current-buffer prompt
                (should (equal (buffer-string) "@lines.txt "))
                (erase-buffer))))
        (with-current-buffer buf (flymake-mode -1))
        (kill-buffer buf)))))

(ert-deftest opencode-send/queued-prompt-takes-its-context-when-queued ()
  "@buffer in a queued prompt is what the buffer held when queued, not when sent."
  (opencode-test-with-chat-on-real-server (list '((:content "Working") :hang)
                                                '((:content "Read it.") :stop))
    (let ((work (generate-new-buffer "notes.txt")))
      (unwind-protect
          (progn
            (opencode-api-session-prompt-async conn sid "Start")
            ;; The model is at work (the mock has the request): busy.
            (should (opencode-test-wait
                     (lambda () (string-match-p "Working" (with-current-buffer chat
                                                           (opencode-test--visible-text))))
                     60))
            (with-current-buffer work (insert "queued thought 7\n"))
            (switch-to-buffer work)
            (let ((prompt (save-window-excursion (with-current-buffer chat (opencode-chat-prompt)))))
              (with-current-buffer prompt
                (insert "Read @buffer")
                (opencode-prompt-queue))
              (kill-buffer prompt))
            (with-current-buffer chat
              (should (= (length opencode-chat-queued) 1)))
            ;; The buffer changes before the prompt goes.
            (with-current-buffer work (erase-buffer) (insert "later text 8\n"))
            (with-current-buffer chat
              (opencode-chat-abort)
              ;; The abort pauses the queue; sent, the prompt goes.
              (should (opencode-test-wait
                       (lambda () (not (opencode-store-busy-p conn sid))) 30))
              (opencode-chat-send-queue))
            (should (opencode-test-wait
                     (lambda () (string-match-p "^Read it\\.$" (with-current-buffer chat
                                                                 (opencode-test--visible-text))))
                     60))
            (let ((sent (opencode-send-test--last-user-text)))
              (should (string-match-p "queued thought 7" sent))
              (should-not (string-match-p "later text 8" sent))))
        (kill-buffer work)))))

(ert-deftest opencode-send/slash-command-with-a-variant ()
  "A slash command goes with the chosen variant."
  (let ((opencode-test-mock-model-config '(:variants (:high (:reasoningEffort "high"))))
        (opencode-test-extra-config
         '(:command (:greet (:template "Say hello to $ARGUMENTS" :description "Greet someone")))))
    (opencode-test-with-chat-on-real-server (list '((:content "Hello, Ada.") :stop))
      (setq opencode-chat-model '("mock" . "mock-1")
            opencode-chat-variant "high")
      (opencode-test--prompt chat "/greet Ada")
      (should (opencode-test-wait
               (lambda () (string-match-p "Hello, Ada\\." (opencode-test--visible-text))) 60))
      (let ((user (cl-find-if (lambda (m) (equal (plist-get (plist-get m :info) :role) "user"))
                              (opencode-api-session-messages conn sid :sync t))))
        (should (string-match-p "Say hello to Ada" (json-serialize user)))
        (should (equal (plist-get (plist-get (plist-get user :info) :model) :variant) "high"))))))

(provide 'opencode-send-test)
;;; opencode-send-test.el ends here

;;; opencode-send-test.el --- Context and prompts from anywhere  -*- lexical-binding: t; -*-

;;; Commentary:

;; Mentions with line ranges and of agents, context providers, sending
;; from a file buffer, the Lisp API, and model variants, on the real
;; server.

;;; Code:

(require 'opencode-test-helpers)
(require 'opencode-send)

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
    (should (cl-some (lambda (p) (string-match-p "lines.txt\\?start=5&end=7" (or (plist-get p :url) "")))
                     (opencode-send-test--stored-parts conn sid)))))

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

(provide 'opencode-send-test)
;;; opencode-send-test.el ends here

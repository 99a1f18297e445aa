;;; opencode-requests-test.el --- Permission and question blocks in the chat  -*- lexical-binding: t; -*-

;;; Commentary:

;; The block drawn under the tool part that asked (what is asked, the
;; patterns "always" allows, an edit's diff, the keys), its keys acting
;; with point on it, the block gone once answered; a request whose part
;; is not shown, under the timeline; questions with their options;
;; answering from the prompt with a message; the echo area's hint.  On
;; the real server.

;;; Code:

(require 'opencode-test-helpers)
(require 'opencode-send)

(defun opencode-requests-test--write-script (file content &optional reply)
  "Return a mock script that writes CONTENT to FILE, then says REPLY."
  (list (append (opencode-test--tool-call "write" `(:filePath ,file :content ,content))
                '(:tool_calls))
        `((:content ,(or reply "Written.")) :stop)))

(defun opencode-requests-test--goto-block ()
  "Move point to the first line of the request block in the chat; return point."
  (goto-char (point-min))
  (let ((m (text-property-search-forward 'opencode-request nil (lambda (_ v) v))))
    (should m)
    (goto-char (prop-match-beginning m))))

(ert-deftest opencode-requests/permission-block-at-the-tool-part ()
  "A write that asks shows a block under its part: patterns, diff, keys; o allows it."
  (let ((opencode-test-extra-config '(:permission (:edit "ask"))))
    (opencode-test-with-chat-on-real-server
        (opencode-requests-test--write-script "hello.py" "print('hello')\nprint('bye')\n")
      (opencode-api-session-prompt-async conn sid "Write hello.py")
      (should (opencode-test-wait
               (lambda () (string-match-p "┃ Permission: edit" (opencode-test--visible-text))) 60))
      (let ((text (opencode-test--visible-text)))
        ;; Right under the tool's heading, folded as it is.
        (should (string-match-p
                 (concat "^▸ Write hello\\.py (2 lines)  \\[running\\]\n"
                         "  ┃ Permission: edit hello\\.py\n"
                         "  ┃ always allows from now on: edit \\*\n")
                 text))
        ;; The proposed change, as a diff in diff-mode's faces.
        (should (string-match-p "^  ┃ \\+print('hello')\n  ┃ \\+print('bye')$" text))
        (should (string-match-p
                 "^  ┃ \\[o\\] once  \\[a\\] always  \\[r\\] reject  \\[m\\] reject with a message  \\[d\\] diff in a window$"
                 text))
        (should-not (string-match-p "Waiting for you" text)))
      (goto-char (point-min))
      (search-forward "+print('hello')")
      (should (memq (get-text-property (1- (point)) 'face) '(diff-added diff-indicator-added)))
      ;; Unfolding the tool keeps the block under it.
      (goto-char (point-min))
      (search-forward "▸ Write hello.py")
      (opencode-chat-toggle-fold)
      (should (string-match-p "^▾ Write hello\\.py (2 lines)  \\[running\\]\n\\(?:.*\n\\)*print('bye')\n  ┃ Permission: edit"
                              (opencode-test--visible-text)))
      ;; The keys act with point on the block: o allows once.
      (opencode-requests-test--goto-block)
      (forward-line 2)
      (should (eq (key-binding "o") 'opencode-request-once))
      (should (eq (key-binding "m") 'opencode-request-reject-with-message))
      (call-interactively (key-binding "o"))
      (should (opencode-test-wait
               (lambda () (string-match-p "^Written\\.$" (opencode-test--visible-text))) 60))
      ;; Answered: the block is gone.
      (should-not (string-match-p "┃" (opencode-test--visible-text)))
      (should (file-exists-p (expand-file-name "hello.py" default-directory))))))

(ert-deftest opencode-requests/keys-work-where-point-follows ()
  "At the end of the chat, where point follows the reply, the block's keys work.
A permission comes while the chat follows: o there allows it (it does
not load older messages), and the chat follows on; a question: 2
picks its second option (it is not a prefix argument).  With nothing
waiting, the keys are the chat's again."
  (let ((opencode-test-extra-config '(:permission (:edit "ask"))))
    (opencode-test-with-chat-on-real-server
        (append (opencode-requests-test--write-script "hello.py" "print('hello')\n")
                (list (append (opencode-test--tool-call
                               "question" '(:questions [(:question "Pick a color" :header "Pick"
                                                                   :options [(:label "Red" :description "warm")
                                                                             (:label "Blue" :description "cool")])]))
                              '(:tool_calls))
                      '((:content "Blue it is.") :stop)))
      (save-window-excursion
        (delete-other-windows)
        (switch-to-buffer chat)
        (opencode-chat-show-end)
        (should (eq (key-binding "o") 'opencode-chat-load-older))
        (should (eq (key-binding "2") 'digit-argument))
        (opencode-api-session-prompt-async conn sid "Write hello.py")
        (should (opencode-test-wait
                 (lambda () (string-match-p "┃ Permission: edit hello\\.py" (opencode-test--visible-text)))
                 60))
        ;; Point followed the reply: it is at the end, under the block.
        (should (eobp))
        (should (string-match-p "┃ \\[o\\] once  \\[a\\] always  \\[r\\] reject"
                                (opencode-test--visible-text)))
        (should (eq (key-binding "o") 'opencode-request-once))
        (call-interactively (key-binding "o"))
        (should (opencode-test-wait
                 (lambda () (string-match-p "^Written\\.$" (opencode-test--visible-text))) 60))
        (should-not (string-match-p "┃" (opencode-test--visible-text)))
        (should (file-exists-p (expand-file-name "hello.py" default-directory)))
        ;; Still following.
        (should (eobp))
        (should (eq (key-binding "o") 'opencode-chat-load-older))
        ;; A question: 2 at the end picks Blue.
        (opencode-api-session-prompt-async conn sid "Ask me")
        (should (opencode-test-wait
                 (lambda () (string-match-p "┃ Question: Pick a color" (opencode-test--visible-text)))
                 60))
        (should (eobp))
        (should (eq (key-binding "2") 'opencode-request-choose))
        ;; A key the block does not show keeps its binding.
        (should (eq (key-binding "3") 'digit-argument))
        (let ((last-command-event ?2))
          (call-interactively (key-binding "2")))
        (should (opencode-test-wait
                 (lambda () (string-match-p "^Blue it is\\.$" (opencode-test--visible-text))) 60))
        (should (cl-some (lambda (req) (string-match-p "Blue" (json-serialize req)))
                         opencode-test-mock-requests))
        (should-not (string-match-p "┃" (opencode-test--visible-text)))
        (should (eobp))
        ;; Elsewhere in the chat, o is the chat's.
        (goto-char (point-min))
        (should (eq (key-binding "o") 'opencode-chat-load-older))))))

(ert-deftest opencode-requests/always-from-the-block ()
  "a on the block replies always: the next edit of the session is not asked."
  (let ((opencode-test-extra-config '(:permission (:edit "ask"))))
    (opencode-test-with-chat-on-real-server
        (list (append (opencode-test--tool-call "write" '(:filePath "a.txt" :content "one\n"))
                      '(:tool_calls))
              (append (opencode-test--tool-call "write" '(:filePath "b.txt" :content "two\n"))
                      '(:tool_calls))
              '((:content "Both written.") :stop))
      (opencode-api-session-prompt-async conn sid "Write two files")
      (should (opencode-test-wait
               (lambda () (string-match-p "┃ Permission: edit a\\.txt" (opencode-test--visible-text))) 60))
      (opencode-requests-test--goto-block)
      (call-interactively (key-binding "a"))
      (should (opencode-test-wait
               (lambda () (string-match-p "^Both written\\.$" (opencode-test--visible-text))) 60))
      ;; b.txt was written without asking.
      (should (file-exists-p (expand-file-name "b.txt" default-directory)))
      (should-not (string-match-p "┃" (opencode-test--visible-text)))
      (should (null (opencode-requests-pending))))))

(ert-deftest opencode-requests/question-block-and-answer-next ()
  "A question shows its options in a block; 2 on it picks Blue.
A second question is answered with `opencode-answer-next' from another buffer."
  (let ((question (lambda (q a b)
                    (append (opencode-test--tool-call
                             "question" `(:questions [(:question ,q :header "Pick"
                                                                 :options [(:label ,a :description "one")
                                                                           (:label ,b :description "two")])]))
                            '(:tool_calls)))))
    (opencode-test-with-chat-on-real-server
        (list (funcall question "Pick a color" "Red" "Blue")
              '((:content "Blue it is.") :stop))
      (opencode-api-session-prompt-async conn sid "Ask me")
      (should (opencode-test-wait
               (lambda () (string-match-p "┃ Question: Pick a color" (opencode-test--visible-text))) 60))
      (should (string-match-p (concat "┃ Question: Pick a color\n"
                                      "  ┃   \\[1\\] Red — one\n"
                                      "  ┃   \\[2\\] Blue — two\n"
                                      "  ┃ \\[1-2\\] choose  \\[a\\] answer…  \\[r\\] dismiss$")
                              (opencode-test--visible-text)))
      (opencode-requests-test--goto-block)
      (let ((last-command-event ?2))
        (call-interactively (key-binding "2")))
      (should (opencode-test-wait
               (lambda () (string-match-p "^Blue it is\\.$" (opencode-test--visible-text))) 60))
      (should-not (string-match-p "┃" (opencode-test--visible-text)))
      (should (cl-some (lambda (req) (string-match-p "Blue" (json-serialize req)))
                       opencode-test-mock-requests))
      ;; Another question, answered from a buffer that is none of the chat's.
      (setq opencode-test-mock-script (list (funcall question "Pick a fruit" "Apple" "Pear")
                                            '((:content "Pear it is.") :stop)))
      (opencode-api-session-prompt-async conn sid "Ask again")
      (should (opencode-test-wait (lambda () (opencode-requests-pending)) 60))
      (let (offered)
        (cl-letf (((symbol-function 'completing-read)
                   (lambda (_prompt collection &rest _)
                     (setq offered (all-completions "" collection))
                     "Pear")))
          (with-temp-buffer (save-window-excursion (opencode-answer-next))))
        (should (equal offered '("Apple" "Pear"))))
      (should (opencode-test-wait
               (lambda () (string-match-p "^Pear it is\\.$" (opencode-test--visible-text))) 60)))))

(ert-deftest opencode-requests/reject-with-a-message-from-the-prompt ()
  "C-c C-r in the prompt, m, a reason: the agent gets it; the block goes.
Nothing but `read-string' is stubbed, and it runs with the prompt current."
  (let ((opencode-test-extra-config '(:permission (:bash "ask"))))
    (opencode-test-with-chat-on-real-server
        (list (append (opencode-test--tool-call "bash" '(:command "rm -rf build" :description "Clean"))
                      '(:tool_calls))
              '((:content "Understood.") :stop))
      (opencode-api-session-prompt-async conn sid "Clean up")
      (should (opencode-test-wait
               (lambda () (string-match-p "┃ Permission: bash rm -rf build" (opencode-test--visible-text))) 60))
      (let ((prompt (save-window-excursion (opencode-chat-prompt))))
        (unwind-protect
            (with-current-buffer prompt
              (should (eq (key-binding (kbd "C-c C-r")) 'opencode-chat-answer))
              (cl-letf (((symbol-function 'read-multiple-choice)
                         (lambda (_prompt choices &rest _) (assq ?m choices)))
                        ;; As the minibuffer leaves it: the prompt's buffer current.
                        ((symbol-function 'read-string)
                         (lambda (&rest _) (set-buffer prompt) "use make clean instead")))
                (call-interactively #'opencode-chat-answer)))
          (kill-buffer prompt)))
      (should (opencode-test-wait (lambda () (null (opencode-requests-pending))) 30))
      (should (opencode-test-wait
               (lambda () (cl-some (lambda (req) (string-match-p "use make clean instead"
                                                                 (json-serialize req)))
                                   opencode-test-mock-requests))
               60))
      (should (opencode-test-wait
               (lambda () (string-match-p "^Understood\\.$" (opencode-test--visible-text))) 60))
      (should-not (string-match-p "┃" (opencode-test--visible-text))))))

(ert-deftest opencode-requests/unplaced-request-under-the-timeline ()
  "A request whose tool part is not shown is drawn under the timeline, with its keys.
Once the part is drawn, the block moves there; answered, it goes."
  (opencode-test-with-chat "ses_1"
    (let ((perm '(:id "per_1" :sessionID "ses_1" :permission "bash" :patterns ["make"]
                      :always ["make *"] :metadata (:command "make")
                      :tool (:messageID "msg_2" :callID "call_1"))))
      (opencode-test-event conn "permission.asked" perm)
      (should (string-match-p (concat "\\`Waiting for you:\n  ┃ Permission: bash make\n"
                                      "  ┃ always allows from now on: bash make \\*\n"
                                      "  ┃ \\[o\\] once  \\[a\\] always  \\[r\\] reject  \\[m\\] reject with a message\n\\'")
                              (opencode-test--visible-text)))
      (goto-char (point-min))
      (forward-line 1)
      (should (eq (key-binding "r") 'opencode-request-reject))
      ;; Its part comes: the block moves under it.
      (opencode-test-event conn "message.updated"
                           '(:info (:id "msg_2" :sessionID "ses_1" :role "assistant")))
      (opencode-test-event conn "message.part.updated"
                           '(:part (:id "prt_1" :sessionID "ses_1" :messageID "msg_2" :type "tool"
                                        :tool "bash" :callID "call_1"
                                        :state (:status "running" :input (:command "make")))))
      (let ((text (opencode-test--visible-text)))
        (should (string-match-p "^▸ \\$ make  \\[running\\]\n  ┃ Permission: bash make$" text))
        (should-not (string-match-p "Waiting for you" text)))
      (opencode-test-event conn "permission.replied" '(:sessionID "ses_1" :requestID "per_1" :reply "once"))
      (should-not (string-match-p "┃" (opencode-test--visible-text))))))

(ert-deftest opencode-requests/answer-hint-names-the-key-of-where-you-are ()
  "The echo area says a in the chat (the block's keys at its end), C-c C-r
in its prompt, C-c o n elsewhere."
  (opencode-test-with-chat "ses_1"
    (let ((chat (current-buffer))
          (prompt (save-window-excursion (opencode-chat-prompt)))
          (global (make-sparse-keymap)))
      (unwind-protect
          (progn
            (save-window-excursion
              (switch-to-buffer chat)
              ;; At the end, where the chat follows, the block's keys answer.
              (should (equal (opencode-requests-answer-hint chat)
                             "the keys of its block answer it here, or C-c C-r"))
              (let ((inhibit-read-only t)) (insert "A message\n"))
              (goto-char (point-min))
              (should (string-prefix-p "a to answer" (opencode-requests-answer-hint chat))))
            (save-window-excursion
              (switch-to-buffer prompt)
              (should (equal (opencode-requests-answer-hint chat) "C-c C-r to answer")))
            (define-key global (kbd "C-c o") opencode-command-map)
            (save-window-excursion
              (with-temp-buffer
                (switch-to-buffer (current-buffer))
                (use-local-map global)
                (should (equal (opencode-requests-answer-hint chat) "C-c o n to answer"))
                (use-local-map nil)
                (should (equal (opencode-requests-answer-hint chat)
                               "M-x opencode-answer-next to answer")))))
        (kill-buffer prompt)))))

(ert-deftest opencode-requests/command-map-keys ()
  "The command map binds SPC (not S P C) and the send and answer keys."
  (should (eq (lookup-key opencode-command-map (kbd "SPC")) 'opencode-send-dwim))
  (should-not (keymapp (lookup-key opencode-command-map "S")))
  (dolist (k '(("R" . opencode-send-region) ("f" . opencode-send-file)
               ("m" . opencode-send-dired-files) ("x" . opencode-send-diagnostic)
               ("n" . opencode-answer-next)))
    (should (eq (lookup-key opencode-command-map (car k)) (cdr k)))))

(provide 'opencode-requests-test)
;;; opencode-requests-test.el ends here

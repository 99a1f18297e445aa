;;; opencode-rules-test.el --- A session's permission rules view  -*- lexical-binding: t; -*-

;;; Commentary:

;; How rules are read (the server's wildcards, the last rule that
;; matches), and the view on the real server: a rule added, changed and
;; given back to the project's from the view, on the server and on
;; screen; the view following a change made elsewhere; an "always"
;; reply from the chat's block shown there, forgotten from there, and
;; the server asking again.

;;; Code:

(require 'opencode-test-helpers)
(require 'opencode-send)
(require 'opencode-rules)

;;;; How rules are read

(ert-deftest opencode-rules/wildcards-as-the-server ()
  "* is any text, ? one character, a trailing \" *\" also matches nothing."
  (should (opencode-rules-match "src/a.py" "src/*"))
  (should-not (opencode-rules-match "lib/a.py" "src/*"))
  (should (opencode-rules-match "git" "git *"))
  (should (opencode-rules-match "git push origin" "git *"))
  (should-not (opencode-rules-match "gitk" "git *"))
  (should (opencode-rules-match "a.c" "?.c"))
  (should (opencode-rules-match "edit" "*"))
  (should-not (opencode-rules-match "a+b" "a.b"))
  (should (opencode-rules-match "a.b" "a.b")))

(ert-deftest opencode-rules/last-rule-decides ()
  "The last matching rule of the rulesets, in order, decides; none: ask."
  (let ((project '((:permission "*" :pattern "*" :action "allow")
                   (:permission "edit" :pattern "*" :action "ask")))
        (session '((:permission "edit" :pattern "src/*" :action "deny"))))
    (should (equal (opencode-rules-evaluate "edit" "src/a.py" project session) "deny"))
    (should (equal (opencode-rules-evaluate "edit" "doc/a.md" project session) "ask"))
    (should (equal (opencode-rules-evaluate "bash" "ls" project session) "allow"))
    (should (equal (opencode-rules-evaluate "bash" "ls") "ask"))))

(ert-deftest opencode-rules/effective-and-from-config ()
  "A rule replaced by a later one of the same key goes; config reads as rules."
  (should (equal (opencode-rules-effective
                  [(:permission "edit" :pattern "*" :action "deny")
                   (:permission "bash" :pattern "*" :action "ask")
                   (:permission "edit" :pattern "*" :action "allow")])
                 '((:permission "bash" :pattern "*" :action "ask")
                   (:permission "edit" :pattern "*" :action "allow"))))
  (should (equal (opencode-rules-from-config "allow")
                 '((:permission "*" :pattern "*" :action "allow"))))
  (should (equal (opencode-rules-from-config '(:edit "ask" :bash (:* "ask" :git\ * "allow")))
                 '((:permission "edit" :pattern "*" :action "ask")
                   (:permission "bash" :pattern "*" :action "ask")
                   (:permission "bash" :pattern "git *" :action "allow")))))

;;;; The view

(ert-deftest opencode-rules/view-reads-and-moves ()
  "The view's three sections, in words and columns; n and p go from rule to rule.
A session rule that says what the project's rules say is marked so."
  (let ((conn (opencode-connection--make :url "http://127.0.0.1:1" :directory "/tmp")))
    (with-temp-buffer
      (opencode-rules-mode)
      (setq opencode-rules--conn conn
            opencode-rules--session
            '(:id "ses_1" :title "t"
                  :permission [(:permission "bash" :pattern "rm *" :action "allow")
                               (:permission "edit" :pattern "*" :action "ask")
                               (:permission "bash" :pattern "rm *" :action "deny")])
            opencode-rules--config (opencode-rules-from-config
                                    '(:edit "ask" :bash (:* "ask" :git\ * "allow"))))
      (opencode-rules--redraw)
      (should (equal (opencode-test--visible-text)
                     (concat "Permission rules of \"t\"\n"
                             "  When a tool asks, the last rule that matches decides: the project's rules,\n"
                             "  then this session's, then what \"always\" allowed.  None matching: ask first.\n"
                             "  a add  c change the action  k remove  g refresh  ? all keys\n"
                             "\n"
                             "This session's rules\n"
                             "  edit        *           ask first  as the project's rules: changes nothing\n"
                             "  bash        rm *        deny\n"
                             "\n"
                             "Allowed with \"always\" in this project\n"
                             "  None that this Emacs saw given.\n"
                             "\n"
                             "The project's rules (opencode.json)\n"
                             "  edit        *           ask first\n"
                             "  bash        *           ask first\n"
                             "  bash        git *       allow\n")))
      (goto-char (point-min))
      (should (eq (key-binding "n") 'opencode-rules-next))
      (let ((lines nil))
        (dotimes (_ 5)
          (opencode-rules-next)
          (push (buffer-substring (+ 2 (point)) (+ 6 (point))) lines))
        (should (equal (nreverse lines) '("edit" "bash" "edit" "bash" "bash"))))
      (should-error (opencode-rules-next) :type 'user-error)
      (opencode-rules-previous 2)
      (should (looking-at "  edit        \\*")))))

;;;; On the real server

(defun opencode-rules-test--goto (regexp)
  "Move point to the line of the view matching REGEXP."
  (goto-char (point-min))
  (should (re-search-forward regexp nil t))
  (beginning-of-line))

(defun opencode-rules-test--server-rules (conn sid)
  "Return the rules of session SID that decide, as the server has them."
  (opencode-rules-effective
   (plist-get (opencode-request-sync conn "GET" (opencode--path "session" sid)) :permission)))

(defmacro opencode-rules-test--answers (answers &rest body)
  "Run BODY with the minibuffer answering from ANSWERS, an alist.
Each entry is (PROMPT-REGEXP . ANSWER), for `completing-read',
`read-string' and `y-or-n-p'."
  (declare (indent 1))
  `(let ((answer (lambda (prompt)
                   (or (cdr (cl-find-if (lambda (a) (string-match-p (car a) prompt)) ,answers))
                       (error "Unexpected question: %s" prompt)))))
     (cl-letf (((symbol-function 'completing-read)
                (lambda (prompt &rest _) (funcall answer prompt)))
               ((symbol-function 'read-string)
                (lambda (prompt &rest _) (funcall answer prompt)))
               ((symbol-function 'y-or-n-p)
                (lambda (prompt) (eq (funcall answer prompt) 'yes))))
       ,@body)))

(ert-deftest opencode-rules/add-change-and-give-back ()
  "From a chat, L shows the rules; a, c and k act on the server and the view.
The project's edit rule (ask) shows; a rule added shows under the
session's and in GET /session; changed, it replaces itself; removed,
it says what the project's rules say (the server keeps every rule);
a change made elsewhere shows too."
  (let ((opencode-test-extra-config '(:permission (:edit "ask"))))
    (opencode-test-with-chat-on-real-server nil
      (should (eq (key-binding "L") 'opencode-permission-rules))
      (let ((view (save-window-excursion (call-interactively (key-binding "L")))))
        (unwind-protect
            (with-current-buffer view
              (let ((text (opencode-test--visible-text)))
                (should (string-match-p "\\`Permission rules of \"tools\"\n" text))
                (should (string-match-p "^This session's rules\n  None: the project's rules decide\\.$"
                                        text))
                (should (string-match-p (concat "^Allowed with \"always\" in this project\n"
                                                "  None that this Emacs saw given\\.$")
                                        text))
                (should (string-match-p (concat "^The project's rules (opencode\\.json)\n"
                                                "  edit +\\* +ask first$")
                                        text)))
              ;; Add: edit src/* allow.
              (opencode-rules-test--answers '(("Permission" . "edit") ("Pattern" . "src/*")
                                              ("edit src/\\*" . "allow"))
                (call-interactively (key-binding "a")))
              (should (equal (opencode-rules-test--server-rules conn sid)
                             '((:permission "edit" :pattern "src/*" :action "allow"))))
              (should (string-match-p "^This session's rules\n  edit +src/\\* +allow$"
                                      (opencode-test--visible-text)))
              ;; Change it to deny, from its line.
              (opencode-rules-test--goto "^  edit +src/\\*")
              (opencode-rules-test--answers '(("now allow" . "deny"))
                (call-interactively (key-binding "c")))
              (should (equal (opencode-rules-test--server-rules conn sid)
                             '((:permission "edit" :pattern "src/*" :action "deny"))))
              (let ((text (opencode-test--visible-text)))
                (should (string-match-p "^This session's rules\n  edit +src/\\* +deny$" text))
                (should-not (string-match-p "src/\\* +allow" text)))
              ;; Remove: it says what the project's rules say, ask.
              (opencode-rules-test--goto "^  edit +src/\\*")
              (opencode-rules-test--answers '(("keeps every rule" . yes))
                (call-interactively (key-binding "k")))
              (should (equal (opencode-rules-test--server-rules conn sid)
                             '((:permission "edit" :pattern "src/*" :action "ask"))))
              (should (string-match-p
                       "^This session's rules\n  edit +src/\\* +ask first  as the project's rules: changes nothing$"
                       (opencode-test--visible-text)))
              ;; Nothing left to give back.
              (opencode-rules-test--goto "^  edit +src/\\*")
              (should-error (call-interactively (key-binding "k")) :type 'user-error)
              ;; A rule added elsewhere shows when the session.updated event comes.
              (opencode-request-sync conn "PATCH" (opencode--path "session" sid)
                                     :body '(:permission [(:permission "bash" :pattern "git push *"
                                                                       :action "deny")]))
              (should (opencode-test-wait
                       (lambda () (string-match-p "^  bash +git push \\* +deny$"
                                                  (opencode-test--visible-text)))
                       30)))
          (kill-buffer view))))))

(ert-deftest opencode-rules/always-shown-and-forgotten ()
  "An \"always\" from the chat's block shows in the view; k forgets it.
Then the server asks again for the next edit."
  (let ((opencode-test-extra-config '(:permission (:edit "ask"))))
    (opencode-test-with-chat-on-real-server
        (list (append (opencode-test--tool-call "write" '(:filePath "a.txt" :content "one\n"))
                      '(:tool_calls))
              '((:content "Wrote a.") :stop)
              (append (opencode-test--tool-call "write" '(:filePath "b.txt" :content "two\n"))
                      '(:tool_calls))
              '((:content "Wrote b.") :stop))
      (opencode-api-session-prompt-async conn sid "Write a")
      (should (opencode-test-wait
               (lambda () (string-match-p "┃ Permission: edit a\\.txt" (opencode-test--visible-text))) 60))
      (goto-char (point-min))
      (goto-char (prop-match-beginning
                  (text-property-search-forward 'opencode-request nil (lambda (_ v) v))))
      (call-interactively (key-binding "a"))
      (should (opencode-test-wait
               (lambda () (string-match-p "^Wrote a\\.$" (opencode-test--visible-text))) 60))
      (let ((view (save-window-excursion (call-interactively (key-binding "L")))))
        (unwind-protect
            (progn
              (with-current-buffer view
                (should (string-match-p
                         (concat "^Allowed with \"always\" in this project\n"
                                 "  edit +\\* +allow  since [0-9][0-9]:[0-9][0-9] in \"tools\"\n"
                                 "  The server keeps them until it stops, over every rule;\n"
                                 "  it can only forget them all at once\\.$")
                         (opencode-test--visible-text)))
                ;; The server does not list it: not in the session, not saved.
                (should-not (plist-get (opencode-request-sync conn "GET" (opencode--path "session" sid))
                                       :permission))
                (should (equal (plist-get (opencode-request-sync conn "GET" "/api/permission/saved") :data)
                               []))
                (opencode-rules-test--goto "^  edit +\\* +allow  since")
                (opencode-rules-test--answers '(("only all at once" . yes))
                  (call-interactively (key-binding "k")))
                (should (string-match-p (concat "^Allowed with \"always\" in this project\n"
                                                "  None that this Emacs saw given\\.$")
                                        (opencode-test--visible-text))))
              ;; The server forgot it: the next edit is asked.
              (should (opencode-test-wait
                       (lambda () (eq (opencode-connection-state conn) 'connected)) 30))
              (opencode-api-session-prompt-async conn sid "Write b")
              (should (opencode-test-wait
                       (lambda () (string-match-p "┃ Permission: edit b\\.txt"
                                                  (opencode-test--visible-text)))
                       60))
              (should-not (file-exists-p (expand-file-name "b.txt" default-directory))))
          (kill-buffer view))))))

(provide 'opencode-rules-test)
;;; opencode-rules-test.el ends here

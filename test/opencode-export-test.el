;;; opencode-export-test.el --- Tests of copying and exporting a chat  -*- lexical-binding: t; -*-

;;; Commentary:

;; A chat filled by events (text with code in two languages, reasoning,
;; a tool, a file attached as a data: URL, context the server added) is
;; copied part by part and exported as Markdown and as Org; then a live
;; chat on the real server, whose mock model answers with a code block,
;; is exported to a file.

;;; Code:

(require 'ert)
(require 'org)
(require 'opencode-test-helpers)
(require 'opencode-chat)
(require 'opencode-chat-export)
(require 'opencode-capture)

(defconst opencode-export-test--base64
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
  "The contents of the attached picture, which no export may hold.")

(defconst opencode-export-test--answer
  (concat "## Plan\n\n"
          "Here is **bold**, *italic*, `inline code` and [a link](https://example.com).\n\n"
          "```python\nprint(\"hi\")\n```\n\n"
          "- one\n* two\n\n"
          "```elisp\n(message \"hi\")\n* not a heading\n```\n")
  "The assistant's answer: Markdown with code in two languages.")

(defconst opencode-export-test--tail "Streamed:\n```sh\nls -l\n```\nand done."
  "A second text part, streamed in deltas, with one code block.")

(defun opencode-export-test--fill (conn)
  "Fill the current chat, of session ses_x on CONN, by events."
  (let ((ev (lambda (type props) (opencode-test-event conn type props)))
        (part (lambda (mid id type &rest rest)
                (append (list :id id :messageID mid :sessionID "ses_x" :type type) rest))))
    (funcall ev "message.updated"
             '(:info (:id "msg_1" :sessionID "ses_x" :role "user"
                          :time (:created 1767225600000))))
    (dolist (p (list (funcall part "msg_1" "prt_1" "text" :text "Show me some code")
                     (funcall part "msg_1" "prt_2" "file" :mime "image/png"
                              :filename "shot.png"
                              :url (concat "data:image/png;base64," opencode-export-test--base64))
                     (funcall part "msg_1" "prt_3" "text" :synthetic t
                              :text "Called the Read tool with README\n<file>\n* test project\n</file>")))
      (funcall ev "message.part.updated" (list :part p)))
    (funcall ev "message.updated"
             '(:info (:id "msg_2" :sessionID "ses_x" :role "assistant" :providerID "mock"
                          :modelID "mock-1" :agent "build" :time (:created 1767225660000))))
    (dolist (p (list (funcall part "msg_2" "prt_4" "step-start")
                     (funcall part "msg_2" "prt_5" "reasoning" :text "I should answer **carefully**.")
                     (funcall part "msg_2" "prt_6" "text" :text opencode-export-test--answer)
                     (funcall part "msg_2" "prt_7" "tool" :tool "bash" :callID "call_1"
                              :state '(:status "completed" :title "Lists files"
                                               :input (:command "ls -la" :description "Lists files")
                                               :output "README\nsrc\n" :metadata nil
                                               :time (:start 1 :end 1201)))
                     (funcall part "msg_2" "prt_8" "text" :text "")))
      (funcall ev "message.part.updated" (list :part p)))
    ;; The last text part streams in, a few characters at a time.
    (let ((s opencode-export-test--tail))
      (while (> (length s) 0)
        (let ((n (min 7 (length s))))
          (funcall ev "message.part.delta"
                   (list :sessionID "ses_x" :messageID "msg_2" :partID "prt_8"
                         :field "text" :delta (substring s 0 n)))
          (setq s (substring s n)))))
    (funcall ev "message.part.updated"
             (list :part (funcall part "msg_2" "prt_9" "step-finish" :reason "stop")))))

(defmacro opencode-export-test--with-chat (&rest body)
  "Run BODY in a chat filled by `opencode-export-test--fill'."
  (declare (indent 0))
  `(opencode-test-with-chat "ses_x"
     (opencode-export-test--fill conn)
     (let ((kill-ring nil))
       ,@body)))

(defun opencode-export-test--plain-p (s)
  "Return non-nil if S has no text properties and no fold markers."
  (and (null (next-property-change 0 s)) (null (text-properties-at 0 s))
       (not (string-match-p "[▸▾]" s))))

(defun opencode-export-test--copy-at (text &optional arg)
  "Copy, with prefix ARG, at the first place TEXT shows; return the copy."
  (goto-char (point-min))
  (should (search-forward text nil t))
  (goto-char (match-beginning 0))
  (opencode-chat-copy arg)
  (let ((s (car kill-ring)))
    (should (opencode-export-test--plain-p s))
    s))

(ert-deftest opencode-export/copy-part-is-markdown-source ()
  "A text part copies as its Markdown source, other parts as Markdown."
  (opencode-export-test--with-chat
    ;; The chat shows its fold markers; the copies never have them.
    (should (string-match-p "▸" (buffer-string)))
    (should (equal (opencode-export-test--copy-at "Here is") opencode-export-test--answer))
    (should (equal (opencode-export-test--copy-at "Streamed:") opencode-export-test--tail))
    (let ((tool (opencode-export-test--copy-at "Lists files")))
      (should (string-prefix-p "**Tool bash**: `$ ls -la [completed] 1.2s`\n" tool))
      (should (string-match-p "^- description: Lists files$" tool))
      (should (string-match-p "^```sh\nls -la\n```$" tool))
      (should (string-match-p "^Output:\n```\nREADME\nsrc\n```$" tool)))
    (should (equal (opencode-export-test--copy-at "Thinking")
                   "> *Thinking*\n>\n> I should answer **carefully**."))
    (let ((file (opencode-export-test--copy-at "shot.png")))
      (should (equal file "**File** `shot.png` (image/png)")))
    (let ((context (opencode-export-test--copy-at "Context added")))
      (should (string-prefix-p "<details><summary>Context added by the server: Called the Read" context))
      (should (string-match-p "^\\* test project$" context)))
    ;; With a prefix, or on its header, the whole message.
    (let ((whole (opencode-export-test--copy-at "Here is" t)))
      (should (string-prefix-p "> *Thinking*" whole))
      (should (string-search (string-trim-right opencode-export-test--answer) whole))
      (should (string-search "**Tool bash**" whole))
      (should (string-suffix-p opencode-export-test--tail whole))
      (should (equal (opencode-export-test--copy-at "Assistant  mock/mock-1") whole)))
    (should (equal (opencode-export-test--copy-at "You  ")
                   (concat "Show me some code\n\n**File** `shot.png` (image/png)\n\n"
                           (opencode-chat-export-part-markdown
                            (opencode-chat-part-at (save-excursion (search-forward "Context added")))))))))

(ert-deftest opencode-export/copy-code-block ()
  "The code block at point copies as its code only, without fences."
  (opencode-export-test--with-chat
    (let ((copy-at (lambda (text)
                     (goto-char (point-min))
                     (should (search-forward text nil t))
                     (goto-char (match-beginning 0))
                     (opencode-chat-copy-code-block)
                     (let ((s (car kill-ring)))
                       (should (opencode-export-test--plain-p s))
                       s))))
      (should (equal (funcall copy-at "print(") "print(\"hi\")\n"))
      (should (equal (funcall copy-at "```python") "print(\"hi\")\n"))
      (should (equal (funcall copy-at "(message") "(message \"hi\")\n* not a heading\n"))
      ;; Outside the blocks of a part that has two: nothing.
      (goto-char (point-min))
      (search-forward "Here is")
      (should-error (opencode-chat-copy-code-block) :type 'user-error)
      ;; A part with one block gives it from anywhere in the part.
      (should (equal (funcall copy-at "and done") "ls -l\n"))
      ;; No code anywhere in the part.
      (goto-char (point-min))
      (search-forward "Show me")
      (should-error (opencode-chat-copy-code-block) :type 'user-error)
      ;; Shown otherwise than its source (markup hidden, say), the block
      ;; around point is still found by its rank.
      (let ((inhibit-read-only t))
        (goto-char (point-min))
        (search-forward "**bold**")
        (replace-match (propertize "bold" 'opencode-part "prt_6")))
      (should (equal (funcall copy-at "(message") "(message \"hi\")\n* not a heading\n"))
      (should (equal (funcall copy-at "print(") "print(\"hi\")\n")))))

(defun opencode-export-test--export (format)
  "Export the current chat as FORMAT to a temporary file.
Return (TEXT . BUFFER): the file's text and the buffer that opened it."
  (let* ((file (make-temp-file "opencode-export-" nil (if (eq format 'org) ".org" ".md")))
         (buf (opencode-chat-export format file)))
    (unwind-protect
        (progn
          (should (equal (buffer-file-name buf) file))
          (cons (with-temp-buffer
                  (insert-file-contents file)
                  (buffer-string))
                buf))
      (delete-file file))))

(defmacro opencode-export-test--exported (format &rest body)
  "Run BODY with `text' and `buf', the chat exported as FORMAT."
  (declare (indent 1))
  `(pcase-let ((`(,text . ,buf) (opencode-export-test--export ,format)))
     (unwind-protect (progn ,@body)
       (with-current-buffer buf (set-buffer-modified-p nil))
       (kill-buffer buf))))

(ert-deftest opencode-export/markdown ()
  "The Markdown export holds the text as written, no base64, no fold markers."
  (opencode-export-test--with-chat
    (opencode-export-test--exported 'markdown
      (should (string-prefix-p "# fixture\n" text))
      (should-not (string-search opencode-export-test--base64 text))
      (should-not (string-search "base64" text))
      (should-not (string-match-p "[▸▾]" text))
      (should (string-search "**File** `shot.png` (image/png)" text))
      ;; The text round-trips: as the model wrote it, code and all.
      (should (string-search (string-trim-right opencode-export-test--answer) text))
      (should (string-search opencode-export-test--tail text))
      (should (string-match-p "^## You — 2026-01-01 [0-9:]+$" text))
      (should (string-match-p "^## Assistant (mock/mock-1, build) — 2026-01-01 [0-9:]+$" text))
      (should (string-match-p "^> I should answer \\*\\*carefully\\*\\*\\.$" text))
      (should (string-match-p "^\\*\\*Tool bash\\*\\*: `\\$ ls -la \\[completed\\] 1\\.2s`$" text))
      (should (string-match-p "^```sh\nls -la\n```$" text))
      (should (string-match-p "^<details><summary>Context added by the server" text))
      (should-not (string-search "step" text))
      (with-current-buffer buf
        (should (derived-mode-p (if (fboundp 'markdown-mode) 'markdown-mode 'text-mode)))))))

(ert-deftest opencode-export/org ()
  "The Org export has a heading per message, source blocks, folded tools."
  (opencode-export-test--with-chat
    (opencode-export-test--exported 'org
      (should (string-prefix-p "#+title: fixture\n" text))
      (should (equal (let ((n 0) (start 0))
                       (while (string-match "^\\* \\(.*\\)$" text start)
                         (setq n (1+ n) start (match-end 0)))
                       n)
                     2))
      (should (string-match-p "^\\* You \\[2026-01-01 [A-Za-z.]+ [0-9:]+\\]$" text))
      (should (string-match-p "^\\* Assistant (mock/mock-1, build) \\[2026-01-01" text))
      (should-not (string-search "```" text))
      (should-not (string-search "base64" text))
      (should-not (string-match-p "[▸▾]" text))
      (should (string-search "#+begin_src python\nprint(\"hi\")\n#+end_src" text))
      (should (string-search "#+begin_src elisp\n(message \"hi\")\n,* not a heading\n#+end_src" text))
      (should (string-search "#+begin_src sh\nls -l\n#+end_src" text))
      ;; Markdown headings go under the message's; inline markup is Org's.
      (should (string-match-p "^\\*\\* Plan$" text))
      (should (string-search "Here is *bold*, /italic/, ~inline code~ and [[https://example.com][a link]]."
                             text))
      (should (string-match-p "^- one\n- two$" text))
      (should (string-match-p "^#\\+begin_quote\n/Thinking/\n\nI should answer \\*carefully\\*\\.\n#\\+end_quote$"
                              text))
      (should (string-search "*File* ~shot.png~ (image/png)" text))
      (should (string-match-p "^\\*Tool bash\\*: ~\\$ ls -la \\[completed\\] 1\\.2s~\n:TOOL:\n- description: Lists files\n" text))
      ;; Context the server added: last, under a heading that starts folded.
      (should (string-match-p (concat "^\\*\\* Context added by the server: Called the Read tool with README\n"
                                      ":PROPERTIES:\n:VISIBILITY: folded\n:END:\n#\\+begin_example\n")
                              text))
      (with-current-buffer buf
        (should (derived-mode-p 'org-mode))
        ;; What the tool did is folded; the answer shows.
        (goto-char (point-min))
        (search-forward "README\nsrc")
        (should (invisible-p (point)))
        (goto-char (point-min))
        (search-forward "* test project")
        (should (invisible-p (point)))
        (goto-char (point-min))
        (search-forward "print(\"hi\")")
        (should-not (invisible-p (point)))
        (search-backward ":TOOL:" nil t)
        (should-not (invisible-p (point)))))))

(ert-deftest opencode-export/to-buffer ()
  "Without a file, the export goes to a buffer that visits none."
  (opencode-export-test--with-chat
    (let ((buf (opencode-chat-export 'org)))
      (unwind-protect
          (with-current-buffer buf
            (should-not (buffer-file-name))
            (should (derived-mode-p 'org-mode))
            (should (string-match-p "^#\\+begin_src python$" (buffer-string))))
        (kill-buffer buf)))))

(ert-deftest opencode-export/markdown-to-org ()
  "Markdown converts to Org line by line, code untouched."
  (should (equal (opencode-chat-export-markdown-to-org
                  "## Top\n### Sub\nA **b** and *i*, __B__ and _i_, ~~s~~.\n> quoted `x*y*`\n" 1)
                 "** Top\n*** Sub\nA *b* and /i/, *B* and /i/, +s+.\n#+begin_quote\nquoted ~x*y*~\n#+end_quote"))
  (should (equal (opencode-chat-export-markdown-to-org
                  "| a | b |\n|---|:-:|\n| 1 | 2 |\n\n---\n![pic](data:image/png;base64,AAAA)" 2)
                 "| a | b |\n|---+---|\n| 1 | 2 |\n\n-----\n[image: pic]"))
  (should (equal (opencode-chat-export--org-inline "_a_ _b_ __c__ __d__ snake_case_name")
                 "/a/ /b/ *c* *d* snake_case_name"))
  ;; Headings in code are no headings.
  (should (= (opencode-chat-export--top-heading "```\n# x\n```\n### y\n#### z") 3))
  ;; An unclosed block (a reply still streaming) runs to the end.
  (should (equal (opencode-chat-export-markdown-to-org "````\n```\n#+x\n" 1)
                 "#+begin_example\n```\n,#+x\n#+end_example"))
  (should (equal (opencode-chat-export--code-blocks "a\n~~~ruby x\nputs 1\n~~~\nb\n```\nopen")
                 '((:lang "ruby" :code "puts 1\n" :beg 2 :end 22)
                   (:lang "" :code "open" :beg 25 :end 33)))))

(ert-deftest opencode-export/fences-and-names ()
  "Fences outgrow the text's backticks; default names come from titles."
  (should (equal (opencode-chat-export--fence "a\n```\nb\n" "md") "````md\na\n```\nb\n````"))
  (should (equal (opencode-chat-export--default-file '(:title "Fix the: Bug!") 'org)
                 "fix-the-bug.org"))
  (should (equal (opencode-chat-export--default-file '(:id "ses_1" :title "") 'markdown)
                 "ses_1.md"))
  (should (equal (opencode-chat-export-part-markdown
                  '(:type "file" :filename "a.el" :url "file:///p/a.el" :mime "text/plain"))
                 "**File** [a.el](/p/a.el) (text/plain)"))
  (should-not (opencode-chat-export-part-markdown '(:type "step-finish" :reason "stop"))))

(ert-deftest opencode-export/recorded-tool-chain ()
  "A tool chain recorded from the real server exports a heading per message."
  (let* ((conn (opencode-replay-connection (opencode-test-capture-file "capture-tools.jsonl")))
         (messages (opencode-test-capture-stored conn))
         (sid (opencode-test-capture-session conn)))
    (opencode-test-with-chat sid
      (opencode-chat--fill messages)
      (let ((org (opencode-chat-export-org (opencode-chat-messages) (opencode-chat-session)))
            (md (opencode-chat-export-markdown (opencode-chat-messages) (opencode-chat-session))))
        (should (= (length messages) (length (opencode-chat-messages))))
        ;; A heading per prompt and per reply: a reply's steps are one.
        (let ((prompts (cl-count "user" messages :key (lambda (m) (plist-get (plist-get m :info) :role))
                                 :test #'equal)))
          (should (< (* 2 prompts) (length messages)))
          (should (= (* 2 prompts) (cl-count-if (lambda (l) (string-prefix-p "* " l))
                                                (split-string org "\n"))))
          (should (= (* 2 prompts) (cl-count-if (lambda (l) (string-prefix-p "## " l))
                                                (split-string md "\n")))))
        (should (string-match-p "^\\*Tool bash\\*: ~\\$ echo replayed-output.*~\n:TOOL:\n\\(?:- .*\n\\)*Command:\n#\\+begin_src sh\necho replayed-output\n#\\+end_src" org))
        (should (string-match-p "^\\*\\*Tool todowrite\\*\\*: `Todos " md))
        (should (string-search "Look around and run something" md))
        (should-not (string-match-p "[▸▾]\\|```" org))))))

(ert-deftest opencode-export/live-chat-on-real-server ()
  "A live chat, answered with a code block, exports and copies its code."
  (opencode-test-with-chat-on-real-server
      (list '((:content "Here it is:\n\n```python\n") (:content "print(\"hello\")\n```\n")
              (:content "\nThat is **all**.") :stop))
    (opencode-api-session-prompt-async conn sid "Write hello in Python")
    (should (opencode-test-wait
             (lambda () (string-match-p "That is all\\." (opencode-test--visible-text)))
             60))
    (should (opencode-test-wait
             (lambda () (null (plist-get (opencode-request-sync conn "GET" "/session/status")
                                         (intern (concat ":" sid)))))
             30))
    (let ((kill-ring nil))
      (goto-char (point-min))
      (search-forward "print(")
      (opencode-chat-copy-code-block)
      (should (equal (car kill-ring) "print(\"hello\")\n"))
      (opencode-chat-copy)
      (should (equal (car kill-ring)
                     "Here it is:\n\n```python\nprint(\"hello\")\n```\n\nThat is **all**.")))
    (let* ((file (expand-file-name (opencode-chat-export--default-file (opencode-chat-session) 'org)
                                   default-directory))
           (buf (opencode-chat-export 'org file)))
      (unwind-protect
          (let ((text (with-current-buffer buf (buffer-substring-no-properties
                                                (point-min) (point-max)))))
            (should (string-prefix-p (format "#+title: %s\n" (plist-get (opencode-chat-session) :title))
                                     text))
            (should (string-match-p "^\\* You \\[" text))
            (should (string-match-p "^Write hello in Python$" text))
            (should (string-match-p "^\\* Assistant (mock/mock-1, build) \\[" text))
            (should (string-search "#+begin_src python\nprint(\"hello\")\n#+end_src" text))
            (should (string-search "That is *all*." text))
            (should-not (string-search "```" text)))
        (kill-buffer buf)
        (delete-file file)))))

(ert-deftest opencode-export/session-with-no-chat-on-real-server ()
  "A session no chat shows exports from its timeline, loaded from the server."
  (opencode-test-with-real-server conn
    (let* ((opencode-test-mock-script
            (list '((:content "Here it is:\n\n```python\n") (:content "print(\"hello\")\n```\n")
                    (:content "\nThat is **all**.") :stop)))
           (session (opencode-request-sync conn "POST" "/session" :body '(:title "no chat")))
           (sid (plist-get session :id))
           (file (make-temp-file "opencode-export-" nil ".md")))
      (opencode-api-session-prompt-async conn sid "Write hello in Python")
      (should (opencode-test-wait
               (lambda ()
                 (let ((messages (opencode-request-sync conn "GET" (format "/session/%s/message" sid))))
                   (and (= (length messages) 2)
                        (plist-get (plist-get (plist-get (aref messages 1) :info) :time) :completed))))
               60))
      (should-not (opencode-chat-buffer conn sid))
      (should-not (opencode-timeline conn sid))
      (let ((buf (opencode-chat-export 'markdown file conn sid)))
        (unwind-protect
            (let ((text (with-current-buffer buf
                          (buffer-substring-no-properties (point-min) (point-max)))))
              (should (string-prefix-p "# no chat\n" text))
              (should (string-match-p "^## You — " text))
              (should (string-match-p "^Write hello in Python$" text))
              (should (string-match-p "^## Assistant (mock/mock-1, build) — " text))
              (should (string-search "Here it is:\n\n```python\nprint(\"hello\")\n```\n\nThat is **all**."
                                     text)))
          (kill-buffer buf)
          (delete-file file)))
      ;; Loaded for the export only: no timeline is kept, no chat opened.
      (should-not (opencode-timeline conn sid))
      (should-not (opencode-chat-buffer conn sid)))))

(ert-deftest opencode-export/org-emphasis-around-code ()
  "Emphasis around inline code stays emphasis in Org, not literal stars."
  (should (equal (opencode-chat-export--org-inline "I wrote **`hello.py`** and *it `x`*, `a*b*` too")
                 "I wrote *~hello.py~* and /it ~x~/, ~a*b*~ too"))
  (should (equal (opencode-chat-export--org-inline "**see [the docs](https://x.org)** now")
                 "*see [[https://x.org][the docs]]* now"))
  (should (equal (opencode-chat-export-markdown-to-org "- **`a.el`**: *the `b` one*" 1)
                 "- *~a.el~*: /the ~b~ one/")))

(ert-deftest opencode-export/every-tool-reads-as-the-chat ()
  "A chain of every tool, recorded from the real server, exports readably.
Tools as the chat shows them (no JSON), the server's file context folded
under a heading with the file as a block, a reply's steps as one heading,
no patch line repeating an edit."
  (let* ((conn (opencode-replay-connection (opencode-test-capture-file "capture-every-tool.jsonl")))
         (messages (opencode-test-capture-stored conn))
         (sid (opencode-test-capture-session conn)))
    (opencode-test-with-chat sid
      (opencode-chat--fill messages)
      (let ((org (opencode-chat-export-org (opencode-chat-messages) (opencode-chat-session)))
            (md (opencode-chat-export-markdown (opencode-chat-messages) (opencode-chat-session))))
        (dolist (text (list org md))
          (should-not (string-match-p "{\"\\|\"}\\|begin_src json\\|```json" text))
          (should-not (string-match-p "<path>\\|<type>\\|<content>\\|<task\\|<skill_" text))
          (should-not (string-match-p "following input" text))
          (should-not (string-match-p "Patch\\*: 1 file" text))
          (should-not (string-match-p "[▸▾]\\|RET shows all" text))
          (should (string-search "✓ Look around  (high)\n◐ Write the script  (high)" text))
          (should (string-search "  ● Blue — cool" text))
          (should (string-match-p "^line 1\nline 2\n\\(?:.*\n\\)*line 300$" text)))
        ;; Two prompts, two replies: four headings.
        (should (= 4 (cl-count-if (lambda (l) (string-prefix-p "* " l)) (split-string org "\n"))))
        (should (= 4 (cl-count-if (lambda (l) (string-prefix-p "## " l)) (split-string md "\n"))))
        (should (string-match-p "^\\*Tool write\\*: ~Write .*hello\\.py (6 lines) \\[completed\\][^~]*~\n:TOOL:\n- filePath: /.*hello\\.py\nContent:\n#\\+begin_src python\ndef greet(name):" org))
        (should (string-match-p "^\\*Tool edit\\*: ~Edit .*hello\\.py \\+1 -1 [^~]*~\n:TOOL:\n- filePath: .*\nDiff:\n#\\+begin_src diff\n--- " org))
        (should (string-match-p "^-    return f\"Hello, {name}!\"\n\\+    return f\"Hi there, {name}!\"$" org))
        (should (string-match-p "^\\*Tool question\\*: ~Question: Pick a color → Blue" org))
        (should (string-match-p "^- subagent_type: general$" org))
        (should (string-match-p (concat "^\\*\\* Context added by the server: [^\n]*big\\.txt:1-[0-9]+\n"
                                        ":PROPERTIES:\n:VISIBILITY: folded\n:END:\n"
                                        "#\\+begin_example\n00000 The quick brown fox")
                                org))
        (should (string-match-p "^\\*\\* Context added by the server: Read tool: .*big\\.txt$" org))
        (should (string-match-p "^<details><summary>Context added by the server: [^<]*big\\.txt:1-[0-9]+</summary>\n\n```\n00000 The quick" md))
        (should (string-match-p "^```python\ndef greet(name):" md))
        ;; In Org, the context and the tools start folded; the reply's text shows.
        (with-temp-buffer
          (insert org)
          (org-mode)
          (goto-char (point-min))
          (search-forward "00000 The quick")
          (should (invisible-p (point)))
          (goto-char (point-min))
          (search-forward "def greet(name):")
          (should (invisible-p (point)))
          (goto-char (point-min))
          (search-forward "All tools done.")
          (should-not (invisible-p (1- (point)))))))))

(ert-deftest opencode-export/goes-outside-the-project ()
  "By default an export goes under user-emacs-directory, not into the project."
  (let* ((root (make-temp-file "opencode-export-home-" t))
         (user-emacs-directory (file-name-as-directory root))
         (opencode-chat-export-directory nil))
    (unwind-protect
        (opencode-export-test--with-chat
          (setf (opencode-connection-directory conn) (expand-file-name "project" root))
          (let ((dir (opencode-chat-export--directory)))
            (should (equal dir (expand-file-name "opencode/exports/" root)))
            (should-not (string-prefix-p (expand-file-name "project" root) dir)))
          ;; Asked interactively: that directory is proposed, and made.
          (cl-letf (((symbol-function 'completing-read) (lambda (&rest _) "org"))
                    ((symbol-function 'read-file-name)
                     (lambda (_prompt dir &rest _) (expand-file-name "fixture.org" dir))))
            (pcase-let ((`(,format ,file) (opencode-chat-export--read-args)))
              (should (eq format 'org))
              (should (equal file (expand-file-name "opencode/exports/fixture.org" root)))
              (should (file-directory-p (file-name-directory file)))
              (let ((buf (opencode-chat-export format file)))
                (should (file-exists-p file))
                (kill-buffer buf))))
          ;; `project' keeps the old place.
          (let ((opencode-chat-export-directory 'project))
            (should (equal (opencode-chat-export--directory) (expand-file-name "project" root)))))
      (delete-directory root t))))

(provide 'opencode-export-test)
;;; opencode-export-test.el ends here

;;; opencode-parts-test.el --- Every part and every tool, as a person reads them  -*- lexical-binding: t; -*-

;;; Commentary:

;; A chain through every built-in tool of the real server (todowrite,
;; bash, write, read, edit, glob, grep, webfetch, question, task,
;; skill), then a prompt with a large @file and an image, is run with
;; the mock model (`opencode-parts-test--run-chain').  Recorded once
;; into test/fixtures/capture-every-tool.jsonl by
;; test/capture-every-tool.el, it is replayed here with no server; the
;; same chain also runs live.  Either way the chat must read well: no
;; JSON, no base64, no wrappers of the server's, a checklist, the tail
;; of a long output, file buttons and an image's size.  Unit tests
;; check the pieces: the image size parser, the step and header lines.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-capture)
(require 'opencode-chat)
(require 'opencode-parts)

;;;; The chain

(defconst opencode-parts-test--png
  (base64-decode-string
   "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
  "A real 1×1 PNG.")

(defun opencode-parts-test--call (id name args)
  "Return a mock turn that calls tool NAME with ARGS (a plist) as call ID."
  (let ((json (json-serialize args)))
    (list `(:tool_calls [(:index 0 :id ,id :type "function"
                                 :function (:name ,name :arguments ""))])
          `(:tool_calls [(:index 0 :function (:arguments ,(substring json 0 (/ (length json) 2))))])
          `(:tool_calls [(:index 0 :function (:arguments ,(substring json (/ (length json) 2))))])
          :tool_calls)))

(defun opencode-parts-test--script (dir port)
  "Return the mock's turns for the chain in project DIR.
PORT serves the page webfetch fetches."
  (let ((py (expand-file-name "hello.py" dir)))
    (list
     (opencode-parts-test--call
      "call_todo" "todowrite"
      '(:todos [(:content "Look around" :status "completed" :priority "high")
                (:content "Write the script" :status "in_progress" :priority "high")
                (:content "Test it" :status "pending" :priority "medium")
                (:content "Gold-plate it" :status "cancelled" :priority "low")]))
     (opencode-parts-test--call "call_bash1" "bash"
                                '(:command "seq 1 300 | sed 's/^/line /'"
                                  :description "Print 300 lines"))
     (opencode-parts-test--call "call_bash2" "bash"
                                '(:command "ls /no-such-dir-here"
                                  :description "Fail on purpose"))
     (opencode-parts-test--call "call_write" "write"
                                `(:filePath ,py
                                  :content "def greet(name):\n    \"\"\"Say hello.\"\"\"\n    return f\"Hello, {name}!\"\n\n\nprint(greet(\"world\"))\n"))
     (opencode-parts-test--call "call_read" "read" `(:filePath ,py))
     (opencode-parts-test--call "call_edit" "edit"
                                `(:filePath ,py :oldString "Hello, {name}!"
                                  :newString "Hi there, {name}!"))
     (opencode-parts-test--call "call_glob" "glob" '(:pattern "**/*.py"))
     (opencode-parts-test--call "call_grep" "grep" '(:pattern "def |print"))
     (opencode-parts-test--call "call_fetch" "webfetch"
                                `(:url ,(format "http://127.0.0.1:%d/page.html" port)
                                  :format "markdown"))
     (opencode-parts-test--call
      "call_question" "question"
      '(:questions [(:question "Pick a color" :header "Color"
                               :options [(:label "Red" :description "warm")
                                         (:label "Blue" :description "cool")])]))
     (opencode-parts-test--call "call_task" "task"
                                '(:description "Count the files" :prompt "Count the files here."
                                  :subagent_type "general"))
     ;; The sub-agent's own reply.
     '((:content "There are 3 files.") :stop)
     (opencode-parts-test--call "call_skill" "skill" '(:name "greeting"))
     '((:content "All tools done.")
       (:usage (:prompt_tokens 1234 :completion_tokens 340 :total_tokens 1574))
       :stop)
     ;; The second prompt: a large file and an image.
     '((:content "Seen the file and the picture.") :stop))))

(defun opencode-parts-test--page-server ()
  "Start a loopback server of a small page at /page.html; return it."
  (opencode-test-http-start
   (lambda (proc _method path _headers _body)
     (if (equal path "/page.html")
         (opencode-test-respond proc "200 OK" "text/html"
                                "<html><head><title>Tiny</title></head><body><h1>Tiny page</h1><p>Served for webfetch.</p></body></html>")
       (opencode-test-respond proc "404 Not Found" "text/plain" "no")))))

(defun opencode-parts-test--skills ()
  "Make a folder holding the skill \"greeting\"; return its name.
The server reads its skills when it starts: give it the folder with
`opencode-test-extra-config' (:skills [FOLDER])."
  (let* ((dir (make-temp-file "opencode-skills-" t))
         (skill (expand-file-name "greeting/SKILL.md" dir)))
    (make-directory (file-name-directory skill) t)
    (with-temp-file skill
      (insert "---\nname: greeting\ndescription: How to greet people politely\n---\n\n"
              "Say hello, then the person's name.\n"))
    dir))

(defun opencode-parts-test--setup-project (dir)
  "Put in project DIR the large file the chain attaches (about 85 kB)."
  (with-temp-file (expand-file-name "big.txt" dir)
    (dotimes (i 1500)
      (insert (format "%05d The quick brown fox jumps over the lazy dog, once more.\n" i)))))

(defun opencode-parts-test--run-chain (conn sid)
  "Run the chain in session SID on CONN, answering its question; wait for the end.
The mock's script must be `opencode-parts-test--script'."
  (let ((dir (opencode-connection-directory conn))
        (done (lambda () (not (opencode-store-busy-p conn sid)))))
    (opencode-api-session-prompt-async conn sid "Use every tool")
    (should (opencode-test-wait (lambda () (opencode-store-busy-p conn sid)) 30))
    ;; The question waits for its answer.
    (let ((q (opencode-test-wait
              (lambda () (let ((qs (opencode-api-question-list conn :sync t)))
                           (and (> (length qs) 0) (aref qs 0))))
              90)))
      (should q)
      (opencode-api-question-reply conn (plist-get q :id) :body '(:answers [["Blue"]]) :sync t))
    (should (opencode-test-wait done 120))
    (let ((before (length (opencode-api-session-messages conn sid :sync t))))
    (opencode-api-session-prompt-async
     conn sid "Look at these"
     :parts (list `(:type "file" :mime "text/plain" :filename "big.txt"
                          :url ,(concat "file://" (expand-file-name "big.txt" dir)))
                  `(:type "file" :mime "image/png" :filename "clipboard.png"
                          :url ,(concat "data:image/png;base64,"
                                        (base64-encode-string opencode-parts-test--png t)))))
    ;; Done when the last message is a finished reply (the reply may come
    ;; and go between two looks at the status).
    (should (opencode-test-wait
             (lambda ()
               (let* ((ms (opencode-api-session-messages conn sid :sync t))
                      (info (plist-get (aref ms (1- (length ms))) :info)))
                 (and (funcall done) (>= (length ms) (+ before 2))
                      (equal (plist-get info :role) "assistant")
                      (plist-get (plist-get info :time) :completed))))
             60)))))

;;;; What must be true of the chain's chat

(defun opencode-parts-test--check (folded open)
  "Check the chain's chat: FOLDED as it starts, OPEN with every part open."
  ;; One heading line per tool, no JSON, no step noise.
  (dolist (re '("^▸ Todos 1/3 done  \\[completed\\]"
                "^▸ \\$ seq 1 300 | sed 's/^/line /'  \\[completed\\]"
                "^▸ \\$ ls /no-such-dir-here  \\[completed, exit 2\\]"
                "^▸ Write hello\\.py (6 lines)  \\[completed\\]"
                "^▸ Read hello\\.py (6 lines)  \\[completed\\]"
                "^▸ Edit hello\\.py \\+1 -1  \\[completed\\]"
                "^▸ Glob \\*\\*/\\*\\.py: 1 file  \\[completed\\]"
                "^▸ Grep def |print: 2 matches  \\[completed\\]"
                "^▸ Fetch http://127\\.0\\.0\\.1:[0-9]+/page\\.html ([0-9]+ B)  \\[completed\\]"
                "^▸ Question: Pick a color → Blue  \\[completed\\]"
                "^▸ Task (general): Count the files  \\[completed\\]"
                "^▸ Skill greeting  \\[completed\\]"
                "^Assistant  mock/mock-1  agent build  1\\.2k in · 340 out  "
                ;; An attachment: one folded line; the server's context
                ;; for it shows in it, not under headings of its own.
                "^You .*\nLook at these\n▸ File big\\.txt\n▸ Image clipboard\\.png  (PNG 1×1)\n\n"
                "^Seen the file and the picture\\.$"))
    (should (string-match-p re folded)))
  (should-not (string-match-p "Context added by the server" folded))
  (should-not (string-match-p "Step done\\|0 in\\|cost 0\\|\\$0\\.0000" folded))
  ;; Open, nothing of the server's wire format shows.
  (dolist (text (list folded open))
    (should-not (string-match-p "{\"\\|data:\\|base64\\|[A-Za-z0-9+/=]\\{60,\\}" text))
    (should-not (string-match-p "<path>\\|<content>\\|<type>\\|<task\\|<skill_\\|^Input:" text)))
  (dolist (re '("^✓ Look around  (high)$" "^◐ Write the script  (high)$"
                "^☐ Test it  (medium)$" "^✗ Gold-plate it  (low)$"
                ;; The tail of a long output, behind a button.
                "^\\[… 270 lines and [0-9]+ characters before: RET shows all\\]\nline 271$"
                "^line 300$"
                "^ls: cannot access '/no-such-dir-here': No such file or directory\nexit status 2$"
                "^hello\\.py\ndef greet(name):\n    \"\"\"Say hello\\.\"\"\"\n"
                "^-    return f\"Hello, {name}!\"\n\\+    return f\"Hi there, {name}!\"$"
                "^▾ File big\\.txt\nbig\\.txt\n00000 The quick"
                "^▾ Image clipboard\\.png  (PNG 1×1)\n\\[image PNG 1×1\\]$"
                "Grep def |print: 2 matches  \\[completed\\] [0-9.]+s\nhello\\.py\n +1: def greet(name):\n +6: print(greet(\"world\"))$"
                "^# Tiny page$"
                "^Color: Pick a color\n  ○ Red — warm\n  ● Blue — cool$"
                "^Sub-agent session ses_[A-Za-z0-9]+ (RET to open)\nSub-agent completed$"
                "^There are 3 files\\.$"
                "^# Skill: greeting$"
                "^00000 The quick brown fox"))
    (should (string-match-p re open)))
  (should-not (string-match-p "^line 270$" open)))

(defun opencode-parts-test--check-buttons ()
  "Check the buttons of the chain's chat, every part open: files, lines, show all."
  (let ((inhibit-message t))
    (while (not (eq opencode-chat--fold-cycle 'open)) (opencode-chat-cycle-folds)))
  (goto-char (point-min))
  (re-search-forward "^ +6: print")
  (let ((pos (text-property-any (line-beginning-position) (point) 'opencode-line 6)))
    (should pos)
    (should (string-suffix-p "/hello.py" (get-text-property pos 'opencode-file))))
  (goto-char (point-min))
  (search-forward "RET shows all")
  (should (get-text-property (1- (point)) 'opencode-expand))
  (opencode-chat-expand-part)
  (let ((text (opencode-test--visible-text)))
    (should (string-match-p "^line 1\nline 2$" text))
    (should (string-match-p "^line 300$" text))
    (should-not (string-match-p "characters before: RET shows all" text))))

(ert-deftest opencode-parts/replays-every-tool ()
  "Replayed with no server, every tool and file part reads well."
  (unwind-protect
      (pcase-let ((`(,folded ,open) (opencode-parts-test--replay)))
        (opencode-parts-test--check folded open)
        (with-current-buffer opencode-parts-test--chat
          (opencode-parts-test--check-buttons)))
    (when (buffer-live-p opencode-parts-test--chat) (kill-buffer opencode-parts-test--chat))))

(defun opencode-parts-test--offered-tools ()
  "Return the names of every tool the server offered the mock, sorted."
  (sort (delete-dups
         (cl-loop for req in opencode-test-mock-requests
                  append (mapcar (lambda (tl) (plist-get (plist-get tl :function) :name))
                                 (plist-get req :tools))))
        #'string<))

(defun opencode-parts-test--unrendered (tools renderers)
  "Return the TOOLS that have no renderer in RENDERERS (an alist)."
  (cl-remove-if (lambda (tool) (assoc tool renderers)) tools))

(ert-deftest opencode-parts/live-every-tool ()
  "The same chain on the real server, live, reads the same."
  (let* ((page (opencode-parts-test--page-server))
         (skills (opencode-parts-test--skills))
         (opencode-test-extra-config `(:skills [,skills])))
    (unwind-protect
        (opencode-test-with-real-server conn
          (let* ((dir (opencode-connection-directory conn))
                 (opencode-test-mock-script (opencode-parts-test--script dir (opencode-test-port page)))
                 (session (opencode-api-session-create conn :title "every tool" :sync t))
                 (sid (plist-get session :id))
                 (chat (save-window-excursion (opencode-chat-open conn session))))
            (opencode-parts-test--setup-project dir)
            (unwind-protect
                (with-current-buffer chat
                  (should (opencode-test-wait #'opencode-chat-loaded-p 20))
                  (opencode-parts-test--run-chain conn sid)
                  ;; Every tool the server offered has a renderer: a new
                  ;; built-in tool fails here until it gets one.
                  (let ((offered (opencode-parts-test--offered-tools)))
                    (should (member "todowrite" offered))
                    (should (equal (opencode-parts-test--unrendered offered opencode-chat-tool-renderers)
                                   nil))
                    ;; The check sees a tool with no renderer.
                    (should (equal (opencode-parts-test--unrendered
                                    offered (cl-remove "webfetch" opencode-chat-tool-renderers
                                                       :key #'car :test #'equal))
                                   '("webfetch"))))
                  (should (opencode-test-wait
                           (lambda () (string-match-p "^Seen the file and the picture\\.$"
                                                      (opencode-test--visible-text)))
                           30))
                  (apply #'opencode-parts-test--check (opencode-parts-test--texts))
                  (opencode-parts-test--check-buttons))
              (kill-buffer chat))))
      (delete-process page)
      (delete-directory skills t))))

;;;; Attachments

(ert-deftest opencode-parts/attachments-are-one-folded-line ()
  "Each file attached is one folded line: its name in the project, its lines.
A range, a folder, a data: URL's text, a file named by its whole path:
none shows a path outside the project, a URL's query, bytes \"not
shown\", nor the context the server added for it under a heading of its
own (one with no title, for a folder).  The parts come as the prompt
sends them (with ids) and as another client's (the server's ids, its
context first); the same after a reload.  Open, a file shows what the
server read of it."
  (opencode-test-with-chat-on-real-server (list '((:content "Seen.") :stop)
                                                '((:content "Seen again.") :stop))
    (let* ((dir default-directory)
           (notes "Notes on the calculator: keep it small, keep it exact.\n")
           (bad (lambda (text)
                  (dolist (re (list (regexp-quote dir) "\\?start=" "not shown"
                                    "Context added by the server"
                                    ;; A heading with nothing after its kind.
                                    "^[▸▾] [A-Za-z]+:? *$"))
                    (should-not (string-match-p re text))))))
      (make-directory (expand-file-name "src" dir))
      (with-temp-file (expand-file-name "src/calc.py" dir)
        (dotimes (i 12) (insert (format "x%d = %d\n" i i))))
      ;; From the prompt: a range and a folder, as @mentions.
      (opencode-test--prompt chat "Explain @src/calc.py#L4-9 and @src/ please")
      (should (opencode-test-wait
               (lambda () (string-match-p "^Seen\\.$" (opencode-test--visible-text))) 60))
      ;; From another client: the text of a data: URL, a whole path.
      (opencode-api-session-prompt-async
       conn sid "And these"
       :parts (list `(:type "file" :mime "text/plain" :filename "notes.txt"
                            :url ,(concat "data:text/plain;base64,"
                                          (base64-encode-string notes t)))
                    `(:type "file" :mime "text/plain" :filename "calc.py"
                            :url ,(concat "file://" (expand-file-name "src/calc.py" dir)
                                          "?start=2&end=3"))))
      (should (opencode-test-wait
               (lambda () (string-match-p "^Seen again\\.$" (opencode-test--visible-text))) 60))
      (should (opencode-test-wait (lambda () (not (opencode-store-busy-p conn sid))) 30))
      (dotimes (round 2)
        (let ((text (opencode-test--visible-text)))
          (should (string-match-p
                   (concat "^Explain @src/calc\\.py#L4-9 and @src/ please\n"
                           "▸ File src/calc\\.py:4-9\n"
                           "▸ Folder src/\n\n"
                           "Assistant ")
                   text))
          (should (string-match-p
                   (format (concat "^And these\n"
                                   "▸ File notes\\.txt  (%d bytes)\n"
                                   "▸ File src/calc\\.py:2-3\n\n"
                                   "Assistant ")
                           (length notes))
                   text))
          (funcall bad text))
        ;; Open: what the server read, under a button to the file.
        (let ((inhibit-message t))
          (while (not (eq opencode-chat--fold-cycle 'open)) (opencode-chat-cycle-folds)))
        (let ((text (opencode-test--visible-text)))
          (should (string-match-p
                   (concat "^▾ File src/calc\\.py:4-9\nsrc/calc\\.py:4-9\n"
                           "x3 = 3\n\\(?:.*\n\\)*x8 = 8\n(Showing lines 4-9 of 12\\.")
                   text))
          (should (string-match-p "^▾ Folder src/\nsrc/\ncalc\\.py\n" text))
          (should (string-match-p (concat "^▾ File notes\\.txt  ([0-9]+ bytes)\n"
                                          (regexp-quote notes))
                                  text))
          (should (string-match-p "^▾ File src/calc\\.py:2-3\nsrc/calc\\.py:2-3\nx1 = 1\nx2 = 2\n" text))
          (funcall bad text))
        ;; The button visits the file at the range's first line.
        (goto-char (point-min))
        (re-search-forward "^src/calc\\.py:4-9$")
        (should (equal (get-text-property (match-beginning 0) 'opencode-line) 4))
        (should (equal (get-text-property (match-beginning 0) 'opencode-file)
                       (expand-file-name "src/calc.py" dir)))
        (while opencode-chat--fold-cycle (opencode-chat-cycle-folds))
        ;; The same, drawn from what the server stored.
        (when (= round 0)
          (let* ((first (get-text-property (point-min) 'opencode-message))
                 (beg (opencode-chat-section-beg (opencode-chat--section first))))
            (opencode-chat-reload)
            (should (opencode-test-wait
                     (lambda () (and (opencode-chat-loaded-p)
                                     (not (eq beg (opencode-chat-section-beg
                                                   (opencode-chat--section first))))
                                     (string-match-p "^Seen again\\.$" (opencode-test--visible-text))))
                     30))))))))

;;;; The pieces

(ert-deftest opencode-parts/bash-tail-bounds ()
  "A bash output shows its last lines, and says exactly what it hides."
  (let ((opencode-chat-bash-tail-lines 3)
        (opencode-chat-tool-output-max 1000)
        (part '(:id "prt_tail")))
    (cl-letf (((symbol-function 'opencode-parts-expanded-p) #'ignore))
      (let ((tail (lambda (text) (substring-no-properties
                                  (opencode-tools--bash-tail part text)))))
        ;; As many lines as shown, or fewer: all of it, trailing newlines cut.
        (should (equal (funcall tail "a\nb\nc\n") "a\nb\nc"))
        (should (equal (funcall tail "only") "only"))
        (should (equal (funcall tail "") ""))
        ;; One more: the first is hidden, and counted.
        (should (equal (funcall tail "a\nb\nc\nd")
                       "[… 1 line and 2 characters before: RET shows all]\nb\nc\nd"))
        (should (equal (funcall tail "l1\nl2\nl3\nl4\nl5\n")
                       "[… 2 lines and 6 characters before: RET shows all]\nl3\nl4\nl5"))
        ;; Multibyte text is cut on characters.
        (should (equal (funcall tail "é\nà\nü\nö")
                       "[… 1 line and 2 characters before: RET shows all]\nà\nü\nö"))
        ;; Past the character limit, only its last characters.
        (let ((opencode-chat-tool-output-max 4))
          (should (equal (funcall tail "abcdefgh")
                         "[… 0 lines and 4 characters before: RET shows all]\nefgh"))
          (should (equal (funcall tail "ab\ncdefgh")
                         "[… 1 line and 5 characters before: RET shows all]\nefgh")))))))

(ert-deftest opencode-parts/image-size ()
  "PNG, GIF, JPEG and WebP sizes come from their headers, with no library."
  (let ((bytes (lambda (&rest parts) (apply #'unibyte-string (flatten-tree parts)))))
    (should (equal (opencode-parts-image-size opencode-parts-test--png) '("PNG" 1 1)))
    (should (equal (opencode-parts-image-size
                    (funcall bytes (string-to-list "GIF89a") #x80 #x02 #xe0 #x01 0 0 0))
                   '("GIF" 640 480)))
    ;; JPEG: SOI, an APP0 segment of 16 bytes, then SOF0 (height 480, width 640).
    (should (equal (opencode-parts-image-size
                    (funcall bytes #xff #xd8 #xff #xe0 0 16 (make-list 14 0)
                             #xff #xc0 0 17 8 #x01 #xe0 #x02 #x80 3 (make-list 9 0)))
                   '("JPEG" 640 480)))
    ;; WebP, extended (VP8X): canvas 640×480 stored minus one, 24 bits each.
    (should (equal (opencode-parts-image-size
                    (funcall bytes (string-to-list "RIFF") 0 0 0 0 (string-to-list "WEBPVP8X")
                             10 0 0 0 0 0 0 0 #x7f #x02 0 #xdf #x01 0))
                   '("WebP" 640 480)))
    ;; WebP, lossless (VP8L): 14-bit sizes minus one, after the 0x2f signature.
    (should (equal (opencode-parts-image-size
                    (funcall bytes (string-to-list "RIFF") 0 0 0 0 (string-to-list "WEBPVP8L")
                             0 0 0 0 #x2f #x7f #xc2 #x77 0 0 0 0 0 0))
                   '("WebP" 640 480)))
    (should-not (opencode-parts-image-size "not an image at all, not at all"))
    (should (equal (opencode-parts--image-text "image/png" "junk") "[image PNG]"))
    (should (equal (opencode-parts--image-text "image/png" opencode-parts-test--png) "[image PNG 1×1]"))))

(ert-deftest opencode-parts/steps-header-and-abort ()
  "Steps are hidden unless asked for; the header has compact usage; abort is dim."
  (opencode-test-with-chat "ses_x"
    (let ((step '(:id "prt_2" :messageID "msg_1" :sessionID "ses_x" :type "step-finish"
                  :reason "stop" :cost 0.0123
                  :tokens (:input 1234 :output 340 :reasoning 0 :cache (:read 0 :write 0)))))
      (opencode-test-chat-message
       '(:id "msg_1" :sessionID "ses_x" :role "assistant" :providerID "p" :modelID "m"
         :cost 0.0123 :tokens (:input 1234 :output 340 :reasoning 0 :cache (:read 500 :write 0))))
      (opencode-test-chat-part '(:id "prt_1" :messageID "msg_1" :sessionID "ses_x" :type "text"
                                    :text "Hi."))
      (opencode-test-chat-part step)
      (should (equal (opencode-test--visible-text)
                     "Assistant  p/m  1.2k in · 340 out · 500 cached · $0.0123\nHi.\n\n"))
      (let ((opencode-chat-show-steps t))
        (opencode-test-chat-part step)
        (should (string-match-p "^Hi\\.\nStep done (stop): 1\\.2k in · 340 out · \\$0\\.0123$"
                                (opencode-test--visible-text)))
        ;; Nothing to say: no figures.
        (opencode-test-chat-part (plist-put (plist-put (copy-sequence step) :cost 0)
                                               :tokens '(:input 0 :output 0)))
        (should (string-match-p "^Step done (stop)$" (opencode-test--visible-text))))))
  (should (equal (substring-no-properties
                  (opencode-parts-message-header
                   '(:role "assistant" :providerID "p" :modelID "m" :cost 0
                     :tokens (:input 0 :output 0)
                     :error (:name "MessageAbortedError" :data (:message "Aborted")))))
                 "Assistant  p/m  Aborted"))
  (should (string-match-p "\nError: .*Boom"
                          (opencode-parts-message-header
                           '(:role "assistant" :error (:name "APIError" :data (:message "Boom")))))))

(ert-deftest opencode-parts/unknown-tool-and-errors ()
  "A tool with no renderer shows its input as key: value lines; errors stay visible.
A failed tool starts open, though tools start folded."
  (opencode-test-with-chat "ses_x"
    (let ((opencode-chat-fold-tools t))
      (opencode-test-chat-message '(:id "msg_1" :sessionID "ses_x" :role "assistant"))
      (opencode-test-chat-part
       '(:id "prt_1" :messageID "msg_1" :sessionID "ses_x" :type "tool" :tool "mcp_thing"
         :state (:status "error" :input (:query "cats" :limit 3 :opts (:deep t :tags ["a" "b"]))
                 :error "It broke")))
      (opencode-test-chat-part
       '(:id "prt_2" :messageID "msg_1" :sessionID "ses_x" :type "tool" :tool "bash"
         :state (:status "error" :input (:command "make") :error "Killed")))
      (let ((text (opencode-test--visible-text)))
        (should (string-match-p "^▾ Tool mcp_thing \\[error\\]: cats$" text))
        (should (string-match-p "^query: cats\nlimit: 3\nopts: deep=true, tags=2 items$" text))
        (should (string-match-p "^Error: It broke$" text))
        (should (string-match-p "^▾ \\$ make  \\[error\\]\n\nError: Killed$" text))
        (should-not (string-match-p "{\"" text)))
      (goto-char (point-min))
      (search-forward "Error: It broke")
      (should (eq (get-text-property (match-beginning 0) 'face) 'opencode-chat-error)))))

;;;; Replayed

(defun opencode-parts-test--replay ()
  "Replay the recorded chain into a chat; return (FOLDED OPEN) visible texts.
FOLDED is the chat as it starts, OPEN with every part unfolded.  The
chat buffer is left in `opencode-parts-test--chat' until the next call."
  (let* ((conn (opencode-replay-connection
                (expand-file-name "fixtures/capture-every-tool.jsonl" opencode-test-dir)))
         (opencode-connections (list conn))
         (sid (cl-loop for r in (plist-get (opencode-connection-plist conn) :replay)
                       when (equal (plist-get r :type) "session.created")
                       return (plist-get (plist-get (plist-get r :props) :info) :id)))
         (chat (save-window-excursion (opencode-chat-open conn (list :id sid)))))
    (when (buffer-live-p opencode-parts-test--chat) (kill-buffer opencode-parts-test--chat))
    (setq opencode-parts-test--chat chat)
    (with-current-buffer chat
      (should (opencode-test-wait #'opencode-chat-loaded-p 5))
      (opencode-replay-play conn)
      (should (opencode-test-wait #'opencode-chat-loaded-p 5))
      (opencode-parts-test--texts))))

(defvar opencode-parts-test--chat nil
  "The chat buffer of the last replay.")

(defun opencode-parts-test--texts ()
  "Return (FOLDED OPEN): the chat's visible text, then with all parts open."
  (let ((folded (opencode-test--visible-text)))
    (let ((inhibit-message t))
      (while (not (eq opencode-chat--fold-cycle 'open)) (opencode-chat-cycle-folds)))
    (prog1 (list folded (opencode-test--visible-text))
      (let ((inhibit-message t))
        (while opencode-chat--fold-cycle (opencode-chat-cycle-folds))))))

(provide 'opencode-parts-test)
;;; opencode-parts-test.el ends here

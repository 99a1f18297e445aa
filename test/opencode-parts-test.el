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

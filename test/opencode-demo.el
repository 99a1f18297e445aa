;;; opencode-demo.el --- Try the package offline, with the mock model  -*- lexical-binding: t; -*-

;;; Commentary:

;; `make demo': starts the real OpenCode server (the pinned npm install)
;; in a scratch HOME and project whose model is the test suite's mock,
;; so the session list, the chat, streaming and folding can be tried
;; with no API key and no network.  Everything lives in a temporary
;; folder removed when Emacs exits.

;;; Code:

(require 'opencode-test-helpers)
(require 'opencode-sessions)

(defvar opencode-demo--root (make-temp-file "opencode-demo-" t)
  "The scratch folder of the demo.")

(let* ((home (expand-file-name "home" opencode-demo--root))
       (project (expand-file-name "project" opencode-demo--root))
       (mock (opencode-test-http-start #'opencode-test--mock-handler)))
  ;; Each prompt: reasoning, a todo list, a command, a file written,
  ;; read and edited, then a long Markdown answer with a table and code
  ;; in three languages.  Enough for five prompts.
  (setq opencode-test-mock-script
        (apply #'append
               (make-list
                5 (list (append '((:reasoning_content "The user wants a demo; ")
                                  (:reasoning_content "let me plan it first."))
                                (opencode-test--tool-call
                                 "todowrite" '(:todos [(:content "Look at the project" :status "completed" :priority "high")
                                                      (:content "Write a script" :status "in_progress" :priority "medium")
                                                      (:content "Explain it" :status "pending" :priority "low")]))
                                '(:tool_calls))
                        (append (opencode-test--tool-call
                                 "bash" '(:command "ls -a && git log --oneline | head -3"
                                          :description "Look around the project"))
                                '(:tool_calls))
                        (append (opencode-test--tool-call
                                 "write" '(:filePath "hello.py"
                                           :content "def greet(name):\n    \"\"\"Say hello.\"\"\"\n    return f\"Hello, {name}!\"\n\n\nprint(greet(\"Emacs\"))\n"))
                                '(:tool_calls))
                        (append (opencode-test--tool-call "read" '(:filePath "hello.py"))
                                '(:tool_calls))
                        (append (opencode-test--tool-call
                                 "edit" '(:filePath "hello.py" :oldString "Hello, {name}!"
                                          :newString "Hello, {name}, from opencode.el!"))
                                '(:tool_calls))
                        '((:content "## What I did\n\nI wrote **`hello.py`**, read it back and ")
                          (:content "*edited* its greeting. The steps:\n\n")
                          (:content "1. planned the work with a todo list\n2. looked around with `ls`\n")
                          (:content "3. wrote, read and edited the file\n\n")
                          (:content "- [x] script written\n- [ ] tests (left for you)\n\n")
                          (:content "> Fold any tool above with TAB; S-TAB cycles them all.\n\n")
                          (:content "| Language | Greeting | Lines |\n|----------|----------|------:|\n")
                          (:content "| Python | Hello | 5 |\n| 日本語 | こんにちは | 1 |\n| Emoji | 👋 | 1 |\n\n")
                          (:content "### The code\n\n```python\ndef greet(name):\n    return f\"Hello, {name}!\"\n```\n\n")
                          (:content "The same in Emacs Lisp and in the shell:\n\n")
                          (:content "```elisp\n(defun greet (name)\n  (format \"Hello, %s!\" name))\n```\n\n")
                          (:content "```sh\necho \"Hello, $USER!\"\n```\n\n")
                          (:content "See ~~the old way~~ https://opencode.ai/docs for more.\n")
                          :stop)))))
  (make-directory home t)
  (make-directory project t)
  (call-process "git" nil nil nil "-C" project "init" "-q")
  (with-temp-file (expand-file-name "README" project) (insert "A demo project.\n"))
  ;; A first commit: a real project, with worktrees and diffs.
  (call-process "git" nil nil nil "-C" project "add" "README")
  (call-process "git" nil nil nil "-C" project "-c" "user.name=demo" "-c" "user.email=demo@127.0.0.1"
                "commit" "-q" "-m" "A demo project")
  (with-temp-file (expand-file-name "opencode.json" project)
    (insert (json-serialize
             `(:provider (:mock (:npm "@ai-sdk/openai-compatible" :name "Mock"
                                 :options (:baseURL ,(format "http://127.0.0.1:%d/v1"
                                                             (opencode-test-port mock))
                                           :apiKey "x")
                                 :models (:mock-1 (:name "Mock 1"))))
               :model "mock/mock-1" :small_model "mock/mock-1"))))
  (setq process-environment (append (opencode-test-scratch-home home) process-environment))
  (setq opencode-server-program (opencode-test-server-program))
  (add-hook 'kill-emacs-hook (lambda () (delete-directory opencode-demo--root t)) t)
  (let ((conn (opencode-connect project)))
    (opencode-request-sync conn "POST" "/session" :body '(:title "Demo session: RET to open, i to prompt"))
    (opencode-sessions project)))

;;; opencode-demo.el ends here

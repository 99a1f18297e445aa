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
  ;; Each prompt: reasoning and a tool call (the agent runs `ls'), then a
  ;; streamed Markdown answer with code.  Enough for ten prompts.
  (setq opencode-test-mock-script
        (apply #'append
               (make-list
                10 (list (append '((:reasoning_content "The user wants a demo; ")
                                   (:reasoning_content "let me look at the project first."))
                                 (opencode-test--tool-call
                                  "bash" '(:command "ls -a" :description "List the project"))
                                 '(:tool_calls))
                         '((:content "Here is a **streamed** reply from the mock model.\n\n")
                           (:content "The project has a `README` and an `opencode.json`:\n\n")
                           (:content "- fold the tool call above with `TAB`\n")
                           (:content "- see every key with `?`\n\n")
                           (:content "```elisp\n(message \"hello from opencode.el\")\n```\n")
                           :stop)))))
  (make-directory home t)
  (make-directory project t)
  (call-process "git" nil nil nil "-C" project "init" "-q")
  (with-temp-file (expand-file-name "README" project) (insert "A demo project.\n"))
  (with-temp-file (expand-file-name "opencode.json" project)
    (insert (json-serialize
             `(:provider (:mock (:npm "@ai-sdk/openai-compatible" :name "Mock"
                                 :options (:baseURL ,(format "http://127.0.0.1:%d/v1"
                                                             (opencode-test-port mock))
                                           :apiKey "x")
                                 :models (:mock-1 (:name "Mock 1"))))
               :model "mock/mock-1" :small_model "mock/mock-1"))))
  (setq process-environment
        (append (list (concat "HOME=" home) "OPENCODE_DISABLE_AUTOUPDATE=1"
                      "OPENCODE_DISABLE_SHARE=1")
                process-environment))
  (setq opencode-server-program (opencode-test-server-program))
  (add-hook 'kill-emacs-hook (lambda () (delete-directory opencode-demo--root t)) t)
  (let ((conn (opencode-connect project)))
    (opencode-request-sync conn "POST" "/session" :body '(:title "Demo session: RET to open, i to prompt"))
    (opencode-sessions project)))

;;; opencode-demo.el ends here

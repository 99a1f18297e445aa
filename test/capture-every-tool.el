;;; capture-every-tool.el --- Record every tool from the real server  -*- lexical-binding: t; -*-

;;; Commentary:

;; Run by hand: emacs -Q --batch -L lisp -L test -l test/capture-every-tool.el
;; Starts the real server with the mock model and records, with
;; `opencode-capture-start', the chain of `opencode-parts-test--run-chain'
;; (every built-in tool, then a large @file and an image) into
;; test/fixtures/capture-every-tool.jsonl, replayed by
;; test/opencode-parts-test.el.  The tools the server offered the mock
;; are printed.

;;; Code:

(require 'opencode-test-helpers)
(require 'opencode-capture)
(require 'opencode-chat)
(require 'opencode-parts-test)

(let* ((page (opencode-parts-test--page-server))
       (skills (opencode-parts-test--skills))
       (opencode-test-extra-config `(:skills [,skills])))
  (unwind-protect
      (opencode-test-with-real-server conn
        (let* ((dir (opencode-connection-directory conn))
               (opencode-test-mock-script
                (opencode-parts-test--script dir (opencode-test-port page)))
               (out (expand-file-name "fixtures/capture-every-tool.jsonl" opencode-test-dir)))
          (opencode-parts-test--setup-project dir)
          (when (file-exists-p out) (delete-file out))
          (opencode-capture-start out dir)
          (let* ((session (opencode-api-session-create conn :title "every tool" :sync t))
                 (sid (plist-get session :id))
                 (chat (save-window-excursion (opencode-chat-open conn session))))
            (opencode-test-wait (lambda () (with-current-buffer chat (opencode-chat-loaded-p))) 20)
            (opencode-parts-test--run-chain conn sid)
            ;; What the server stored, for the test to compare against.
            (opencode-api-session-messages conn sid :sync t)
            (opencode-capture-stop dir)
            (message "tools offered: %S"
                     (mapcar (lambda (tl) (plist-get (plist-get tl :function) :name))
                             (plist-get (car (last opencode-test-mock-requests)) :tools)))
            (message "script left: %d turns" (length opencode-test-mock-script))
            (with-current-buffer chat (message "%s" (opencode-test--visible-text)))
            (kill-buffer chat)
            (message "recorded %s" out))))
    (delete-process page)
    (delete-directory skills t)))

;;; capture-every-tool.el ends here

;;; capture-replays.el --- Record the replay fixtures from the real server  -*- lexical-binding: t; -*-

;;; Commentary:

;; Run by hand: emacs -Q --batch -L lisp -L test -l test/capture-replays.el
;; Starts the real server with the mock model and records, with
;; `opencode-capture-start', two sessions as a user would see them:
;; test/fixtures/capture-tools.jsonl, a chain of tool calls (todowrite,
;; bash, then a Markdown reply), and test/fixtures/capture-reconnect.jsonl,
;; a reply during which the server is restarted.  Replayed by
;; test/opencode-capture-test.el.

;;; Code:

(require 'opencode-test-helpers)
(require 'opencode-capture)
(require 'opencode-chat)

(defun capture-replays--record (file script prompt &optional during)
  "Record to FILE a chat while the mock plays SCRIPT for PROMPT.
DURING, if given, is called with the connection once the reply started."
  (let ((opencode-test-mock-script script))
    (opencode-test-with-real-server conn
      (let ((out (expand-file-name file opencode-test-dir)))
        (when (file-exists-p out) (delete-file out))
        (opencode-capture-start out (opencode-connection-directory conn))
        (let* ((session (opencode-api-session-create conn :title "replayed" :sync t))
               (sid (plist-get session :id))
               (chat (save-window-excursion (opencode-chat-open conn session))))
          (opencode-test-wait (lambda () (with-current-buffer chat (opencode-chat-loaded-p))) 20)
          (opencode-api-session-prompt-async conn sid prompt)
          (opencode-test-wait (lambda () (opencode-store-busy-p conn sid)) 30)
          (when during (funcall during conn))
          (opencode-test-wait (lambda () (eq (opencode-connection-state conn) 'connected)) 60)
          (opencode-test-wait (lambda () (and (eq (opencode-connection-state conn) 'connected)
                                              (not (opencode-store-busy-p conn sid))))
                              90)
          ;; What the server stored, for the test to compare against.
          (opencode-api-session-messages conn sid :sync t)
          (opencode-capture-stop (opencode-connection-directory conn))
          (kill-buffer chat)
          (message "recorded %s" out))))))

(capture-replays--record
 "fixtures/capture-tools.jsonl"
 (list (append '((:reasoning_content "Plan: list, then run."))
               (opencode-test--tool-call
                "todowrite" '(:todos [(:content "Look around" :status "in_progress" :priority "high")
                                     (:content "Report" :status "pending" :priority "low")]))
               '(:tool_calls))
       (append (opencode-test--tool-call "bash" '(:command "echo replayed-output"
                                                  :description "Print a word"))
               '(:tool_calls))
       '((:content "Done. The command said **replayed-output**.\n\n```sh\necho replayed-output\n```\n")
         :stop))
 "Look around and run something")

(capture-replays--record
 "fixtures/capture-reconnect.jsonl"
 (list '((:content "Before ") (:content "the restart.") :stop)
       '((:content "After the restart, ") (:content "all is well.") :stop))
 "Say something, twice"
 (lambda (conn)
   (let ((sid (car (hash-table-keys (opencode-store-status (opencode-store conn))))))
     (opencode-test-wait (lambda () (not (opencode-store-busy-p conn sid))) 60)
     (cl-letf (((symbol-function 'message) #'ignore))
       (opencode-server-restart))
     (opencode-test-wait (lambda () (eq (opencode-connection-state conn) 'disconnected)) 20)
     (opencode-test-wait (lambda () (eq (opencode-connection-state conn) 'connected)) 60)
     (opencode-api-session-prompt-async conn sid "Again")
     (opencode-test-wait (lambda () (opencode-store-busy-p conn sid)) 30))))

;;; capture-replays.el ends here

;;; capture-fixtures.el --- Record fixtures from the real server  -*- lexical-binding: t; -*-

;;; Commentary:

;; Run by hand: emacs -Q --batch -L lisp -L test -l test/capture-fixtures.el
;; Starts the real server with the mock model, records the raw event
;; stream (curl -N) while a prompt runs that makes reasoning, text and a
;; todowrite tool call, and saves the stream and the stored messages
;; under test/fixtures/real-*.

;;; Code:

(require 'opencode-test-helpers)
(require 'opencode-api)

(let ((opencode-test-mock-script
       (list '((:reasoning_content "Let me think") (:reasoning_content " about it.")
               (:content "I will make a todo list.")
               (:tool_calls [(:index 0 :id "call_1" :type "function"
                                     :function (:name "todowrite" :arguments ""))])
               (:tool_calls [(:index 0 :function (:arguments "{\"todos\":[{\"content\":\"Write tests\",\"status\":\"in_progress\",\"priority\":\"high\"},"))])
               (:tool_calls [(:index 0 :function (:arguments "{\"content\":\"Ship it\",\"status\":\"pending\",\"priority\":\"low\"}]}"))])
               :tool_calls)
             '((:content "Done: **two** todos.\n\n```elisp\n(message \"hi\")\n```\n") :stop))))
  (opencode-test-with-real-server conn
    (let* ((server (opencode-connection-server conn))
           (out (expand-file-name "fixtures/real-stream.sse" opencode-test-dir))
           (curl (start-process "curl" nil "curl" "-sN" "-u"
                                (concat "opencode:" (opencode-server-password server))
                                "-o" out
                                (concat (opencode-server-url server) "/event?directory="
                                        (url-hexify-string (opencode-connection-directory conn)))))
           (sid (plist-get (opencode-request-sync conn "POST" "/session" :body '(:title "fixture")) :id))
           (idle nil)
           (opencode-event-functions
            (list (lambda (_c type props)
                    (when (and (equal type "session.status")
                               (equal (plist-get (plist-get props :status) :type) "idle"))
                      (setq idle t))))))
      (sleep-for 0.5)
      (opencode-api-session-prompt-async conn sid "Plan the work")
      (opencode-test-wait (lambda () idle) 60)
      (sleep-for 1)
      (delete-process curl)
      (with-temp-file (expand-file-name "fixtures/real-messages.json" opencode-test-dir)
        (insert (json-serialize (opencode-request-sync conn "GET" (opencode--path "session" sid "message"))
                                :null-object :null :false-object :false)))
      (message "todos: %S" (opencode-request-sync conn "GET" (opencode--path "session" sid "todo"))))))

;;; capture-fixtures.el ends here

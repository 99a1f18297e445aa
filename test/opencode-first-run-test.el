;;; opencode-first-run-test.el --- A first run with no model configured  -*- lexical-binding: t; -*-

;;; Commentary:

;; With no model in the project's opencode.json, the server answers with
;; its default provider's model: init and compaction use that one too,
;; and when there is none, or a reply retries for want of one, the user
;; is told once what to do.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-chat)

(defun opencode-first-run-test--server (providers)
  "Start a server whose /config names no model and /config/providers is PROVIDERS."
  (opencode-test-http-start
   (lambda (proc _m path _h _b)
     (cond ((string-prefix-p "/config/providers" path)
            (opencode-test-respond proc "200 OK" "application/json" providers))
           ((string-prefix-p "/config" path)
            (opencode-test-respond proc "200 OK" "application/json" "{\"agent\":{}}"))
           (t (opencode-test-respond proc "404 Not Found" "application/json" "{}"))))))

(ert-deftest opencode-first-run/default-model-or-what-to-do ()
  "No model configured: the server's default is used, else the user is told how."
  (let* ((server (opencode-first-run-test--server
                  "{\"providers\":[{\"id\":\"zen\",\"models\":{}},{\"id\":\"mock\",\"models\":{}}],\
\"default\":{\"mock\":\"mock-1\",\"zen\":\"big-pickle\"}}"))
         (none (opencode-first-run-test--server "{\"providers\":[],\"default\":{}}"))
         (conn (opencode-connection-open (format "http://127.0.0.1:%d" (opencode-test-port server))
                                         "/tmp/proj"))
         (bare (opencode-connection-open (format "http://127.0.0.1:%d" (opencode-test-port none))
                                         "/tmp/proj"))
         (got nil) (said nil))
    (unwind-protect
        (cl-letf (((symbol-function 'message)
                   (lambda (fmt &rest args) (push (apply #'format fmt args) said))))
          (opencode-api-session-model conn '(:id "ses_1") (lambda (m) (setq got m)))
          (should (opencode-test-wait (lambda () got)))
          ;; The first provider with a default, in the server's order.
          (should (equal got '("zen" . "big-pickle")))
          ;; The session's own model comes first.
          (setq got nil)
          (opencode-api-session-model conn '(:id "ses_1" :model (:providerID "p" :id "m"))
                                      (lambda (m) (setq got m)))
          (should (equal got '("p" . "m")))
          ;; None at all: say what to do, call nothing.
          (setq got nil)
          (opencode-api-session-model bare '(:id "ses_1") (lambda (m) (setq got m)))
          (should (opencode-test-wait (lambda () said)))
          (should-not got)
          (should (string-match-p "no model is configured for /tmp/proj: run `opencode auth login'"
                                  (car said)))
          (should (string-match-p "Configure a model" (car said))))
      (opencode-connection-close conn)
      (opencode-connection-close bare)
      (delete-process server)
      (delete-process none))))

(ert-deftest opencode-first-run/retrying-with-no-model-is-explained-once ()
  "A reply that retries with no model configured says what to do, once."
  (let* ((server (opencode-first-run-test--server "{\"providers\":[],\"default\":{}}"))
         (conn (opencode-connection-open (format "http://127.0.0.1:%d" (opencode-test-port server))
                                         "/tmp/proj"))
         (said nil))
    (unwind-protect
        (cl-letf (((symbol-function 'message)
                   (lambda (fmt &rest args) (push (apply #'format fmt args) said))))
          (dotimes (i 3)
            (opencode-connection--dispatch
             conn `(event "session.status"
                          (:sessionID "ses_1" :status (:type "retry" :attempt ,(1+ i)
                                                             :message "Cannot connect to API"
                                                             :next 0)))))
          (should (opencode-test-wait
                   (lambda () (cl-find-if (lambda (m) (string-match-p "no model" m)) said))))
          ;; Let any further reply arrive before counting.
          (opencode-api-config conn :sync t)
          (should (= 1 (cl-count-if (lambda (m) (string-match-p "no model" m)) said)))
          (should (string-match-p "^OpenCode: the reply is retrying (Cannot connect to API); no model is configured"
                                  (cl-find-if (lambda (m) (string-match-p "no model" m)) said))))
      (opencode-connection-close conn)
      (delete-process server))))

(defun opencode-first-run-test--shown (buffer)
  "Return what BUFFER shows, its overlays' strings too, lines joined by a space."
  (with-current-buffer buffer
    (let ((text (concat (opencode-test--visible-text)
                        (mapconcat (lambda (o) (or (overlay-get o 'after-string) ""))
                                   (overlays-in (point-min) (point-max)) ""))))
      (string-trim (replace-regexp-in-string "[ \n]+" " " (substring-no-properties text))))))

(ert-deftest opencode-first-run/providers-said-before-the-first-prompt ()
  "The empty session list and an empty session's prompt say which providers answer.
With none of the user's own, that a prompt goes to a free model over the
network and how to add one; against the real server."
  (opencode-test-with-own-real-server conn
    (let* ((bare (expand-file-name "../bare" default-directory))
           (add-re (concat "To add one: `opencode auth login', or a provider in the project's "
                           "opencode\\.json; then M-x opencode-server-restart\\."))
           (none-re (concat "No provider of yours is configured: prompts go to opencode/[^ ,]+, "
                            "a free OpenCode Zen model, over the network\\. " add-re))
           (mock-re (concat "Providers: OpenCode Zen (its free models), Mock; prompts go to "
                            "mock/mock-1\\. " add-re))
           (lists nil))
      (make-directory bare)
      (call-process "git" nil nil nil "-C" bare "init" "-q")
      (let ((bare-conn (opencode-connect bare)))
        (should (opencode-test-wait (lambda () (eq (opencode-connection-state bare-conn) 'connected)) 30))
        ;; The empty lists: the bare project's, and the mock's.
        (push (save-window-excursion (opencode-sessions bare)) lists)
        (push (save-window-excursion (opencode-sessions (opencode-connection-directory conn))) lists)
        (unwind-protect
            (progn
              (should (opencode-test-wait
                       (lambda () (string-match-p (concat "No sessions here\\. .* " none-re)
                                                  (opencode-first-run-test--shown (cadr lists))))
                       20))
              (should (opencode-test-wait
                       (lambda () (string-match-p mock-re (opencode-first-run-test--shown (car lists))))
                       20))
              ;; The prompt of an empty session says it too, until the
              ;; first prompt goes.
              (let* ((session (opencode-request-sync bare-conn "POST" "/session" :body '(:title "bare")))
                     (chat (save-window-excursion (opencode-chat-open bare-conn session)))
                     (prompt (with-current-buffer chat (save-window-excursion (opencode-chat-prompt)))))
                (unwind-protect
                    (should (opencode-test-wait
                             (lambda () (string-match-p (concat "\\`" none-re)
                                                        (opencode-first-run-test--shown prompt)))
                             20))
                  (kill-buffer chat)))
              (let* ((session (opencode-request-sync conn "POST" "/session" :body '(:title "mock")))
                     (chat (save-window-excursion (opencode-chat-open conn session)))
                     (prompt (with-current-buffer chat (save-window-excursion (opencode-chat-prompt)))))
                (unwind-protect
                    (with-current-buffer prompt
                      (should (opencode-test-wait
                               (lambda () (string-match-p (concat "\\`" mock-re)
                                                          (opencode-first-run-test--shown prompt)))
                               20))
                      (insert "Hello")
                      (should (string-match-p (concat "\\`Hello " mock-re)
                                              (opencode-first-run-test--shown prompt)))
                      (opencode-prompt-send)
                      (should (opencode-test-wait (lambda () (= (buffer-size) 0)) 30))
                      (should (equal (opencode-first-run-test--shown prompt) ""))
                      ;; Opened again on a session with a prompt: nothing said.
                      (kill-buffer prompt)
                      (should (opencode-test-wait
                               (lambda () (not (eq (opencode-chat-empty-p chat) t))) 20))
                      (let ((again (with-current-buffer chat (save-window-excursion (opencode-chat-prompt)))))
                        (should (equal (opencode-first-run-test--shown again) ""))))
                  (kill-buffer chat))))
          (mapc #'kill-buffer lists))))))

(provide 'opencode-first-run-test)
;;; opencode-first-run-test.el ends here

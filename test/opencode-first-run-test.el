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

(provide 'opencode-first-run-test)
;;; opencode-first-run-test.el ends here

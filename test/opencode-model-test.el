;;; opencode-model-test.el --- The store and the event routing  -*- lexical-binding: t; -*-

;;; Commentary:

;; Events replayed through the connection's dispatch, as the module
;; hands them over, into a connection with no server: the store keeps
;; what they say, handlers run by depth, each on its own.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-model)

(defun opencode-model-test--conn ()
  "Return a connection object with no server behind it."
  (opencode-connection--make :url "http://127.0.0.1:1" :directory "/tmp/proj"))

(defun opencode-model-test--feed (conn &rest items)
  "Dispatch ITEMS on CONN as if drained from the module."
  (dolist (item items) (opencode-connection--dispatch conn item)))

(ert-deftest opencode-model/store-follows-events ()
  "Each event updates the store once; views read it from there."
  (let ((conn (opencode-model-test--conn)))
    (opencode-model-test--feed
     conn
     '(event "session.created" (:info (:id "ses_a" :title "A" :time (:updated 5))))
     '(event "session.created" (:info (:id "ses_b" :parentID "ses_a" :title "B"
                                       :time (:updated 6 :archived 9))))
     '(event "session.status" (:sessionID "ses_a" :status (:type "busy")))
     '(event "session.status" (:sessionID "ses_b" :status (:type "retry" :attempt 2
                                                                :message "slow" :next 1)))
     '(event "permission.asked" (:id "per_1" :sessionID "ses_b" :permission "edit"
                                     :patterns ["x"]))
     '(event "question.asked" (:id "que_2" :sessionID "ses_b" :questions []))
     '(event "todo.updated" (:sessionID "ses_a" :todos [(:content "one" :status "pending"
                                                                 :priority "high")]))
     '(event "session.diff" (:sessionID "ses_a" :diff [(:file "f" :additions 3 :deletions 1)
                                                      (:file "g" :additions 2 :deletions 0)]))
     '(event "vcs.branch.updated" (:branch "main")))
    (let ((a (opencode-store-session conn "ses_a"))
          (b (opencode-store-session conn "ses_b")))
      (should (equal (opencode-session-title a) "A"))
      (should (equal (opencode-session-updated a) 5))
      (should-not (opencode-session-parent-id a))
      (should (equal (opencode-session-parent-id b) "ses_a"))
      (should (equal (opencode-session-archived b) 9)))
    (should (equal (opencode-store-parent conn "ses_b") "ses_a"))
    (should (eq (opencode-store-parent conn "ses_zzz") 'unknown))
    (should (equal (opencode-store-status-type conn "ses_a") "busy"))
    (should (equal (plist-get (opencode-store-session-status conn "ses_b") :attempt) 2))
    (should (equal (opencode-store-counts conn) '(2 1 0)))
    (should (equal (mapcar #'opencode-user-request-id (opencode-store-pending conn))
                   '("per_1" "que_2")))
    (should (equal (mapcar #'opencode-user-request-kind (opencode-store-pending conn "ses_b"))
                   '(permission question)))
    (should-not (opencode-store-pending conn "ses_a"))
    (should (equal (opencode-todo-content (car (opencode-store-session-todos conn "ses_a")))
                   "one"))
    (should (equal (opencode-store-diff-summary conn "ses_a") '(2 5 1)))
    (should (equal (opencode-store-branch (opencode-store conn)) "main"))
    ;; Answers, idleness, errors, deletion.
    (opencode-model-test--feed
     conn
     '(event "permission.replied" (:sessionID "ses_b" :requestID "per_1" :reply "once"))
     '(event "session.idle" (:sessionID "ses_a"))
     '(event "session.error" (:sessionID "ses_a" :error (:name "APIError" :data (:message "x"))))
     '(event "session.error" (:error (:name "UnknownError" :data (:message "no session")))))
    (should (equal (mapcar #'opencode-user-request-id (opencode-store-pending conn)) '("que_2")))
    (should (equal (opencode-store-status-type conn "ses_a") "idle"))
    (should (equal (plist-get (opencode-store-session-error conn "ses_a") :name) "APIError"))
    (should (equal (plist-get (opencode-store-session-error conn t) :name) "UnknownError"))
    (should (equal (opencode-store-counts conn) '(1 1 1)))
    ;; Busy again: the error is over.
    (opencode-model-test--feed
     conn '(event "session.status" (:sessionID "ses_a" :status (:type "busy"))))
    (should-not (opencode-store-session-error conn "ses_a"))
    (opencode-model-test--feed
     conn '(event "session.deleted" (:sessionID "ses_b" :info (:id "ses_b"))))
    (should-not (opencode-store-session conn "ses_b"))
    (should-not (opencode-store-pending conn))
    (should (equal (opencode-store-status-type conn "ses_b") "idle"))))

(ert-deftest opencode-model/routing-by-depth-and-isolated ()
  "Handlers run by depth, model first; one that fails stops no other."
  (let ((opencode-test-allowed-handler-errors "\\`\\(Hook \\)?Boom\\'")
        (opencode-events--handlers (copy-hash-table opencode-events--handlers))
        (opencode-event-functions nil)
        (conn (opencode-model-test--conn))
        (seen nil))
    (opencode-events-add-handler "x.test" (lambda (_c p _t) (push (list 'late p) seen)) 90)
    (opencode-events-add-handler "x.test" (lambda (_c _p _t) (error "Boom")) 20)
    (opencode-events-add-handler "x.test" (lambda (_c p _t) (push (list 'early p) seen)) 10)
    (add-hook 'opencode-event-functions (lambda (_c _ty _p) (error "Hook boom")))
    (add-hook 'opencode-event-functions (lambda (_c ty _p) (push (list 'hook ty) seen)) t)
    (opencode-model-test--feed conn '(event "x.test" (:n 1)))
    (should (equal (reverse seen) '((early (:n 1)) (late (:n 1)) (hook "x.test"))))
    ;; Both errors were logged with the event.
    (with-current-buffer "*opencode-log*"
      (should (string-match-p "Boom in .* for event x\\.test (:n 1)" (buffer-string)))
      (should (string-match-p "Hook boom in .* for event x\\.test" (buffer-string))))
    ;; Registering the same function again replaces it.
    (let ((f (lambda (_c _p _t) nil)))
      (opencode-events-add-handler "y.test" f 5)
      (opencode-events-add-handler "y.test" f 7)
      (should (equal (gethash "y.test" opencode-events--handlers) (list (cons 7 f)))))))

(ert-deftest opencode-model/deltas-go-straight ()
  "A delta reaches its handlers as arguments; a plist only for the hook."
  (let ((opencode-events--delta-handlers nil)
        (opencode-event-functions nil)
        (conn (opencode-model-test--conn))
        (got nil) (hooked nil))
    (opencode-events-add-delta-handler (lambda (&rest args) (push (cdr args) got)))
    (opencode-model-test--feed conn '(delta "ses_a" "msg_1" "prt_1" "text" "Hel"))
    (should (equal got '(("ses_a" "msg_1" "prt_1" "text" "Hel"))))
    (add-hook 'opencode-event-functions (lambda (_c ty p) (push (cons ty p) hooked)))
    (opencode-model-test--feed conn '(delta "ses_a" "msg_1" "prt_1" "text" "lo"))
    (should (equal hooked '(("message.part.delta" :sessionID "ses_a" :messageID "msg_1"
                             :partID "prt_1" :field "text" :delta "lo"))))))

(ert-deftest opencode-model/sync-routes-what-changed ()
  "After a reconnection, changed statuses and requests reach the views as events."
  (let ((opencode-events--handlers (copy-hash-table opencode-events--handlers))
        (conn (opencode-model-test--conn))
        (seen nil))
    (opencode-model-test--feed
     conn
     '(event "session.status" (:sessionID "ses_a" :status (:type "busy")))
     '(event "session.status" (:sessionID "ses_b" :status (:type "busy")))
     '(event "permission.asked" (:id "per_1" :sessionID "ses_a" :permission "bash")))
    (dolist (type '("session.status" "permission.asked" "permission.replied"))
      (opencode-events-add-handler type (lambda (_c p ty) (push (cons ty p) seen)) 60))
    ;; While disconnected: ses_a finished, ses_c started, per_1 was
    ;; answered elsewhere and per_2 asked.
    (opencode-model--sync-status conn '(:ses_b (:type "busy") :ses_c (:type "busy")))
    (opencode-model--sync-requests conn 'permission
                                   [(:id "per_2" :sessionID "ses_c" :permission "edit")])
    (should (equal (opencode-store-status-type conn "ses_a") "idle"))
    (should (equal (opencode-store-status-type conn "ses_c") "busy"))
    (should (equal (mapcar #'opencode-user-request-id (opencode-store-pending conn)) '("per_2")))
    (should (equal (sort (mapcar (lambda (e) (format "%s %s" (car e)
                                                     (or (plist-get (cdr e) :sessionID) "")))
                                 seen)
                         #'string<)
                   '("permission.asked ses_c" "permission.replied ses_a"
                     "session.status ses_a" "session.status ses_c")))))

(provide 'opencode-model-test)
;;; opencode-model-test.el ends here

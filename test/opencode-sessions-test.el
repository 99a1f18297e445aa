;;; opencode-sessions-test.el --- Tests of the session list  -*- lexical-binding: t; -*-

;;; Commentary:

;; The list rendered from fixtures and driven by events, with no server:
;; the buffer gets a connection object that is never opened.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-sessions)

(defun opencode-test--fixture-sessions ()
  "Return the sessions of fixtures/sessions.json as plists."
  (append (json-parse-string (decode-coding-string (opencode-test-fixture "sessions.json") 'utf-8)
                             :object-type 'plist :null-object :null :false-object :false)
          nil))

(defmacro opencode-test-with-session-list (&rest body)
  "Run BODY in a session list buffer filled from the fixture."
  (declare (indent 0))
  `(let* ((buf (generate-new-buffer "*opencode-sessions-test*"))
          (conn (opencode-connection--make :url "http://127.0.0.1:1" :directory "/tmp/proj"
                                           :state 'connected))
          ;; Open connections are where the mode line counts.
          (opencode-connections (list conn)))
     (unwind-protect
         (with-current-buffer buf
           (opencode-sessions-mode)
           (opencode-sessions--attach conn)
           (dolist (s (opencode-test--fixture-sessions))
             (when (opencode-sessions--wanted-p s)
               (opencode-sessions--add s)))
           (opencode-sessions--redraw)
           ,@body)
       (kill-buffer buf))))

(defun opencode-test--rows ()
  "Return the visible rows as lists of trimmed cells."
  (save-excursion
    (goto-char (point-min))
    (let (rows)
      (while (not (eobp))
        (when-let ((e (tabulated-list-get-entry)))
          (push (mapcar #'string-trim (append e nil)) rows))
        (forward-line 1))
      (nreverse rows))))

(defun opencode-test--titles ()
  "Return the titles of the visible rows, in order."
  (mapcar #'cadr (opencode-test--rows)))

(defun opencode-test--event (type props)
  "Deliver event TYPE with PROPS to the list in the current buffer."
  (opencode-connection--dispatch opencode-sessions--conn (list 'event type props))
  (when opencode-sessions--redraw-timer (opencode-sessions--redraw)))

(ert-deftest opencode-sessions/renders-tree-newest-first ()
  "Roots newest first, children indented under their parent, archived hidden."
  (opencode-test-with-session-list
    (should (equal (opencode-test--titles)
                   '("newest root" "▾ parent with children" "└ child two" "└ child one"
                     "oldest root")))
    ;; Every row's badge: none of the fixture's sessions is busy.
    (should (equal (mapcar #'car (opencode-test--rows)) (make-list 5 "idle")))
    (should (equal (nth 4 (nth 1 (opencode-test--rows))) "+12 −3 2 files"))
    (should (equal (nth 5 (nth 2 (opencode-test--rows))) "⇗"))
    (should (string-match-p "5 sessions" (opencode-sessions--header)))))

(ert-deftest opencode-sessions/columns-are-a-defcustom ()
  "`opencode-sessions-columns' picks and orders the columns."
  (let ((opencode-sessions-columns '(slug title)))
    (opencode-test-with-session-list
      (should (equal (car (opencode-test--rows)) '("slug-6" "newest root")))
      (should (equal (aref tabulated-list-format 0) '("Slug" 18 t))))))

(ert-deftest opencode-sessions/sorts-by-column ()
  "Sorting by a column orders all rows by it."
  (opencode-test-with-session-list
    (setq tabulated-list-sort-key (cons "Title" nil))
    (tabulated-list-print t)
    ;; By the titles themselves, not their tree indentation.
    (should (equal (mapcar (lambda (r) (string-trim-left (cadr r) "[└▾▸ ]+"))
                           (opencode-test--rows))
                   '("child one" "child two" "newest root" "oldest root"
                     "parent with children")))
    (setq tabulated-list-sort-key (cons "Updated" t))
    (tabulated-list-print t)
    (should (equal (car (opencode-test--titles)) "oldest root"))
    ;; Rows moved under the index: finding one still lands on it.
    (dolist (id '("ses_0001" "ses_0004" "ses_0006"))
      (should (opencode-sessions--goto id))
      (should (equal (tabulated-list-get-id) id)))))

(ert-deftest opencode-sessions/live-events ()
  "Created, updated and deleted events change rows; point stays on its session."
  (opencode-test-with-session-list
    (opencode-sessions--goto "ses_0001")
    (opencode-test--event "session.created"
                          `(:sessionID "ses_0009"
                            :info (:id "ses_0009" :slug "brand-new" :title "brand new"
                                   :directory "/tmp/proj"
                                   :time (:created 1795579000000 :updated 1795579000000))))
    (should (equal (car (opencode-test--titles)) "brand new"))
    (should (equal (tabulated-list-get-id) "ses_0001"))
    (opencode-test--event "session.updated"
                          `(:sessionID "ses_0001"
                            :info (:id "ses_0001" :slug "slug-1" :title "renamed"
                                   :directory "/tmp/proj"
                                   :time (:created 1795570001000 :updated 1795570001000))))
    (should (member "renamed" (opencode-test--titles)))
    (should (equal (tabulated-list-get-id) "ses_0001"))
    (opencode-test--event "session.deleted" '(:sessionID "ses_0009" :info (:id "ses_0009")))
    (should-not (member "brand new" (opencode-test--titles)))
    ;; Archiving elsewhere hides the session.
    (opencode-test--event "session.updated"
                          `(:sessionID "ses_0006"
                            :info (:id "ses_0006" :title "newest root" :directory "/tmp/proj"
                                   :time (:created 1 :updated 1795570006000 :archived 5))))
    (should-not (member "newest root" (opencode-test--titles)))))

(ert-deftest opencode-sessions/status-badges ()
  "Busy, retry with countdown, error and waiting badges, updated in place."
  (opencode-test-with-session-list
    (cl-flet ((badge (id) (progn (opencode-sessions--goto id)
                                 (string-trim (aref (tabulated-list-get-entry) 0)))))
      (should (equal (badge "ses_0006") "idle"))
      (opencode-test--event "session.status" '(:sessionID "ses_0006" :status (:type "busy")))
      (should (string-suffix-p " busy" (badge "ses_0006")))
      (should (string-match-p "1 busy" (opencode-sessions-mode-line)))
      (opencode-test--event "session.status"
                            `(:sessionID "ses_0006"
                              :status (:type "retry" :attempt 2 :message "rate limited"
                                       :next ,(+ (* 1000 (float-time)) 7500))))
      (should (string-match-p "\\`retry 2 [78]s\\'" (badge "ses_0006")))
      (should (equal (get-text-property 0 'help-echo (aref (tabulated-list-get-entry) 0))
                     "rate limited"))
      (opencode-test--event "session.error"
                            '(:sessionID "ses_0001"
                              :error (:name "ProviderAuthError" :data (:message "bad key"))))
      (should (equal (badge "ses_0001") "error"))
      (should (string-match-p "1 error" (opencode-sessions-mode-line)))
      (opencode-test--event "permission.asked" '(:id "per_1" :sessionID "ses_0003"
                                                 :permission "bash" :patterns ["ls"]))
      (should (equal (badge "ses_0003") "needs you"))
      (should (string-match-p "1 waiting" (opencode-sessions-mode-line)))
      (opencode-test--event "permission.replied" '(:sessionID "ses_0003" :requestID "per_1"
                                                   :reply "once"))
      (should (equal (badge "ses_0003") "idle"))
      (opencode-test--event "session.status" '(:sessionID "ses_0006" :status (:type "idle")))
      (should (equal (badge "ses_0006") "idle"))
      ;; A session that works again loses its old error.
      (opencode-test--event "session.status" '(:sessionID "ses_0001" :status (:type "busy")))
      (should (string-suffix-p " busy" (badge "ses_0001")))
      (opencode-test--event "session.status" '(:sessionID "ses_0001" :status (:type "idle")))
      (should (equal (opencode-sessions-mode-line) "")))))

(ert-deftest opencode-sessions/fold-and-parent ()
  "TAB folds children; ^ jumps to the parent."
  (opencode-test-with-session-list
    (opencode-sessions--goto "ses_0003")
    (opencode-sessions-goto-parent)
    (should (equal (tabulated-list-get-id) "ses_0002"))
    (opencode-sessions-toggle-children)
    (should (equal (opencode-test--titles)
                   '("newest root" "▸ parent with children" "oldest root")))
    (should (equal (tabulated-list-get-id) "ses_0002"))
    (opencode-sessions-toggle-children)
    (should (= 5 (length (opencode-test--titles))))
    (opencode-sessions--goto "ses_0006")
    (should-error (opencode-sessions-goto-parent) :type 'user-error)
    (should-error (opencode-sessions-toggle-children) :type 'user-error)))

(ert-deftest opencode-sessions/ten-thousand-sessions ()
  "A list of 10,000 sessions renders every row, and a status update finds its row."
  (opencode-test-with-session-list
    (clrhash opencode-sessions--sessions)
    (dotimes (i 10000)
      (let ((id (format "ses_%06d" i)))
        (opencode-sessions--add
         `(:id ,id :slug ,(format "s-%d" i) :title ,(format "session %d" i)
               :directory "/tmp/proj"
               :time (:created ,i :updated ,(+ 1795570000000 i))))))
    (opencode-sessions--redraw)
    (should (= 10000 (count-lines (point-min) (point-max))))
    (goto-char (point-min))
    (should (equal (tabulated-list-get-id) "ses_009999"))
    (opencode-test--event "session.status" '(:sessionID "ses_000000" :status (:type "busy")))
    (opencode-sessions--goto "ses_000000")
    (should (string-suffix-p " busy" (string-trim (aref (tabulated-list-get-entry) 0))))))

(provide 'opencode-sessions-test)
;;; opencode-sessions-test.el ends here

(ert-deftest opencode-sessions/ascending-ids ()
  "Client-made ids look like the server's and sort by creation."
  (let ((ids (cl-loop repeat 50 collect (opencode--ascending-id "msg"))))
    (dolist (id ids)
      (should (string-match-p "\\`msg_[0-9a-f]\\{12\\}[0-9A-Za-z]\\{14\\}\\'" id)))
    (should (equal (mapcar (lambda (id) (substring id 0 16)) ids)
                   (sort (mapcar (lambda (id) (substring id 0 16)) (copy-sequence ids)) #'string<)))
    (should (= 50 (length (delete-dups (copy-sequence ids)))))
    (should (equal (opencode--parse-model "mock/mock-1") '("mock" . "mock-1")))
    (should (equal (opencode--parse-model "a/b/c") '("a" . "b/c")))
    (should-not (opencode--parse-model "nomodel"))))

(ert-deftest opencode-sessions/late-reply-of-older-load-dropped ()
  "When two loads overlap, the reply of the older one cannot win."
  (let* ((held nil)
         (server (opencode-test-http-start
                  (lambda (proc _m path _h _b)
                    (cond
                     ((string-prefix-p "/event" path)
                      (opencode-test-respond proc "404 Not Found" "text/plain" "no stream"))
                     ((string-match-p "search=old" path) (setq held proc)) ; answered later
                     ((string-prefix-p "/experimental/session" path)
                      (opencode-test-respond
                       proc "200 OK" "application/json"
                       (json-serialize [(:id "ses_new" :title "new result" :directory "/tmp/proj"
                                             :time (:created 2 :updated 2))])))
                     (t (opencode-test-respond proc "200 OK" "application/json" "[]"))))))
         (conn (opencode-connection-open (format "http://127.0.0.1:%d" (opencode-test-port server))
                                         "/tmp/proj"))
         (buf (generate-new-buffer "*opencode-sessions-race*")))
    (unwind-protect
        (with-current-buffer buf
          (opencode-sessions-mode)
          (opencode-sessions--attach conn)
          (setq opencode-sessions--search "old")
          (opencode-sessions-refresh)
          (should (opencode-test-wait (lambda () held) 10))
          (setq opencode-sessions--search nil)
          (opencode-sessions-refresh)
          (should (opencode-test-wait (lambda () (gethash "ses_new" opencode-sessions--sessions)) 10))
          ;; Now the old load's reply arrives: it must be ignored.
          (opencode-test-respond held "200 OK" "application/json"
                                 (json-serialize [(:id "ses_old" :title "old result" :directory "/tmp/proj"
                                                       :time (:created 1 :updated 1))]))
          ;; Until its callback has run (no request is left waiting).
          (should (opencode-test-wait
                   (lambda () (zerop (hash-table-count (opencode-connection-callbacks conn))))
                   10))
          (should-not (gethash "ses_old" opencode-sessions--sessions))
          (should (gethash "ses_new" opencode-sessions--sessions)))
      (kill-buffer buf)
      (opencode-connection-close conn)
      (delete-process server))))

(ert-deftest opencode-sessions/notifications-when-unseen ()
  "Finishing or asking while unseen notifies, naming the session; a visible chat does not."
  (let ((told nil) (visible nil)
        (conn (opencode-connection--make :url "http://127.0.0.1:1" :directory "/tmp/proj"))
        (opencode-notify t))
    (cl-flet ((event (type props) (opencode-connection--dispatch conn (list 'event type props))))
      (cl-letf (((symbol-function 'opencode-notify--send) (lambda (_title body) (push body told)))
                ((symbol-function 'opencode-notify--session-visible-p) (lambda (_c _s) visible)))
        (event "session.created" '(:info (:id "s1" :title "Fix the bug")))
        (event "session.status" '(:sessionID "s1" :status (:type "busy")))
        (should-not told)
        (event "session.status" '(:sessionID "s1" :status (:type "idle")))
        (should (equal told '("Session \"Fix the bug\" (proj) finished")))
        ;; Idle again without having been busy: nothing new.
        (event "session.status" '(:sessionID "s1" :status (:type "idle")))
        (should (= 1 (length told)))
        ;; session.idle tells it too, once.
        (event "session.status" '(:sessionID "s1" :status (:type "busy")))
        (event "session.idle" '(:sessionID "s1"))
        (event "session.status" '(:sessionID "s1" :status (:type "idle")))
        (should (= 2 (length told)))
        (event "permission.asked" '(:id "per_1" :sessionID "s1" :permission "bash"))
        (should (equal (car told) "Session \"Fix the bug\" (proj) needs you (permission: bash)"))
        (setq visible t told nil)
        (event "session.status" '(:sessionID "s1" :status (:type "busy")))
        (event "session.status" '(:sessionID "s1" :status (:type "idle")))
        (event "question.asked" '(:id "que_1" :sessionID "s1"))
        (should-not told)
        (let ((opencode-notify nil))
          (setq visible nil)
          (event "question.asked" '(:id "que_2" :sessionID "s1"))
          (should-not told)))))
  ;; With no desktop bus, the echo area says it and nothing signals.
  (let ((opencode-notify--desktop nil) (said nil))
    (cl-letf (((symbol-function 'message) (lambda (fmt &rest args) (push (apply #'format fmt args) said))))
      (opencode-notify--send "OpenCode" "Session x finished"))
    (should (equal said '("OpenCode: Session x finished")))))

(ert-deftest opencode-sessions/command-map ()
  "The prefix map reaches the entry points."
  (should (eq (lookup-key opencode-command-map "s") #'opencode-sessions))
  (should (eq (lookup-key opencode-command-map "b") #'opencode-switch-session))
  (should (keymapp (symbol-function 'opencode-command-map))))

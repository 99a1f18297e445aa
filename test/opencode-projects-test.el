;;; opencode-projects-test.el --- Every project's sessions, and worktrees  -*- lexical-binding: t; -*-

;;; Commentary:

;; Against the real server: two git projects under the scratch root,
;; sessions in each; the list of every project shows both groups with
;; the right titles, follows the global stream live, and RET opens a
;; chat on the session's own directory.  A worktree is created, listed,
;; given a session (shown under its project with the worktree's name)
;; and removed.  Also, without a server: the events of a global
;; connection reach only the handlers declared for it.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-projects)
(require 'opencode-notify)

(defun opencode-projects-test--groups ()
  "Return the list of every project as the eye reads it.
An alist (HEADING-LINE . ROW-LINES), in order, of the lines shown."
  (let (groups)
    (save-excursion
      (goto-char (point-min))
      (while (not (eobp))
        (let ((id (tabulated-list-get-id))
              (text (string-trim (buffer-substring (line-beginning-position)
                                                   (line-end-position)))))
          (cond ((consp id) (push (list text) groups))
                (groups (push text (cdar groups)))))
        (forward-line 1)))
    (mapcar (lambda (g) (cons (car g) (nreverse (cdr g)))) (nreverse groups))))

(defun opencode-projects-test--group (name)
  "Return the row lines under the heading that starts with NAME, or nil."
  (cdr (cl-find-if (lambda (g) (string-prefix-p (concat name "  ") (car g)))
                   (opencode-projects-test--groups))))

(ert-deftest opencode-projects/all-projects-and-worktrees ()
  "Every project's sessions grouped by project, live; a worktree's life."
  (opencode-test-with-own-real-server conn
    (let* ((other (expand-file-name "other" (file-name-directory project)))
           (_ (opencode-test--make-project other "the other project"))
           (conn2 (opencode-connect other))
           list wt-buf)
      (should (opencode-test-wait
               (lambda () (eq (opencode-connection-state conn2) 'connected)) 30))
      (opencode-api-session-create conn :title "Alpha session" :sync t)
      (opencode-api-session-create conn2 :title "Beta session" :sync t)
      (unwind-protect
          (progn
            (setq list (save-window-excursion (opencode-projects)))
            (with-current-buffer list
              ;; Both groups, each with its own session only.
              (should (opencode-test-wait
                       (lambda () (and (opencode-projects-test--group "project")
                                       (opencode-projects-test--group "other")))
                       30))
              (let ((mine (opencode-projects-test--group "project"))
                    (theirs (opencode-projects-test--group "other")))
                (should (= 1 (length mine)))
                (should (string-match-p "idle +Alpha session" (car mine)))
                (should (= 1 (length theirs)))
                (should (string-match-p "idle +Beta session" (car theirs))))
              (should (string-match-p "^ project  .*/project  1 session$"
                                      (opencode-test--visible-text)))
              ;; Live, from the global stream: a session made elsewhere.
              (opencode-api-session-create conn2 :title "Beta two" :sync t)
              (should (opencode-test-wait
                       (lambda () (= 2 (length (opencode-projects-test--group "other"))))
                       20))
              (should (string-match-p "Beta two" (car (opencode-projects-test--group "other"))))
              (should-not (cl-some (lambda (l) (string-match-p "Beta" l))
                                   (opencode-projects-test--group "project")))
              ;; RET opens the chat on the session's own directory.
              (goto-char (point-min))
              (should (search-forward "Beta session" nil t))
              (let ((chat (save-window-excursion (opencode-projects-open) (current-buffer))))
                (unwind-protect
                    (progn
                      (should (eq (opencode-chat-connection chat) conn2))
                      (should (equal (opencode-connection-directory conn2)
                                     (opencode--normalize-directory other))))
                  (kill-buffer chat))))
            ;; A worktree: created, listed, a session in it, removed.
            (let* ((w (opencode-api-worktree-create conn :name "feat-x" :sync t))
                   (dir (plist-get w :directory)))
              (should (equal (plist-get w :branch) "opencode/feat-x"))
              (should (file-directory-p dir))
              (should (member dir (opencode-projects--worktree-list conn)))
              (setq wt-buf (save-window-excursion (opencode-worktrees project)))
              (with-current-buffer wt-buf
                (should (opencode-test-wait
                         (lambda () (string-match-p "feat-x +.*feat-x"
                                                    (opencode-test--visible-text)))
                         10)))
              (save-window-excursion (opencode-worktree-new-session dir "In the worktree"))
              (with-current-buffer list
                ;; Under its project, with the worktree's name.
                (should (opencode-test-wait
                         (lambda () (cl-some (lambda (l) (string-match-p "In the worktree +feat-x" l))
                                             (opencode-projects-test--group "project")))
                         20))
                (should (string-match-p "^ project  .*  2 sessions, 1 worktree$"
                                        (opencode-test--visible-text))))
              ;; Its chat is on the worktree's connection.
              (let ((wconn (opencode-connection-find (opencode--normalize-directory dir))))
                (should wconn)
                (should (opencode-test-wait
                         (lambda () (opencode-chat-buffer
                                     wconn (cl-loop for s being the hash-values of
                                                    (opencode-store-sessions (opencode-store wconn))
                                                    when (equal (opencode-session-title s) "In the worktree")
                                                    return (opencode-session-id s))))
                         10)))
              (opencode-worktree-remove dir project)
              (should (opencode-test-wait (lambda () (not (file-directory-p dir))) 30))
              (should-not (member dir (opencode-projects--worktree-list conn)))
              (with-current-buffer wt-buf
                (should (opencode-test-wait
                         (lambda () (string-match-p "No worktrees" (opencode-test--visible-text)))
                         10)))
              (with-current-buffer list
                (should (opencode-test-wait
                         (lambda () (string-match-p "^ project  .*  2 sessions$"
                                                    (opencode-test--visible-text)))
                         10)))))
        (dolist (b (buffer-list))
          (when (with-current-buffer b (derived-mode-p 'opencode-chat-mode))
            (kill-buffer b)))
        (when (buffer-live-p wt-buf) (kill-buffer wt-buf))
        (when (buffer-live-p list) (kill-buffer list))
        ;; The last list gone, its global connection is closed.
        (should (eq (opencode-connection-state opencode-global-connection) 'closed))))))

(defun opencode-projects-test--session (id title &optional updated)
  "Return a session plist ID, TITLE, of project \"p1\", updated at UPDATED."
  (list :id id :title title :projectID "p1" :directory "/tmp/p1" :slug id
        :time (list :created 1 :updated (or updated 1))))

(ert-deftest opencode-projects/event-during-a-load-is-kept ()
  "A session made while a load is on its way is shown when the load lands.
The server answers the load from before the session was made; its
event comes first.  The reply must not take the row away (the flaky
\"Beta two\" of `opencode-projects/all-projects-and-worktrees'), nor
bring back a session deleted meanwhile, nor an older title."
  (let* ((conn (opencode-connection--make :url "http://127.0.0.1:1" :global t))
         (opencode-global-connection conn)
         (callbacks nil) (load-callbacks nil)
         (buf (generate-new-buffer "*opencode-projects-test*")))
    (cl-letf (((symbol-function 'opencode-api-project-list)
               (lambda (_c &rest args) (push (cons 'projects (plist-get args :callback)) callbacks)))
              ((symbol-function 'opencode-api-session-list-paged)
               (lambda (_c &rest args) (push (cons 'sessions (plist-get args :callback)) callbacks)))
              ((symbol-function 'opencode-store-sync) #'ignore)
              ((symbol-function 'opencode-connection-state) (lambda (_c) 'connected)))
      (unwind-protect
          (with-current-buffer buf
            (opencode-projects-mode)
            (setq opencode-projects--conn conn)
            (opencode--registry-add opencode-projects--registry buf)
            (opencode-projects--load buf)
            (setq load-callbacks callbacks)
            ;; While the load is out: one session made, one renamed, one deleted.
            (opencode-test-event conn "session.created"
                                 (list :info (opencode-projects-test--session "ses_2" "Made meanwhile" 5)))
            (opencode-test-event conn "session.updated"
                                 (list :info (opencode-projects-test--session "ses_1" "Renamed meanwhile" 6)))
            (opencode-test-event conn "session.deleted"
                                 (list :sessionID "ses_3" :info (opencode-projects-test--session "ses_3" "Deleted meanwhile")))
            ;; The replies, as the server had it when it answered.
            (setq callbacks load-callbacks)
            (funcall (alist-get 'projects callbacks) [(:id "p1" :name "p1" :worktree "/tmp/p1")])
            (funcall (alist-get 'sessions callbacks)
                     (vector (opencode-projects-test--session "ses_1" "Old title" 2)
                             (opencode-projects-test--session "ses_3" "Deleted meanwhile" 3)))
            (opencode-projects--redraw)
            (let ((rows (opencode-projects-test--group "p1")))
              (should (= 2 (length rows)))
              (should (cl-some (lambda (l) (string-match-p "Made meanwhile" l)) rows))
              (should (cl-some (lambda (l) (string-match-p "Renamed meanwhile" l)) rows))
              (should-not (cl-some (lambda (l) (string-match-p "Old title\\|Deleted" l)) rows)))
            ;; A later load, after those events, takes the server's word again.
            (setq callbacks nil)
            (opencode-projects--load buf)
            (funcall (alist-get 'projects callbacks) [(:id "p1" :name "p1" :worktree "/tmp/p1")])
            (funcall (alist-get 'sessions callbacks)
                     (vector (opencode-projects-test--session "ses_1" "Renamed meanwhile" 6)))
            (opencode-projects--redraw)
            (should (= 1 (length (opencode-projects-test--group "p1")))))
        (kill-buffer buf)))))

(defvar opencode-projects-test--seen nil
  "What the handlers of \"test.event\" saw, newest first.")

(opencode-defevent opencode-projects-test--local "test.event" (_c _p)
  "Not for global connections."
  (push 'local opencode-projects-test--seen))

(opencode-defevent opencode-projects-test--global "test.event" (_c _p)
  "For global connections too."
  :global t
  (push 'global opencode-projects-test--seen))

(ert-deftest opencode-projects/global-events-reach-global-handlers-only ()
  "A global connection's events run the handlers declared :global, not the rest.
Not the public hook either, nor the delta handlers."
  (let* ((conn (opencode-connection--make :url "http://127.0.0.1:1" :global t))
         (opencode-projects-test--seen nil)
         (opencode-event-functions
          (list (lambda (_c type _p) (push (cons 'hook type) opencode-projects-test--seen)))))
    (opencode-test-event conn "test.event" '(:x 1))
    (opencode-test-event conn "message.part.delta"
                         '(:sessionID "ses_x" :messageID "msg_x" :partID "prt_x"
                                      :field "text" :delta "hi"))
    (should (equal opencode-projects-test--seen '(global)))
    (setq opencode-projects-test--seen nil)
    (setf (opencode-connection-global conn) nil)
    (opencode-test-event conn "test.event" '(:x 1))
    (should (equal (reverse opencode-projects-test--seen)
                   '(local global (hook . "test.event"))))))

(ert-deftest opencode-projects/catching-up-reaches-global-handlers-only ()
  "What a global connection learns after a reconnection goes where its events go.
The statuses fetched again are routed as events; on a global
connection (no directory) a handler of one project's events, the
notifications' say, must not see them (it failed on the missing
directory after every reconnection, once every project was listed)."
  (let* ((conn (opencode-connection--make :url "http://127.0.0.1:1" :global t))
         (opencode-notify t))
    (opencode-test-event conn "session.status" '(:sessionID "ses_x" :status (:type "busy")))
    (should (opencode-store-busy-p conn "ses_x"))
    ;; The server says nothing is busy any more.
    (opencode-model--sync-status conn nil)
    (should-not (opencode-store-busy-p conn "ses_x"))))

(provide 'opencode-projects-test)
;;; opencode-projects-test.el ends here

;;; opencode-list-test.el --- Changes, forks, switching, roots and the disk cache  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;;; Commentary:

;; Each against the real server (1.18.33) with the scripted mock model:
;; what the agent changed shows in every view though the server's
;; session diff stays empty; forks sit under their origin; any session
;; can be switched to; the list shows roots only or all; the last list
;; and chats are kept on disk and shown while the server is down.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-sidebar)
(require 'opencode-cache)

(defun opencode-list-test--cell (column)
  "Return the text of COLUMN in the list row at point."
  (aref (tabulated-list-get-entry) (cl-position column opencode-sessions-columns)))

;;;; 1. What the agent changed

(ert-deftest opencode-changes/write-and-edit-show-everywhere ()
  "Files the agent writes and edits show in d, the patch part, the header,
the sidebar and the list, though the server's session diff stays empty."
  (let ((file nil))
    (opencode-test-with-chat-on-real-server
        (list (append (opencode-test--tool-call
                       "write" `(:filePath ,(setq file (expand-file-name "made.txt" default-directory))
                                           :content "one\ntwo\nthree\n"))
                      '(:tool_calls))
              (append (opencode-test--tool-call
                       "edit" `(:filePath ,file :oldString "two" :newString "TWO\nand a half"))
                      '(:tool_calls))
              '((:content "Changed it.") :stop))
      (opencode-api-session-prompt-async conn sid "Write and edit made.txt")
      (should (opencode-test-wait
               (lambda () (string-match-p "^Changed it\\.$" (opencode-test--visible-text))) 60))
      (should (equal (with-temp-buffer (insert-file-contents file) (buffer-string))
                     "one\nTWO\nand a half\nthree\n"))
      ;; The server's own diff is empty (NOTES.md); the store learns the
      ;; prompt's changes from its message.updated.
      (should (equal (opencode-request-sync conn "GET" (opencode--path "session" sid "diff")) []))
      ;; The summary grows step by step: wait for the edit's.
      (should (opencode-test-wait
               (lambda () (cl-some (lambda (d) (let ((case-fold-search nil))
                                                 (string-match-p "TWO" (or (plist-get d :patch) ""))))
                                   (opencode-store-session-diff conn sid)))
               30))
      (pcase-let ((`(,files ,adds ,_dels) (opencode-store-diff-summary conn sid)))
        (should (= files 1))
        (should (= adds 4)))
      ;; The chat's header.
      (should (string-match-p "+[0-9]+ −[0-9]+ (1 file)" (opencode-chat--header-line)))
      ;; d: the whole session's diff.
      (save-window-excursion (opencode-chat-diff))
      (let ((diff (format "*opencode-diff: %s*" (plist-get (opencode-chat-session) :title))))
        (should (opencode-test-wait (lambda () (get-buffer diff)) 20))
        (with-current-buffer diff
          (should (string-match-p "made\\.txt" (buffer-string)))
          (should (string-match-p "^\\+TWO$" (buffer-string)))
          (should-not (string-match-p "No changes" (buffer-string)))
          (kill-buffer)))
      ;; The patch part: its file shows its diff.
      (opencode-chat-reload)
      (should (opencode-test-wait
               (lambda () (text-property-any (point-min) (point-max) 'opencode-patch-message
                                             (get-text-property
                                              (or (next-single-property-change
                                                   (point-min) 'opencode-patch-message)
                                                  (point-min))
                                              'opencode-patch-message)))
               20))
      (goto-char (next-single-property-change (point-min) 'opencode-patch-message))
      (should (string-suffix-p "made.txt" (get-text-property (point) 'opencode-file)))
      (save-window-excursion (opencode-chat-patch-file-at-point))
      (should (opencode-test-wait (lambda () (get-buffer "*opencode-diff: made.txt*")) 20))
      (with-current-buffer "*opencode-diff: made.txt*"
        (should (derived-mode-p 'diff-mode))
        (should (string-match-p "^\\+and a half$" (buffer-string)))
        (kill-buffer))
      ;; The sidebar: the session's +/- and, opened, its file.
      (let ((side (save-window-excursion (opencode-sidebar (opencode-connection-directory conn)))))
        (unwind-protect
            (with-current-buffer side
              (should (opencode-test-wait
                       (lambda () (string-match-p "▸ [^\n]*  \\+[0-9]+ −[0-9]+" (buffer-string))) 20))
              (goto-char (point-min))
              (search-forward "▸ ")
              (opencode-sidebar-toggle)
              (should (opencode-test-wait
                       (lambda () (string-match-p "^ +\\+[0-9]+ +−[0-9]+ +made\\.txt$" (buffer-string)))
                       20)))
          (kill-buffer side)))
      ;; The list, in a fresh store (as after a restart): its Changes
      ;; column reads the messages' summaries.
      (clrhash (opencode-store-message-diffs (opencode-store conn)))
      (clrhash (opencode-store-merged-diffs (opencode-store conn)))
      (clrhash (opencode-store-diffs-read (opencode-store conn)))
      ;; A message a page: the newest pages are replies with no
      ;; summary, the change is found further back.
      (let* ((opencode-changes-page 1)
             (list (save-window-excursion (opencode-sessions (opencode-connection-directory conn)))))
        (unwind-protect
            (with-current-buffer list
              (should (opencode-test-wait
                       (lambda () (and (opencode-sessions--goto sid)
                                       (string-match-p "\\`\\+[0-9]+ −[0-9]+ 1 file\\'"
                                                       (opencode-list-test--cell 'changes))))
                       30)))
          (kill-buffer list))))))

;;;; 2. Forks sit under their origin

(ert-deftest opencode-forks/under-origin-and-parent ()
  "A fork made from Emacs lists under its origin, ^ goes there, the
record survives a new store (it is on disk), and TAB fetches children."
  (opencode-test-with-real-server conn
    (let* ((origin (opencode-request-sync conn "POST" "/session" :body '(:title "origin")))
           (oid (plist-get origin :id))
           (list (save-window-excursion (opencode-sessions (opencode-connection-directory conn))))
           (fork nil) (chat nil))
      (unwind-protect
          (progn
            (with-current-buffer list
              (should (opencode-test-wait (lambda () (opencode-sessions--goto oid)) 20))
              (opencode-sessions-fork oid)
              (should (opencode-test-wait
                       (lambda () (setq fork (car (opencode-store-forks conn oid)))) 20))
              ;; The server gives it no parent; the client knows its origin.
              (should-not (plist-get (opencode-request-sync conn "GET" (opencode--path "session" fork))
                                     :parentID))
              (should (equal (opencode-store-origin conn fork) oid))
              (should (opencode-test-wait
                       (lambda () (and (opencode-sessions--goto fork)
                                       (string-match-p "\\`  └ origin (fork #1)"
                                                       (opencode-list-test--cell 'title))))
                       20))
              (opencode-sessions-goto-parent)
              (should (equal (tabulated-list-get-id) oid)))
            ;; ^ in the fork's chat opens the origin's.
            (setq chat (save-window-excursion
                         (opencode-chat-open conn (opencode-list-test--get list fork))))
            (with-current-buffer chat
              (let ((origin-chat (save-window-excursion (opencode-chat-goto-parent))))
                (should (equal (opencode-chat-session-id origin-chat) oid))
                (kill-buffer origin-chat)))
            ;; Kept on disk: a fresh store (a restarted Emacs) still knows.
            (setf (opencode-connection-store conn) nil)
            (should (equal (opencode-store-origin conn fork) oid))
            ;; A sub-agent's child, not loaded, comes with TAB (GET /session/:id/children).
            (let ((child (opencode-request-sync conn "POST" "/session"
                                                :body `(:title "a child" :parentID ,oid))))
              (with-current-buffer list
                (opencode-sessions-toggle-roots)
                (should opencode-sessions--roots)
                (should (opencode-test-wait
                         (lambda () (and (opencode-sessions--goto oid)
                                         (not (opencode-sessions--goto fork))
                                         (not (opencode-sessions--goto (plist-get child :id)))))
                         20))
                (opencode-sessions--goto oid)
                (opencode-sessions-toggle-children)
                (should (opencode-test-wait
                         (lambda () (and (opencode-sessions--goto (plist-get child :id))
                                         (opencode-sessions--goto fork)))
                         20)))))
        (when (buffer-live-p chat) (kill-buffer chat))
        (kill-buffer list)))))

(defun opencode-list-test--get (buffer id)
  "Return the plist of session ID as list BUFFER knows it."
  (with-current-buffer buffer (opencode-sessions--get id)))

;;;; 5. Switching to any session

(ert-deftest opencode-switch/finds-any-session-and-opens-chat ()
  "`opencode-switch-session' finds a session past the newest page by the
server's search and opens its chat."
  (opencode-test-with-real-server conn
    (let ((opencode-sessions-page-size 2)
          (needle (opencode-request-sync conn "POST" "/session" :body '(:title "needle in it"))))
      (dotimes (i 3)
        (opencode-request-sync conn "POST" "/session" :body `(:title ,(format "hay %d" i))))
      (let (first-page)
        (cl-letf (((symbol-function 'completing-read)
                   (lambda (_prompt table &rest _)
                     (setq first-page (all-completions "" table))
                     (car (all-completions "needle" table)))))
          (let* ((s (save-window-excursion
                      (opencode-switch-session (opencode-connection-directory conn))))
                 (chat (opencode-chat--buffer conn (plist-get needle :id))))
            ;; The newest page did not have it; the search did.
            (should-not (cl-some (lambda (c) (string-prefix-p "needle" c)) first-page))
            (should (equal (plist-get s :id) (plist-get needle :id)))
            (should (buffer-live-p chat))
            (with-current-buffer chat
              (should (eq major-mode 'opencode-chat-mode)))
            (kill-buffer chat)))))))

;;;; 6. Roots only, or all

(ert-deftest opencode-roots/toggle-shows-roots-or-all ()
  "R shows root sessions only, then all; the header says which."
  (opencode-test-with-real-server conn
    (let* ((root (opencode-request-sync conn "POST" "/session" :body '(:title "the root")))
           (child (opencode-request-sync conn "POST" "/session"
                                         :body `(:title "the child" :parentID ,(plist-get root :id))))
           (list (save-window-excursion (opencode-sessions (opencode-connection-directory conn)))))
      (unwind-protect
          (with-current-buffer list
            (should (opencode-test-wait
                     (lambda () (opencode-sessions--goto (plist-get child :id))) 20))
            (should (string-match-p "all (R: roots only)" (opencode-sessions--header)))
            (should (eq (lookup-key opencode-sessions-mode-map "R") #'opencode-sessions-toggle-roots))
            (opencode-sessions-toggle-roots)
            (should (string-match-p "roots only (R: all)" (opencode-sessions--header)))
            (should (opencode-test-wait
                     (lambda () (and (opencode-sessions--goto (plist-get root :id))
                                     (not (opencode-sessions--goto (plist-get child :id)))))
                     20))
            (opencode-sessions-toggle-roots)
            (should (opencode-test-wait
                     (lambda () (opencode-sessions--goto (plist-get child :id))) 20)))
        (kill-buffer list)))))

;;;; The list's leftovers

(ert-deftest opencode-sessions/empty-hint-and-create-moves-point ()
  "An empty list says how to create a session; after c, point is on it."
  (opencode-test-with-real-server conn
    (let ((opencode-session-init-after-create nil)
          (list (save-window-excursion (opencode-sessions (opencode-connection-directory conn)))))
      (unwind-protect
          (with-current-buffer list
            (should (opencode-test-wait
                     (lambda () (and (not opencode-sessions--stale)
                                     (string-match-p "No sessions here.  c creates one"
                                                     (buffer-string))))
                     20))
            (let ((old (opencode-request-sync conn "POST" "/session" :body '(:title "old one"))))
              (should (opencode-test-wait (lambda () (opencode-sessions--goto (plist-get old :id))) 20))
              (opencode-sessions-create "new one")
              (should (opencode-test-wait
                       (lambda () (equal (plist-get (opencode-sessions--get (tabulated-list-get-id))
                                                    :title)
                                         "new one"))
                       20))))
        (kill-buffer list)))))

;;;; 7. Kept on disk

(ert-deftest opencode-cache/list-and-chat-shown-stale-when-server-down ()
  "The last list and chat are kept on disk; with the server down they show,
marked stale, and the list refuses to change sessions; they are
refreshed when it connects."
  (let ((cache (make-temp-file "opencode-cache-test-" t))
        (url nil) (dir nil) (sid nil))
    (unwind-protect
        (progn
          (let ((opencode-test-mock-script (list '((:content "Kept on disk.") :stop))))
            (opencode-test-with-real-server conn
              (let ((opencode-cache-directory cache))
                (setq url (opencode-connection-url conn)
                      dir (opencode-connection-directory conn))
                (let* ((s (opencode-request-sync conn "POST" "/session" :body '(:title "kept")))
                       (list (save-window-excursion (opencode-sessions dir)))
                       (chat (save-window-excursion (opencode-chat-open conn s))))
                  (setq sid (plist-get s :id))
                  (with-current-buffer list
                    (should (opencode-test-wait (lambda () (opencode-sessions--goto sid)) 20)))
                  (opencode-api-session-prompt-async conn sid "Say it")
                  (with-current-buffer chat
                    (should (opencode-test-wait
                             (lambda () (string-match-p "^Kept on disk\\.$" (opencode-test--visible-text)))
                             60)))
                  ;; Kept when the session went idle.
                  (should (opencode-test-wait
                           (lambda () (cl-some (lambda (m) (equal (plist-get (plist-get m :info) :role)
                                                                  "assistant"))
                                               (opencode-cache-chat-messages conn sid)))
                           20))
                  (should (member "kept" (mapcar (lambda (s) (plist-get s :title))
                                                 (opencode-cache-sessions conn))))
                  (kill-buffer chat)
                  (kill-buffer list)))))
          ;; The server is gone: a connection to where it was shows the copies.
          (let* ((opencode-cache-directory cache)
                 (opencode-connections nil)
                 (conn (opencode-connection--make :url url :directory dir))
                 (list (save-window-excursion (opencode-sessions-show conn)))
                 (chat (save-window-excursion (opencode-chat-open conn (list :id sid)))))
            (unwind-protect
                (progn
                  (with-current-buffer list
                    (should opencode-sessions--stale)
                    (should (opencode-sessions--goto sid))
                    (should (string-match-p "cached copy (stale)" (opencode-sessions--header)))
                    (should-error (call-interactively #'opencode-sessions-fork) :type 'user-error))
                  (with-current-buffer chat
                    (should opencode-cache-stale)
                    (should (string-match-p "^Kept on disk\\.$" (opencode-test--visible-text)))
                    (should (string-match-p "cached copy (stale, read-only)"
                                            (opencode-chat--header-line)))))
              (kill-buffer chat)
              (kill-buffer list))))
      (delete-directory cache t))))

;; Seed row 7 (7.2, 7.3, deferred 11): stale while down, refreshed when connected.
(ert-deftest opencode-cache/stale-while-down-then-refreshed-on-connect ()
  "A list and a chat kept on disk, unlike the server's, show stale while it is
down; the chat's prompt refuses to send then and keeps its text; once
the server is back on its port the stale marks clear, the server's
copies replace them on screen and on disk, and the kept text sends."
  (let ((opencode-test-mock-script (list '((:content "From the server.") :stop)
                                         '((:content "Sent once it was back.") :stop))))
    (opencode-test-with-real-server conn
      (let* ((port (opencode-server-free-port))
             (url (format "http://127.0.0.1:%d" port))
             (password "cache-pw")
             (start (lambda () (opencode-test-serve-on-port
                               port password (opencode-connection-directory conn) "cache-server")))
             (listening #'opencode-test-serve-listening-p)
             (proc (funcall start))
             (opencode-chat-open-prompt nil)
             (list nil) (chat nil) (prompt nil) (sid nil))
        (unwind-protect
            (progn
              (should (opencode-test-wait (lambda () (funcall listening proc)) 60))
              (let ((process-environment (cons (concat "OPENCODE_SERVER_PASSWORD=" password)
                                               process-environment)))
                (cl-letf (((symbol-function 'message) #'ignore))
                  (kill-buffer (save-window-excursion
                                 (opencode-attach url (opencode-connection-directory conn))))))
              (should (equal (opencode-connection-url conn) url))
              (should (opencode-test-wait (lambda () (eq (opencode-connection-state conn) 'connected)) 20))
              ;; The server's session: its title and one answer.
              (setq sid (plist-get (opencode-api-session-create conn :title "On the server" :sync t) :id))
              (opencode-api-session-prompt-async conn sid "Say it")
              (let ((messages nil))
                (should (opencode-test-wait
                         (lambda ()
                           (setq messages (opencode-request-sync conn "GET" (format "/session/%s/message" sid)))
                           (and (not (opencode-store-busy-p conn sid))
                                (string-match-p "From the server\\." (prin1-to-string messages))))
                         60))
                (should (equal (plist-get (opencode-request-sync conn "GET" (format "/session/%s" sid)) :title)
                               "On the server"))
                ;; The server goes down.
                (signal-process proc 'SIGKILL)
                (should (opencode-test-wait (lambda () (eq (opencode-connection-state conn) 'disconnected)) 10))
                ;; What the disk holds differs from the server.
                (opencode-cache-save-sessions
                 conn (list (list :id sid :title "Only on disk" :directory (opencode-connection-directory conn)
                                  :time (list :created 1 :updated 1))))
                (opencode-cache-save-chat
                 conn sid (car (read-from-string
                                (replace-regexp-in-string "From the server\\." "Only on disk, said the cache."
                                                          (prin1-to-string messages))))))
              ;; Opened while it is down: the copies on disk, marked stale.
              (setq list (save-window-excursion (opencode-sessions-show conn))
                    chat (save-window-excursion (opencode-chat-open conn (list :id sid))))
              (with-current-buffer list
                (should opencode-sessions--stale)
                (should (string-match-p "Only on disk" (opencode-test--visible-text)))
                (should-not (string-match-p "On the server" (opencode-test--visible-text)))
                (should (string-match-p "cached copy (stale)" (opencode-sessions--header))))
              (with-current-buffer chat
                (should opencode-cache-stale)
                (should (string-match-p "Only on disk, said the cache\\." (opencode-test--visible-text)))
                (should-not (string-match-p "From the server" (opencode-test--visible-text)))
                (should (string-match-p "cached copy (stale, read-only)" (opencode-chat--header-line))))
              ;; Sending from its prompt is refused in plain words; the text stays.
              (setq prompt (with-current-buffer chat (save-window-excursion (opencode-chat-prompt))))
              (with-current-buffer prompt
                (insert "Keep me")
                (let ((err (should-error (opencode-prompt-send) :type 'user-error)))
                  (should (string-match-p "cached copy and its server is down" (cadr err))))
                (should (equal (buffer-string) "Keep me")))
              (should-not (cl-some (lambda (r) (string-match-p "Keep me" (prin1-to-string r)))
                                   opencode-test-mock-requests))
              ;; Back on its port: refreshed, on screen and on disk.
              (setq proc (funcall start))
              (should (opencode-test-wait (lambda () (funcall listening proc)) 60))
              (should (opencode-test-wait (lambda () (eq (opencode-connection-state conn) 'connected)) 20))
              (with-current-buffer list
                (should (opencode-test-wait
                         (lambda () (and (not opencode-sessions--stale)
                                         (string-match-p "On the server" (opencode-test--visible-text))))
                         20))
                (should-not (string-match-p "Only on disk" (opencode-test--visible-text)))
                (should-not (string-match-p "cached copy" (opencode-sessions--header))))
              (with-current-buffer chat
                (should (opencode-test-wait
                         (lambda () (and (not opencode-cache-stale)
                                         (string-match-p "^From the server\\.$" (opencode-test--visible-text))))
                         20))
                (should-not (string-match-p "Only on disk" (opencode-test--visible-text)))
                (should-not (string-match-p "cached copy" (opencode-chat--header-line))))
              (should (equal (mapcar (lambda (s) (plist-get s :title)) (opencode-cache-sessions conn))
                             '("On the server")))
              (should-not (string-match-p "Only on disk" (prin1-to-string (opencode-cache-chat-messages conn sid))))
              ;; The text kept in the prompt goes now.
              (with-current-buffer prompt
                (opencode-prompt-send)
                (should (opencode-test-wait (lambda () (= (buffer-size) 0)) 30)))
              (with-current-buffer chat
                (should (opencode-test-wait
                         (lambda () (string-match-p "^Sent once it was back\\.$" (opencode-test--visible-text)))
                         60))))
          (when (process-live-p proc) (kill-process proc))
          (kill-buffer (process-buffer proc))
          (dolist (b (list prompt chat list))
            (when (buffer-live-p b) (kill-buffer b))))))))

(ert-deftest opencode-cache/bounded ()
  "At most `opencode-cache-chat-messages' per chat, `opencode-cache-chats' chats."
  (let* ((opencode-cache-directory (make-temp-file "opencode-cache-test-" t))
         (opencode-cache-chats 2)
         (opencode-cache-chat-messages 3)
         (conn (opencode-connection--make :url "http://127.0.0.1:4096" :directory "/tmp/p")))
    (unwind-protect
        (progn
          (dotimes (i 3)
            (opencode-cache-save-chat
             conn (format "ses_%d" i)
             (apply #'vector (cl-loop for j below 5
                                      collect `(:info (:id ,(format "msg_%d" j)) :parts [])))))
          (should (= (length (opencode-cache-chat-messages conn "ses_2")) 3))
          (should (equal (plist-get (plist-get (aref (opencode-cache-chat-messages conn "ses_2") 2)
                                               :info)
                                    :id)
                         "msg_4"))
          (should (= (length (directory-files (opencode-cache--dir conn) nil "\\`chat-")) 2))
          ;; A server on another loopback port is the same local server.
          (should (equal (opencode-cache--dir conn)
                         (opencode-cache--dir (opencode-connection--make
                                               :url "http://localhost:5000" :directory "/tmp/p")))))
      (delete-directory opencode-cache-directory t))))

(provide 'opencode-list-test)
;;; opencode-list-test.el ends here

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
      (let ((list (save-window-excursion (opencode-sessions (opencode-connection-directory conn)))))
        (unwind-protect
            (with-current-buffer list
              (should (opencode-test-wait
                       (lambda () (and (opencode-sessions--goto sid)
                                       (string-match-p "\\`\\+[0-9]+ −[0-9]+ 1F\\'"
                                                       (opencode-list-test--cell 'changes))))
                       30)))
          (kill-buffer list))))))

(provide 'opencode-list-test)
;;; opencode-list-test.el ends here

;;; opencode-diff.el --- What a session changed on disk  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; `opencode-chat-diff' shows what a session changed on disk (or one
;; message of it) as a `diff-mode' buffer; the sidebar shows one file's
;; diff with `opencode-diff-show' too.  On servers (1.18.33) whose
;; session diff stays empty, the changes come from the messages'
;; summaries (`opencode-store-fetch-diff').  RET on a file of a patch
;; part shows that file's diff (`opencode-diff-patch-file').

;;; Code:

(require 'cl-lib)
(require 'seq)
(require 'diff-mode)
(require 'opencode-api)
(require 'opencode-model)
(require 'opencode-remote)

(declare-function opencode-chat-connection "opencode-chat" (&optional buffer))
(declare-function opencode-chat-session "opencode-chat" (&optional buffer))
(declare-function opencode-chat-session-id "opencode-chat" (&optional buffer))
(declare-function opencode-chat-message-at-point "opencode-chat-ops" ())
(declare-function opencode-chat-adopt "opencode-chat" (buffer name-function))
(declare-function opencode-chat-visit-file "opencode-parts" (file &optional line))

(defun opencode-chat-diff (&optional message-id)
  "Show what the session changed on disk, as a `diff-mode' buffer.
With a prefix argument, only what MESSAGE-ID (the message at point)
changed."
  (interactive (list (and current-prefix-arg (opencode-chat-message-at-point))))
  (let ((chat (current-buffer))
        (dir default-directory))
    (opencode-store-fetch-diff
     (opencode-chat-connection) (opencode-chat-session-id)
     (lambda (diffs)
       (when (buffer-live-p chat)
         (with-current-buffer chat
           (let ((diff (opencode-chat-adopt
                        (opencode-diff-show (opencode-diff--buffer-name) diffs dir)
                        #'opencode-diff--buffer-name)))
             (opencode-diff--follow diff (opencode-chat-connection) (opencode-chat-session-id)
                                    (lambda (redraw)
                                      (when (buffer-live-p chat)
                                        (opencode-store-fetch-diff
                                         (opencode-chat-connection chat)
                                         (opencode-chat-session-id chat)
                                         redraw message-id))))
             ;; Selected, so q closes it, unless the user has moved on
             ;; from the chat while it came.
             (if (eq (window-buffer (selected-window)) chat)
                 (pop-to-buffer diff)
               (display-buffer diff))))))
     message-id)))

(defun opencode-diff--same-file-p (a b directory)
  "Return non-nil if file names A and B, relative to DIRECTORY, are one file.
Either may be a path on the host of a remote DIRECTORY."
  (equal (expand-file-name (opencode-remote-local-name a directory) directory)
         (expand-file-name (opencode-remote-local-name b directory) directory)))

(defun opencode-diff-patch-file (file message-id)
  "Show what the prompt of MESSAGE-ID changed in FILE, in this chat's session.
When its prompt's summary does not have FILE, what the whole session
changed in it; when nothing says, or no server can be asked, visit
FILE (inside the project only)."
  (let* ((chat (current-buffer))
         (conn (opencode-chat-connection))
         (sid (opencode-chat-session-id))
         (dir default-directory)
         ;; A path on the host of a remote project: its TRAMP name.
         (file (opencode-remote-local-name file dir)))
    (cl-labels ((pick (diffs)
                  (seq-filter (lambda (d) (opencode-diff--same-file-p
                                           (opencode-diff-file d) file dir))
                              diffs))
                (show (diffs)
                  (when (buffer-live-p chat)
                    (with-current-buffer chat
                      (let* ((name (format "*opencode-diff: %s*" (file-relative-name file dir)))
                             (buf (opencode-chat-adopt (opencode-diff-show name (vconcat diffs) dir)
                                                       (lambda () name))))
                        (opencode-diff--follow
                         buf conn sid
                         (lambda (redraw)
                           (opencode-store-fetch-diff
                            conn sid (lambda (diffs) (when (pick diffs) (funcall redraw (pick diffs))))
                            message-id)))
                        (display-buffer buf))))))
      (if (not (opencode-connection-usable-p conn))
          ;; No server to ask: the file itself (inside the project only).
          (opencode-chat-visit-file file)
        (opencode-store-fetch-diff
         conn sid
         (lambda (diffs)
           (if (pick diffs) (show (pick diffs))
             (opencode-store-fetch-diff
              conn sid (lambda (all)
                         (if (pick all) (show (pick all))
                           (message "No diff of %s is known; visiting it" file)
                           (when (buffer-live-p chat)
                             (with-current-buffer chat (opencode-chat-visit-file file))))))))
         message-id)))))

(defun opencode-diff--buffer-name ()
  "Return the name of the diff buffer of this chat's session."
  (format "*opencode-diff: %s*" (plist-get (opencode-chat-session) :title)))

(defun opencode-diff-file (diff)
  "Return the file DIFF, a file diff from the server, is about."
  (or (plist-get diff :file) (plist-get diff :path) "?"))

(defvar-local opencode-diff--source nil
  "What this diff buffer shows: (CONN SESSION-ID FETCH), or nil.
FETCH is called with a function that redraws the buffer with diffs.")

(defvar opencode-diff--buffers nil
  "The diff buffers that follow what their session changed.")

(defvar-local opencode-diff--timer nil
  "The timer of this diff buffer's pending refresh.")

(defun opencode-diff--follow (buffer conn sid fetch)
  "Make diff BUFFER follow what session SID on CONN changed.
FETCH is called with a function that redraws BUFFER with diffs, now
and whenever the session's diffs change.  The server updates a
prompt's summary after each step of its reply, the last one after the
session is idle again: a diff opened at once would otherwise keep a
step's state."
  (with-current-buffer buffer
    (setq opencode-diff--source (list conn sid fetch)))
  (setq opencode-diff--buffers
        (cons buffer (seq-filter #'buffer-live-p (delq buffer opencode-diff--buffers)))))

(defun opencode-diff--refresh (buffer)
  "Fetch BUFFER's diffs again, and redraw it if they changed."
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (setq opencode-diff--timer nil)
      (when opencode-diff--source
        (funcall (nth 2 opencode-diff--source)
                 (lambda (diffs)
                   (when (buffer-live-p buffer)
                     (with-current-buffer buffer
                       (let ((line (line-number-at-pos))
                             (windows (get-buffer-window-list buffer nil t)))
                         (opencode-diff-show (buffer-name) (vconcat diffs) default-directory)
                         (goto-char (point-min))
                         (forward-line (1- line))
                         (dolist (w windows) (set-window-point w (point))))))))))))

(opencode-defevent opencode-diff--on-diff "session.diff" (conn props)
  "Refresh the diff buffers of the session of PROPS on CONN, soon.
Several changes in a burst refresh once."
  (let ((sid (plist-get props :sessionID)))
    (dolist (buf opencode-diff--buffers)
      (when (buffer-live-p buf)
        (with-current-buffer buf
          (when (and opencode-diff--source
                     (eq (car opencode-diff--source) conn)
                     (equal (nth 1 opencode-diff--source) sid)
                     (not opencode-diff--timer))
            (setq opencode-diff--timer
                  (run-at-time 0.2 nil #'opencode-diff--refresh buf))))))
    (setq opencode-diff--buffers (seq-filter #'buffer-live-p opencode-diff--buffers))))

(defun opencode-diff-show (name diffs directory)
  "Show DIFFS, file diffs from the server, in `diff-mode' buffer NAME.
DIRECTORY is where their file names are relative to.  Return the buffer."
  (let ((buf (get-buffer-create name))
        (adds 0) (dels 0))
    (with-current-buffer buf
      (let ((inhibit-read-only t))
        (erase-buffer)
        (seq-doseq (d diffs)
          (cl-incf adds (or (plist-get d :additions) 0))
          (cl-incf dels (or (plist-get d :deletions) 0))
          (let ((patch (plist-get d :patch))
                (file (opencode-diff-file d)))
            (insert (if (stringp patch) patch (format "--- a/%s\n+++ b/%s\n" file file)))
            (unless (bolp) (insert "\n"))))
        (when (zerop (length diffs)) (insert "No changes.\n")))
      (diff-mode)
      (setq default-directory (file-name-as-directory directory))
      (setq buffer-read-only t)
      (setq header-line-format (format " %s  +%d −%d" (opencode--plural (length diffs) "file") adds dels))
      (goto-char (point-min)))
    buf))

(provide 'opencode-diff)
;;; opencode-diff.el ends here

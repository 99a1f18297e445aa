;;; opencode-chat-ops.el --- What a chat does to its session  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The operations on a chat's session and what is at point: revert
;; and unrevert (undo, redo; to a message or a part), fork, compact,
;; /init, rename, share (and copy the URL), delete a message or a
;; part, edit a text part, go to the parent session, the package's own
;; slash commands, and aborting the running reply, also when the chat
;; of a busy session is left for another (`opencode-abort-on-switch').

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'diff-mode)
(require 'opencode-api)
(require 'opencode-model)
(require 'opencode-timeline)
(require 'opencode-chat-section)

(declare-function opencode-chat-session "opencode-chat" (&optional buffer))
(defvar opencode-cache-stale)
(declare-function opencode-chat-open "opencode-chat" (conn session))
(declare-function opencode-chat--show-hint "opencode-chat-message" ())

(defcustom opencode-abort-on-switch 'ask
  "What leaving the chat of a busy session does to its running reply.
The chat is left when a window that showed it goes on to another
session's chat, straight or through other buffers (the session list,
say), and no other window shows it; or when it is killed.  Going back
to it from those other buffers leaves nothing.
`ask' (the default) asks whether to abort it, as /init asks before it
starts; nil keeps the reply running (the session list shows it busy);
`abort' aborts it."
  :type '(choice (const :tag "Keep running" nil) (const :tag "Ask" ask)
                 (const :tag "Abort" abort))
  :group 'opencode)

(defvar-local opencode-chat--deleted nil
  "Non-nil once this chat's session was deleted: the session as it was.
The chat stays, marked in its header; nothing more is sent from it.")

(defvar-local opencode-chat--server nil
  "URL of the server this chat's session was last loaded from.")

(defvar-local opencode-chat--missing nil
  "The URL of the server in use when it said this chat's session is not there.
Nil while the session is found.  The chat keeps what it shows, says so
in its header, and sends nothing until a reload finds the session
again (the connection's next (re)connection reloads it).")

(defun opencode-chat-missing-text (&optional buffer)
  "Return why chat BUFFER's session cannot be reached, in words, or nil.
It names the server in use, and the server it was loaded from when
that is another one (the connection was moved, by `opencode-attach').
BUFFER defaults to the current buffer."
  (with-current-buffer (or buffer (current-buffer))
    (when opencode-chat--missing
      (if (and opencode-chat--server (not (equal opencode-chat--server opencode-chat--missing)))
          (format "not on %s, the server in use now: it was loaded from %s"
                  opencode-chat--missing opencode-chat--server)
        (format "not found on %s" opencode-chat--missing)))))

(defun opencode-chat-session-missing (buffer &optional quiet)
  "Mark chat BUFFER: the server in use says its session is not there.
Its header says so and which servers; sending is refused, the text
staying in the prompt.  Unless QUIET, the echo area says it too."
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (let ((url (opencode-connection-url (opencode-chat-connection))))
        (unless (equal opencode-chat--missing url)
          (setq opencode-chat--missing url)
          (opencode-chat--show-hint)
          (force-mode-line-update t)
          (unless quiet
            (message "OpenCode: session \"%s\" is %s; the chat keeps what it shows"
                     (or (plist-get (opencode-chat-session) :title) (opencode-chat-session-id))
                     (opencode-chat-missing-text))))))))

(defun opencode-chat--session-found (url)
  "Note that this chat's session was loaded from the server at URL."
  (setq opencode-chat--server url)
  (when opencode-chat--missing
    (setq opencode-chat--missing nil)
    (opencode-chat--show-hint)
    (force-mode-line-update t)
    (message "OpenCode: session \"%s\" is on %s again"
             (or (plist-get (opencode-chat-session) :title) (opencode-chat-session-id)) url)))

(defun opencode-chat-check-sendable (&optional buffer)
  "Signal a `user-error' if chat BUFFER's session cannot take a prompt.
That is when it was deleted, or the server in use does not have it
\(`opencode-chat-missing-text'), or when the chat is a cached copy shown
while its server is down: not connected, even if its stream keeps
trying to reconnect.  BUFFER defaults to the current buffer."
  (let* ((buffer (or buffer (current-buffer)))
         (conn (opencode-chat-connection buffer)))
    (when (buffer-local-value 'opencode-chat--deleted buffer)
      (user-error "This session was deleted on the server: nothing can be sent to it"))
    (when-let ((why (opencode-chat-missing-text buffer)))
      (user-error "Not sent: this session is %s (your text stays in the prompt)" why))
    (when (and (buffer-local-value 'opencode-cache-stale buffer)
               (not (opencode-connection-responder conn))
               (not (eq (opencode-connection-state conn) 'connected)))
      (user-error "This chat is a cached copy and its server is down: your text stays in the prompt (g in the chat reconnects)"))))

;;;; What is at point, what is reverted

(defvar-local opencode-chat--revert-overlay nil "Overlay over the reverted messages.")

(declare-function opencode-prompt-unqueue "opencode-prompt" (&optional item))
(declare-function opencode-chat-draw-queue "opencode-chat" ())
(defvar opencode-chat-queued)
(defvar opencode-chat-queue-paused)

(defun opencode-chat-message-at-point ()
  "Return the id of the message at point, or signal a `user-error'."
  (or (cl-some (lambda (pos)
                 (and (>= pos (point-min))
                      (or (get-text-property pos 'opencode-message)
                          (let ((s (opencode-chat--section (opencode-chat--part-at pos))))
                            (and s (opencode-chat-part-section-message s))))))
               ;; Point just after a part's text counts as on it.
               (list (point) (1- (point))))
      (user-error "No message at point")))

(defun opencode-chat--show-revert ()
  "Dim the messages a revert undid, from the revert point on."
  (when opencode-chat--revert-overlay
    (delete-overlay opencode-chat--revert-overlay)
    (setq opencode-chat--revert-overlay nil))
  (let* ((rev (plist-get (opencode-chat-session) :revert))
         (section (and rev (opencode-chat--section (plist-get rev :messageID)))))
    (when section
      (let ((ov (make-overlay (opencode-chat-section-beg section) (point-max) nil nil t)))
        (overlay-put ov 'face 'shadow)
        (overlay-put ov 'before-string
                     (propertize (substitute-command-keys
                                  "──── reverted from here: \\<opencode-chat-mode-map>\\[opencode-chat-unrevert] restores, \\[opencode-chat-revert-diff] shows what changed on disk ────\n")
                                 'face 'warning))
        (setq opencode-chat--revert-overlay ov)))))

;;;; Session operations

(defun opencode-chat--session-callback (done)
  "Return a callback that shows the session it gets in this chat, then DONE."
  (let ((buf (current-buffer)))
    (lambda (session)
      (when (buffer-live-p buf)
        (with-current-buffer buf
          (opencode-store-put-session opencode-chat--conn session)
          (opencode-chat--show-revert)))
      (message "%s" done))))

(defun opencode-chat--revert-to (message-id done)
  "Revert the session to before MESSAGE-ID; say DONE when it is."
  (opencode-api-session-revert opencode-chat--conn (opencode-chat-session-id)
                               :body `(:messageID ,message-id)
                               :callback (opencode-chat--session-callback done)))

(defun opencode-chat-revert-part (message-id part-id)
  "Revert the session to PART-ID of MESSAGE-ID (default: the part at point).
What the agent did from that part on, in its messages and on disk, is
undone (POST /session/:id/revert with the part)."
  (interactive
   (let* ((pid (or (opencode-chat--part-at (point)) (user-error "No part at point")))
          (part (opencode-chat--part-plist pid)))
     (list (plist-get part :messageID) pid)))
  (when (yes-or-no-p "Revert the session (and its file changes) to this part? ")
    (opencode-api-session-revert opencode-chat--conn (opencode-chat-session-id)
                                 :body `(:messageID ,message-id :partID ,part-id)
                                 :callback (opencode-chat--session-callback "Reverted to the part"))))

(defun opencode-chat-revert (message-id)
  "Revert the session to before MESSAGE-ID (default: the message at point).
The agent's changes to files from there on are undone on disk."
  (interactive (list (opencode-chat-message-at-point)))
  (when (yes-or-no-p "Revert the session (and its file changes) to before this message? ")
    (opencode-chat--revert-to message-id "Reverted")))

(defun opencode-chat-unrevert ()
  "Undo the session's revert: restore the messages and file changes."
  (interactive)
  (unless (plist-get (opencode-chat-session) :revert) (user-error "Nothing is reverted"))
  (opencode-api-session-unrevert opencode-chat--conn (opencode-chat-session-id)
                                 :callback (opencode-chat--session-callback "Restored")))

(defun opencode-chat-revert-diff ()
  "Show what the session's revert changed on disk."
  (interactive)
  (let ((diff (plist-get (plist-get (opencode-chat-session) :revert) :diff)))
    (unless (stringp diff) (user-error "No revert diff"))
    (with-current-buffer (get-buffer-create "*opencode-revert-diff*")
      (let ((inhibit-read-only t)) (erase-buffer) (insert diff))
      (diff-mode)
      (setq buffer-read-only t)
      (display-buffer (current-buffer)))))

(defun opencode-chat-fork (message-id)
  "Fork the session at MESSAGE-ID (default: the message at point); open the fork."
  (interactive (list (opencode-chat-message-at-point)))
  (let ((conn opencode-chat--conn))
    (opencode-store-fork conn (opencode-chat-session-id) message-id
                         (lambda (s) (opencode-chat-open conn s)))))

(defun opencode-chat-fork-session ()
  "Fork the whole session; open the fork."
  (interactive)
  (let ((conn opencode-chat--conn))
    (opencode-store-fork conn (opencode-chat-session-id) nil
                         (lambda (s) (opencode-chat-open conn s)))))

(defun opencode-chat-compact ()
  "Compact the session: replace its history by a summary, with its model."
  (interactive)
  (let ((conn opencode-chat--conn) (sid (opencode-chat-session-id)))
    (opencode-api-session-model
     conn (opencode-chat-session)
     (lambda (model)
       (message "Compacting with %s/%s..." (car model) (cdr model))
       (opencode-api-session-summarize conn sid model
                                       :callback (lambda (_) (message "Compacted")))))))

(defun opencode-chat-run-init (conn session)
  "Run /init in SESSION (a plist) on CONN, with the session's model.
That is its own, else the project's, else the server's default: the
model the server answers prompts with."
  (opencode-api-session-model
   conn session
   (lambda (model)
     (message "Running /init with %s/%s: the agent reads the project, writes AGENTS.md..."
              (car model) (cdr model))
     (opencode-api-session-init conn (plist-get session :id) model
                                :callback (lambda (_) (message "/init done"))))))

(defun opencode-chat-init ()
  "Run /init in this chat's session: the agent writes AGENTS.md.
It reads the project and writes or updates AGENTS.md, the notes it
reads in every session; it is a model turn, so it costs tokens."
  (interactive)
  (opencode-chat-check-sendable)
  (opencode-chat-run-init opencode-chat--conn (opencode-chat-session)))

(defun opencode-chat-rename (title)
  "Rename the session to TITLE."
  (interactive (list (read-string "New title: " (plist-get (opencode-chat-session) :title))))
  (when (string-empty-p (string-trim title)) (user-error "A title cannot be empty"))
  (opencode-api-session-update opencode-chat--conn (opencode-chat-session-id) :title title))

(defun opencode-chat-share ()
  "Share the session and copy its URL."
  (interactive)
  (opencode-api-session-share
   opencode-chat--conn (opencode-chat-session-id)
   :callback (lambda (s)
               (let ((url (plist-get (plist-get s :share) :url)))
                 (if (not (stringp url))
                     (message "The server did not share the session")
                   (kill-new url)
                   (message "Shared: %s (copied)" url))))))

(defun opencode-chat-share-url (&optional buffer)
  "Return the share URL of chat BUFFER's session, or nil if not shared."
  (let ((url (plist-get (plist-get (opencode-chat-session buffer) :share) :url)))
    (and (stringp url) url)))

(defun opencode-chat-copy-share-url ()
  "Copy the URL the session is shared at."
  (interactive)
  (let ((url (or (opencode-chat-share-url)
                 (user-error (substitute-command-keys
                              "The session is not shared (\\<opencode-chat-mode-map>\\[opencode-chat-share] shares it)")))))
    (kill-new url)
    (message "Copied %s" url)))

(defun opencode-chat-unshare ()
  "Stop sharing the session."
  (interactive)
  (opencode-api-session-unshare opencode-chat--conn (opencode-chat-session-id)
                                :callback (lambda (_) (message "Unshared"))))

(defun opencode-chat--last-user-message ()
  "Return the id of the newest user message not reverted, or nil."
  (let ((revert (plist-get (plist-get (opencode-chat-session) :revert) :messageID))
        (best nil))
    (dolist (m (opencode-timeline-message-list (opencode-chat-timeline)))
      (let ((id (opencode-message-id m)))
        (when (and (equal (opencode-message-role m) "user")
                   (opencode-chat--section id)
                   (or (null revert) (string< id revert))
                   (or (null best) (string< best id)))
          (setq best id))))
    best))

(defun opencode-chat-undo ()
  "Revert the last prompt and what it changed on disk (see `opencode-chat-redo')."
  (interactive)
  (opencode-chat--revert-to (or (opencode-chat--last-user-message)
                                (user-error "No prompt to undo"))
                            "Undone; /redo restores"))

(defun opencode-chat-redo ()
  "Restore what `opencode-chat-undo' or a revert took back."
  (interactive)
  (opencode-chat-unrevert))

(defun opencode-chat-own-command (name args)
  "Run the package's slash command NAME with ARGS (a string)."
  (pcase name
    ("compact" (opencode-chat-compact))
    ("rename" (if (string-empty-p (string-trim args))
                  (call-interactively #'opencode-chat-rename)
                (opencode-chat-rename (string-trim args))))
    ("fork" (opencode-chat-fork-session))
    ("share" (opencode-chat-share))
    ("unshare" (opencode-chat-unshare))
    ("undo" (opencode-chat-undo))
    ("redo" (opencode-chat-redo))
    (_ (user-error "Unknown command /%s" name))))

(defun opencode-chat-goto-parent ()
  "Open the chat of the session this one belongs to.
That is the parent of a sub-agent's session, or the session a fork
made from Emacs was forked from."
  (interactive)
  (let ((parent (or (plist-get (opencode-chat-session) :parentID)
                    (opencode-store-origin opencode-chat--conn (opencode-chat-session-id))
                    (user-error "This session has no parent"))))
    (opencode-chat-open opencode-chat--conn
                        (opencode-api-session-get opencode-chat--conn parent :sync t))))

(defun opencode-chat-delete-message (message-id)
  "Delete MESSAGE-ID (default: the message at point) from the session.
On a queued prompt, take it out of the queue, back into the prompt."
  (interactive (list (if (get-text-property (point) 'opencode-queued)
                         (get-text-property (point) 'opencode-queued)
                       (opencode-chat-message-at-point))))
  (if (consp message-id)
      (opencode-prompt-unqueue message-id)
    (opencode-chat--delete-message message-id)))

(defun opencode-chat--delete-message (message-id)
  "Delete MESSAGE-ID from the session, once the user said yes."
  (when (yes-or-no-p "Delete this message from the session? ")
    (opencode-api-session-delete-message opencode-chat--conn (opencode-chat-session-id) message-id
                                         :callback (lambda (_) (message "Message deleted")))))

(defun opencode-chat-delete-part ()
  "Delete the part at point from its message."
  (interactive)
  (let* ((pid (or (opencode-chat--part-at (point)) (user-error "No part at point")))
         (part (opencode-chat--part-plist pid)))
    (when (yes-or-no-p (format "Delete this %s part? " (plist-get part :type)))
      (opencode-api-part-delete opencode-chat--conn (opencode-chat-session-id)
                                (plist-get part :messageID) pid
                                :callback (lambda (_) (message "Part deleted"))))))

;;;; Editing a part

(defvar-local opencode-chat--edit-target nil
  "In a part edit buffer: (CHAT-BUFFER . PART).")

(defvar opencode-chat-edit-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "C-c C-c") #'opencode-chat-edit-finish)
    (define-key map (kbd "C-c C-k") #'opencode-chat-edit-cancel)
    map)
  "Keymap of `opencode-chat-edit-mode'.")

(define-derived-mode opencode-chat-edit-mode text-mode "OpenCode-Edit"
  "Edit the text of a part; \\<opencode-chat-edit-mode-map>\\[opencode-chat-edit-finish] saves, \\[opencode-chat-edit-cancel] cancels.")

(defun opencode-chat-edit-part ()
  "Edit the text of the text part at point in a buffer of its own."
  (interactive)
  (let* ((pid (or (opencode-chat--part-at (point)) (user-error "No part at point")))
         (part (opencode-chat--part-plist pid))
         (chat (current-buffer)))
    (unless (member (plist-get part :type) '("text" "reasoning"))
      (user-error "Only text can be edited"))
    (with-current-buffer (get-buffer-create "*opencode-edit-part*")
      (opencode-chat-edit-mode)
      (erase-buffer)
      (insert (or (plist-get part :text) ""))
      (goto-char (point-min))
      (setq opencode-chat--edit-target (cons chat part))
      (setq header-line-format
            (substitute-command-keys
             "\\<opencode-chat-edit-mode-map>\\[opencode-chat-edit-finish] save  \\[opencode-chat-edit-cancel] cancel"))
      (pop-to-buffer (current-buffer)))))

(defun opencode-chat-edit-finish ()
  "Save the edited text to the server; the buffer goes once it is saved."
  (interactive)
  (let* ((target opencode-chat--edit-target)
         (edit (current-buffer))
         (part (plist-put (copy-sequence (cdr target)) :text (buffer-string))))
    (with-current-buffer (car target)
      (opencode-api-part-update opencode-chat--conn (opencode-chat-session-id)
                                (plist-get part :messageID) (plist-get part :id)
                                :body part
                                :callback (lambda (_)
                                            (when (buffer-live-p edit) (kill-buffer edit))
                                            (message "Part saved"))))))

(defun opencode-chat-edit-cancel ()
  "Drop the edit."
  (interactive)
  (kill-buffer (current-buffer)))

;;;; Aborting

(defun opencode-chat--maybe-abort ()
  "Follow `opencode-abort-on-switch' when a busy session's chat is left.
The current buffer is that chat."
  (when (and opencode-abort-on-switch opencode-chat--conn
             (not opencode-chat--deleted)
             (opencode-store-busy-p opencode-chat--conn (opencode-chat-session-id))
             (or (eq opencode-abort-on-switch 'abort)
                 (y-or-n-p (format "%s is busy: abort its reply? "
                                   (or (plist-get (opencode-chat-session) :title) "The session")))))
    (opencode-api-session-abort opencode-chat--conn (opencode-chat-session-id))))

(defun opencode-chat--on-window-switch (window)
  "Follow `opencode-abort-on-switch' if WINDOW left a busy session's chat.
Run from the buffer-local `window-buffer-change-functions' of the chat
WINDOW shows now.  WINDOW remembers the last chat it showed (its
`opencode-chat--last' parameter), so a chat left for another buffer,
the session list say, and from there for this one counts as left for
this one.  It is left when it is another session's chat that no
window shows any more; coming back to it leaves nothing.  The
question, if any, is asked from a timer, outside redisplay."
  (let* ((new (window-buffer window))
         (before (window-old-buffer window))
         (old (if (opencode-chat--chat-buffer-p before)
                  before
                (window-parameter window 'opencode-chat--last))))
    ;; This chat is now the last one WINDOW showed.
    (set-window-parameter window 'opencode-chat--last new)
    (when (and opencode-abort-on-switch
               (opencode-chat--chat-buffer-p old) (not (eq old new))
               (not (equal (opencode-chat-session-id old) (opencode-chat-session-id new)))
               (not (get-buffer-window old t)))
      (run-at-time 0 nil #'opencode-chat--left old))))

(defun opencode-chat--chat-buffer-p (buffer)
  "Return non-nil if BUFFER is a live chat buffer."
  (and (buffer-live-p buffer)
       (eq (buffer-local-value 'major-mode buffer) 'opencode-chat-mode)))

(defun opencode-chat--forget-window-chat ()
  "Make the windows that remember this chat as their last forget it.
Run from the chat's `kill-buffer-hook'."
  (let ((chat (current-buffer)))
    (walk-windows (lambda (w)
                    (when (eq (window-parameter w 'opencode-chat--last) chat)
                      (set-window-parameter w 'opencode-chat--last nil)))
                  t t)))

(defun opencode-chat--left (chat)
  "Follow `opencode-abort-on-switch' for CHAT, left for another chat.
Unless a window shows it again by now."
  (when (and (buffer-live-p chat) (not (get-buffer-window chat t)))
    (with-current-buffer chat
      (opencode-chat--maybe-abort))))

(defun opencode-chat-abort ()
  "Abort the running reply of this chat's session.
An abort stops: prompts queued stay queued, paused, until
\\<opencode-chat-mode-map>\\[opencode-chat-send-queue] sends them."
  (interactive)
  (when opencode-chat-queued
    (setq opencode-chat-queue-paused t)
    (opencode-chat-draw-queue))
  (opencode-api-session-abort opencode-chat--conn (opencode-chat-session-id)
                              :callback (lambda (_) (message "Aborted"))))

(provide 'opencode-chat-ops)
;;; opencode-chat-ops.el ends here

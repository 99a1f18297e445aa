;;; opencode-chat.el --- A session's timeline  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; One chat buffer per session shows its messages: each message is a
;; header line and its parts.  What the chat shows is its session's
;; timeline (opencode-timeline.el, `opencode-chat-timeline'): the
;; messages and parts the server sent, the streamed text included,
;; which copy and export read too.  The chat only draws it: every
;; message and part owns a region of the buffer, a section
;; (opencode-chat-section.el) with two markers, followed by a newline
;; that belongs to no part, so a part can be redrawn, grown by a
;; streamed delta or removed without touching its neighbours.
;; Reasoning and tool parts start folded (TAB toggles one, S-TAB cycles
;; the buffer); the user's fold is the timeline part's, so it survives
;; redraws.
;;
;; This file is the view's state, places, the footer and the mode; how
;; a part is drawn is in opencode-chat-part.el, a message in
;; opencode-chat-message.el, streamed text in opencode-chat-stream.el,
;; loading in opencode-chat-load.el, the events in
;; opencode-chat-events.el.  How a part looks is in
;; opencode-parts.el (Markdown in
;; opencode-markdown.el), the header line and context in
;; opencode-chat-context.el, the operations on the session in
;; opencode-chat-ops.el, the prompt in opencode-prompt.el, permissions
;; and questions in opencode-requests.el, the todo list in
;; opencode-todo.el and the diffs in opencode-diff.el.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'seq)
(require 'text-property-search)
(require 'opencode)
(require 'opencode-api)
(require 'opencode-markdown)
(require 'opencode-parts)
(require 'opencode-requests)
(require 'opencode-todo)
(require 'opencode-rules)
(require 'opencode-diff)
(require 'opencode-chat-context)
(require 'opencode-chat-ops)
(require 'opencode-chat-nav)
(require 'opencode-prompt)
(require 'opencode-cache)
(require 'opencode-timeline)
(require 'opencode-chat-section)
(require 'opencode-chat-part)
(require 'opencode-chat-message)
(require 'opencode-chat-stream)

;;;; Options

(defcustom opencode-chat-message-limit 400
  "How many of the newest messages a chat buffer loads when it opens."
  :type 'integer
  :group 'opencode)

(defcustom opencode-chat-display 'default
  "Where a chat buffer is shown when it opens.
`default' lets `display-buffer' decide (see `display-buffer-alist');
`same-window' replaces the selected window's buffer; `split' splits
the frame; `side' uses a side window on the right
\(`opencode-chat-side-window-width' wide); `full-frame' takes the whole
frame; `frame' opens a frame of its own."
  :type '(choice (const :tag "As display-buffer decides" default)
                 (const :tag "The selected window" same-window)
                 (const :tag "A split of the frame" split)
                 (const :tag "A side window on the right" side)
                 (const :tag "The whole frame" full-frame)
                 (const :tag "A frame of its own" frame))
  :group 'opencode)

(defcustom opencode-chat-open-prompt t
  "Whether opening a chat shows its prompt below it, ready to type in."
  :type 'boolean
  :group 'opencode)

(defcustom opencode-chat-side-window-width 80
  "Width of the side window of `opencode-chat-display' `side'."
  :type 'integer
  :group 'opencode)

(defcustom opencode-chat-render-batch 40
  "How many messages are drawn at a time when a chat is (re)drawn.
The newest ones show at once; older ones are drawn above them, this
many at a time, while Emacs stays responsive."
  :type 'integer
  :group 'opencode)

(defcustom opencode-chat-fontify-delay 0.1
  "Seconds a streaming text part may stay unfontified.
Text arriving in deltas is shown at once; its Markdown faces follow
within this delay, for all the deltas of the meantime."
  :type 'number
  :group 'opencode)

(defcustom opencode-chat-fontify-slice 2000
  "Characters of streamed text one Markdown pass renders, about.
When a burst brought more since the last pass, the pass stops at the
last block boundary within this many characters and the next one
follows 10 ms later, Emacs meanwhile redisplaying and reading input;
a block longer than this is rendered whole, in a pass of its own.  nil
renders everything new in one pass."
  :type '(choice (const :tag "Everything in one pass" nil) integer)
  :group 'opencode)

(defcustom opencode-revert-edited-files t
  "Whether buffers of files the agent edits are reverted from disk.
Only buffers without unsaved changes are reverted."
  :type 'boolean
  :group 'opencode)

;;;; Buffer state

(defvar-local opencode-chat--fold-cycle nil "Where S-TAB is in its cycle.")
(defvar-local opencode-chat--loaded nil
  "Non-nil once the chat's messages were fetched and drawn.")

(defvar-local opencode-chat--backlog nil
  "The ids of older messages of the timeline not drawn yet, oldest first.")

(defvar-local opencode-chat--backlog-timer nil
  "Timer that draws `opencode-chat--backlog'.")

(defvar-local opencode-chat-queued nil
  "In a chat: prompts queued until its session is idle, oldest first.
Each is a plist: :text, :files, :agent, :model, :variant, and
:context, what the context providers of the text gave when it was
queued ((TEXT . FILES), or nil).  They are drawn under the timeline.")

(defvar-local opencode-chat-queue-paused nil
  "In a chat: non-nil when its queued prompts wait for the user.
An abort stops: it does not send the queue.  Set when a reply is
aborted with prompts queued, until \\<opencode-chat-mode-map>\\[opencode-chat-send-queue] sends them.")

(defvar-local opencode-chat--queue-released nil
  "The newest reply step when the user last sent the paused queue, or nil.
Its abort, if it ends aborted, pauses the queue no more: the user
sent it after that abort (pressed before the session was idle again).")

(defvar-local opencode-chat-queue-sent nil
  "In a chat: the queued prompt sent last, until its reply is seen.
Its message id, t while that is not known yet or for a shell or slash
command (until its request ends), or nil.  The next queued prompt
waits for it: the session says idle until the server starts the reply,
and the server ends a reply with two idle events, so without it the
second would send the next prompt too.")

(defvar-local opencode-chat--footer nil
  "Marker where the footer (the queued prompts) starts, or nil.
Messages are inserted before it.")

(defvar-local opencode-chat--footer-requests nil
  "Ids of the requests drawn under the timeline: no part of theirs is shown.")

(defun opencode-chat-session (&optional buffer)
  "Return the session plist of chat BUFFER (default: the current buffer).
It is what the connection's store knows of the session."
  (let* ((buffer (or buffer (current-buffer)))
         (id (opencode-chat-session-id buffer))
         (s (opencode-store-session (opencode-chat-connection buffer) id)))
    (cond (s (opencode-session-data s))
          ;; Deleted: what it was.
          ((buffer-local-value 'opencode-chat--deleted buffer))
          (t (list :id id)))))

(defvar-local opencode-chat--views nil
  "Buffers that show this chat's session: an alist (BUFFER . NAME-FUNCTION).
NAME-FUNCTION, called in the chat, names BUFFER after the session;
they are renamed with it and go when the chat is killed.")

(defun opencode-chat-adopt (buffer name-function)
  "Make BUFFER a view of this chat, named by NAME-FUNCTION (called in the chat).
It is renamed when the session is, and killed with the chat."
  (setf (alist-get buffer opencode-chat--views) name-function)
  buffer)

(defun opencode-chat--rename-views ()
  "Name every view of this chat after its session, as it is now."
  (setq opencode-chat--views (cl-remove-if-not (lambda (v) (buffer-live-p (car v)))
                                               opencode-chat--views))
  (pcase-dolist (`(,buf . ,fn) opencode-chat--views)
    (let ((name (funcall fn)))
      (unless (equal name (buffer-name buf))
        (with-current-buffer buf (rename-buffer name t))))))

(defun opencode-chat--kill-views ()
  "Kill this chat's views; a prompt with text in it stays, and keeps it.
Sending from that prompt reopens the chat."
  (pcase-dolist (`(,buf . ,_) opencode-chat--views)
    (when (buffer-live-p buf)
      (if (and (with-current-buffer buf (derived-mode-p 'opencode-prompt-mode))
               (not (string-empty-p (string-trim (with-current-buffer buf (buffer-string))))))
          (message "OpenCode: the prompt %s keeps your text; sending it reopens the chat"
                   (buffer-name buf))
        (dolist (w (get-buffer-window-list buf nil t))
          ;; Its window goes too, unless it is the frame's only one.
          (ignore-errors (delete-window w)))
        (kill-buffer buf)))))

;;;; Where windows are

(defun opencode-chat--place (pos)
  "Return where POS is, in terms that survive a redraw of the chat.
That is `end' at the end of the buffer, else (ID . OFFSET): the part
or message ID POS is in and how far into it."
  (cond
   ((>= pos (point-max)) 'end)
   ((when-let* ((id (opencode-chat--part-at pos))
                (section (opencode-chat--section id)))
      (cons id (- pos (opencode-chat-section-beg section)))))
   ((when-let* ((id (get-text-property pos 'opencode-message))
                (section (opencode-chat--section id)))
      (cons id (- pos (opencode-chat-section-beg section)))))
   (t pos)))

(defun opencode-chat--place-position (place)
  "Return the position of PLACE, from `opencode-chat--place', now."
  (pcase place
    ('end (point-max))
    (`(,id . ,offset)
     (let ((section (opencode-chat--section id)))
       (if section
           (min (+ (opencode-chat-section-beg section) offset)
                (opencode-chat-section-end section))
         (point-max))))
    ((pred integerp) (min place (point-max)))
    (_ (point-max))))

(defun opencode-chat--window-places ()
  "Return the places of point and of each window showing this chat.
A list whose head is the buffer's point and whose rest are (WINDOW
POINT START), for `opencode-chat--restore-places' after a redraw."
  (cons (opencode-chat--place (point))
        (mapcar (lambda (w) (list w (opencode-chat--place (window-point w))
                                  (opencode-chat--place (window-start w))))
                (get-buffer-window-list nil nil t))))

(defun opencode-chat--restore-places (places)
  "Put point and each window back at PLACES after a redraw.
A window that was at the end stays at the end, showing the newest
text at its bottom."
  (goto-char (opencode-chat--place-position (car places)))
  (pcase-dolist (`(,w ,pt ,start) (cdr places))
    (when (and (window-live-p w) (eq (window-buffer w) (current-buffer)))
      (if (eq pt 'end)
          (opencode-chat-show-end w)
        (set-window-start w (opencode-chat--place-position start) t)
        (set-window-point w (opencode-chat--place-position pt)))))
  ;; Unless the selected window shows the chat (its point is the
  ;; buffer's), the buffer's point is its own.
  (unless (eq (window-buffer (selected-window)) (current-buffer))
    (goto-char (opencode-chat--place-position (car places)))))

(defun opencode-chat-show-end (&optional window)
  "Show the end of the chat in WINDOW (default: every window showing it).
Point goes to the end, where it follows what streams in, and the
newest text is at the bottom of the window.  With WINDOW, only that
window's point moves: the buffer's point is the selected window's, so
it moves only when WINDOW is the selected window."
  (interactive)
  (unless window (goto-char (point-max)))
  (dolist (w (if window (list window) (get-buffer-window-list nil nil t)))
    (set-window-point w (point-max))
    ;; Selecting W and back keeps the selected window's point.
    (with-selected-window w
      (ignore-errors (recenter -1)))))

;;;; Prompts on their way

(defun opencode-chat-new-id (prefix)
  "Return a new id with PREFIX (\"msg\", \"prt\"), made as the server makes them.
It sorts after every message of this chat, even when the server's
clock is ahead of ours: the server answers the newest user message,
so a prompt's id must be the newest."
  (let ((newest nil))
    (dolist (s (opencode-chat--message-sections))
      (let ((id (opencode-chat-section-id s)))
        (when (or (null newest) (string< newest id)) (setq newest id))))
    (opencode--ascending-id prefix newest)))

(defun opencode-chat-show-pending (id parts)
  "Show the user's prompt at once: message ID with PARTS (plists with ids).
It is marked as being sent until the server's copy, with the same ids,
replaces it; `opencode-chat-forget-pending' takes it back."
  (let ((m (list :info (list :id id :role "user" :sessionID (opencode-chat-session-id)
                             :time (list :created (truncate (* (float-time) 1000)))
                             :opencode-pending t)
                 :parts (mapcar (lambda (p) (append (list :messageID id
                                                          :sessionID (opencode-chat-session-id))
                                                    p))
                                parts))))
    (opencode-timeline-add (opencode-chat-timeline) (list m))
    (let ((inhibit-read-only t))
      (opencode-chat--draw-message id))
    (opencode-chat-show-end)))

(defun opencode-chat-forget-pending (id)
  "Take back prompt ID, shown by `opencode-chat-show-pending': it was not sent."
  (let* ((timeline (opencode-chat-timeline))
         (m (opencode-timeline-message timeline id)))
    (when (and m (eq (opencode-message-status m) 'pending))
      (opencode-timeline-remove-message timeline id)
      (opencode-chat--remove-message id))))

(defun opencode-chat-release-queue ()
  "Let the current chat's queue go again: the user sends it.
The abort of the newest reply, if it ends so, pauses it no more."
  (setq opencode-chat-queue-paused nil
        opencode-chat--queue-released (or (opencode-chat--newest-reply) t))
  (opencode-chat-draw-queue))

(defun opencode-chat-draw-queue ()
  "Draw the footer under the timeline: waiting requests and queued prompts.
A permission or question whose tool part is not shown (a sub-agent's,
or one asked before its part came) shows here; then the prompts
queued until the session is idle.  Nothing if there are none."
  (let ((inhibit-read-only t)
        (requests (opencode-chat--unplaced-requests)))
    (save-excursion
      (when opencode-chat--footer
        (delete-region opencode-chat--footer (point-max))
        (set-marker opencode-chat--footer nil)
        (setq opencode-chat--footer nil))
      (setq opencode-chat--footer-requests (mapcar (lambda (r) (plist-get (cdr r) :id)) requests))
      (when (or opencode-chat-queued requests)
        (goto-char (point-max))
        (let ((beg (point)))
          (dolist (r requests)
            (insert (propertize (if (equal (plist-get (cdr r) :sessionID) (opencode-chat-session-id))
                                    "Waiting for you:\n"
                                  "A sub-agent waits for you:\n")
                                'face 'opencode-chat-dim)
                    (opencode-requests-block r) "\n"))
          (when opencode-chat-queued
            (insert (if opencode-chat-queue-paused
                        (propertize (substitute-command-keys
                                     "Queued, paused since the abort: \\<opencode-chat-mode-map>\\[opencode-chat-send-queue] sends it\n")
                                    'face 'warning)
                      (propertize "Queued, sent when the session is idle:\n" 'face 'opencode-chat-dim))))
          (cl-loop for q in opencode-chat-queued for i from 1
                   do (insert (propertize (format "  %d. %s\n" i
                                                  (opencode--first-line (plist-get q :text) 70))
                                          'opencode-queued q
                                          'face 'opencode-chat-dim
                                          'help-echo (substitute-command-keys
                                                      "\\<opencode-chat-mode-map>\\[opencode-chat-delete-message]: take it back into the prompt"))))
          ;; Messages go before it: the marker moves with text inserted there.
          (setq opencode-chat--footer (copy-marker beg t)))))))

;;;; The chats of a connection

(defun opencode-chat--registry (conn)
  "Return CONN's table of chat buffers, session id -> buffer.
Events find their buffer here in constant time, however many buffers
Emacs has."
  (opencode-connection-table conn :chats))

(defun opencode-chat--attach (conn session)
  "Make the current buffer the chat of SESSION (a plist) on CONN."
  (setq opencode-chat--conn conn
        opencode-chat--session-id (plist-get session :id))
  ;; What the caller knows of it, until the server says more.
  (unless (opencode-store-session conn (plist-get session :id))
    (opencode-store-put-session conn session))
  (puthash (plist-get session :id) (current-buffer) (opencode-chat--registry conn))
  ;; The session's events now go to its timeline too.
  (opencode-timeline-open conn (plist-get session :id))
  (add-hook 'kill-buffer-hook #'opencode-chat--detach nil t))

(defun opencode-chat--detach ()
  "Forget the current chat buffer in its connection's registry."
  (when opencode-chat--conn
    (let ((table (opencode-chat--registry opencode-chat--conn))
          (id (opencode-chat-session-id)))
      (when (eq (gethash id table) (current-buffer))
        (remhash id table)
        ;; No one looks at it any more.
        (opencode-timeline-close opencode-chat--conn id)))))

(defun opencode-chat--buffer (conn session-id)
  "Return the live chat buffer of SESSION-ID on CONN, or nil."
  (let* ((table (opencode-chat--registry conn))
         (buf (gethash session-id table)))
    (cond ((buffer-live-p buf) buf)
          (buf (remhash session-id table) nil))))

(defun opencode-chat-buffer (conn session-id)
  "Return the live chat buffer of SESSION-ID on CONN, or nil."
  (opencode-chat--buffer conn session-id))

(defun opencode-chat--buffers (conn)
  "Return CONN's live chat buffers."
  (let (bufs)
    (maphash (lambda (_ b) (when (buffer-live-p b) (push b bufs)))
             (opencode-chat--registry conn))
    bufs))

;;;; Mode and entry point

(opencode-define-keys opencode-chat-mode-map opencode-chat-menu
  :parent special-mode-map
  :map-doc "Keymap of `opencode-chat-mode'."
  :menu-doc "The commands of an OpenCode chat."
  :menu-key "?"
  ((("Prompt"
     ("i" "write a prompt" opencode-chat-prompt)
     ("RET" nil opencode-chat-prompt)
     ("a" "answer permission/question" opencode-chat-answer)
     ("C-c C-r" nil opencode-chat-answer)
     ("C-c C-k" "abort the reply (pauses the queue)" opencode-chat-abort)
     ("C-c C-s" "send the paused queue" opencode-chat-send-queue)
     ("C-c C-t" "next agent" opencode-chat-cycle-agent)
     ("C-c C-e" "next variant (effort)" opencode-chat-cycle-variant)
     ("C-c C-n" "next recent model" opencode-chat-cycle-model)
     ("I" "/init: write AGENTS.md" opencode-chat-init))
    ("Session"
     ("r" "rename" opencode-chat-rename)
     ("E" "export Markdown/Org" opencode-chat-export)
     ("C" "compact" opencode-chat-compact)
     ("f" "fork whole session" opencode-chat-fork-session)
     ("F" "fork at message" opencode-chat-fork)
     ("s" "share" opencode-chat-share)
     ("S" "unshare" opencode-chat-unshare)
     ("W" "copy share URL" opencode-chat-copy-share-url)
     ("^" "parent session" opencode-chat-goto-parent)
     ("L" "permission rules" opencode-permission-rules))
    ("Undo"
     ("u" "undo last prompt" opencode-chat-undo)
     ("R" "revert to message" opencode-chat-revert)
     ("v" "revert to part" opencode-chat-revert-part)
     ("U" "unrevert (redo)" opencode-chat-unrevert)
     ("=" "revert's disk diff" opencode-chat-revert-diff)))
   (("Show"
     ("t" "todos" opencode-chat-todos)
     ("d" "session diff" opencode-chat-diff)
     ("o" "older messages" opencode-chat-load-older)
     ("g" "reload" opencode-chat-reload)
     ("h" nil describe-mode))
    ("Parts"
     ("TAB" "fold part / replies" opencode-chat-toggle-fold)
     ("<backtab>" "cycle all folds" opencode-chat-cycle-folds)
     ("w" "copy as Markdown" opencode-chat-copy)
     ("c" "copy code block" opencode-chat-copy-code-block)
     ("e" "edit text part" opencode-chat-edit-part)
     ("x" "delete part" opencode-chat-delete-part)
     ("D" "delete message" opencode-chat-delete-message))
    ("Move"
     ("n" "next prompt" opencode-chat-next-message)
     ("p" "previous prompt" opencode-chat-previous-message)
     ("N" "next message" opencode-chat-next-reply)
     ("P" "previous message" opencode-chat-previous-reply)
     ("M-n" "next part" opencode-chat-next-part)
     ("M-p" "previous part" opencode-chat-previous-part)
     (">" "end: follow the reply" opencode-chat-show-end)
     ("q" "quit" quit-window)))))

;; At the end of the chat, where point follows the reply, the keys of
;; the newest request's block answer it.
(opencode-requests-answer-at-end opencode-chat-mode-map)

(define-derived-mode opencode-chat-mode special-mode "OpenCode-Chat"
  "Major mode of an OpenCode session's timeline.
\\{opencode-chat-mode-map}"
  (setq opencode-chat--sections (make-hash-table :test 'equal))
  (setq buffer-invisibility-spec '(opencode-fold opencode-empty opencode-markup
                                   opencode-thread))
  ;; Read-only and drawn by the package: nothing to undo.  An undo list
  ;; would keep every redrawn part's old text and its markers' moves,
  ;; walked by every collection while a reply streams.
  (buffer-disable-undo)
  ;; The newest text stays at the bottom of a window that follows it,
  ;; not recentred half a window up.
  (setq-local scroll-conservatively 101)
  (setq truncate-lines nil)
  ;; Faces come from the renderer, not from font-lock.
  (font-lock-mode -1)
  (visual-line-mode 1)
  (setq header-line-format '(:eval (opencode-chat--header-line)))
  (setq-local imenu-create-index-function #'opencode-chat--imenu-index)
  (setq-local bookmark-make-record-function #'opencode-chat-bookmark-make-record)
  (setq-local desktop-save-buffer #'opencode-chat--desktop-save)
  (add-hook 'kill-buffer-hook #'opencode-chat--stop-countdown nil t)
  (add-hook 'kill-buffer-hook #'opencode-chat--stop-backlog nil t)
  (add-hook 'kill-buffer-hook #'opencode-chat--maybe-abort nil t)
  (add-hook 'kill-buffer-hook #'opencode-chat--kill-views nil t)
  (add-hook 'kill-buffer-hook #'opencode-chat--stop-fontify nil t)
  (add-hook 'kill-buffer-hook #'opencode-chat--forget-window-chat nil t)
  ;; Leaving a busy session's chat for another's may abort its reply.
  (add-hook 'window-buffer-change-functions #'opencode-chat--on-window-switch nil t))

(defun opencode-chat--buffer-name (session)
  "Return the chat buffer name of SESSION."
  (format "*opencode: %s*" (or (plist-get session :title) (plist-get session :id))))

(defun opencode-chat-open (conn session)
  "Show the chat of SESSION (a plist with :id) on CONN; return its buffer."
  (let ((buf (or (opencode-chat--buffer conn (plist-get session :id))
                 (generate-new-buffer (opencode-chat--buffer-name session)))))
    (with-current-buffer buf
      (unless (derived-mode-p 'opencode-chat-mode)
        (opencode-chat-mode)
        (opencode-chat--attach conn session)
        (setq default-directory (file-name-as-directory (opencode-connection-directory conn)))
        ;; The messages last seen show at once, marked stale, until loaded.
        (opencode-cache-chat-restore conn (plist-get session :id)
                                     (lambda (messages)
                                       (opencode-chat--fill messages)
                                       (goto-char (point-max))))
        ;; Still connecting: `opencode-chat--on-state' loads it once connected.
        (when (eq (opencode-connection-state conn) 'connected)
          (opencode-chat-reload))))
    (opencode-chat--display buf)
    (when opencode-chat-open-prompt
      (with-current-buffer buf (opencode-chat-prompt)))
    buf))

(defun opencode-chat--side-alist ()
  "Return the alist of the side window of `opencode-chat-display' `side'."
  `((side . right) (slot . 0)
    (window-width . ,opencode-chat-side-window-width)
    (window-parameters (no-delete-other-windows . t))))

(defun opencode-chat-show (buffer)
  "Show chat BUFFER unless a window shows it; return its window, or nil.
A prompt was sent to it: as the TUI shows the conversation a prompt
goes to.  The selected window stays selected, showing what it showed.
`display-buffer' decides where, so `display-buffer-alist' comes
first; else a side window for `opencode-chat-display' `side', a frame
for `frame', and another window than the selected one otherwise."
  (or (get-buffer-window buffer 'visible)
      (display-buffer buffer
                      (pcase opencode-chat-display
                        ('side `(display-buffer-in-side-window ,@(opencode-chat--side-alist)))
                        ('frame '(display-buffer-pop-up-frame))
                        (_ '((display-buffer-reuse-window display-buffer-pop-up-window
                                                          display-buffer-use-some-window)
                             (inhibit-same-window . t)))))))

(defun opencode-chat--display (buffer)
  "Show chat BUFFER as `opencode-chat-display' says, and select it."
  (pcase opencode-chat-display
    ('same-window (pop-to-buffer-same-window buffer))
    ('split (pop-to-buffer buffer '((display-buffer-reuse-window
                                     display-buffer-pop-up-window)
                                    (inhibit-same-window . t))))
    ('side (select-window
            (display-buffer-in-side-window buffer (opencode-chat--side-alist))))
    ('full-frame
     (when (window-parameter nil 'window-side) (select-window (window-main-window)))
     (pop-to-buffer-same-window buffer)
     (delete-other-windows))
    ('frame (select-frame-set-input-focus
             (window-frame (display-buffer buffer '(display-buffer-pop-up-frame))))
            (select-window (get-buffer-window buffer)))
    (_ (pop-to-buffer buffer))))

;;;; Desktop

(defun opencode-chat--desktop-save (_directory)
  "Return what `desktop-save-mode' needs to reopen this chat."
  (list :directory (opencode-connection-directory opencode-chat--conn)
        :session (opencode-chat-session-id)
        :title (plist-get (opencode-chat-session) :title)))

;;;###autoload
(defun opencode-chat-desktop-restore (_file _name misc)
  "Reopen a chat saved by `desktop-save-mode'; MISC says which.
Return the chat buffer, or nil when it cannot be reopened."
  (condition-case err
      (save-window-excursion
        (opencode-chat-open (opencode-connect (plist-get misc :directory))
                            (list :id (plist-get misc :session)
                                  :title (plist-get misc :title))))
    (error (message "OpenCode: chat %s not restored: %s" (plist-get misc :title)
                    (opencode-error-text err))
           nil)))

;; Loading and the events, in files of their own, use what is above.
(require 'opencode-chat-load)
(require 'opencode-chat-events)

(provide 'opencode-chat)
;;; opencode-chat.el ends here

;;; opencode-chat-message.el --- How a chat draws its messages  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The messages of a chat buffer: each is a header line, its parts
;; under it.  The header says who wrote it and when, sums the tokens and
;; cost of a reply's steps (the server makes a message per step; they
;; read as one reply, the later steps' headers hidden), and says when a
;; reply was aborted or cut off by the server's end.  Adding, redrawing
;; and removing a message or a part of it: how a part itself is drawn
;; is in opencode-chat.el (its region) and opencode-parts.el (its
;; look), the text streamed into it in opencode-chat-stream.el.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'seq)
(require 'opencode-lib)
(require 'opencode-api)
(require 'opencode-model)
(require 'opencode-timeline)
(require 'opencode-parts)
(require 'opencode-markdown)

(defvar opencode-chat--conn)
(defvar opencode-chat--messages)
(defvar opencode-chat--parts)
(defvar opencode-chat--newest-reply)
(defvar opencode-chat--cut-off)
(defvar opencode-chat--replies)
(defvar opencode-chat--footer)
(defvar opencode-chat--loaded)
(defvar opencode-chat--backlog)
(defvar opencode-chat--deleted)
(defvar opencode-chat--missing)
(defvar opencode-chat--insert-at)
(defvar opencode-chat--thread-folds)
(declare-function opencode-chat-session-id "opencode-chat" (&optional buffer))
(declare-function opencode-chat-timeline "opencode-chat" (&optional buffer))
(declare-function opencode-chat--entry-part "opencode-chat" (entry))
(declare-function opencode-chat--render-part "opencode-chat" (part entry))
(declare-function opencode-chat--redraw-attachment "opencode-chat" (part))
(declare-function opencode-chat--respace "opencode-chat" (id))
(declare-function opencode-chat--fontify-later "opencode-chat-stream" (part-id))
(declare-function opencode-chat--refold-threads "opencode-chat-nav" ())


(defun opencode-chat--end-of-messages ()
  "Return where the next message goes: before the footer, if any."
  (if opencode-chat--footer (marker-position opencode-chat--footer) (point-max)))

(defun opencode-chat--interrupted-p (info)
  "Return non-nil if reply step INFO was cut off by the server's end.
Such a step is never done (no time.completed) nor failed, while its
session is idle or a later step shows (a session runs one step at a
time): the server died or was stopped during the reply, and what it
streamed before was never stored.  A step still streaming is not one
\(its session is busy), nor is one aborted (it has an error), nor the
last one shown while the connection is down (the status is unknown)."
  (and (equal (plist-get info :role) "assistant")
       (plist-get (plist-get info :time) :created)
       (not (plist-get (plist-get info :time) :completed))
       (not (plist-get info :error))
       opencode-chat--conn
       (or (and (opencode-store-status-known-p opencode-chat--conn)
                (not (opencode-store-busy-p opencode-chat--conn (opencode-chat-session-id))))
           (and opencode-chat--newest-reply
                (string< (plist-get info :id) opencode-chat--newest-reply)))))

(defun opencode-chat--redraw-unfinished (&optional except)
  "Redraw the headers of the reply steps shown that are not done.
The session's status changed, or a step came (EXCEPT, its id): such a
step was cut off if the session is now idle or a later step shows
\(`opencode-chat--interrupted-p'), and streams if not."
  (let (changed)
    (maphash (lambda (id entry)
               (let ((info (plist-get entry :info)))
                 ;; Only those whose header would say otherwise now: an
                 ;; old step cut off stays so, and is not drawn again.
                 (when (and (equal (plist-get info :role) "assistant")
                            (not (plist-get (plist-get info :time) :completed))
                            (not (equal id except))
                            (not (eq (and (opencode-chat--interrupted-p info) t)
                                     (gethash id opencode-chat--cut-off))))
                   (push info changed))))
             opencode-chat--messages)
    (mapc #'opencode-chat--update-message changed)))

(defun opencode-chat--message-header (info)
  "Return the header line of message INFO, marked if not sent yet.
A message a slash command made says so on a dim line of its own; a
reply cut off by the server's end says that its text was lost."
  (concat (opencode-parts-message-header info)
          (if (not (opencode-chat--interrupted-p info))
              (progn (remhash (plist-get info :id) opencode-chat--cut-off) "")
            (puthash (plist-get info :id) t opencode-chat--cut-off)
            (propertize "\n  Interrupted: the server stopped during this reply, \
and the text shown before it stopped was not kept."
                        'face 'opencode-chat-dim))
          (pcase (plist-get info :opencode-pending)
            ('nil "")
            ('failed (propertize "  not sent" 'face 'opencode-chat-error))
            (_ (propertize "  sending…" 'face 'opencode-chat-dim)))
          ;; A slash command's prompt says it, dimly (command.executed).
          (pcase (let ((timeline (opencode-chat-timeline)))
                   (and timeline (opencode-timeline-command timeline (plist-get info :id))))
            (`(,name . ,args)
             (propertize (format "\n  ran /%s%s" name
                                 (if (string-empty-p (string-trim (or args ""))) ""
                                   (concat " " (opencode--first-line args 60))))
                         'face 'opencode-chat-dim))
            (_ ""))))

(defun opencode-chat--prompt-of (info)
  "Return the id of the prompt message INFO replies to, or nil."
  (let ((p (plist-get info :parentID)))
    (and (equal (plist-get info :role) "assistant") (stringp p) p)))

(defun opencode-chat--note-reply (info)
  "Record message INFO among the replies to its prompt."
  (let ((p (opencode-chat--prompt-of info))
        (id (plist-get info :id)))
    (when (and (equal (plist-get info :role) "assistant")
               (not (and opencode-chat--newest-reply (string< id opencode-chat--newest-reply))))
      (setq opencode-chat--newest-reply id))
    (when p
      (let ((ids (gethash p opencode-chat--replies)))
        (unless (member id ids)
          (puthash p (sort (cons id (copy-sequence ids)) #'string<) opencode-chat--replies))))))

(defun opencode-chat--continuation-p (info)
  "Return non-nil if INFO is a later step of a reply: its header is hidden.
A step that failed keeps its header, which says why; one the user
stopped does not: the first step's header says \"Aborted\".  A step
cut off by the server's end keeps its header too: it says so."
  (let* ((p (opencode-chat--prompt-of info))
         (first (and p (car (gethash p opencode-chat--replies))))
         (err (plist-get info :error)))
    (and first (not (equal first (plist-get info :id)))
         (or (not err) (opencode-api-aborted-p err))
         (not (opencode-chat--interrupted-p info)))))

(defun opencode-chat--stopped-p (info)
  "Return non-nil if reply step INFO was stopped before anything came.
The server stores no error on a reply aborted while it waited to retry
\(nor on one aborted before the model's first word): such a step is
done, with no reason to end (no :finish), no error and no part drawn."
  (and (equal (plist-get info :role) "assistant")
       (plist-get (plist-get info :time) :completed)
       (not (plist-get info :error))
       (not (stringp (plist-get info :finish)))
       (let ((entry (gethash (plist-get info :id) opencode-chat--messages)))
         (cl-every (lambda (id)
                     (member (plist-get (plist-get (gethash id opencode-chat--parts) :part) :type)
                             '("step-start" nil)))
                   (plist-get entry :parts)))))

(defun opencode-chat--header-info (info)
  "Return INFO with the tokens and cost of every step of its reply.
Only the first step's header shows; it speaks for all of them, and
says \"Aborted\" when one of them was stopped by the user."
  (let* ((p (opencode-chat--prompt-of info))
         (ids (and p (gethash p opencode-chat--replies)))
         (steps (mapcar (lambda (id)
                          (if (equal id (plist-get info :id)) info
                            (plist-get (gethash id opencode-chat--messages) :info)))
                        (or ids (list (plist-get info :id)))))
         (info (if (cl-some (lambda (i) (or (opencode-api-aborted-p (plist-get i :error))
                                            (opencode-chat--stopped-p i)))
                            steps)
                   (append (list :opencode-aborted t) info)
                 info)))
    (if (not (cdr ids))
        info
      (let ((sum (list 0 0 0 0 0)) (cost 0))
        (dolist (id ids)
          (let* ((i (if (equal id (plist-get info :id)) info
                      (plist-get (gethash id opencode-chat--messages) :info)))
                 (tk (plist-get i :tokens))
                 (cache (plist-get tk :cache)))
            (cl-loop for v in (list (plist-get tk :input) (plist-get tk :output)
                                    (plist-get tk :reasoning) (plist-get cache :read)
                                    (plist-get cache :write))
                     for cell on sum
                     when (numberp v) do (setcar cell (+ (car cell) v)))
            (when (numberp (plist-get i :cost)) (setq cost (+ cost (plist-get i :cost))))))
        (append (list :tokens (list :input (nth 0 sum) :output (nth 1 sum) :reasoning (nth 2 sum)
                                    :cache (list :read (nth 3 sum) :write (nth 4 sum)))
                      :cost cost)
                info)))))

(defun opencode-chat--draw-header (beg info)
  "Insert at BEG the header of message INFO; return where it ends.
The header of a later step of a reply is empty, and its line hidden."
  (goto-char beg)
  (let ((hidden (opencode-chat--continuation-p info)))
    (insert (propertize (if hidden "" (opencode-chat--message-header
                                       (opencode-chat--header-info info)))
                        'opencode-header (not hidden)))
    (when (< (point) (point-max))
      (put-text-property (point) (1+ (point)) 'invisible (and hidden 'opencode-empty)))
    (point)))

(defun opencode-chat--redraw-first-reply (info)
  "Redraw the header of the first step of the reply INFO belongs to.
It sums the steps, and another step came or changed."
  (let* ((p (opencode-chat--prompt-of info))
         (first (and p (car (gethash p opencode-chat--replies))))
         (entry (and first (not (equal first (plist-get info :id)))
                     (gethash first opencode-chat--messages))))
    (when entry
      (opencode-chat--update-message (plist-get entry :info)))))

(defvar-local opencode-chat--hint nil
  "Overlay showing what to do in an empty chat, or nil.")

(defun opencode-chat-empty-p (&optional buffer)
  "Return t if chat BUFFER (default: the current one) has no message yet.
Return nil if it has, `unknown' while its first page is being loaded."
  (with-current-buffer (or buffer (current-buffer))
    (cond ((not opencode-chat--loaded) 'unknown)
          ((and (zerop (hash-table-count opencode-chat--messages))
                (null opencode-chat--backlog))
           t))))

(defun opencode-chat--show-hint ()
  "Say what can be done in this chat if it is empty, or say nothing."
  (when opencode-chat--hint
    (delete-overlay opencode-chat--hint)
    (setq opencode-chat--hint nil))
  (when (and (zerop (hash-table-count opencode-chat--messages))
             (null opencode-chat--backlog) (null opencode-chat--deleted)
             (null opencode-chat--missing))
    (setq opencode-chat--hint (make-overlay (point-min) (point-min)))
    (overlay-put opencode-chat--hint 'before-string
                 (propertize
                  (substitute-command-keys
                   "An empty session.  \\<opencode-chat-mode-map>\\[opencode-chat-prompt] writes a prompt; \\[opencode-chat-init] runs /init: the agent reads the project and writes AGENTS.md (a model turn: it costs tokens).\n")
                  'face 'opencode-chat-dim))))

(defun opencode-chat--insert-message (info)
  "Insert message INFO at the end of the buffer, with no parts yet."
  (when opencode-chat--hint
    (delete-overlay opencode-chat--hint)
    (setq opencode-chat--hint nil))
  (let ((inhibit-read-only t)
        (id (plist-get info :id)))
    (opencode-chat--note-reply info)
    (save-excursion
      (goto-char (or opencode-chat--insert-at (opencode-chat--end-of-messages)))
      (let ((beg (copy-marker (point)))
            header-end)
        ;; The header's newline, then the newline that separates this
        ;; message from the next; parts go between the two.
        (insert "\n\n")
        (setq header-end (copy-marker (opencode-chat--draw-header beg info)))
        (let ((end (copy-marker (+ header-end 1) t)))
          (put-text-property beg end 'opencode-message id)
          (puthash id (list :info info :beg beg :header-end header-end :end end :parts nil)
                   opencode-chat--messages))))
    (opencode-chat--respace id)
    ;; The first step's header sums the steps; a step drawn above it
    ;; (older, from the backlog) takes its place.
    (let* ((p (opencode-chat--prompt-of info))
           (ids (and p (gethash p opencode-chat--replies))))
      (if (equal (car ids) id)
          (when (cadr ids)
            (opencode-chat--update-message (plist-get (gethash (cadr ids) opencode-chat--messages) :info)))
        (opencode-chat--redraw-first-reply info)))
    (when opencode-chat--thread-folds (opencode-chat--refold-threads))))

(defun opencode-chat--older-than-shown-p (message-id)
  "Return non-nil if MESSAGE-ID is older than every message shown.
Such a message belongs to a page not loaded; its events are ignored.
Ids are time-ordered, so comparing them compares creation times."
  (let ((oldest nil))
    (maphash (lambda (id _) (when (or (null oldest) (string< id oldest)) (setq oldest id)))
             opencode-chat--messages)
    (and oldest (or (let ((timeline (opencode-chat-timeline)))
                      (and timeline (opencode-timeline-more timeline)))
                    opencode-chat--backlog)
         (string< message-id oldest))))

(defun opencode-chat--update-message (info)
  "Add message INFO, or redraw the header of a known one."
  (let ((entry (gethash (plist-get info :id) opencode-chat--messages)))
    (cond
     ((and (not entry) (opencode-chat--older-than-shown-p (plist-get info :id))))
     ((not entry)
      (opencode-chat--insert-message info))
     (t
      (puthash (plist-get info :id) (plist-put entry :info info) opencode-chat--messages)
      (opencode-chat--note-reply info)
      (let ((inhibit-read-only t))
        (save-excursion
          (delete-region (plist-get entry :beg) (plist-get entry :header-end))
          (set-marker (plist-get entry :header-end)
                      (opencode-chat--draw-header (plist-get entry :beg) info))
          (put-text-property (plist-get entry :beg) (plist-get entry :header-end) 'opencode-message
                             (plist-get info :id))))
      (opencode-chat--respace (plist-get info :id))
      (opencode-chat--redraw-first-reply info)))))

(defun opencode-chat--streamed-as-is-p (part entry)
  "Return the text ENTRY shows if text PART says it already, else nil.
That is a reply's text whose deltas were all appended in place: only
its last Markdown pass is still to come.  A copy the server sends
while the text still streams may say less than is shown, the deltas
since it was taken shown already: that is the shown text too; a
finished one must say the same."
  (and (equal (plist-get part :type) "text")
       (not (opencode-parts-synthetic-p part))
       (plist-get entry :stable)
       (let* ((shown (opencode-chat--entry-part entry))
              (text (plist-get shown :text)))
         (and (equal (plist-get shown :type) "text")
              (not (opencode-parts-synthetic-p shown))
              (stringp text)
              (or (equal text (plist-get part :text))
                  (and (not (plist-get (plist-get part :time) :end))
                       (stringp (plist-get part :text))
                       (string-prefix-p (plist-get part :text) text)))
              text))))

(defun opencode-chat--update-part (part)
  "Add PART to its message, or redraw it if known.
A part of a message older than the page shown is ignored."
  (let* ((id (plist-get part :id))
         (mid (plist-get part :messageID))
         (entry (gethash id opencode-chat--parts))
         (msg (gethash mid opencode-chat--messages))
         (shown (and entry (opencode-chat--streamed-as-is-p part entry))))
    (cond
     (shown
      ;; The server's copy of a text streamed here says what is shown:
      ;; no redraw (a 30,000-character reply's whole Markdown pass), only
      ;; the pass from its last stable boundary.
      (plist-put entry :part (plist-put (copy-sequence part) :text shown))
      (opencode-chat--fontify-later id))
     (entry (puthash id (opencode-chat--render-part part entry) opencode-chat--parts)
            (opencode-chat--redraw-attachment part))
     ((and (not msg) (opencode-chat--older-than-shown-p mid)))
     (t
      (unless msg
        ;; A part before its message: make a placeholder message.
        (opencode-chat--insert-message
         (list :id mid :role "assistant" :sessionID (plist-get part :sessionID)))
        (setq msg (gethash mid opencode-chat--messages)))
      (let ((inhibit-read-only t))
        (save-excursion
          (goto-char (plist-get msg :end))
          (let* ((beg (copy-marker (point)))
                 (end (copy-marker (point) t))
                 (new (list :beg beg :end end)))
            ;; The separator after the part, owned by no part.
            (insert "\n")
            (set-marker end (1- (point)))
            (set-marker beg (1- (point)))
            (setq new (opencode-chat--render-part part new))
            (puthash id new opencode-chat--parts)
            (puthash mid (plist-put msg :parts (append (plist-get msg :parts) (list id)))
                     opencode-chat--messages))
          (opencode-chat--redraw-attachment part))
        ;; A step done with no reason to end said "Aborted" while it had
        ;; no part (`opencode-chat--stopped-p'): it has one now.
        (let ((info (plist-get msg :info)))
          (when (and (plist-get (plist-get info :time) :completed)
                     (not (stringp (plist-get info :finish)))
                     (not (equal (plist-get part :type) "step-start")))
            (opencode-chat--update-message info))))))))

(defun opencode-chat--remove-part (id)
  "Remove part ID from the buffer."
  (when-let ((entry (gethash id opencode-chat--parts)))
    (let ((inhibit-read-only t))
      (delete-region (plist-get entry :beg) (1+ (plist-get entry :end))))
    (remhash id opencode-chat--parts)))

(defun opencode-chat--remove-message (id)
  "Remove message ID and its parts from the buffer."
  (when-let ((entry (gethash id opencode-chat--messages)))
    (let ((p (opencode-chat--prompt-of (plist-get entry :info))))
      (when p (puthash p (remove id (gethash p opencode-chat--replies)) opencode-chat--replies)))
    (dolist (p (plist-get entry :parts)) (remhash p opencode-chat--parts))
    (let ((inhibit-read-only t))
      (delete-region (plist-get entry :beg) (1+ (plist-get entry :end))))
    (remhash id opencode-chat--messages)
    (remhash id opencode-chat--cut-off)
    (when (equal id opencode-chat--newest-reply)
      (setq opencode-chat--newest-reply nil)
      (maphash (lambda (other e)
                 (when (and (equal (plist-get (plist-get e :info) :role) "assistant")
                            (not (and opencode-chat--newest-reply
                                      (string< other opencode-chat--newest-reply))))
                   (setq opencode-chat--newest-reply other)))
               opencode-chat--messages))))

(provide 'opencode-chat-message)
;;; opencode-chat-message.el ends here

;;; opencode-timeline.el --- A session's messages and parts, as they stream  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The chat's own model.  A timeline is one session's messages, oldest
;; first, each an `opencode-message' with its `opencode-part's in the
;; order they came, each part with its whole text, the text streamed
;; in `message.part.delta's included.  The store of a connection holds
;; the timelines (`opencode-store-timelines'), one per session someone
;; looks at: a chat opens its session's timeline
;; (`opencode-timeline-open') and closes it when it goes, so a server's
;; other sessions cost nothing.  Who wants a session's messages with no
;; chat open (an export) loads them (`opencode-timeline-load'), and
;; the timeline so made is not kept.
;;
;; The handlers below run at depth 0, before the views (see
;; opencode-events.el), for the events of the sessions that have a
;; timeline: a chat reads a timeline that already holds the event.
;; Streamed text is kept as a list of chunks and joined when it is
;; read (`opencode-part-text'), so a long reply costs linear time.
;;
;; The chat draws the timeline: its sections (opencode-chat-section.el)
;; hold only where each message and part is drawn, and look the rest
;; up here.  Copy and export (opencode-chat-export.el) read the
;; timeline too, never the chat's text.

;;; Code:

(require 'cl-lib)
(require 'seq)
(require 'opencode-lib)
(require 'opencode-events)
(require 'opencode-connection)
(require 'opencode-api)
(require 'opencode-model)

;;;; The struct

(cl-defstruct (opencode-timeline (:constructor opencode-timeline--make)
                                 (:copier nil))
  "One session's messages, oldest first, as far as they were loaded."
  (session-id nil :documentation "The session's id.")
  (messages (make-hash-table :test 'equal)
            :documentation "Message id -> its `opencode-message'.")
  (order nil :documentation "The ids of `messages', oldest first.")
  (parts (make-hash-table :test 'equal)
         :documentation "Part id -> its `opencode-part'.")
  (reply-index (make-hash-table :test 'equal)
               :documentation "Prompt id -> the ids of the replies to it held,
oldest first: the server makes a reply message per step of the agent.")
  (more nil :documentation "The server's cursor to the messages older than
those held, or nil when the oldest is held (the header x-next-cursor of
GET /session/:id/message).")
  (commands nil :documentation "Hash table, or nil: prompt id -> (NAME .
ARGUMENTS) of the slash command that made it (from command.executed,
which names the command's last reply)."))

;;;; Parts and messages

(defun opencode-part-text (part)
  "Return the whole text of PART, an `opencode-part', the streamed text included.
The chunks streamed since the last read are joined into its :text now."
  (let ((chunks (opencode-part-chunks part))
        (data (opencode-part-data part)))
    (when chunks
      (let ((old (plist-get data :text)))
        (setf (opencode-part-data part)
              (plist-put data :text (apply #'concat (if (stringp old) old "")
                                           (nreverse chunks)))
              (opencode-part-chunks part) nil)))
    (plist-get (opencode-part-data part) :text)))

(defun opencode-part-plist (part)
  "Return PART, an `opencode-part', as the server's plist with its whole text."
  (opencode-part-text part)
  (opencode-part-data part))

(defun opencode-part-status (part)
  "Return where PART, an `opencode-part', stands: a symbol.
A tool's status as the server says it (`pending', `running',
`completed', `error'); for text and reasoning, `streaming' until the
server says it ended (or while text streams in), then `completed'."
  (let ((data (opencode-part-data part)))
    (pcase (opencode-part-type part)
      ("tool" (let ((s (plist-get (plist-get data :state) :status)))
                (if (stringp s) (intern s) 'pending)))
      ((or "text" "reasoning")
       (let ((time (plist-get data :time)))
         (if (or (opencode-part-chunks part)
                 (and (consp time) (plist-get time :start) (not (plist-get time :end))))
             'streaming
           'completed)))
      (_ 'completed))))

(defun opencode-message-status (message)
  "Return where MESSAGE, an `opencode-message', stands: a symbol.
`pending' (sent from here, not yet echoed by the server), `error' (a
reply that ended in an error, an abort included), `streaming' (a reply
not done) or `completed'."
  (let ((info (opencode-message-data message)))
    (cond ((plist-get info :opencode-pending) 'pending)
          ((opencode-message-error message) 'error)
          ((and (equal (opencode-message-role message) "assistant")
                (not (plist-get (plist-get info :time) :completed)))
           'streaming)
          (t 'completed))))

(defun opencode-timeline-message-plist (message)
  "Return MESSAGE, an `opencode-message', as (:info INFO :parts PARTS).
INFO and each part are the server's plists, each part with its whole text."
  (list :info (opencode-message-data message)
        :parts (mapcar #'opencode-part-plist (opencode-message-parts message))))

;;;; The timelines of a connection

(defun opencode-timeline (conn session-id)
  "Return the timeline of SESSION-ID on CONN, or nil if none is open."
  (gethash session-id (opencode-store-timelines (opencode-store conn))))

(defun opencode-timeline-open (conn session-id)
  "Return the timeline of SESSION-ID on CONN, made empty if there is none.
From now on the events of the session update it, until
`opencode-timeline-close'."
  (let ((table (opencode-store-timelines (opencode-store conn))))
    (or (gethash session-id table)
        (puthash session-id (opencode-timeline--make :session-id session-id) table))))

(defun opencode-timeline-close (conn session-id)
  "Forget the timeline of SESSION-ID on CONN: no one looks at it."
  (remhash session-id (opencode-store-timelines (opencode-store conn))))

;;;; Reading a timeline

(defun opencode-timeline-message (timeline id)
  "Return the `opencode-message' ID of TIMELINE, or nil."
  (gethash id (opencode-timeline-messages timeline)))

(defun opencode-timeline-part (timeline id)
  "Return the `opencode-part' ID of TIMELINE, or nil."
  (gethash id (opencode-timeline-parts timeline)))

(defun opencode-timeline-message-list (timeline)
  "Return the `opencode-message's of TIMELINE, oldest first."
  (let ((table (opencode-timeline-messages timeline)))
    (mapcar (lambda (id) (gethash id table)) (opencode-timeline-order timeline))))

(defun opencode-timeline-plists (timeline)
  "Return the messages of TIMELINE, oldest first, as (:info INFO :parts PARTS).
INFO and each part are the server's plists, with the text streamed
since included: what `opencode-chat-export' writes."
  (mapcar #'opencode-timeline-message-plist (opencode-timeline-message-list timeline)))

(defun opencode-timeline-pending (timeline)
  "Return the prompts of TIMELINE sent from here that the server has not echoed.
As (:info INFO :parts PARTS), oldest first."
  (cl-loop for m in (opencode-timeline-message-list timeline)
           when (eq (opencode-message-status m) 'pending)
           collect (opencode-timeline-message-plist m)))

(defun opencode-timeline-reply-to (timeline prompt-id)
  "Return the first reply of TIMELINE to the prompt PROMPT-ID, or nil.
An `opencode-message' of the assistant whose parent is PROMPT-ID."
  (cl-loop for m in (opencode-timeline-message-list timeline)
           when (and (equal (opencode-message-role m) "assistant")
                     (equal (opencode-message-parent-id m) prompt-id))
           return m))

(defun opencode-timeline-command (timeline message-id)
  "Return (NAME . ARGUMENTS) of the slash command that made MESSAGE-ID, or nil.
MESSAGE-ID is a prompt of TIMELINE."
  (let ((table (opencode-timeline-commands timeline)))
    (and table (gethash message-id table))))

(defun opencode-timeline-older-p (timeline message-id)
  "Return non-nil if MESSAGE-ID is older than the messages TIMELINE holds.
Such a message belongs to a page not loaded (TIMELINE has more); its
events are ignored.  Ids are time-ordered."
  (let ((oldest (car (opencode-timeline-order timeline))))
    (and oldest (opencode-timeline-more timeline)
         (string< message-id oldest))))

;;;; Changing a timeline

(defvar opencode-timeline--revision 0
  "The revision given last to a part whose text was made or replaced.
Every part held has its own (`opencode-part-revision'), so a view that
drew a part at its revision shows its text, with the deltas since.")

(defun opencode-timeline--insert-id (timeline id)
  "Put message ID among TIMELINE's ids, in order of time."
  (let ((order (opencode-timeline-order timeline)))
    (cond ((or (null order) (string< id (car order)))
           (push id (opencode-timeline-order timeline)))
          (t (let ((cell order))
               ;; Mostly the newest: it goes last.
               (while (and (cdr cell) (not (string< id (cadr cell))))
                 (setq cell (cdr cell)))
               (setcdr cell (cons id (cdr cell))))))))

(defun opencode-timeline-put-message (timeline info)
  "Add the message INFO (the server's plist) to TIMELINE, or update it.
Return its `opencode-message'."
  (let* ((id (plist-get info :id))
         (old (gethash id (opencode-timeline-messages timeline)))
         (new (opencode-message-from-plist info)))
    (when old (opencode-timeline--forget-reply timeline old))
    (opencode-timeline--note-reply timeline new)
    (if old
        (progn (setf (opencode-message-role old) (opencode-message-role new)
                     (opencode-message-parent-id old) (opencode-message-parent-id new)
                     (opencode-message-error old) (opencode-message-error new)
                     (opencode-message-data old) info)
               old)
      (opencode-timeline--insert-id timeline id)
      (puthash id new (opencode-timeline-messages timeline)))))

(defun opencode-timeline--reply-parent (message)
  "Return the id of the prompt MESSAGE replies to, or nil."
  (and (equal (opencode-message-role message) "assistant")
       (opencode-message-parent-id message)))

(defun opencode-timeline--note-reply (timeline message)
  "Count MESSAGE among the replies to its prompt in TIMELINE, if a reply."
  (let ((p (opencode-timeline--reply-parent message))
        (table (opencode-timeline-reply-index timeline)))
    (when p
      (let ((ids (gethash p table)) (id (opencode-message-id message)))
        (unless (member id ids)
          (puthash p (sort (cons id (copy-sequence ids)) #'string<) table))))))

(defun opencode-timeline--forget-reply (timeline message)
  "Take MESSAGE out of the replies to its prompt in TIMELINE."
  (let ((p (opencode-timeline--reply-parent message))
        (table (opencode-timeline-reply-index timeline)))
    (when p
      (let ((ids (remove (opencode-message-id message) (gethash p table))))
        (if ids (puthash p ids table) (remhash p table))))))

(defun opencode-timeline-replies (timeline prompt-id)
  "Return the ids of the replies of TIMELINE to PROMPT-ID, oldest first.
Each step of the agent is a reply message of its own."
  (gethash prompt-id (opencode-timeline-reply-index timeline)))

(defun opencode-timeline--kept-text (old plist)
  "Return the text OLD, an `opencode-part', holds if PLIST only says less of it.
The server sends a copy of a text part now and then while it streams:
behind the deltas already merged, it is a prefix of what OLD holds.
Nil when PLIST is to be taken as it is (a finished part must say the
whole text)."
  (and (member (plist-get plist :type) '("text" "reasoning"))
       (not (plist-get (plist-get plist :time) :end))
       (stringp (plist-get plist :text))
       (let ((text (opencode-part-text old)))
         (and (stringp text)
              (> (length text) (length (plist-get plist :text)))
              (string-prefix-p (plist-get plist :text) text)
              text))))

(defun opencode-timeline-put-part (timeline plist)
  "Add the part PLIST (the server's) to its message in TIMELINE, or update it.
A part of a message not held is given a placeholder message.  Return
its `opencode-part'."
  (let* ((id (plist-get plist :id))
         (mid (plist-get plist :messageID))
         (old (gethash id (opencode-timeline-parts timeline)))
         (data (copy-sequence plist)))
    (if old
        (let* ((kept (opencode-timeline--kept-text old plist))
               (same (and (equal (opencode-part-type old) (plist-get plist :type))
                          (or kept (equal (opencode-part-text old) (plist-get plist :text))))))
          (setf (opencode-part-data old) (if kept (plist-put data :text kept) data)
                (opencode-part-type old) (plist-get plist :type)
                (opencode-part-chunks old) nil
                (opencode-part-fresh old) 0)
          ;; A view that drew the text as it is now need not draw it again.
          (unless same (setf (opencode-part-revision old) (cl-incf opencode-timeline--revision)))
          old)
      (let ((msg (or (opencode-timeline-message timeline mid)
                     (opencode-timeline-put-message
                      timeline (list :id mid :role "assistant"
                                     :sessionID (plist-get plist :sessionID)))))
            (part (opencode-part-from-plist data)))
        (setf (opencode-part-revision part) (cl-incf opencode-timeline--revision))
        (setf (opencode-message-parts msg) (append (opencode-message-parts msg) (list part)))
        (puthash id part (opencode-timeline-parts timeline))))))

(defconst opencode-timeline--chunks-merged 256
  "Streamed chunks of a part joined into one string as they come.
A part's chunks stay live until it is read; joining every so many
keeps the garbage collector's work per collection small under a flood
of deltas, at a cost linear in the text.")

(defun opencode-timeline--keep-chunk (part text)
  "Keep TEXT, streamed into PART (an `opencode-part'), among its chunks.
The newest `opencode-timeline--chunks-merged' chunks are joined into one."
  (let ((chunks (cons text (opencode-part-chunks part)))
        (fresh (1+ (opencode-part-fresh part))))
    (when (>= fresh opencode-timeline--chunks-merged)
      (let ((tail (nthcdr fresh chunks)))
        (setcdr (nthcdr (1- fresh) chunks) nil)
        (setq chunks (cons (apply #'concat (nreverse chunks)) tail)
              fresh 0)))
    (setf (opencode-part-fresh part) fresh
          (opencode-part-chunks part) chunks)))

(defun opencode-timeline-append (timeline part-id field text)
  "Append TEXT to FIELD (a string, \"text\") of part PART-ID of TIMELINE.
A part not held is left alone: its next update brings its text."
  (let ((part (opencode-timeline-part timeline part-id)))
    (when part
      (if (equal field "text")
          (opencode-timeline--keep-chunk part text)
        (let* ((key (intern (concat ":" field)))
               (old (plist-get (opencode-part-data part) key)))
          (setf (opencode-part-data part)
                (plist-put (opencode-part-data part) key
                           (concat (if (stringp old) old "") text))))))))

(defun opencode-timeline-remove-part (timeline id)
  "Take part ID out of TIMELINE."
  (let ((part (opencode-timeline-part timeline id)))
    (when part
      (remhash id (opencode-timeline-parts timeline))
      (let ((msg (opencode-timeline-message timeline (opencode-part-message-id part))))
        (when msg
          (setf (opencode-message-parts msg) (delq part (opencode-message-parts msg))))))))

(defun opencode-timeline-remove-message (timeline id)
  "Take message ID and its parts out of TIMELINE."
  (let ((msg (opencode-timeline-message timeline id)))
    (when msg
      (dolist (p (opencode-message-parts msg))
        (remhash (opencode-part-id p) (opencode-timeline-parts timeline)))
      (opencode-timeline--forget-reply timeline msg)
      (remhash id (opencode-timeline-messages timeline))
      (setf (opencode-timeline-order timeline) (delete id (opencode-timeline-order timeline))))))

(defun opencode-timeline-add (timeline messages)
  "Add MESSAGES, a sequence of (:info INFO :parts PARTS), to TIMELINE.
Each with its parts, as the server sends them (GET /session/:id/message);
a message held already is replaced."
  (seq-doseq (m messages)
    (let ((info (plist-get m :info)))
      (opencode-timeline-remove-message timeline (plist-get info :id))
      (opencode-timeline-put-message timeline info)
      (seq-doseq (p (plist-get m :parts))
        (opencode-timeline-put-part timeline p)))))

(defun opencode-timeline-fill (timeline messages)
  "Make TIMELINE hold MESSAGES, a sequence of (:info :parts), and no others.
Prompts sent from here and not yet echoed stay (`opencode-timeline-pending')."
  (let ((pending (opencode-timeline-pending timeline))
        (folds nil))
    (maphash (lambda (id p) (when (opencode-part-fold p) (push (cons id (opencode-part-fold p)) folds)))
             (opencode-timeline-parts timeline))
    (clrhash (opencode-timeline-messages timeline))
    (clrhash (opencode-timeline-parts timeline))
    (clrhash (opencode-timeline-reply-index timeline))
    (setf (opencode-timeline-order timeline) nil)
    (opencode-timeline-add timeline messages)
    (dolist (m pending)
      (unless (opencode-timeline-message timeline (plist-get (plist-get m :info) :id))
        (opencode-timeline-add timeline (list m))))
    ;; The user's folds stay.
    (pcase-dolist (`(,id . ,fold) folds)
      (let ((p (opencode-timeline-part timeline id)))
        (when p (setf (opencode-part-fold p) fold))))))

(defun opencode-timeline-set-command (timeline reply-id name arguments)
  "Record that the slash command NAME ran with ARGUMENTS, ending with REPLY-ID.
It is kept for the prompt REPLY-ID answers (or REPLY-ID itself when
TIMELINE does not know it).  Return that prompt's id."
  (let* ((reply (opencode-timeline-message timeline reply-id))
         (prompt (or (and reply (equal (opencode-message-role reply) "assistant")
                          (opencode-message-parent-id reply))
                     reply-id)))
    (unless (opencode-timeline-commands timeline)
      (setf (opencode-timeline-commands timeline) (make-hash-table :test 'equal)))
    (puthash prompt (cons name arguments) (opencode-timeline-commands timeline))
    prompt))

;;;; Loading one from the server

(defun opencode-timeline-load (conn session-id &optional limit)
  "Return a timeline of SESSION-ID on CONN with every message, from the server.
Synchronously, a page of LIMIT messages (default 200) at a time,
newest first.  The timeline is not kept: for a session no chat shows
\(an export), so no event updates it."
  (let ((timeline (opencode-timeline--make :session-id session-id))
        (before nil) (pages nil))
    (while (let ((reply (opencode-api-session-messages
                         conn session-id :limit (or limit 200) :before before
                         :full t :sync t)))
             (push (opencode-reply-data reply) pages)
             (setq before (opencode-reply-header reply "x-next-cursor"))))
    (dolist (page pages) (opencode-timeline-add timeline page))
    timeline))

;;;; The events

(defun opencode-timeline--of (conn props)
  "Return the timeline of the session of event PROPS on CONN, or nil."
  (let ((sid (or (plist-get props :sessionID)
                 (plist-get (plist-get props :info) :sessionID)
                 (plist-get (plist-get props :part) :sessionID))))
    (and (stringp sid) (opencode-timeline conn sid))))

(opencode-defevent opencode-timeline--on-message "message.updated" (conn props)
  "Add the message of PROPS to its timeline on CONN, or update it."
  :depth 0
  (let ((tl (opencode-timeline--of conn props))
        (info (plist-get props :info)))
    (when (and tl (not (and (not (opencode-timeline-message tl (plist-get info :id)))
                            (opencode-timeline-older-p tl (plist-get info :id)))))
      (opencode-timeline-put-message tl info))))

(opencode-defevent opencode-timeline--on-message-removed "message.removed" (conn props)
  "Take the message of PROPS out of its timeline on CONN."
  :depth 0
  (let ((tl (opencode-timeline--of conn props)))
    (when tl (opencode-timeline-remove-message tl (plist-get props :messageID)))))

(opencode-defevent opencode-timeline--on-part "message.part.updated" (conn props)
  "Add the part of PROPS to its message's timeline on CONN, or update it."
  :depth 0
  (let* ((tl (opencode-timeline--of conn props))
         (part (plist-get props :part))
         (mid (plist-get part :messageID)))
    (when (and tl (or (opencode-timeline-part tl (plist-get part :id))
                      (opencode-timeline-message tl mid)
                      (not (opencode-timeline-older-p tl mid))))
      (opencode-timeline-put-part tl part))))

(opencode-defevent opencode-timeline--on-part-removed "message.part.removed" (conn props)
  "Take the part of PROPS out of its timeline on CONN."
  :depth 0
  (let ((tl (opencode-timeline--of conn props)))
    (when tl (opencode-timeline-remove-part tl (plist-get props :partID)))))

(opencode-defdelta opencode-timeline--on-delta (conn session _message part field text)
  "Append TEXT to FIELD of PART in the timeline of SESSION on CONN, if open."
  :depth 0
  (let ((tl (opencode-timeline conn session)))
    (when tl (opencode-timeline-append tl part field text))))

(opencode-defevent opencode-timeline--on-command "command.executed" (conn props)
  "Record the slash command of PROPS in its session's timeline on CONN."
  :depth 0
  (let ((tl (opencode-timeline--of conn props))
        (mid (plist-get props :messageID)))
    (when (and tl (stringp mid))
      (opencode-timeline-set-command tl mid (plist-get props :name)
                                     (plist-get props :arguments)))))

(provide 'opencode-timeline)
;;; opencode-timeline.el ends here
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
;; and removing a message or a part of it, each a section of its own
;; (opencode-chat-section.el) that draws what the timeline holds: how a
;; part itself is drawn is in opencode-chat-part.el (its region) and
;; opencode-parts.el (its look), the text streamed into it in
;; opencode-chat-stream.el.

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
(require 'opencode-chat-section)
(require 'opencode-chat-part)
(require 'opencode-chat-stream)
(require 'opencode-chat-nav)

(defvar opencode-chat--footer)
(defvar opencode-chat--loaded)
(defvar opencode-chat--backlog)
(defvar opencode-chat--deleted)
(defvar opencode-chat--missing)


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
           (let ((newest (opencode-chat--newest-reply)))
             (and newest (string< (plist-get info :id) newest))))))

(defun opencode-chat--redraw-unfinished (&optional except)
  "Redraw the headers of the reply steps shown that are not done.
The session's status changed, or a step came (EXCEPT, its id): such a
step was cut off if the session is now idle or a later step shows
\(`opencode-chat--interrupted-p'), and streams if not."
  (let (changed)
    (dolist (section (opencode-chat--message-sections))
      (let* ((id (opencode-chat-section-id section))
             (info (opencode-chat--info id)))
        ;; Only those whose header would say otherwise now: an old step
        ;; cut off stays so, and is not drawn again.
        (when (and (equal (plist-get info :role) "assistant")
                   (not (plist-get (plist-get info :time) :completed))
                   (not (equal id except))
                   (not (eq (and (opencode-chat--interrupted-p info) t)
                            (opencode-chat-message-section-cut-off section))))
          (push id changed))))
    (mapc #'opencode-chat--update-message changed)))

(defun opencode-chat--message-header (info)
  "Return the header line of message INFO, marked if not sent yet.
A message a slash command made says so on a dim line of its own; a
reply cut off by the server's end says that its text was lost."
  (concat (opencode-parts-message-header info)
          (if (not (opencode-chat--interrupted-p info))
              ""
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

(defun opencode-chat--continuation-p (info)
  "Return non-nil if INFO is a later step of a reply: its header is hidden.
A step that failed keeps its header, which says why; one the user
stopped does not: the first step's header says \"Aborted\".  A step
cut off by the server's end keeps its header too: it says so."
  (let* ((p (opencode-chat--prompt-of info))
         (first (and p (car (opencode-chat--replies p))))
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
       (cl-every (lambda (p) (equal (opencode-part-type p) "step-start"))
                 (opencode-chat--drawn-parts (plist-get info :id)))))

(defun opencode-chat--header-info (info)
  "Return INFO with the tokens and cost of every step of its reply.
Only the first step's header shows; it speaks for all of them, and
says \"Aborted\" when one of them was stopped by the user."
  (let* ((p (opencode-chat--prompt-of info))
         (ids (and p (opencode-chat--replies p)))
         (steps (mapcar (lambda (id)
                          (if (equal id (plist-get info :id)) info
                            (opencode-chat--info id)))
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
                      (opencode-chat--info id)))
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

(defun opencode-chat--draw-header (section info)
  "Insert the header of message INFO at the start of SECTION, its region.
Return where it ends.  The header of a later step of a reply is empty,
and its line hidden."
  (goto-char (opencode-chat-section-beg section))
  (setf (opencode-chat-message-section-cut-off section)
        (and (opencode-chat--interrupted-p info) t))
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
         (first (and p (car (opencode-chat--replies p)))))
    (when (and first (not (equal first (plist-get info :id))))
      (opencode-chat--update-message first))))

(defvar-local opencode-chat--hint nil
  "Overlay showing what to do in an empty chat, or nil.")

(defun opencode-chat-empty-p (&optional buffer)
  "Return t if chat BUFFER (default: the current one) has no message yet.
Return nil if it has, `unknown' while its first page is being loaded."
  (with-current-buffer (or buffer (current-buffer))
    (cond ((not opencode-chat--loaded) 'unknown)
          ((and (not (opencode-chat--any-message-p)) (null opencode-chat--backlog))
           t))))

(defun opencode-chat--any-message-p ()
  "Return non-nil if this chat draws a message."
  (catch 'found
    (maphash (lambda (_ s) (when (opencode-chat-message-section-p s) (throw 'found t)))
             opencode-chat--sections)
    nil))

(defun opencode-chat--show-hint ()
  "Say what can be done in this chat if it is empty, or say nothing."
  (when opencode-chat--hint
    (delete-overlay opencode-chat--hint)
    (setq opencode-chat--hint nil))
  (when (and (not (opencode-chat--any-message-p))
             (null opencode-chat--backlog) (null opencode-chat--deleted)
             (null opencode-chat--missing))
    (setq opencode-chat--hint (make-overlay (point-min) (point-min)))
    (overlay-put opencode-chat--hint 'before-string
                 (propertize
                  (substitute-command-keys
                   "An empty session.  \\<opencode-chat-mode-map>\\[opencode-chat-prompt] writes a prompt; \\[opencode-chat-init] runs /init: the agent reads the project and writes AGENTS.md (a model turn: it costs tokens).\n")
                  'face 'opencode-chat-dim))))

(defvar opencode-chat--insert-at nil
  "Where a message is inserted: a marker, or nil for the end.")

(defun opencode-chat--insert-message (id)
  "Insert message ID of the timeline, with no parts yet.
At the end of the messages, or at `opencode-chat--insert-at'."
  (when opencode-chat--hint
    (delete-overlay opencode-chat--hint)
    (setq opencode-chat--hint nil))
  (let ((inhibit-read-only t)
        (info (opencode-chat--info id)))
    (save-excursion
      (goto-char (or opencode-chat--insert-at (opencode-chat--end-of-messages)))
      (let ((section (opencode-chat--make-message-section :id id :beg (copy-marker (point)))))
        ;; Counted among the replies to its prompt before its header,
        ;; which says whether it is the first of them.
        (puthash id section opencode-chat--sections)
        ;; The header's newline, then the newline that separates this
        ;; message from the next; parts go between the two.
        (insert "\n\n")
        (let* ((header-end (copy-marker (opencode-chat--draw-header section info)))
               (end (copy-marker (+ header-end 1) t)))
          (setf (opencode-chat-message-section-header-end section) header-end
                (opencode-chat-section-end section) end)
          (put-text-property (opencode-chat-section-beg section) end 'opencode-message id))))
    (opencode-chat--respace id)
    ;; The first step's header sums the steps; a step drawn above it
    ;; (older, from the backlog) takes its place.
    (let ((ids (opencode-chat--replies (opencode-chat--prompt-of info))))
      (if (equal (car ids) id)
          (when (cadr ids)
            (opencode-chat--update-message (cadr ids)))
        (opencode-chat--redraw-first-reply info)))
    (when opencode-chat--thread-folds (opencode-chat--refold-threads))))

(defun opencode-chat--older-than-shown-p (message-id)
  "Return non-nil if MESSAGE-ID is older than every message shown.
Such a message belongs to a page not loaded; its events are ignored.
Ids are time-ordered, so comparing them compares creation times."
  (let ((oldest nil))
    (dolist (s (opencode-chat--message-sections))
      (let ((id (opencode-chat-section-id s)))
        (when (or (null oldest) (string< id oldest)) (setq oldest id))))
    (and oldest (or (let ((timeline (opencode-chat-timeline)))
                      (and timeline (opencode-timeline-more timeline)))
                    opencode-chat--backlog)
         (string< message-id oldest))))

(defun opencode-chat--update-message (id)
  "Draw message ID as the timeline holds it: add it, or redraw its header."
  (let ((section (opencode-chat--section id))
        (info (opencode-chat--info id)))
    (cond
     ((not info))
     ((and (not section) (opencode-chat--older-than-shown-p id)))
     ((not section)
      (opencode-chat--insert-message id))
     (t
      (let ((inhibit-read-only t)
            (beg (opencode-chat-section-beg section))
            (header-end (opencode-chat-message-section-header-end section)))
        (save-excursion
          (delete-region beg header-end)
          (set-marker header-end (opencode-chat--draw-header section info))
          (put-text-property beg header-end 'opencode-message id)))
      (opencode-chat--respace id)
      (opencode-chat--redraw-first-reply info)))))

(defun opencode-chat--streamed-as-is-p (section part)
  "Return non-nil if SECTION shows text PART, an `opencode-part', as it is.
That is a reply's text whose deltas were all appended in place since it
was drawn (its text not replaced since: the same revision), only its
last Markdown pass still to come.  A copy the server sends while the
text still streams may say less than is shown: the timeline keeps the
text then (`opencode-timeline-put-part')."
  (and (equal (opencode-part-type part) "text")
       (not (opencode-parts-synthetic-p (opencode-part-data part)))
       (opencode-chat-part-section-stable section)
       (eql (opencode-chat-part-section-revision section) (opencode-part-revision part))))

(defun opencode-chat--update-part (id)
  "Draw part ID as the timeline holds it: add it to its message, or redraw it.
A part of a message older than the page shown is ignored."
  (let* ((part (opencode-chat--part id))
         (section (opencode-chat--section id))
         (mid (and part (opencode-part-message-id part)))
         (msg (and part (opencode-chat--section mid))))
    (cond
     ((not part))
     ((and section (opencode-chat--streamed-as-is-p section part))
      ;; The server's copy of a text streamed here says what is shown:
      ;; no redraw (a 30,000-character reply's whole Markdown pass), only
      ;; the pass from its last stable boundary.
      (opencode-chat--fontify-later id))
     (section (opencode-chat--render-part section)
              (opencode-chat--redraw-attachment (opencode-part-plist part)))
     ((and (not msg) (opencode-chat--older-than-shown-p mid)))
     (t
      (unless msg
        ;; A part before its message: the timeline made it a placeholder.
        (opencode-chat--insert-message mid)
        (setq msg (opencode-chat--section mid)))
      (let ((inhibit-read-only t))
        (save-excursion
          (goto-char (opencode-chat-section-end msg))
          (let ((new (opencode-chat--make-part-section
                      :id (opencode-part-id part) :message mid
                      :beg (copy-marker (point)) :end (copy-marker (point) t))))
            ;; The separator after the part, owned by no part.
            (insert "\n")
            (set-marker (opencode-chat-section-end new) (1- (point)))
            (set-marker (opencode-chat-section-beg new) (1- (point)))
            (puthash id new opencode-chat--sections)
            (opencode-chat--render-part new)
            (setf (opencode-chat-message-section-parts msg)
                  (append (opencode-chat-message-section-parts msg) (list id))))
          (opencode-chat--redraw-attachment (opencode-part-plist part)))
        ;; A step done with no reason to end said "Aborted" while it had
        ;; no part (`opencode-chat--stopped-p'): it has one now.
        (let ((info (opencode-chat--info mid)))
          (when (and (plist-get (plist-get info :time) :completed)
                     (not (stringp (plist-get info :finish)))
                     (not (equal (opencode-part-type part) "step-start")))
            (opencode-chat--update-message mid))))))))

(defun opencode-chat--remove-part (id)
  "Remove part ID from the buffer."
  (when-let ((section (opencode-chat--section id)))
    (let ((inhibit-read-only t))
      (delete-region (opencode-chat-section-beg section)
                     (1+ (opencode-chat-section-end section))))
    (let ((msg (opencode-chat--section (opencode-chat-part-section-message section))))
      (when msg
        (setf (opencode-chat-message-section-parts msg)
              (delete id (opencode-chat-message-section-parts msg)))))
    (remhash id opencode-chat--sections)))

(defun opencode-chat--remove-message (id)
  "Remove message ID and its parts from the buffer."
  (when-let ((section (opencode-chat--section id)))
    (dolist (p (opencode-chat-message-section-parts section))
      (remhash p opencode-chat--sections))
    (let ((inhibit-read-only t))
      (delete-region (opencode-chat-section-beg section)
                     (1+ (opencode-chat-section-end section))))
    (remhash id opencode-chat--sections)))

(defun opencode-chat--respace (id)
  "Hide the blank line between step ID and the next step of its reply.
The steps of a reply read as one: the blank line after a step shows
only before a header (a new reply, a prompt, a step that failed)."
  (let* ((ids (opencode-chat--replies (opencode-chat--prompt-of (opencode-chat--info id)))))
    (when ids
      (let* ((prev (cadr (member id (reverse ids))))
             (next (cadr (member id ids))))
        (dolist (pair (list (cons prev id) (cons id next)))
          (let ((a (opencode-chat--section (car pair)))
                (b (cdr pair)))
            (when a
              (let ((sep (opencode-chat-section-end a)))
                (when (< sep (point-max))
                  (with-silent-modifications
                    (put-text-property sep (1+ sep) 'invisible
                                       (and b (opencode-chat--continuation-p (opencode-chat--info b))
                                            'opencode-empty))))))))))))

(provide 'opencode-chat-message)
;;; opencode-chat-message.el ends here

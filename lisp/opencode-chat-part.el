;;; opencode-chat-part.el --- How a chat draws a part  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; A part's region in a chat (an `opencode-chat-part-section'): drawn
;; from the part as the timeline holds it now, with the blank line that
;; sets a reply's text off, its fold (reasoning and tools start folded;
;; TAB toggles one), and under a tool part whose call asked a
;; permission or a question that waits, its block.  How a part looks
;; is opencode-parts.el's; the message around it is drawn by
;; opencode-chat-message.el.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'seq)
(require 'opencode-lib)
(require 'opencode-model)
(require 'opencode-timeline)
(require 'opencode-parts)
(require 'opencode-markdown)
(require 'opencode-requests)
(require 'opencode-chat-section)

(defvar opencode-chat--footer-requests)
(declare-function opencode-chat-draw-queue "opencode-chat" ())

;;;; Folds

(defun opencode-chat--part-folded-p (part)
  "Return non-nil if PART, an `opencode-part', is folded now.
The user's choice (`opencode-part-fold'), else how its kind starts."
  (pcase (opencode-part-fold part)
    ('folded t)
    ('open nil)
    (_ (opencode-parts-default-folded-p (opencode-part-data part)))))

(defun opencode-chat--apply-fold (section part)
  "Hide or show the body of SECTION, which draws PART, as its fold says.
A permission or question block under it stays shown."
  (let ((body (opencode-chat-part-section-body section))
        (end (or (opencode-chat-part-section-block section)
                 (opencode-chat-section-end section))))
    ;; A text property, not an overlay: overlays cost time linear in
    ;; their number on every change (before Emacs 29), text does not.
    ;; A part that does not fold keeps its own invisible text: the
    ;; Markdown marks its rendering hides.
    (when (and (< body end) (opencode-parts-foldable-p (opencode-part-data part)))
      (with-silent-modifications
        (put-text-property body end 'invisible
                           (and (opencode-chat--part-folded-p part) 'opencode-fold))))))

(defun opencode-chat-set-fold (id fold)
  "Set the fold of part ID to FOLD (`folded', `open' or nil) and redraw it."
  (let ((part (opencode-chat--part id))
        (section (opencode-chat--section id)))
    (when part
      (setf (opencode-part-fold part) fold)
      (when section (opencode-chat--render-part section)))))

;;;; The request a tool call asked

(defun opencode-chat--request-part (request)
  "Return the id of the tool part drawn whose call asked REQUEST, or nil.
REQUEST is (KIND . PROPS)."
  (let* ((tool (plist-get (cdr request) :tool))
         (call (and (consp tool) (plist-get tool :callID)))
         (msg (and (stringp call)
                   (opencode-timeline-message (opencode-chat-timeline)
                                              (plist-get tool :messageID))))
         (part (and msg (cl-find-if (lambda (p)
                                      (and (equal (opencode-part-type p) "tool")
                                           (equal (plist-get (opencode-part-data p) :callID) call)))
                                    (opencode-message-parts msg)))))
    (and part (opencode-chat--section (opencode-part-id part)) (opencode-part-id part))))

(defun opencode-chat--part-request (part)
  "Return the pending request that tool PART's call asked, or nil.
PART is the server's plist."
  (let ((call (plist-get part :callID)))
    (and (stringp call) (equal (plist-get part :type) "tool")
         (cl-find-if (lambda (r)
                       (let ((tool (plist-get (cdr r) :tool)))
                         (and (consp tool) (equal (plist-get tool :callID) call)
                              (equal (plist-get tool :messageID) (plist-get part :messageID)))))
                     (opencode-requests-pending)))))

(defun opencode-chat--blocks ()
  "Return the sections of the parts that show a request's block now."
  (let (all)
    (maphash (lambda (_ s) (when (and (opencode-chat-part-section-p s)
                                      (opencode-chat-part-section-request s))
                             (push s all)))
             opencode-chat--sections)
    all))

;;;; What a part's drawing depends on

(declare-function opencode-chat--continuation-p "opencode-chat-message" (info))

(defun opencode-chat--gap-before-p (part)
  "Return non-nil if text PART, in a reply, follows a part shown before it.
Such text is set off by a blank line; the first thing of a reply is not,
nor is anything but a reply's text."
  (and (equal (plist-get part :type) "text")
       (not (opencode-parts-synthetic-p part))
       (not (string-empty-p (or (plist-get part :text) "")))
       (let* ((mid (plist-get part :messageID))
              (msg (opencode-chat--section mid))
              (p (opencode-chat--prompt-of (opencode-chat--info mid)))
              (id (plist-get part :id)))
         (and msg p
              (or (cl-some #'opencode-chat--shown-p
                           (let ((ids (opencode-chat-message-section-parts msg)))
                             (if (member id ids) (seq-take-while (lambda (x) (not (equal x id))) ids)
                               ids)))
                  ;; An earlier step of the reply shows something.
                  (cl-some (lambda (step)
                             (cl-some #'opencode-chat--shown-p
                                      (opencode-chat-message-section-parts
                                       (opencode-chat--section step))))
                           (seq-take-while (lambda (x) (not (equal x mid)))
                                           (opencode-chat--replies p))))))))

(defun opencode-chat--tool-files (part)
  "Return the files whose change tool PART shows, expanded."
  (let* ((state (plist-get part :state))
         (dir default-directory)
         (files (cons (plist-get (plist-get state :input) :filePath)
                      (mapcar (lambda (f) (if (stringp f) f
                                            (or (plist-get f :filePath) (plist-get f :file)
                                                (plist-get f :path))))
                              (append (plist-get (plist-get state :metadata) :files) nil)))))
    (mapcar (lambda (f) (expand-file-name f dir)) (seq-filter #'stringp files))))

(defun opencode-chat--drawn-parts (message-id)
  "Return the `opencode-part's of message MESSAGE-ID drawn, in order."
  (delq nil (mapcar #'opencode-chat--part
                    (let ((s (opencode-chat--section message-id)))
                      (and s (opencode-chat-message-section-parts s))))))

(defun opencode-chat--patch-shown-p (part)
  "Return non-nil if patch PART says only what a tool of its message shows.
A write or an edit shows the change it made (with a link to its diff),
so the patch line after it would say it twice: it is not drawn."
  (and (equal (plist-get part :type) "patch")
       (let* ((shown (apply #'append
                            (mapcar (lambda (p)
                                      (let ((d (opencode-part-data p)))
                                        (and (equal (plist-get d :type) "tool")
                                             (member (plist-get d :tool)
                                                     '("write" "edit" "patch" "apply_patch"))
                                             (opencode-chat--tool-files d))))
                                    (opencode-chat--drawn-parts (plist-get part :messageID)))))
              (files (append (plist-get part :files) nil)))
         (and files
              (cl-every (lambda (f) (member (expand-file-name f default-directory) shown))
                        files)))))

(defun opencode-chat--message-parts (message-id &optional part)
  "Return the parts of message MESSAGE-ID drawn, in order, as plists.
PART, being drawn, is among them."
  (let ((parts (delq nil (mapcar (lambda (p)
                                   (and (not (equal (opencode-part-id p) (plist-get part :id)))
                                        (opencode-part-plist p)))
                                 (opencode-chat--drawn-parts message-id)))))
    (sort (if part (cons part parts) parts)
          (lambda (a b) (string< (plist-get a :id) (plist-get b :id))))))

(defun opencode-chat--attachment-context (part)
  "Return which parts of PART's message belong to a file attached.
As `opencode-parts-attachment-context' says; only for an attached
file or what the server added: nil for other parts."
  (and (or (equal (plist-get part :type) "file") (opencode-parts-synthetic-p part))
       (opencode-parts-attachment-context
        (opencode-chat--message-parts (plist-get part :messageID) part))))

(defun opencode-chat--context-owner (part)
  "Return the file part whose attachment synthetic PART is what the server read.
The file part shows it; PART is then not drawn.  nil for other parts."
  (and (opencode-parts-synthetic-p part)
       (cdr (assoc (plist-get part :id) (opencode-chat--attachment-context part)))))

(defun opencode-chat--with-context (part)
  "Return file PART with what the server added for it, as :opencode-context.
That is the synthetic parts of its message that belong to it."
  (let ((context (and (equal (plist-get part :type) "file")
                      (cl-loop for (sid . owner) in (opencode-chat--attachment-context part)
                               when (equal (plist-get owner :id) (plist-get part :id))
                               collect (opencode-chat--part-plist sid)))))
    (if context (append (list :opencode-context context) part) part)))

(defun opencode-chat--redraw-attachment (part)
  "Redraw what depends on attached file or synthetic PART, just drawn.
The file part it belongs to shows what the server read; the synthetic
parts of a file part, drawn before it came, are not drawn now."
  (let ((context (opencode-chat--attachment-context part))
        (id (plist-get part :id)))
    (dolist (other (if (equal (plist-get part :type) "file")
                       (cl-loop for (sid . owner) in context
                                when (equal (plist-get owner :id) id) collect sid)
                     (let ((owner (cdr (assoc id context))))
                       (and owner (list (plist-get owner :id))))))
      (let ((section (opencode-chat--section other)))
        (when section (opencode-chat--render-part section))))))

;;;; Drawing it

(defun opencode-chat--render-part (section)
  "Draw in SECTION's region its part, as the timeline holds it now.
Under a tool part whose call asked a permission or a question that
waits, its block (`opencode-requests-block')."
  (let* ((inhibit-read-only t)
         (id (opencode-chat-section-id section))
         (model (opencode-chat--part id))
         (part (opencode-part-plist model))
         (beg (opencode-chat-section-beg section))
         (end (opencode-chat-section-end section)))
    (save-excursion
      (delete-region beg end)
      (goto-char beg)
      ;; Text is a paragraph: a blank line sets it off from what comes
      ;; before it in the reply.  Headings (tools...) stack.
      (when (opencode-chat--gap-before-p part)
        (insert (propertize "\n" 'opencode-gap t)))
      (pcase-let ((`(,_b ,_e ,body)
                   (if (or (opencode-chat--patch-shown-p part)
                           (opencode-chat--context-owner part))
                       ;; The tool that made it shows the change; the
                       ;; file attached shows what the server read.
                       (list (point) (point) (point))
                     (opencode-parts-insert (opencode-chat--with-context part)
                                            (opencode-chat--part-folded-p model))))
                  (request (opencode-chat--part-request part))
                  (block (opencode-chat-part-section-block section)))
        (when block (set-marker block nil))
        (setf (opencode-chat-part-section-block section) (and request (point-marker))
              (opencode-chat-part-section-request section)
              (and request (plist-get (cdr request) :id)))
        (when request (insert "\n" (opencode-requests-block request)))
        (set-marker end (point))
        (let ((bm (or (opencode-chat-part-section-body section) (make-marker))))
          (set-marker bm body)
          (setf (opencode-chat-part-section-body section) bm))
        (setf (opencode-chat-part-section-revision section) (opencode-part-revision model)
              (opencode-chat-part-section-text-p section)
              (> (length (plist-get part :text)) 0)
              (opencode-chat-part-section-stable section) nil)
        ;; The section's id: deltas appended later carry the same object.
        (put-text-property beg end 'opencode-part id)
        (when (and (equal (plist-get part :type) "text")
                   (not (opencode-parts-synthetic-p part)))
          (opencode-markdown-fontify beg end))
        ;; An empty part (a step start) takes no line: hide its separator.
        (when (< end (point-max))
          (put-text-property end (1+ end) 'invisible (and (= beg end) 'opencode-empty)))
        (opencode-chat--apply-fold section model)
        ;; Drawn under the timeline until now: not there any more.
        (when (and request (member (plist-get (cdr request) :id) opencode-chat--footer-requests))
          (opencode-chat-draw-queue))
        section))))

(defun opencode-chat--show-requests ()
  "Draw the pending requests of this chat where they belong, and no others.
Each goes under the tool part that asked, or under the timeline when
that part is not shown; a block whose request was answered goes."
  (let* ((pending (opencode-requests-pending))
         (ids (mapcar (lambda (r) (plist-get (cdr r) :id)) pending))
         (redraw nil))
    (dolist (s (opencode-chat--blocks))
      (unless (member (opencode-chat-part-section-request s) ids)
        (push s redraw)))
    (dolist (r pending)
      (let* ((pid (opencode-chat--request-part r))
             (s (and pid (opencode-chat--section pid))))
        (when (and s (not (equal (opencode-chat-part-section-request s) (plist-get (cdr r) :id))))
          (push s redraw))))
    (mapc #'opencode-chat--render-part (delete-dups redraw))
    (opencode-chat-draw-queue)))

(defun opencode-chat--unplaced-requests ()
  "Return the pending requests of this chat that no part shown carries."
  (cl-remove-if (lambda (r)
                  (let* ((pid (opencode-chat--request-part r))
                         (s (and pid (opencode-chat--section pid))))
                    (and s (equal (opencode-chat-part-section-request s) (plist-get (cdr r) :id)))))
                (opencode-requests-pending)))

(provide 'opencode-chat-part)
;;; opencode-chat-part.el ends here

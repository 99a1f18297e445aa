;;; opencode-chat-stream.el --- Text streaming into a chat  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; What a text delta does to a chat buffer: its text is inserted at the
;; end of its part's region, joining the text interval before it, and
;; kept as chunks until the part is read; the Markdown faces follow
;; within `opencode-chat-fontify-delay', from the last stable block
;; boundary, a slice at a time after a burst.  The timeline
;; (opencode-timeline.el) has the delta first: the whole text is its.

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

(defvar opencode-chat--parts)
(defvar opencode-chat-fontify-delay)
(defvar opencode-chat-fontify-slice)
(declare-function opencode-chat--entry-part "opencode-chat" (entry))
(declare-function opencode-chat--render-part "opencode-chat" (part entry))
(declare-function opencode-chat--part-folded-p "opencode-chat" (part))

(defconst opencode-chat--chunks-merged 256
  "Streamed chunks of a part joined into one string as they come.
A part's chunks stay live until it is read; joining every so many
keeps the garbage collector's work per collection small under a flood
of deltas, at a cost linear in the text.")

(defun opencode-chat--keep-chunk (entry text)
  "Keep TEXT, streamed into the part of ENTRY, among its chunks.
The newest `opencode-chat--chunks-merged' chunks are joined into one."
  (let ((chunks (cons text (plist-get entry :chunks)))
        (fresh (1+ (or (plist-get entry :fresh) 0))))
    (when (>= fresh opencode-chat--chunks-merged)
      (let ((tail (nthcdr fresh chunks)))
        (setcdr (nthcdr (1- fresh) chunks) nil)
        (setq chunks (cons (apply #'concat (nreverse chunks)) tail)
              fresh 0)))
    (plist-put entry :fresh fresh)
    (plist-put entry :chunks chunks)))

(defun opencode-chat--insert-streamed (end text props)
  "Insert TEXT at marker END with the text properties PROPS, a plist.
When the text before END has exactly PROPS (the values `eq'), TEXT
joins its interval instead of making one of its own: a reply streamed
in thousands of deltas stays a few intervals, which every garbage
collection would otherwise walk (30 ms per 100,000 of them)."
  (save-excursion
    (goto-char end)
    (let ((before (and (> (point) (point-min)) (text-properties-at (1- (point))))))
      (if (and (= (length before) (length props))
               (cl-loop for (k v) on props by #'cddr
                        always (eq (plist-get before k) v)))
          (insert-and-inherit text)
        (insert (apply #'propertize text props))))))

(defun opencode-chat--append-delta (part-id field text)
  "Append TEXT to FIELD of part PART-ID where it is shown."
  (let ((entry (gethash part-id opencode-chat--parts)))
    (when entry
      (let* ((part (plist-get entry :part))
             (type (plist-get part :type)))
        (if (and (equal field "text")
                 (member type '("text" "reasoning"))
                 (or (plist-get entry :chunks)
                     (> (length (plist-get part :text)) 0)))
            ;; Append in place: no redraw of what is already there, and
            ;; the text joins the part's only when it is read.
            (let ((inhibit-read-only t))
              (opencode-chat--keep-chunk entry text)
              (opencode-chat--insert-streamed
               (plist-get entry :end) text
               (list 'face (and (equal type "reasoning") 'opencode-chat-reasoning)
                     ;; The id the part was drawn with: the same object.
                     'opencode-part (plist-get part :id)
                     ;; Folded, it stays folded.
                     'invisible (and (opencode-parts-foldable-p part)
                                     (opencode-chat--part-folded-p part)
                                     'opencode-fold)))
              (when (equal type "text")
                (opencode-chat--fontify-later part-id)))
          (let* ((part (opencode-chat--entry-part entry))
                 (key (intern (concat ":" field)))
                 (old (plist-get part key)))
            (setq part (plist-put part key (concat (if (stringp old) old "") text)))
            (puthash part-id (opencode-chat--render-part part entry)
                     opencode-chat--parts)))))))

(defvar-local opencode-chat--unfontified nil
  "Ids of text parts streamed into since they were last fontified.")

(defvar-local opencode-chat--fontify-timer nil
  "Timer that fontifies `opencode-chat--unfontified' parts.")

(defun opencode-chat--fontify-later (part-id)
  "Fontify part PART-ID soon, once for all the deltas until then.
Fontifying a growing reply on every delta would cost time quadratic
in its length; `opencode-chat-fontify-delay' bounds how stale it gets."
  (unless (member part-id opencode-chat--unfontified)
    (push part-id opencode-chat--unfontified))
  (unless opencode-chat--fontify-timer
    (setq opencode-chat--fontify-timer
          (run-with-timer opencode-chat-fontify-delay nil
                          #'opencode-chat--fontify-pending (current-buffer)))))

(defun opencode-chat--stop-fontify ()
  "Stop the timer that fontifies streamed text, if it runs."
  (when opencode-chat--fontify-timer
    (cancel-timer opencode-chat--fontify-timer)
    (setq opencode-chat--fontify-timer nil)))

(defun opencode-chat--slice-end (from end)
  "Return where a Markdown pass from FROM should stop, before END.
The last block boundary within `opencode-chat-fontify-slice'
characters of FROM, or if there is none there the first one after;
FROM when there is none before END."
  (let ((limit (+ from opencode-chat-fontify-slice))
        (stop from))
    (while (and (= stop from) (< limit end))
      (setq stop (opencode-markdown-stable-boundary from limit)
            limit (+ limit opencode-chat-fontify-slice)))
    stop))

(defun opencode-chat--fontify-pending (buffer)
  "Fontify the text parts of BUFFER streamed into since last time."
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (setq opencode-chat--fontify-timer nil)
      (let ((inhibit-read-only t) (more nil))
        (dolist (id (prog1 opencode-chat--unfontified
                      (setq opencode-chat--unfontified nil)))
          (when-let ((entry (gethash id opencode-chat--parts)))
            ;; Only what follows the last stable block boundary can
            ;; change its rendering: a pass costs the same at any length.
            (let* ((beg (plist-get entry :beg))
                   (end (plist-get entry :end))
                   (from (+ beg (or (plist-get entry :stable) 0)))
                   ;; After a burst, the blocks of the first slice only.
                   (stop (if (and opencode-chat-fontify-slice
                                  (> (- end from) opencode-chat-fontify-slice)
                                  (<= (- end beg) opencode-chat-fontify-max))
                             (opencode-chat--slice-end from end)
                           from))
                   (sliced (> stop from)))
              (opencode-markdown-fontify beg (if sliced stop end) (and (> from beg) from))
              (plist-put entry :stable
                         (- (if sliced stop (opencode-markdown-stable-boundary from end)) beg))
              (when sliced (push id more)))))
        (when more
          (setq opencode-chat--unfontified (nconc more opencode-chat--unfontified)
                opencode-chat--fontify-timer
                (run-with-timer 0.01 nil #'opencode-chat--fontify-pending buffer)))))))

(provide 'opencode-chat-stream)
;;; opencode-chat-stream.el ends here

;;; opencode-chat-stream.el --- Text streaming into a chat  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; What a text delta does to a chat buffer: the timeline
;; (opencode-timeline.el) has it first, and keeps the part's whole
;; text; the chat inserts it at the end of its part's region, joining
;; the text interval before it, and keeps no copy.  The Markdown faces
;; follow within `opencode-chat-fontify-delay', from the last stable
;; block boundary, a slice at a time after a burst.

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

(defvar opencode-chat-fontify-delay)
(defvar opencode-chat-fontify-slice)

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
  "Show TEXT, appended to FIELD of part PART-ID, where the part is drawn.
The timeline holds it already (its handler runs first)."
  (let ((section (opencode-chat--section part-id))
        (part (opencode-chat--part part-id)))
    (when (and section part)
      (let ((type (opencode-part-type part)))
        (if (and (equal field "text")
                 (member type '("text" "reasoning"))
                 (opencode-chat-part-section-text-p section))
            ;; Append in place: no redraw of what is already there.
            (let ((inhibit-read-only t))
              (opencode-chat--insert-streamed
               (opencode-chat-section-end section) text
               (list 'face (and (equal type "reasoning") 'opencode-chat-reasoning)
                     ;; The id the part was drawn with: the same object.
                     'opencode-part (opencode-chat-section-id section)
                     ;; Folded, it stays folded.
                     'invisible (and (opencode-parts-foldable-p (opencode-part-data part))
                                     (opencode-chat--part-folded-p part)
                                     'opencode-fold)))
              (when (equal type "text")
                (opencode-chat--fontify-later part-id)))
          (opencode-chat--render-part section))))))

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
          (when-let ((section (opencode-chat--section id)))
            ;; Only what follows the last stable block boundary can
            ;; change its rendering: a pass costs the same at any length.
            (let* ((beg (opencode-chat-section-beg section))
                   (end (opencode-chat-section-end section))
                   (from (+ beg (or (opencode-chat-part-section-stable section) 0)))
                   ;; After a burst, the blocks of the first slice only.
                   (stop (if (and opencode-chat-fontify-slice
                                  (> (- end from) opencode-chat-fontify-slice)
                                  (<= (- end beg) opencode-chat-fontify-max))
                             (opencode-chat--slice-end from end)
                           from))
                   (sliced (> stop from)))
              (opencode-markdown-fontify beg (if sliced stop end) (and (> from beg) from))
              (setf (opencode-chat-part-section-stable section)
                    (- (if sliced stop (opencode-markdown-stable-boundary from end)) beg))
              (when sliced (push id more)))))
        (when more
          (setq opencode-chat--unfontified (nconc more opencode-chat--unfontified)
                opencode-chat--fontify-timer
                (run-with-timer 0.01 nil #'opencode-chat--fontify-pending buffer)))))))

(provide 'opencode-chat-stream)
;;; opencode-chat-stream.el ends here

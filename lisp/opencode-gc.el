;;; opencode-gc.el --- What the package does with the garbage collector  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The garbage collector's policy, in two pieces: a room, that lets a
;; burst of work (drawing a page, draining a flood of events) allocate
;; much before a collection (`opencode--with-gc-room'); and a hold, that
;; raises `gc-cons-threshold' while a reply streams and puts it back
;; after the first collection once the stream is over
;; (`opencode--gc-hold', `opencode-gc-streaming-threshold').
;; doc/architecture.md gives the measurements behind each figure.

;;; Code:

(require 'opencode-lib)

;;;; Room for a burst

(defvar opencode--gc-room (* 64 1024 1024)
  "Bytes `opencode--with-gc-room' lets a body allocate between collections.")

(defmacro opencode--with-gc-room (&rest body)
  "Run BODY with the garbage collector held off for a while.
Drawing a page or draining a burst makes much short-lived garbage;
collecting once after it costs less than collecting every
`gc-cons-threshold' bytes.  BODY may allocate `opencode--gc-room'
bytes before a collection."
  (declare (indent 0) (debug t))
  `(let ((gc-cons-threshold (max gc-cons-threshold opencode--gc-room)))
     ,@body))

;;;; The collector while events stream

(defcustom opencode-gc-streaming-threshold (* 32 1024 1024)
  "`gc-cons-threshold' while events stream in, or nil to leave it alone.
A reply streaming into a chat allocates about a megabyte a second, and
each collection pauses Emacs for as long as it takes to mark
everything live, tens of milliseconds, however little garbage there
is: at the default threshold that is a pause a second, each one added
to the drain or the Markdown pass it falls in.  While text deltas keep
coming the threshold is raised to this (never lowered), so a reply
streams with no collection or one.  `opencode-gc-streaming-rest'
seconds after the last delta the stream counts as over, and the first
collection after that puts the threshold back, if nothing else changed
it meanwhile: the garbage of the stream is collected when it falls
due, not in a pause of its own."
  :type '(choice (const :tag "Leave it alone" nil) integer)
  :group 'opencode)

(defcustom opencode-gc-streaming-rest 1.0
  "Seconds without a text delta after which a stream counts as over.
See `opencode-gc-streaming-threshold'."
  :type 'number
  :group 'opencode)

(defvar opencode--gc-held nil
  "While the threshold is held: (SAVED OURS OVER).
SAVED is the threshold before, OURS the one set; OVER is non-nil once
the stream is over, until the next collection.")

(defvar opencode--gc-last-hold 0.0
  "When `opencode--gc-hold' was last called (`float-time').")

(defvar opencode--gc-rest-timer nil
  "The timer that checks whether the stream went quiet.")

(defun opencode--gc-hold ()
  "Raise `gc-cons-threshold' while events stream in.
Call for each text delta.  The threshold read and set is the global
one, whatever `let' of it is in effect.  See
`opencode-gc-streaming-threshold'."
  (when opencode-gc-streaming-threshold
    (setq opencode--gc-last-hold (float-time))
    (unless opencode--gc-rest-timer
      (setq opencode--gc-rest-timer
            (run-with-timer opencode-gc-streaming-rest opencode-gc-streaming-rest
                            #'opencode--gc-rest)))
    (cond
     ((not opencode--gc-held)
      (let* ((saved (default-toplevel-value 'gc-cons-threshold))
             (ours (max saved opencode-gc-streaming-threshold)))
        (setq opencode--gc-held (list saved ours nil))
        (set-default-toplevel-value 'gc-cons-threshold ours)
        (add-hook 'post-gc-hook #'opencode--gc-collected)))
     ((nth 2 opencode--gc-held)
      ;; Streaming again before the collection that ends the hold.
      (setf (nth 2 opencode--gc-held) nil)))))

(defun opencode--gc-rest ()
  "Count the stream as over if no delta came for `opencode-gc-streaming-rest'."
  (when (>= (- (float-time) opencode--gc-last-hold) opencode-gc-streaming-rest)
    (when opencode--gc-held (setf (nth 2 opencode--gc-held) t))
    (cancel-timer opencode--gc-rest-timer)
    (setq opencode--gc-rest-timer nil)))

(defun opencode--gc-collected ()
  "After a collection (in `post-gc-hook'): end the hold if the stream is over."
  (when (nth 2 opencode--gc-held)
    (opencode--gc-release)))

(defun opencode--gc-release ()
  "Put `gc-cons-threshold' back now, unless it was changed meanwhile."
  (when opencode--gc-held
    ;; Changed meanwhile (by the user, or gcmh): theirs stays.  The
    ;; global value, though a `let' of it may be in effect here.
    (when (eql (default-toplevel-value 'gc-cons-threshold) (nth 1 opencode--gc-held))
      (set-default-toplevel-value 'gc-cons-threshold (nth 0 opencode--gc-held)))
    (setq opencode--gc-held nil))
  (remove-hook 'post-gc-hook #'opencode--gc-collected)
  (when opencode--gc-rest-timer
    (cancel-timer opencode--gc-rest-timer)
    (setq opencode--gc-rest-timer nil)))

(provide 'opencode-gc)
;;; opencode-gc.el ends here

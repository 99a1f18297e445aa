;;; drain-bench.el --- `make bench': sliced drains, timer lateness, GC  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;;; Commentary:

;; Run by `make bench' after opencode-bench.el (never by `make test'):
;;
;;   emacs -Q --batch -L lisp -L test -L test/bench \
;;         -l test/bench/drain-bench.el -f opencode-drain-bench-main
;;
;; How the main loop fares while a flood is ingested: a 10 ms timer's
;; lateness (worst and 99th percentile) and the garbage collector's
;; pauses, for the module with its drain sliced (`opencode-drain-slice'),
;; the module draining everything at once (the code before slicing),
;; and the plain-Elisp baseline of opencode-bench.el, all in one run on
;; the same generated stream (the whole-queue drain with its GC room
;; of then, 64 MB).  Then the GC room of a drain
;; (`opencode-connection--gc-room') is varied, under the flood and
;; while streaming at `opencode-bench-rate' events per second.
;;
;; The table goes to stdout and build/bench/drain.md.

;;; Code:

(require 'cl-lib)
(eval-and-compile
  (require 'opencode-bench
           (expand-file-name "opencode-bench"
                             (file-name-directory
                              (or load-file-name byte-compile-current-file
                                  buffer-file-name)))))

(declare-function opencode--module-stats "ext:opencode-module" (handle))

(defvar opencode-drain-bench-rooms
  (list (* 64 1024 1024) (* 16 1024 1024) (* 8 1024 1024) 0)
  "GC rooms compared, in bytes; 0 is none (`gc-cons-threshold' as it is).")

(defvar opencode-drain-bench-stream-seconds 5
  "Seconds of the streaming scenario of the GC comparison.")

(defvar opencode-drain-bench--rows nil
  "Rows of the table, newest first: (WHAT FIGURES...).")

;;;; Measuring one run

(defun opencode-drain-bench--percentile (values p)
  "Return the P-th percentile (0-100) of VALUES, a list of numbers."
  (let* ((v (sort (copy-sequence values) #'<))
         (n (length v)))
    (if (zerop n) 0.0
      (nth (min (1- n) (max 0 (1- (ceiling (* n (/ p 100.0)))))) v))))

(defun opencode-drain-bench--run (kind url)
  "Stream URL through KIND into chat buffers, probing the main loop.
KIND is `module' or `baseline'.  Return a plist: :seconds to the last
event, :late the 10 ms timer's latenesses (seconds), :gcs collections
(:gcs-in-room of them under a raised threshold) and :gc-seconds
spent in them, :gc-worst the longest one, :text the
chats' text and :stats the module's counters."
  (let* ((opencode-connection-state-functions nil)
         (opencode-events--handlers
          (let ((table (copy-hash-table opencode-events--handlers)))
            (puthash "bench.done" (list (cons 50 #'opencode-bench--watch-done)) table)
            table))
         (opencode-notify nil)
         (opencode-bench--done nil)
         (late nil) (last nil) (timer nil)
         (gc-worst 0.0) (gc-seen gc-elapsed) (gc-in-room 0)
         (outer-threshold gc-cons-threshold)
         (watch-gc (lambda ()
                     ;; A collection under a raised threshold was due
                     ;; inside a drain's (or a page's) GC room.
                     (when (> gc-cons-threshold outer-threshold)
                       (setq gc-in-room (1+ gc-in-room)))
                     (setq gc-worst (max gc-worst (- gc-elapsed gc-seen))
                           gc-seen gc-elapsed)))
         (conn nil) (proc nil) (chats nil) (t0 nil) (gcs0 nil) (gc-t0 nil)
         ;; A plain client has no threshold held while it streams.
         (opencode-gc-streaming-threshold (and (eq kind 'module)
                                               opencode-gc-streaming-threshold)))
    ;; Each run from the user's threshold: what a run before held goes.
    (opencode--gc-release)
    (setq outer-threshold gc-cons-threshold)
    (garbage-collect)
    (setq gc-seen gc-elapsed gcs0 gcs-done gc-t0 gc-elapsed)
    (add-hook 'post-gc-hook watch-gc)
    (setq last (float-time)
          timer (run-with-timer 0.01 0.01
                                (lambda ()
                                  (let ((now (float-time)))
                                    (push (max 0.0 (- now last 0.01)) late)
                                    (setq last now)))))
    (setq t0 (float-time))
    (pcase kind
      ('module (setq conn (opencode-bench--module-stream url)))
      ('baseline (pcase-let ((`(,c . ,p) (opencode-bench--baseline-stream url)))
                   (setq conn c proc p))))
    (setq chats (opencode-bench--open-chats conn))
    (unwind-protect
        (progn
          (opencode-bench--wait (lambda () opencode-bench--done))
          (let ((end opencode-bench--done))
            (opencode--gc-release)
            (cancel-timer timer)
            (setq timer nil)
            (remove-hook 'post-gc-hook watch-gc)
            (list :seconds (- end t0)
                  :late late
                  :gcs (- gcs-done gcs0)
                  :gcs-in-room gc-in-room
                  :gc-seconds (- gc-elapsed gc-t0)
                  :gc-worst gc-worst
                  :text (opencode-bench--chat-text chats)
                  :stats (and (eq kind 'module)
                              (opencode--module-stats (opencode-connection-handle conn))))))
      (when timer (cancel-timer timer))
      (remove-hook 'post-gc-hook watch-gc)
      (if (eq kind 'module) (opencode-connection-close conn) (delete-process proc))
      (opencode-bench--kill chats))))

(defun opencode-drain-bench--ms (seconds)
  "SECONDS as milliseconds, formatted."
  (format "%.1f ms" (* 1000 seconds)))

(defun opencode-drain-bench--row (what r count)
  "Record and print row WHAT for run R, a flood of COUNT events."
  (let ((row (list what
                   (format "%.0f ev/s" (/ count (plist-get r :seconds)))
                   (opencode-drain-bench--ms (apply #'max 0.0 (plist-get r :late)))
                   (opencode-drain-bench--ms
                    (opencode-drain-bench--percentile (plist-get r :late) 99))
                   (format "%d (%d in a room) / %s / %s" (plist-get r :gcs)
                           (plist-get r :gcs-in-room)
                           (opencode-drain-bench--ms (plist-get r :gc-seconds))
                           (opencode-drain-bench--ms (plist-get r :gc-worst))))))
    (push row opencode-drain-bench--rows)
    (opencode-bench--say "  %-46s %14s %10s %10s  %s" (nth 0 row) (nth 1 row)
                         (nth 2 row) (nth 3 row) (nth 4 row))
    row))

(defun opencode-drain-bench--room-name (room)
  "ROOM in bytes, as a name."
  (if (zerop room) (format "none (%d KB)" (/ gc-cons-threshold 1024))
    (format "%d MB" (/ room 1024 1024))))

;;;; The benchmarks

(defun opencode-drain-bench-flood ()
  "Timer lateness and GC while a flood is ingested: sliced, whole, baseline."
  (let* ((stream (opencode-bench--file "ingest.sse"))
         (count (progn (opencode-bench--say "generating %d deltas…" opencode-bench-events)
                       (opencode-bench--write-stream stream opencode-bench-events)))
         (server (opencode-bench--start-server stream 0)))
    (unwind-protect
        (let* ((sliced (let ((opencode-drain-slice 0.005))
                         (opencode-drain-bench--run 'module (cdr server))))
               (short (let ((opencode-drain-slice 0.002))
                        (opencode-drain-bench--run 'module (cdr server))))
               (unheld (let ((opencode-drain-slice 0.005)
                             (opencode-gc-streaming-threshold nil))
                         (opencode-drain-bench--run 'module (cdr server))))
               (whole (let ((opencode-drain-slice nil)
                            (opencode-connection--gc-room (* 64 1024 1024)))
                        (opencode-drain-bench--run 'module (cdr server))))
               (base (opencode-drain-bench--run 'baseline (cdr server))))
          (opencode-drain-bench--row
           (format "flood of %d events: module, 5 ms slices" count) sliced count)
          (opencode-drain-bench--row "   module, 2 ms slices" short count)
          (opencode-drain-bench--row "   module, 5 ms slices, threshold not held" unheld count)
          (opencode-drain-bench--row "   module, whole queue per drain (before)" whole count)
          (opencode-drain-bench--row "   plain-Elisp baseline" base count)
          (opencode-bench--say "  sliced ingest is %.1fx the baseline's; same text: %s"
                               (/ (plist-get base :seconds) (plist-get sliced :seconds))
                               (if (and (equal (plist-get sliced :text) (plist-get base :text))
                                        (equal (plist-get whole :text) (plist-get base :text)))
                                   "yes" "NO"))
          (unless (equal (plist-get sliced :text) (plist-get base :text))
            (error "The sliced module's and the baseline's chats differ")))
      (opencode-bench--stop-server server))))

(defun opencode-drain-bench-gc ()
  "GC pauses against the GC room, under the flood and while streaming."
  (let* ((flood (opencode-bench--file "ingest.sse"))
         (count (opencode-bench--write-stream flood opencode-bench-events))
         (steady (opencode-bench--file "drain-rate.sse"))
         (steady-count (opencode-bench--write-stream
                        steady (round (* opencode-bench-rate
                                         opencode-drain-bench-stream-seconds 0.9)))))
    (dolist (scenario (list (list "flood" flood 0 count)
                            (list (format "%d ev/s" opencode-bench-rate)
                                  steady opencode-bench-rate steady-count)))
      (pcase-let ((`(,name ,file ,rate ,n) scenario))
        (let ((server (opencode-bench--start-server file rate)))
          (unwind-protect
              (dolist (room opencode-drain-bench-rooms)
                (let ((r (let ((opencode-connection--gc-room room)
                               (opencode-drain-slice 0.005)
                               ;; The room alone.
                               (opencode-gc-streaming-threshold nil))
                           (opencode-drain-bench--run 'module (cdr server)))))
                  (opencode-drain-bench--row
                   (format "GC room %s, %s" (opencode-drain-bench--room-name room) name)
                   r n)))
            (opencode-bench--stop-server server)))))))

(defun opencode-drain-bench-main ()
  "Run the drain benchmarks and print their table."
  (make-directory opencode-bench-dir t)
  (opencode-module-ensure)
  (setq opencode-drain-bench--rows nil
        opencode-notify nil)
  (opencode-bench--say "%s" (opencode-bench--machine))
  (opencode-bench--say "load average: %s"
                       (mapconcat (lambda (x) (format "%.2f" x)) (load-average t) " "))
  (opencode-drain-bench-flood)
  (opencode-drain-bench-gc)
  (let ((out (concat "Machine: " (opencode-bench--machine) "\n"
                     (format-time-string "Run: %F %T %Z")
                     (format ", load average %s\n\n"
                             (mapconcat (lambda (x) (format "%.2f" x)) (load-average t) " "))
                     "| What | Ingest | Timer: worst lateness | p99 | GCs (in a GC room) / total / longest |\n"
                     "|---|---:|---:|---:|---|\n"
                     (mapconcat (lambda (r) (apply #'format "| %s | %s | %s | %s | %s |" r))
                                (reverse opencode-drain-bench--rows) "\n")
                     "\n")))
    (with-temp-file (opencode-bench--file "drain.md") (insert out))
    (princ out)))

(provide 'drain-bench)
;;; drain-bench.el ends here

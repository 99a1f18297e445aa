;;; display-bench.el --- The displayed rows of `make bench'  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;;; Commentary:

;; Not a test.  `opencode-bench-displayed' (in opencode-bench.el) runs
;; this in an Emacs in a terminal under tmux, so redisplay is part of
;; what is measured:
;;
;;   emacs -nw -Q -L lisp -L test/bench --eval '(setq load-prefer-newer t)' \
;;         -l display-bench -f opencode-display-bench-start
;;
;; with OPENCODE_BENCH_CONFIG naming a file that holds a plist: :server
;; (the URL of a real `opencode serve' whose model is build/bench-mock),
;; :project, :mock (the mock's port), :big (the URL of bench-server
;; replaying a 2,000-message session), :out (where the results go, as
;; a plist, then Emacs exits) and :profile (profile the CPU during the
;; streams).  Nothing here asserts on time: it measures and writes.

;;; Code:

;; The displayed Emacs has a scratch HOME, so every file it loads would
;; be native-compiled again in the background, on one of the machine's
;; cores, while it is measured.  A user's Emacs does that once per file
;; and keeps the result; here the byte code is used as it is.
(defvar native-comp-deferred-compilation)
(setq native-comp-deferred-compilation nil)

(require 'cl-lib)
(require 'profiler)
(require 'opencode)
(require 'opencode-chat)
(require 'opencode-chat-nav)
(require 'opencode-markdown)

(defvar opencode-display-bench--config nil
  "The plist read from OPENCODE_BENCH_CONFIG.")

(defvar opencode-display-bench--results nil
  "The results so far, a plist.")

(defconst opencode-display-bench-end "BENCH-END"
  "The last word of the mock's reply.")

;;;; Measuring

(defvar opencode-display-bench--late nil
  "Lateness of the probe's firings, in seconds, newest first.")

(defvar opencode-display-bench--probe nil
  "The probe timer, or nil.")

(defvar opencode-display-bench--windows nil
  "The probe's late firings, (DUE . FIRED), newest first.")

(defvar opencode-display-bench--spans nil
  "What ran while the probe was armed: (START END KIND), newest first.
KIND is `gc', `drain' (a connection's drain), `fontify' (a streamed
text's pass), `timer' (any other timer), and within those `markdown'
\(a Markdown pass, with the characters it renders) and `render' (the
drawing of a part, with its type).")

(defconst opencode-display-bench--late-limit 0.017
  "A firing later than this (one 60 Hz frame) is attributed.")

(defun opencode-display-bench--consed ()
  "Return the bytes of Lisp objects allocated so far (`memory-use-counts')."
  (cl-destructuring-bind (conses floats cells symbols chars intervals strings)
      (memory-use-counts)
    (+ (* 16 conses) (* 8 floats) (* 8 cells) (* 48 symbols) chars
       (* 56 intervals) (* 32 strings))))

(defvar opencode-display-bench--consed-by nil
  "Bytes allocated while probing, by kind of span: an alist.
Spans of one kind nest in none of another here but `markdown' and
`render', which are left out.")

(defun opencode-display-bench--span (kind fn &rest args)
  "Call FN with ARGS; note the span it took as KIND while probing."
  (if (not opencode-display-bench--probe)
      (apply fn args)
    (let ((t0 (float-time)) (c0 (opencode-display-bench--consed)))
      (unwind-protect (apply fn args)
        (push (list t0 (float-time) kind) opencode-display-bench--spans)
        (setf (alist-get kind opencode-display-bench--consed-by)
              (+ (alist-get kind opencode-display-bench--consed-by 0)
                 (- (opencode-display-bench--consed) c0)))))))

(defvar opencode-display-bench--items nil
  "What the drain running dispatched: item kinds or event types, newest first.")

(defun opencode-display-bench--note-item (_conn item)
  "Note the kind of ITEM, or its event's type, for the drain's span."
  (push (pcase item
          (`(event ,type . ,_) type)
          (`(response ,_ ,status . ,_) (format "response %s" status))
          (_ (car-safe item)))
        opencode-display-bench--items))

(defun opencode-display-bench--drain-span (fn conn)
  "Call FN with CONN, noting the drain's span with what it dispatched."
  (let ((opencode-display-bench--items nil) (t0 (float-time)))
    (prog1 (opencode-display-bench--span 'drain fn conn)
      (when (and opencode-display-bench--probe
                 (eq (nth 2 (car opencode-display-bench--spans)) 'drain))
        (setcar opencode-display-bench--spans
                (list t0 (nth 1 (car opencode-display-bench--spans)) 'drain
                      (let (counts)
                        (dolist (k opencode-display-bench--items)
                          (setf (alist-get k counts nil nil #'equal)
                                (1+ (alist-get k counts 0 nil #'equal))))
                        counts)))))))

(defun opencode-display-bench--timer-span (fn timer)
  "Call FN with TIMER, noting the span of TIMER's function."
  (let ((f (timer--function timer)))
    (if (not (memq f '(opencode-display-bench--probe-fire opencode-chat--fontify-pending)))
        ;; Another timer: its function's name is the span's detail.
        (let ((t0 (float-time)))
          (prog1 (opencode-display-bench--span 'timer fn timer)
            (when (and opencode-display-bench--probe
                       (eq (nth 2 (car opencode-display-bench--spans)) 'timer))
              (setcar opencode-display-bench--spans
                      (list t0 (nth 1 (car opencode-display-bench--spans)) 'timer
                            (if (symbolp f) f (format "%.60S" f)))))))
      (opencode-display-bench--span
       (if (eq f 'opencode-display-bench--probe-fire) 'probe 'fontify)
       fn timer))))

(defun opencode-display-bench--markdown-span (fn beg end &optional from)
  "Call FN with BEG, END and FROM, noting a Markdown pass and its length."
  (let ((t0 (float-time)))
    (unwind-protect (funcall fn beg end from)
      (when opencode-display-bench--probe
        (push (list t0 (float-time) 'markdown (- end (or from beg)))
              opencode-display-bench--spans)))))

(defun opencode-display-bench--render-span (fn part entry)
  "Call FN with PART and ENTRY, noting the drawing of a part and its type."
  (let ((t0 (float-time)))
    (unwind-protect (funcall fn part entry)
      (when opencode-display-bench--probe
        (push (list t0 (float-time) 'render (plist-get part :type))
              opencode-display-bench--spans)))))

(defvar opencode-display-bench--gc-elapsed 0.0
  "`gc-elapsed' at the last collection seen.")

(defun opencode-display-bench--gc-span ()
  "Note the collection that just ended as a span."
  (let ((now (float-time)) (took (- gc-elapsed opencode-display-bench--gc-elapsed)))
    (setq opencode-display-bench--gc-elapsed gc-elapsed)
    (when opencode-display-bench--probe
      (push (list (- now took) now 'gc) opencode-display-bench--spans))))

(defun opencode-display-bench--trace (on)
  "Start (ON non-nil) or stop noting spans of drains, timers and GCs."
  (if on
      (progn
        (setq opencode-display-bench--spans nil opencode-display-bench--windows nil
              opencode-display-bench--consed-by (list (cons 'start (opencode-display-bench--consed)))
              opencode-display-bench--gc-elapsed gc-elapsed)
        (advice-add 'opencode-connection--drain :around #'opencode-display-bench--drain-span)
        (advice-add 'opencode-connection--dispatch :before #'opencode-display-bench--note-item)
        (advice-add 'timer-event-handler :around #'opencode-display-bench--timer-span)
        (advice-add 'opencode-markdown-fontify :around #'opencode-display-bench--markdown-span)
        (advice-add 'opencode-chat--render-part :around #'opencode-display-bench--render-span)
        (add-hook 'post-gc-hook #'opencode-display-bench--gc-span))
    (push (cons 'all (- (opencode-display-bench--consed)
                        (alist-get 'start opencode-display-bench--consed-by)))
          opencode-display-bench--consed-by)
    (advice-remove 'opencode-connection--drain #'opencode-display-bench--drain-span)
    (advice-remove 'opencode-connection--dispatch #'opencode-display-bench--note-item)
    (advice-remove 'timer-event-handler #'opencode-display-bench--timer-span)
    (advice-remove 'opencode-markdown-fontify #'opencode-display-bench--markdown-span)
    (advice-remove 'opencode-chat--render-part #'opencode-display-bench--render-span)
    (remove-hook 'post-gc-hook #'opencode-display-bench--gc-span)))

(defun opencode-display-bench--overlap (spans kind beg end)
  "Seconds of SPANS of KIND within BEG..END (spans of one kind do not nest)."
  (cl-loop for (s e k) in spans
           when (and (eq k kind) (< s end) (> e beg))
           sum (- (min e end) (max s beg))))

(defun opencode-display-bench--attribution ()
  "Where the late firings' time went: a plist of milliseconds.
:late is the lateness of the firings later than
`opencode-display-bench--late-limit', summed; :gc, :drain, :fontify
and :timer what ran of each kind in those windows (a drain's or a
timer's collections are in both it and :gc); :rest the lateness no
Lisp span covers, that is redisplay and reading the network;
:worst-window what ran in the worst one."
  (let ((spans opencode-display-bench--spans)
        (sum (list :late 0.0 :gc 0.0 :drain 0.0 :fontify 0.0 :timer 0.0 :rest 0.0))
        (worst nil) (worst-spans nil))
    (pcase-dolist (`(,due . ,fired) opencode-display-bench--windows)
      (let* ((late (- fired due))
             (parts (cl-loop for k in '(gc drain fontify timer)
                             collect (cons k (opencode-display-bench--overlap spans k due fired))))
             (lisp (+ (alist-get 'drain parts) (alist-get 'fontify parts) (alist-get 'timer parts)
                      ;; A collection outside any Lisp span (in redisplay, say).
                      (max 0.0 (- (alist-get 'gc parts)
                                  (cl-loop for (s e k) in spans
                                           when (and (memq k '(drain fontify timer))
                                                     (< s fired) (> e due))
                                           sum (opencode-display-bench--overlap
                                                spans 'gc (max s due) (min e fired))))))))
        (setq sum (plist-put sum :late (+ (plist-get sum :late) late)))
        (pcase-dolist (`(,k . ,v) parts)
          (let ((key (intern (format ":%s" k))))
            (setq sum (plist-put sum key (+ (plist-get sum key) v)))))
        (setq sum (plist-put sum :rest (+ (plist-get sum :rest) (max 0.0 (- late lisp)))))
        (when (or (null worst) (> late (car worst)))
          (setq worst (cons late (cl-loop for (k . v) in parts
                                          append (list (intern (format ":%s" k)) (* 1000 v))))
                worst-spans
                (seq-take
                 (sort (cl-loop for (s e k d) in spans
                                when (and (< s fired) (> e due) (not (eq k 'probe)))
                                collect (list k (round (* 1000 (- e s))) d))
                       (lambda (a b) (> (nth 1 a) (nth 1 b))))
                 8)))))
    (append (cl-loop for (k v) on sum by #'cddr append (list k (* 1000 v)))
            (list :windows (length opencode-display-bench--windows)
                  :worst-window (and worst (cons (* 1000 (car worst)) (cdr worst)))
                  :worst-spans worst-spans
                  :consed (cl-loop for (k . v) in opencode-display-bench--consed-by
                                   unless (eq k 'start)
                                   collect (cons k (round v 1000)))
                  :markdown (let ((sizes (sort (cl-loop for (_s _e k d) in spans
                                                        when (eq k 'markdown) collect d)
                                               #'>)))
                              (list :passes (length sizes) :largest (seq-take sizes 12)
                                    :median (and sizes (nth (/ (length sizes) 2) sizes))))
                  :renders (let (counts)
                             (cl-loop for (_s _e k d) in spans
                                      when (eq k 'render)
                                      do (setf (alist-get d counts nil nil #'equal)
                                               (1+ (alist-get d counts 0 nil #'equal))))
                             counts)))))

(defun opencode-display-bench--gc-ms ()
  "Return how long a collection takes now, in ms (the best of three)."
  (cl-loop repeat 3
           minimize (let ((t0 (float-time)))
                      (garbage-collect)
                      (round (* 1000 (- (float-time) t0))))))

(defun opencode-display-bench--probe-fire (due)
  "Note how late the probe due at DUE is; arm it again 10 ms from now."
  (let ((now (float-time)))
    (push (max 0.0 (- now due)) opencode-display-bench--late)
    (when (> (- now due) opencode-display-bench--late-limit)
      (push (cons due now) opencode-display-bench--windows))
    (setq opencode-display-bench--probe
          (run-with-timer 0.01 nil #'opencode-display-bench--probe-fire (+ now 0.01)))))

(defun opencode-display-bench--probe-start ()
  "Start the 10 ms probe: a timer armed again each time it fires.
Not a repeating timer, which Emacs fires several times in a row when
late, hiding how late it was."
  (opencode-display-bench--trace t)
  (setq opencode-display-bench--late nil
        opencode-display-bench--probe
        (run-with-timer 0.01 nil #'opencode-display-bench--probe-fire (+ (float-time) 0.01))))

(defun opencode-display-bench--stats (seconds)
  "Return (:n N :worst MS :p99 MS :median MS) of SECONDS, a list."
  (let* ((v (vconcat (sort (copy-sequence seconds) #'<)))
         (n (length v))
         (at (lambda (q) (if (= n 0) 0.0 (* 1000 (aref v (min (1- n) (floor (* q (1- n))))))))))
    (list :n n :worst (funcall at 1.0) :p99 (funcall at 0.99) :median (funcall at 0.5))))

(defun opencode-display-bench--probe-stop ()
  "Stop the probe; return the stats of its lateness."
  (when opencode-display-bench--probe (cancel-timer opencode-display-bench--probe))
  (setq opencode-display-bench--probe nil)
  (opencode-display-bench--trace nil)
  (append (opencode-display-bench--stats opencode-display-bench--late)
          (list :where (opencode-display-bench--attribution))))

(defun opencode-display-bench--cpu ()
  "Return the CPU seconds this Emacs has used, all its threads."
  (let ((a (process-attributes (emacs-pid))))
    (+ (float-time (alist-get 'utime a)) (float-time (alist-get 'stime a)))))

(defun opencode-display-bench--wait (pred limit)
  "Let Emacs run (and redisplay) until PRED is non-nil; error after LIMIT s."
  (let ((deadline (+ (float-time) limit)))
    (while (not (funcall pred))
      (when (> (float-time) deadline) (error "Timed out after %ss" limit))
      (sit-for 0.02))))

(defun opencode-display-bench--put (key value)
  "Record VALUE under KEY in the results."
  (setq opencode-display-bench--results (plist-put opencode-display-bench--results key value)))

(defun opencode-display-bench--profile-top (n)
  "Return the top N functions of the CPU profile: ((FN SELF TOTAL) ...).
SELF and TOTAL are percentages of the samples."
  (let ((self (make-hash-table :test #'equal))
        (total (make-hash-table :test #'equal))
        (all 0) (log (if (eq (plist-get opencode-display-bench--config :profile) 'mem)
                         (profiler-memory-log)
                       (profiler-cpu-log))))
    (maphash (lambda (bt count)
               (setq all (+ all count))
               (let ((seen nil) (first t))
                 (seq-doseq (f bt)
                   (when f
                     (let ((name (if (symbolp f) (symbol-name f) (format "%S" (type-of f)))))
                       (when first (puthash name (+ count (gethash name self 0)) self)
                             (setq first nil))
                       (unless (member name seen)
                         (push name seen)
                         (puthash name (+ count (gethash name total 0)) total)))))))
             (if (hash-table-p log) log (make-hash-table)))
    (let (rows)
      (maphash (lambda (name c)
                 (push (list name (/ (* 100.0 (gethash name self 0)) (max 1 all))
                             (/ (* 100.0 c) (max 1 all)))
                       rows))
               total)
      (seq-take (sort rows (lambda (a b) (> (nth 2 a) (nth 2 b)))) n))))

(defmacro opencode-display-bench--profiled (key &rest body)
  "Run BODY; with :profile configured, profile it and record the top under KEY."
  (declare (indent 1))
  `(let ((profile (plist-get opencode-display-bench--config :profile)))
     (when profile (profiler-start (if (eq profile 'mem) 'mem 'cpu)))
     (prog1 (progn ,@body)
       (when profile
         (opencode-display-bench--put ,key (opencode-display-bench--profile-top 40))
         (profiler-stop)))))

(defun opencode-display-bench--after-stream ()
  "Go on probing after a stream: its last Markdown pass, the GC hold's end.
The stream counts as over between one and two `opencode-gc-streaming-rest'
after the last delta; the probe runs past that."
  (let ((t1 (float-time)))
    (while (< (float-time) (+ t1 (max (* 3 opencode-chat-fontify-delay)
                                      (+ (* 2 opencode-gc-streaming-rest) 0.5))))
      (sit-for 0.02))))

;;;; Windows

(defun opencode-display-bench--windows (n)
  "Show N windows (1 or 4) in the frame; return them, top left first."
  (delete-other-windows)
  (if (= n 1)
      (list (selected-window))
    (let* ((a (selected-window))
           (c (split-window a nil (quote below)))
           (b (split-window a nil (quote right)))
           (d (split-window c nil (quote right))))
      (balance-windows)
      (list a b c d))))

;;;; Streaming through the package and the real server

(defun opencode-display-bench--reply-done-p (buf)
  "Whether chat BUF shows the end of the mock's reply."
  (with-current-buffer buf
    (save-excursion
      (goto-char (point-max))
      (search-backward opencode-display-bench-end nil t))))

(defun opencode-display-bench--chats (conn n)
  "Stream the mock's reply into N chats on CONN, each in a window.
Return the stats of the probe."
  (let* ((windows (opencode-display-bench--windows n))
         (chats
          (cl-loop for w in windows
                   for i from 1
                   collect
                   (let ((s (opencode-request-sync conn "POST" "/session"
                                                   :body `(:title ,(format "bench %d/%d" i n)))))
                     (with-selected-window w
                       (cons (plist-get s :id) (opencode-chat-open conn s)))))))
    (opencode-display-bench--wait
     (lambda () (cl-every (lambda (c) (with-current-buffer (cdr c) (opencode-chat-loaded-p)))
                          chats))
     30)
    (cl-loop for (_ . buf) in chats
             do (with-current-buffer buf (opencode-chat-show-end)))
    (redisplay t)
    (garbage-collect)
    (let ((t0 (float-time)) (cpu0 (opencode-display-bench--cpu)) (gcs gcs-done) stats
          (idle-gc (opencode-display-bench--gc-ms)))
      (opencode-display-bench--profiled (intern (format ":profile-chat-%d" n))
        (opencode-display-bench--probe-start)
        (dolist (c chats)
          (opencode-api-session-prompt-async conn (car c) "Write the long answer."
                                             :callback #'ignore))
        (opencode-display-bench--wait
         (lambda () (cl-every (lambda (c) (opencode-display-bench--reply-done-p (cdr c))) chats))
         120)
        ;; Then the last fontification pass, and the end of the GC
        ;; hold (`opencode-gc-streaming-threshold').
        (opencode-display-bench--after-stream)
        (setq stats (opencode-display-bench--probe-stop)))
      (append stats
              (list :seconds (- (float-time) t0)
                    :cpu (- (opencode-display-bench--cpu) cpu0)
                    :gcs (- gcs-done gcs)
                    :size (apply #'+ (mapcar (lambda (c) (buffer-size (cdr c))) chats))
                    :gc-pauses (cl-loop for (s e k) in opencode-display-bench--spans
                                        when (eq k 'gc) collect (round (* 1000 (- e s))))
                    :heap (opencode-display-bench--heap)
                    :idle-gc idle-gc :after-gc (opencode-display-bench--gc-ms)
                    :following (cl-every (lambda (w) (= (window-point w)
                                                        (with-current-buffer (window-buffer w)
                                                          (point-max))))
                                         windows))))))

;;;; The plain baseline: a process filter into a plain buffer

(defvar-local opencode-display-bench--pending ""
  "Bytes of the plain stream not yet cut into events.")

(defvar-local opencode-display-bench--stable nil
  "The stable boundary of the plain buffer's Markdown.")

(defvar-local opencode-display-bench--timer nil
  "The plain buffer's pending fontification timer.")

(defvar-local opencode-display-bench--done nil
  "Non-nil when the plain stream has ended.")

(defun opencode-display-bench--plain-fontify (buf)
  "Fontify plain BUF from its stable boundary, as the chat does."
  (when (buffer-live-p buf)
    (with-current-buffer buf
      (setq opencode-display-bench--timer nil)
      (opencode-markdown-fontify (point-min) (point-max) opencode-display-bench--stable)
      (setq opencode-display-bench--stable
            (opencode-markdown-stable-boundary (or opencode-display-bench--stable (point-min))
                                               (point-max))))))

(defun opencode-display-bench--plain-filter (proc string)
  "Cut STRING from PROC into events; insert their deltas at the end."
  (let ((buf (process-buffer proc)))
    (when (buffer-live-p buf)
      (with-current-buffer buf
        (let ((follow (cl-remove-if-not (lambda (w) (= (window-point w) (point-max)))
                                        (get-buffer-window-list buf nil t)))
              (text (concat opencode-display-bench--pending string))
              (start 0))
          (while (string-match "\n\n" text start)
            (let ((event (substring text start (match-beginning 0))))
              (setq start (match-end 0))
              (when (string-match "^data: \\({.*\\)" event)
                (let* ((chunk (json-parse-string (match-string 1 event) :object-type 'plist))
                       (choice (aref (plist-get chunk :choices) 0))
                       (delta (plist-get choice :delta))
                       (reasoning (plist-get delta :reasoning_content))
                       (content (plist-get delta :content)))
                  (save-excursion
                    (goto-char (point-max))
                    (when (stringp reasoning)
                      (insert (propertize reasoning 'face 'shadow)))
                    (when (stringp content) (insert content)))))
              (when (string-match "^data: \\[DONE\\]" event)
                (setq opencode-display-bench--done t))))
          (setq opencode-display-bench--pending (substring text start))
          (dolist (w follow) (set-window-point w (point-max)))
          (unless opencode-display-bench--timer
            (setq opencode-display-bench--timer
                  (run-with-timer opencode-chat-fontify-delay nil
                                  #'opencode-display-bench--plain-fontify buf))))))))

(defun opencode-display-bench--plain (n)
  "Stream the mock's reply into N plain buffers, each in a window.
Return the stats of the probe."
  (let* ((windows (opencode-display-bench--windows n))
         (bufs (cl-loop for w in windows
                        for i from 1
                        collect (let ((b (generate-new-buffer (format "*plain %d/%d*" i n))))
                                  (with-current-buffer b
                                    (add-to-invisibility-spec 'opencode-markup)
                                    (setq-local scroll-conservatively 101)
                                    (visual-line-mode 1))
                                  (set-window-buffer w b)
                                  b)))
         (procs nil)
         (t0 nil) (cpu0 (opencode-display-bench--cpu)) stats
         ;; A plain client holds no threshold up while it streams.
         (opencode-gc-streaming-threshold nil))
    (opencode--gc-release)
    (redisplay t)
    (garbage-collect)
    (setq t0 (float-time) cpu0 (opencode-display-bench--cpu))
    (opencode-display-bench--probe-start)
    (unwind-protect
        (progn
          (dolist (b bufs)
            (let ((p (make-network-process
                      :name "bench-plain" :buffer b :host "127.0.0.1"
                      :service (plist-get opencode-display-bench--config :mock)
                      :coding 'utf-8-unix :noquery t
                      :filter #'opencode-display-bench--plain-filter)))
              (push p procs)
              (process-send-string p "GET /reply HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")))
          (opencode-display-bench--wait
           (lambda () (cl-every (lambda (b) (buffer-local-value 'opencode-display-bench--done b))
                                bufs))
           120)
          (opencode-display-bench--after-stream)
          (setq stats (opencode-display-bench--probe-stop)))
      (mapc #'delete-process procs))
    (prog1 (append stats (list :seconds (- (float-time) t0)
                               :cpu (- (opencode-display-bench--cpu) cpu0)
                               :size (apply #'+ (mapcar #'buffer-size bufs))))
      (mapc #'kill-buffer bufs))))

;;;; A big chat

(defun opencode-display-bench--heap ()
  "Return the bytes of the Lisp heap in use, after a collection."
  (cl-loop for entry in (garbage-collect)
           when (and (consp entry) (numberp (nth 1 entry)) (numberp (nth 2 entry)))
           sum (* (nth 1 entry) (nth 2 entry))))

(defun opencode-display-bench--keys (command count)
  "Run COMMAND COUNT times as a key would, each with a redisplay.
Return the seconds each took."
  (cl-loop repeat count
           collect (let ((t0 (float-time)))
                     (setq last-command this-command this-command command)
                     (condition-case nil (call-interactively command) (error nil))
                     (redisplay t)
                     (- (float-time) t0))))

(defun opencode-display-bench--folded-parts-after (pos n)
  "Return the beginnings of the first N folded tool parts after POS."
  (let ((found nil))
    (while (and pos (< (length found) n))
      (setq pos (next-single-property-change pos 'opencode-part))
      (when-let* ((id (and pos (get-text-property pos 'opencode-part)))
                  (section (opencode-chat--section id))
                  (part (opencode-chat--part id)))
        (when (and (equal (opencode-part-type part) "tool")
                   (opencode-chat--part-folded-p part)
                   (not (memq (marker-position (opencode-chat-section-beg section)) found)))
          (push (marker-position (opencode-chat-section-beg section)) found))))
    (nreverse found)))

(defun opencode-display-bench--cursor (buf)
  "Move the cursor in BUF's window near its top, middle and end.
At each place, each command is typed 40 times from there, over the
folded tool outputs; then the next 4 tool outputs are unfolded with
TAB and the commands typed again, over their 10 KB.  Return a plist:
per command, the stats of one key, folded and open, and of TAB."
  (let ((commands '(next-line previous-line forward-char backward-char))
        (folded nil) (open nil) (tab nil) (gcs gcs-done) (gc-time gc-elapsed))
    (with-current-buffer buf
      (dolist (frac '(0.02 0.5 0.95))
        (let ((place (+ (point-min) (floor (* frac (buffer-size))))))
          (dolist (c commands)
            (goto-char place) (recenter) (redisplay t)
            (push (cons c (opencode-display-bench--keys c 40)) folded))
          (dolist (p (opencode-display-bench--folded-parts-after place 4))
            (goto-char p) (redisplay t)
            (push (car (opencode-display-bench--keys 'opencode-chat-toggle-fold 1)) tab))
          (dolist (c commands)
            (goto-char place) (recenter) (redisplay t)
            (push (cons c (opencode-display-bench--keys c 40)) open)))))
    (append
     (cl-loop for c in commands
              append (list (intern (format ":%s" c))
                           (list (opencode-display-bench--stats
                                  (cl-loop for (k . s) in folded when (eq k c) append s))
                                 (opencode-display-bench--stats
                                  (cl-loop for (k . s) in open when (eq k c) append s)))))
     (list :tab (opencode-display-bench--stats tab)
           :gcs (- gcs-done gcs) :gc-time (- gc-elapsed gc-time)))))

(defun opencode-display-bench--ablation (buf)
  "Time `next-line' in BUF's middle with parts of the display turned off.
Redisplay costs what the profiler cannot see inside; this says which
display feature it is.  Return a plist: variant -> stats of 60 keys."
  (with-current-buffer buf
    (let ((place (+ (point-min) (/ (buffer-size) 2)))
          (header header-line-format)
          (out nil))
      (dolist (variant '(:default :no-header-line :no-visual-line :neither :ltr))
        (setq bidi-paragraph-direction (and (eq variant :ltr) 'left-to-right)
              bidi-inhibit-bpa (eq variant :ltr))
        (setq header-line-format (if (memq variant '(:no-header-line :neither)) nil header))
        (visual-line-mode (if (memq variant '(:no-visual-line :neither)) -1 1))
        (goto-char place) (recenter) (redisplay t)
        (setq out (plist-put out variant
                             (opencode-display-bench--stats
                              (opencode-display-bench--keys 'next-line 60)))))
      (setq header-line-format header bidi-paragraph-direction nil bidi-inhibit-bpa nil)
      (visual-line-mode 1)
      out)))

(defun opencode-display-bench--big ()
  "Open the big chat: first screen, all of it, cursor, memory."
  (let* ((opencode-connection-state-functions nil)
         (url (plist-get opencode-display-bench--config :big))
         (dir (make-temp-file "opencode-bench-big-" t))
         (conn (opencode-connection-open url dir))
         (heap0 (progn (opencode-display-bench--wait
                        (lambda () (eq (opencode-connection-state conn) 'connected)) 30)
                       (opencode-display-bench--heap)))
         buf first all)
    (unwind-protect
        (progn
          (opencode-display-bench--windows 1)
          (redisplay t)
          ;; The first screen: from the command to the end of the
          ;; redisplay that shows the newest messages, which follows
          ;; the drawing of the page at once (before the older
          ;; batches, drawn from a timer).
          (opencode-display-bench--profiled :profile-big-first
            (let* ((t0 (float-time))
                   (shown (lambda (&rest _)
                            (redisplay t)
                            (unless first (setq first (- (float-time) t0))))))
              (advice-add 'opencode-chat--render-all :after shown)
              (unwind-protect
                  (progn
                    (setq buf (opencode-chat-open conn '(:id "ses_open" :title "big")))
                    (opencode-display-bench--wait (lambda () first) 60))
                (advice-remove 'opencode-chat--render-all shown))))
          ;; Let the page's older batches finish.
          (opencode-display-bench--wait
           (lambda () (with-current-buffer buf (opencode-chat-loaded-p))) 120)
          ;; All 2,000 messages, drawn to the last.
          (opencode-display-bench--profiled :profile-big-all
            (let ((t0 (float-time))
                  (page (opencode-request-sync conn "GET" "/session/ses_open/message"
                                               :query '(("all" . "1")))))
              (with-current-buffer buf (opencode-chat--fill page))
              (opencode-display-bench--wait
               (lambda () (with-current-buffer buf (opencode-chat-loaded-p))) 120)
              (redisplay t)
              (setq all (- (float-time) t0))))
          (let* ((count (with-current-buffer buf (length (opencode-chat--message-sections))))
                 (heap (- (opencode-display-bench--heap) heap0))
                 (size (buffer-size buf))
                 (keys (opencode-display-bench--profiled :profile-big-keys
                         (opencode-display-bench--cursor buf)))
                 (ablation (opencode-display-bench--ablation buf)))
            (list :first first :all all :messages count :heap heap :size size
                  :keys keys :ablation ablation)))
      (when (buffer-live-p buf) (kill-buffer buf))
      (opencode-connection-close conn)
      (delete-directory dir t))))

;;;; Main

(defun opencode-display-bench--write ()
  "Write the results where the harness waits for them."
  (let ((print-length nil) (print-level nil))
    (with-temp-file (plist-get opencode-display-bench--config :out)
      (prin1 opencode-display-bench--results (current-buffer)))))

(defun opencode-display-bench--run ()
  "Run every displayed measurement; write the results; exit."
  (let ((status 0))
    (condition-case err
        (let* ((cfg opencode-display-bench--config)
               (opencode-server-url (plist-get cfg :server))
               (opencode-chat-open-prompt nil)
               (opencode-chat-display 'same-window)
               (opencode-notify nil)
               (conn (opencode-connect (plist-get cfg :project))))
          (opencode-display-bench--put :frame (list (frame-width) (frame-height)
                                                    (display-graphic-p)))
          (opencode-display-bench--put
           :compiled (byte-code-function-p (symbol-function 'opencode-chat--append-delta)))
          (opencode-display-bench--wait
           (lambda () (eq (opencode-connection-state conn) 'connected)) 60)
          ;; Warmed up, as a user's Emacs is: the code blocks' modes loaded.
          (with-temp-buffer
            (insert "```python\nx = 1\n```\n\n```elisp\n(x)\n```\n\n```sh\nx\n```\n")
            (opencode-markdown-fontify (point-min) (point-max)))
          (dolist (step (plist-get cfg :steps))
            (opencode-display-bench--put
             step
             (pcase step
               (:chat-1 (opencode-display-bench--chats conn 1))
               (:plain-1 (opencode-display-bench--plain 1))
               (:chat-4 (opencode-display-bench--chats conn 4))
               (:plain-4 (opencode-display-bench--plain 4))
               (:big (opencode-display-bench--big))))
            (opencode-display-bench--write))
          (opencode-disconnect-all))
      (error (setq status 1)
             (opencode-display-bench--put :error (error-message-string err))))
    (opencode-display-bench--put :done t)
    (opencode-display-bench--write)
    (kill-emacs status)))

(defun opencode-display-bench-start ()
  "Read the configuration; run the measurements once Emacs is idle."
  (setq opencode-display-bench--config
        (with-temp-buffer
          (insert-file-contents (getenv "OPENCODE_BENCH_CONFIG"))
          (read (current-buffer))))
  (setq inhibit-startup-screen t)
  (run-with-idle-timer 0.5 nil #'opencode-display-bench--run))

(provide 'display-bench)
;;; display-bench.el ends here

;;; opencode-drain-test.el --- Tests of time-sliced drains  -*- lexical-binding: t; -*-

;;; Commentary:

;; A queue larger than one slice: the module holds a flood of events
;; (the drain is held off until it is all queued, so the deltas merge
;; as they would under load), then the drain runs in slices.  Each test
;; asserts on order and policy, never on wall-clock durations: a slice
;; of 0 seconds takes one item per drain, and a fake clock makes a
;; 5 ms slice end after a known number of clock reads.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)

(declare-function opencode--module-stats "ext:opencode-module" (handle))

(defconst opencode-drain-test--events 60
  "Events before and after the deltas of the flood.")

(defconst opencode-drain-test--deltas 200
  "Text deltas in the flood, alternately of two parts.")

(defun opencode-drain-test--flood ()
  "Return the flood's bytes: numbered events, deltas, more events, an end."
  (let ((out nil) (n 0))
    (cl-flet ((event (type props)
                (push (format "data: %s\n\n"
                              (json-encode `((type . ,type) (properties . ,props))))
                      out)))
      (dotimes (_ opencode-drain-test--events)
        (event "drain.n" `((n . ,n)))
        (setq n (1+ n)))
      (dotimes (i opencode-drain-test--deltas)
        (event "message.part.delta"
               `((sessionID . "ses_d") (messageID . "msg_d")
                 (partID . ,(if (cl-evenp i) "prt_a" "prt_b"))
                 (field . "text") (delta . ,(format "%d " i)))))
      (dotimes (_ opencode-drain-test--events)
        (event "drain.n" `((n . ,n)))
        (setq n (1+ n)))
      (event "drain.end" nil))
    (encode-coding-string (apply #'concat (nreverse out)) 'utf-8)))

(defun opencode-drain-test--part-text (part)
  "The text the flood streams into PART."
  (mapconcat (lambda (i) (format "%d " i))
             (cl-remove-if-not (lambda (i) (eq (cl-evenp i) (equal part "prt_a")))
                               (number-sequence 0 (1- opencode-drain-test--deltas)))
             ""))

(defmacro opencode-drain-test--with-flood (&rest body)
  "Queue the whole flood on a connection `conn', then run BODY.
The drain is held off until the module holds every item; BODY starts
it.  `log' collects, newest first, (TYPE . PROPS) of each event
dispatched, and whatever BODY pushes on it."
  (declare (indent 0) (debug t))
  `(let* ((bytes (opencode-drain-test--flood))
          (server (opencode-test-http-start
                   (lambda (proc _method path _headers _body)
                     (if (string-prefix-p "/event" path)
                         (progn
                           (process-send-string
                            proc "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
                           (process-send-string proc bytes))
                       (opencode-test-respond proc "404 Not Found" "text/plain" "no")))))
          (log nil)
          (conn nil)
          (opencode-connection-state-functions nil)
          (opencode-event-functions
           (list (lambda (c type props)
                   (when (eq c conn) (push (cons type props) log))))))
     (advice-add 'opencode-connection--drain :override #'ignore
                 '((name . opencode-drain-test--hold)))
     (unwind-protect
         (progn
           (setq conn (opencode-connection-open
                       (format "http://127.0.0.1:%d" (opencode-test-port server))
                       "/tmp"))
           ;; Every event but the deltas is an item; the deltas merge into
           ;; one item per part; two state items come first.
           (should (opencode-test-wait
                    (lambda ()
                      (>= (plist-get (opencode--module-stats
                                      (opencode-connection-handle conn))
                                     :pending)
                          (+ 2 (* 2 opencode-drain-test--events) 2 1)))
                    20))
           (advice-remove 'opencode-connection--drain 'opencode-drain-test--hold)
           ,@body)
       (advice-remove 'opencode-connection--drain 'opencode-drain-test--hold)
       (when conn (opencode-connection-close conn))
       (delete-process server))))

(defun opencode-drain-test--ended (log)
  "Non-nil when LOG holds the flood's end."
  (assoc "drain.end" log))

(defun opencode-drain-test--check-delivery (events)
  "Check EVENTS, oldest first: the whole flood, in order, deltas merged."
  (let ((numbers (mapcar (lambda (e) (plist-get (cdr e) :n))
                         (cl-remove-if-not (lambda (e) (equal (car e) "drain.n")) events)))
        (deltas (cl-remove-if-not (lambda (e) (equal (car e) "message.part.delta"))
                                  events)))
    (should (equal numbers (number-sequence 0 (1- (* 2 opencode-drain-test--events)))))
    ;; The deltas come between the two halves, one merged item per part.
    (should (equal (mapcar (lambda (e) (plist-get (cdr e) :partID)) deltas)
                   '("prt_a" "prt_b")))
    (should (equal (plist-get (cdr (nth 0 deltas)) :delta)
                   (opencode-drain-test--part-text "prt_a")))
    (should (equal (plist-get (cdr (nth 1 deltas)) :delta)
                   (opencode-drain-test--part-text "prt_b")))
    (let ((pos (lambda (x) (cl-position x events))))
      (should (< (funcall pos (cl-find 59 events :key (lambda (e) (plist-get (cdr e) :n))))
                 (funcall pos (nth 0 deltas))
                 (funcall pos (cl-find 60 events :key (lambda (e) (plist-get (cdr e) :n)))))))
    (should (equal (car (last events)) '("drain.end")))
    (should (= (length events) (+ (* 2 opencode-drain-test--events) 2 1)))))

(ert-deftest opencode-drain/slices-deliver-everything-in-order ()
  "A queue of many slices arrives whole, in order, once, deltas merged."
  (let ((opencode-drain-slice 0)        ; One item per drain.
        (drains 0))
    (opencode-drain-test--with-flood
      (let ((count (lambda (&rest _) (setq drains (1+ drains)))))
        (advice-add 'opencode-connection--drain :before count)
        (unwind-protect
            (progn
              ;; The pipe's wake-up went to the held-off drain: this one
              ;; takes one item, and the module wakes the pipe for the rest.
              (opencode-connection--drain conn)
              (should (= (length log) 0)) ; The first item is a state.
              (should (opencode-test-wait (lambda () (opencode-drain-test--ended log)) 20)))
          (advice-remove 'opencode-connection--drain count)))
      (opencode-drain-test--check-delivery (reverse log))
      ;; One drain per item, at least: every one was a slice of its own.
      (should (>= drains (+ 2 (length log))))
      (should (= 0 (plist-get (opencode--module-stats (opencode-connection-handle conn))
                              :pending))))))

(ert-deftest opencode-drain/whole-queue-without-slice ()
  "With `opencode-drain-slice' nil one drain takes the whole queue."
  (let ((opencode-drain-slice nil))
    (opencode-drain-test--with-flood
      (opencode-connection--drain conn)
      (should (opencode-drain-test--ended log))
      (opencode-drain-test--check-delivery (reverse log)))))

(ert-deftest opencode-drain/slice-ends-on-its-clock ()
  "A 5 ms slice ends once its clock says so, the rest coming later.
The clock is fake: each read advances it by 1 ms, so the slice reads it
a few times and dispatches a few batches, each sized from the last."
  (let ((opencode-drain-slice 0.005))
    (opencode-drain-test--with-flood
      (let ((now 1000.0))
        (cl-letf (((symbol-function 'float-time)
                   (lambda (&optional _) (setq now (+ now 0.001)))))
          (opencode-connection--drain conn)))
      (let ((first (length log)))
        (should (> first 1))
        (should-not (opencode-drain-test--ended log))
        (should (opencode-test-wait (lambda () (opencode-drain-test--ended log)) 20))
        (should (> (length log) first)))
      (opencode-drain-test--check-delivery (reverse log)))))

(ert-deftest opencode-drain/timers-run-between-slices ()
  "A timer due before the flood is drained runs before its last event."
  (let ((opencode-drain-slice 0))
    (opencode-drain-test--with-flood
      (run-at-time 0 nil (lambda () (push '(timer) log)))
      (opencode-connection--drain conn)
      (should (opencode-test-wait (lambda () (opencode-drain-test--ended log)) 20))
      (let ((events (reverse log)))
        (should (member '(timer) events))
        ;; Well before the end: the flood's events wait behind it.
        (should (> (length (member '(timer) events)) 100))
        (opencode-drain-test--check-delivery (remove '(timer) events))))))

(ert-deftest opencode-drain/wake-ups-paced-after-a-drain-that-took-everything ()
  "A wake-up soon after a drain that emptied the queue waits for its frame.
Once, with one timer; the timer's drain takes what came meanwhile.  A
wake-up after a drain cut by its slice drains at once."
  (let ((opencode-drain-slice nil)
        (opencode-drain-interval 0.2))
    (opencode-drain-test--with-flood
      ;; As if a drain had just taken everything.
      (setf (opencode-connection-drained-at conn) (float-time))
      (opencode-connection--wake conn)
      (opencode-connection--wake conn)
      (should (null log))
      (let ((timer (opencode-connection-drain-timer conn)))
        (should (timerp timer))
        (opencode-connection--wake conn)
        (should (eq timer (opencode-connection-drain-timer conn))))
      (should (opencode-test-wait (lambda () (opencode-drain-test--ended log)) 5))
      (should-not (opencode-connection-drain-timer conn))
      (opencode-drain-test--check-delivery (reverse log))
      (should (opencode-connection-drained-at conn))))
  (let ((opencode-drain-slice 0)
        (opencode-drain-interval 10))
    (opencode-drain-test--with-flood
      (opencode-connection--drain conn)
      ;; One item taken, more left: no pacing.
      (should-not (opencode-connection-drained-at conn))
      (let ((pending (lambda () (plist-get (opencode--module-stats
                                            (opencode-connection-handle conn))
                                           :pending))))
        (let ((n (funcall pending)))
          (opencode-connection--wake conn)
          (should-not (opencode-connection-drain-timer conn))
          ;; Drained then and there, not from a timer.
          (should (< (funcall pending) n)))))))

(ert-deftest opencode-drain/gc-threshold-held-while-streaming ()
  "Deltas raise `gc-cons-threshold'; the first collection after them puts it back.
Never lowered, and a value set meanwhile (by the user) stays."
  (let ((saved (default-toplevel-value 'gc-cons-threshold))
        (opencode-gc-streaming-threshold (* 8 1024 1024))
        (opencode-gc-streaming-rest 0.05)
        (opencode--gc-held nil)
        (opencode--gc-rest-timer nil))
    (unwind-protect
        (progn
          ;; The global value: the hold sets that one.
          (setq gc-cons-threshold 800000)
          (opencode--gc-hold)
          (should (= gc-cons-threshold (* 8 1024 1024)))
          ;; Over after the rest, but held until a collection.
          (should (opencode-test-wait (lambda () (nth 2 opencode--gc-held)) 5))
          (should (= gc-cons-threshold (* 8 1024 1024)))
          (should-not opencode--gc-rest-timer)
          ;; A drain before it: streaming again.
          (opencode--gc-hold)
          (should-not (nth 2 opencode--gc-held))
          (should (opencode-test-wait (lambda () (nth 2 opencode--gc-held)) 5))
          (garbage-collect)
          (should-not opencode--gc-held)
          (should (= gc-cons-threshold 800000))
          (should-not (memq #'opencode--gc-collected post-gc-hook))
          ;; Put back though the collection falls inside a `let' of the
          ;; threshold (a drawing's GC room): the global value.
          (opencode--gc-hold)
          (setf (nth 2 opencode--gc-held) t)
          (let ((gc-cons-threshold (* 64 1024 1024)))
            (garbage-collect)
            (should (= gc-cons-threshold (* 64 1024 1024))))
          (should-not opencode--gc-held)
          (should (= gc-cons-threshold 800000))
          ;; Never lowered.
          (setq gc-cons-threshold (* 64 1024 1024))
          (opencode--gc-hold)
          (should (= gc-cons-threshold (* 64 1024 1024)))
          (opencode--gc-release)
          (should (= gc-cons-threshold (* 64 1024 1024)))
          ;; Changed while held: the new value stays.
          (setq gc-cons-threshold 800000)
          (opencode--gc-hold)
          (setq gc-cons-threshold 4000000)
          (opencode--gc-release)
          (should (= gc-cons-threshold 4000000))
          ;; Off.
          (let ((opencode-gc-streaming-threshold nil))
            (opencode--gc-hold)
            (should (= gc-cons-threshold 4000000))
            (should-not opencode--gc-held)))
      (opencode--gc-release)
      (setq gc-cons-threshold saved))))

(ert-deftest opencode-drain/closed-mid-slice ()
  "A handler that closes the connection ends the drain safely."
  (let ((opencode-drain-slice 1.0))     ; Would take everything.
    (opencode-drain-test--with-flood
      (let ((closer (lambda (c type props)
                      (when (and (eq c conn) (equal type "drain.n")
                                 (eql (plist-get props :n) 10))
                        (opencode-connection-close c)))))
        (add-hook 'opencode-event-functions closer t)
        (opencode-connection--drain conn)
        (should-not (opencode-connection-live-p conn))
        (opencode-test-wait (lambda () nil) 0.2)
        ;; Nothing after the batch that held the close; no error.
        (let ((numbers (delq nil (mapcar (lambda (e) (plist-get (cdr e) :n))
                                         (reverse log)))))
          (should (equal numbers (number-sequence 0 (car (last numbers)))))
          (should (< (length numbers) (* 2 opencode-drain-test--events))))
        (should-not (opencode-drain-test--ended log))))))

(provide 'opencode-drain-test)
;;; opencode-drain-test.el ends here

;;; opencode-timeline-test.el --- Tests of a session's timeline  -*- lexical-binding: t; -*-

;;; Commentary:

;; The timeline (opencode-timeline.el) filled by events: recorded
;; streams served to the module in several chunk sizes, its deltas
;; merged, give every part its whole text, as events one by one do and
;; as the server stores it; copies of a streaming part behind its
;; deltas lose nothing; a timeline exists only while someone looks.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-timeline)
(require 'opencode-chat)

(defconst opencode-timeline-test--session "ses_def9c3453ffehtI2eUFnUm4WV5"
  "The session of the recorded real-stream.sse and real-messages.json.")

(defun opencode-timeline-test--texts (timeline)
  "Return TIMELINE's parts as an alist, part id -> (TYPE TEXT), in order."
  (cl-loop for m in (opencode-timeline-message-list timeline)
           append (mapcar (lambda (p) (list (opencode-part-id p) (opencode-part-type p)
                                            (opencode-part-text p)))
                          (opencode-message-parts m))))

(defun opencode-timeline-test--events (name)
  "Return the events of SSE fixture NAME as (TYPE . PROPS), in order.
A line that is not JSON is skipped, as the module skips it."
  (let (events)
    (dolist (line (split-string (decode-coding-string (opencode-test-fixture name) 'utf-8) "\n"))
      (when (string-prefix-p "data: " line)
        (let ((e (ignore-errors
                   (json-parse-string (substring line 6) :object-type 'plist
                                      :null-object :null :false-object :false))))
          (when (plist-get e :type)
            (push (cons (plist-get e :type) (plist-get e :properties)) events)))))
    (nreverse events)))

(defun opencode-timeline-test--one-by-one (session events)
  "Return the parts of SESSION's timeline given EVENTS one item each.
EVENTS are (TYPE . PROPS); see `opencode-timeline-test--texts'."
  (let ((conn (opencode-connection--make :url "http://127.0.0.1:1" :directory "/tmp")))
    (opencode-timeline-open conn session)
    (dolist (e events)
      (opencode-test-event conn (car e) (copy-tree (cdr e))))
    (opencode-timeline-test--texts (opencode-timeline conn session))))

(defun opencode-timeline-test--through-module (session bytes chunk)
  "Serve BYTES as the event stream in pieces of CHUNK bytes; fill a timeline.
The timeline is SESSION's; no chat is open.  Everything is drained at
once (`opencode-test-replay-through-module').  Return (PARTS . DELTAS):
see `opencode-timeline-test--texts', and how many text deltas reached
Lisp."
  (opencode-test-replay-through-module
   bytes chunk
   ;; No chat: the timeline alone listens.
   (lambda (conn) (opencode-timeline-open conn session))
   (lambda (conn deltas)
     (cons (opencode-timeline-test--texts (opencode-timeline conn session)) deltas))))

(ert-deftest opencode-timeline/recorded-stream-in-chunk-sizes ()
  "A recorded reply, in several chunk sizes, gives each part the text the server stores."
  (let* ((events (opencode-test--stream-events "real-stream.sse"))
         (bytes (opencode-test-fixture "real-stream.sse"))
         (stored (opencode-test--json-fixture "real-messages.json"))
         (one-by-one (opencode-timeline-test--one-by-one opencode-timeline-test--session events))
         (texts 0))
    (should one-by-one)
    ;; Each text or reasoning part says what the server stored.
    (seq-doseq (m stored)
      (seq-doseq (p (plist-get m :parts))
        (when (member (plist-get p :type) '("text" "reasoning"))
          (cl-incf texts)
          (should (equal (nth 2 (assoc (plist-get p :id) one-by-one)) (plist-get p :text))))))
    (should (> texts 2))
    (dolist (chunk '(7 400 8192))
      (ert-info ((format "chunk size %d" chunk))
        (should (equal (car (opencode-timeline-test--through-module
                             opencode-timeline-test--session bytes chunk))
                       one-by-one))))))

(ert-deftest opencode-timeline/merged-deltas-in-chunk-sizes ()
  "A reply streamed in many deltas, merged by the module, ends with its whole text."
  (let* ((events (opencode-timeline-test--events "stream-basic.sse"))
         (bytes (opencode-test-fixture "stream-basic.sse"))
         (sent (cl-count "message.part.delta" events :key #'car :test #'equal))
         (one-by-one (opencode-timeline-test--one-by-one "ses_fixture1" events))
         (expected (concat (mapconcat (lambda (i) (format "tok%d é中😀 " i))
                                      (number-sequence 0 49) "")
                           "END")))
    (should (equal (nth 2 (assoc "prt_t" one-by-one)) expected))
    (should (equal (nth 2 (assoc "prt_r" one-by-one))
                   (mapconcat (lambda (i) (format "think%d " i)) (number-sequence 0 9) "")))
    (dolist (chunk '(7 400 8192))
      (ert-info ((format "chunk size %d" chunk))
        (pcase-let ((`(,parts . ,deltas) (opencode-timeline-test--through-module
                                          "ses_fixture1" bytes chunk)))
          ;; Merged: fewer reached Lisp than were sent, and none was lost.
          (should (< deltas sent))
          (should (equal parts one-by-one)))))))

(ert-deftest opencode-timeline/copy-behind-the-deltas ()
  "A copy of a streaming part that says less than its deltas keeps the deltas.
A finished copy is the text; a removed part or message goes."
  (let ((conn (opencode-connection--make :url "http://127.0.0.1:1" :directory "/tmp"))
        (part (lambda (text &optional done)
                (list :part (append (list :id "prt_1" :messageID "msg_1" :sessionID "ses_x"
                                          :type "text" :text text)
                                    (and done '(:time (:start 1 :end 2))))))))
    (should-not (opencode-timeline conn "ses_x"))
    ;; No one looks: nothing is kept.
    (opencode-test-event conn "message.part.updated" (funcall part "Hel"))
    (should-not (opencode-timeline conn "ses_x"))
    (let ((tl (opencode-timeline-open conn "ses_x")))
      (opencode-test-event conn "message.updated"
                           '(:info (:id "msg_1" :sessionID "ses_x" :role "assistant"
                                        :time (:created 1))))
      (opencode-test-event conn "message.part.updated" (funcall part "Hel"))
      (opencode-test-event conn "message.part.delta"
                           '(:sessionID "ses_x" :messageID "msg_1" :partID "prt_1"
                                        :field "text" :delta "lo, wor"))
      (should (eq (opencode-part-status (opencode-timeline-part tl "prt_1")) 'streaming))
      (opencode-test-event conn "message.part.updated" (funcall part "Hello"))
      (opencode-test-event conn "message.part.delta"
                           '(:sessionID "ses_x" :messageID "msg_1" :partID "prt_1"
                                        :field "text" :delta "ld"))
      (should (equal (opencode-part-text (opencode-timeline-part tl "prt_1")) "Hello, world"))
      (opencode-test-event conn "message.part.updated" (funcall part "Hello, world!" t))
      (should (equal (opencode-timeline-plists tl)
                     '((:info (:id "msg_1" :sessionID "ses_x" :role "assistant"
                                   :time (:created 1))
                              :parts ((:id "prt_1" :messageID "msg_1" :sessionID "ses_x"
                                           :type "text" :text "Hello, world!"
                                           :time (:start 1 :end 2)))))))
      (should (eq (opencode-part-status (opencode-timeline-part tl "prt_1")) 'completed))
      (should (eq (opencode-message-status (opencode-timeline-message tl "msg_1")) 'streaming))
      (opencode-test-event conn "message.part.removed"
                           '(:sessionID "ses_x" :messageID "msg_1" :partID "prt_1"))
      (should-not (opencode-message-parts (opencode-timeline-message tl "msg_1")))
      (opencode-test-event conn "message.removed" '(:sessionID "ses_x" :messageID "msg_1"))
      (should-not (opencode-timeline-plists tl))
      (opencode-timeline-close conn "ses_x")
      (should-not (opencode-timeline conn "ses_x")))))

(ert-deftest opencode-timeline/held-while-a-chat-shows-it ()
  "A chat opens its session's timeline; killing the chat closes it."
  (let (chat-conn)
    (opencode-test-with-chat "ses_x"
      (should (eq (opencode-timeline conn "ses_x") (opencode-chat-timeline)))
      (opencode-chat-show-pending "msg_9" '((:id "prt_9" :type "text" :text "hi")))
      (should (eq (opencode-message-status (opencode-timeline-message (opencode-chat-timeline) "msg_9"))
                  'pending))
      ;; A page loaded keeps the prompt on its way.
      (opencode-chat--fill [])
      (should (equal (mapcar (lambda (m) (plist-get (plist-get m :info) :id)) (opencode-chat-messages))
                     '("msg_9")))
      (opencode-chat-forget-pending "msg_9")
      (should-not (opencode-chat-messages))
      (setq chat-conn conn))
    (should-not (opencode-timeline chat-conn "ses_x"))))

(provide 'opencode-timeline-test)
;;; opencode-timeline-test.el ends here
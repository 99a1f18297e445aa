;;; opencode-chat-test.el --- Tests of the chat buffer  -*- lexical-binding: t; -*-

;;; Commentary:

;; The timeline drawn from messages recorded from the real server, the
;; same timeline built from the recorded event stream, folding, and the
;; prompt keeping its text when sending fails.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-chat)

(declare-function opencode--module-stats "ext:opencode-module" (handle))

(defconst opencode-test--session "ses_def9c3453ffehtI2eUFnUm4WV5"
  "The session of the recorded fixtures.")

(ert-deftest opencode-chat/renders-recorded-messages ()
  "Messages from the real server render with folded reasoning and tools."
  (opencode-test-with-chat opencode-test--session
    (opencode-chat--fill (opencode-test--json-fixture "real-messages.json"))
    (let ((text (opencode-test--visible-text)))
      (should (string-match-p "^You  20[0-9-]+ [0-9:]+\nPlan the work\n" text))
      (should (string-match-p "^Assistant  mock/mock-1  agent build  20[0-9-]+ [0-9:]+$" text))
      (should (string-match-p "^▸ Thinking$" text))
      (should-not (string-match-p "Let me think" text))
      (should (string-match-p "^I will make a todo list\\.$" text))
      (should (string-match-p "^▸ Todos 0/2 done  \\[completed\\]" text))
      (should-not (string-match-p "Ship it" text))
      (should-not (string-match-p "Step done" text))
      (should (string-match-p "Done: two todos\\." text)))))

(ert-deftest opencode-chat/folding ()
  "TAB toggles one part; S-TAB cycles all; fold state survives a redraw."
  (opencode-test-with-chat opencode-test--session
    (opencode-chat--fill (opencode-test--json-fixture "real-messages.json"))
    (goto-char (point-min))
    (search-forward "Thinking")
    (opencode-chat-toggle-fold)
    (should (string-match-p "^▾ Thinking\nLet me think about it\\.$" (opencode-test--visible-text)))
    ;; A redraw of the part (as message.part.updated does) keeps it open.
    (opencode-test-chat-part (opencode-chat--part-plist (opencode-chat--part-at (point))))
    (should (string-match-p "Let me think about it\\." (opencode-test--visible-text)))
    (opencode-chat-toggle-fold)
    (should-not (string-match-p "Let me think" (opencode-test--visible-text)))
    (opencode-chat-cycle-folds)             ; all folded
    (should-not (string-match-p "Let me think" (opencode-test--visible-text)))
    (opencode-chat-cycle-folds)             ; all open
    (let ((text (opencode-test--visible-text)))
      (should (string-match-p "Let me think about it\\." text))
      (should (string-match-p "^☐ Ship it  (low)$" text)))
    (opencode-chat-cycle-folds)             ; defaults again
    (should-not (string-match-p "Ship it" (opencode-test--visible-text)))
    (goto-char (point-min))
    (search-forward "I will make")
    ;; On a reply's text, TAB opens (or folds) every part of that reply.
    (opencode-chat-toggle-fold)
    (should (string-match-p "Let me think about it\\." (opencode-test--visible-text)))))

(ert-deftest opencode-chat/stream-builds-what-the-server-stored ()
  "Replaying the recorded events gives the buffer that the stored messages give."
  (let (from-messages from-stream)
    (opencode-test-with-chat opencode-test--session
      (opencode-chat--fill (opencode-test--json-fixture "real-messages.json"))
      (setq from-messages (opencode-test--visible-text)))
    (opencode-test-with-chat opencode-test--session
      (dolist (e (opencode-test--stream-events "real-stream.sse"))
        (opencode-test-event conn (car e) (cdr e)))
      (setq from-stream (opencode-test--visible-text)))
    (should (equal from-stream from-messages))))

;;;; The module's merge of deltas, seen in the chat

(defun opencode-test--sse (events)
  "Return EVENTS, a list of (TYPE . PROPS), as the bytes of an event stream.
Every third event ends its lines with CRLF, as some servers do."
  (let ((i 0))
    (encode-coding-string
     (mapconcat (lambda (e)
                  (let ((nl (if (zerop (% (cl-incf i) 3)) "\r\n" "\n")))
                    (concat "data: " (json-serialize (list :type (car e)
                                                           :properties (cdr e)))
                            nl nl)))
                events "")
     'utf-8)))

(defun opencode-test--item (event)
  "Return EVENT, a (TYPE . PROPS), as the item the module makes of it alone.
The item's properties are a fresh copy, as the module's are: the chat
may change what it is given."
  (let ((p (copy-tree (cdr event))))
    (if (equal (car event) "message.part.delta")
        (list 'delta (plist-get p :sessionID) (plist-get p :messageID)
              (plist-get p :partID) (plist-get p :field) (plist-get p :delta))
      (list 'event (car event) p))))

(defun opencode-test--chat-views ()
  "Return what the current chat shows as its parts start, and with all open."
  (let ((inhibit-message t))
    (prog1 (list (opencode-test--visible-text)
                 (progn (opencode-chat-cycle-folds) ; all folded
                        (opencode-chat-cycle-folds) ; all open
                        (opencode-test--visible-text)))
      (opencode-chat-cycle-folds))))

(defun opencode-test--chat-one-by-one (session events)
  "Return the views of a chat of SESSION given EVENTS one item each.
See `opencode-test--chat-views'."
  (opencode-test-with-chat session
    (dolist (e events)
      (opencode-connection--dispatch conn (opencode-test--item e)))
    (opencode-test--chat-views)))

(defun opencode-test--chat-through-module (session bytes chunk)
  "Serve BYTES as the event stream, in pieces of CHUNK bytes, to the module.
A chat of SESSION is open on the connection; everything is drained at
once (`opencode-test-replay-through-module').  Return (VIEWS STATS
DELTAS): the views (see `opencode-test--chat-views'), the module's
counters, and how many text deltas reached Lisp."
  (let ((buf (generate-new-buffer "*opencode-chat-merge*")))
    (unwind-protect
        (opencode-test-replay-through-module
         bytes chunk
         (lambda (conn)
           (with-current-buffer buf
             (opencode-chat-mode)
             (opencode-chat--attach conn (list :id session :title "fixture"))))
         (lambda (conn deltas)
           (with-current-buffer buf
             (list (opencode-test--chat-views)
                   (opencode--module-stats (opencode-connection-handle conn))
                   deltas))))
      (kill-buffer buf))))

(defun opencode-test--interleaved-events (session)
  "Return the events of a reply in SESSION whose parts stream interleaved.
A reasoning part and two text parts get 20 deltas each, in turn (A B C
A B C …), with multi-byte text.  No later event carries a part's whole
text: what the chat shows of them comes from the deltas alone."
  (let ((msg "msg_interleaved")
        (parts '(("prt_a" . "reasoning") ("prt_b" . "text") ("prt_c" . "text")))
        (events nil))
    (push '("server.connected") events)
    (push `("session.status" :sessionID ,session :status (:type "busy")) events)
    (push `("message.updated" :sessionID ,session
            :info (:id ,msg :sessionID ,session :role "assistant"
                       :time (:created 1764000000001)))
          events)
    (dolist (p parts)
      (push `("message.part.updated" :sessionID ,session
              :part (:id ,(car p) :sessionID ,session :messageID ,msg :type ,(cdr p) :text ""))
            events))
    (dotimes (i 20)
      (dolist (p parts)
        (push `("message.part.delta" :sessionID ,session :messageID ,msg :partID ,(car p)
                :field "text" :delta ,(format "%s%d é中😀 " (substring (car p) 4) i))
              events)))
    ;; Done, then idle, as the server says it: a reply never done while
    ;; its session is idle was cut off, and would say so.
    (push `("message.updated" :sessionID ,session
            :info (:id ,msg :sessionID ,session :role "assistant"
                       :time (:created 1764000000001 :completed 1764000000002)))
          events)
    (push `("session.status" :sessionID ,session :status (:type "idle")) events)
    (nreverse events)))

(ert-deftest opencode-chat/stream-merged-deltas ()
  "The recorded stream, merged by the module, gives the chat of its events one by one."
  (let* ((events (opencode-test--stream-events "real-stream.sse"))
         (bytes (opencode-test-fixture "real-stream.sse"))
         (one-by-one (opencode-test--chat-one-by-one opencode-test--session events))
         (sent (cl-count "message.part.delta" events :key #'car :test #'equal)))
    (should (string-match-p "^Done: two todos\\.$" (car one-by-one)))
    (dolist (chunk '(7 400 8192))
      (ert-info ((format "chunk size %d" chunk))
        (pcase-let ((`(,views ,stats ,deltas)
                     (opencode-test--chat-through-module opencode-test--session bytes chunk)))
          (should (> (plist-get stats :merged) 0))
          ;; Every delta reached the chat, merged or alone, once.
          (should (= (+ deltas (plist-get stats :merged)) sent))
          (should (equal views one-by-one)))))))

(ert-deftest opencode-chat/module-merges-interleaved-parts ()
  "Deltas of three parts in turn, merged by the module, show as one by one."
  (let* ((events (opencode-test--interleaved-events "ses_x"))
         (bytes (opencode-test--sse events))
         (one-by-one (opencode-test--chat-one-by-one "ses_x" events))
         (sent (cl-count "message.part.delta" events :key #'car :test #'equal))
         (whole (lambda (tag)
                  (mapconcat (lambda (i) (format "%s%d é中😀 " tag i)) (number-sequence 0 19) ""))))
    ;; The reference is what a person should see: each part's whole
    ;; text on its own lines, the reasoning folded until opened.
    (should (string-search (concat "▸ Thinking\n" (funcall whole "b") "\n" (funcall whole "c") "\n")
                           (car one-by-one)))
    (should-not (string-search (funcall whole "a") (car one-by-one)))
    (should (string-search (concat "▾ Thinking\n" (funcall whole "a") "\n" (funcall whole "b") "\n"
                                   (funcall whole "c") "\n")
                           (cadr one-by-one)))
    (dolist (chunk '(1 7 400 8192))
      (ert-info ((format "chunk size %d" chunk))
        (pcase-let ((`(,views ,stats ,deltas)
                     (opencode-test--chat-through-module "ses_x" bytes chunk)))
          ;; All read before the drain: each part's deltas became one.
          (should (= deltas 3))
          (should (= (plist-get stats :merged) (- sent 3)))
          (should (equal views one-by-one)))))))

(ert-deftest opencode-chat/streamed-text-fontified-once-settled ()
  "Streamed text shows at once, gets its faces after the delay, and reads whole."
  (opencode-test-with-chat "ses_x"
    (let ((opencode-chat-fontify-delay 0.05))
      (opencode-test-chat-message '(:id "msg_1" :sessionID "ses_x" :role "assistant"))
      (opencode-test-chat-part '(:id "prt_1" :messageID "msg_1" :sessionID "ses_x"
                                    :type "text" :text "Say "))
      (dolist (d '("**lo" "ud**" " and " "`co" "de`"))
        (opencode-test-event conn "message.part.delta"
                                 (list :sessionID "ses_x" :messageID "msg_1" :partID "prt_1"
                                       :field "text" :delta d)))
      (goto-char (point-min))
      (should (search-forward "Say **loud** and `code`" nil t))
      (should-not (get-text-property (- (point) 3) 'face))
      (should opencode-chat--fontify-timer)
      (let ((deadline (+ (float-time) 5)))
        (while (and opencode-chat--fontify-timer (< (float-time) deadline))
          (accept-process-output nil 0.02)))
      (should (memq 'opencode-chat-markdown-code
                    (ensure-list (get-text-property (- (point) 3) 'face))))
      (goto-char (point-min))
      (search-forward "loud")
      (should (memq 'bold (ensure-list (get-text-property (1- (point)) 'face))))
      ;; The part's text is joined from its chunks when read.
      (should (equal (plist-get (opencode-chat--part-plist "prt_1") :text)
                     "Say **loud** and `code`"))
      ;; Folding redraws from the joined text; nothing is lost or doubled.
      (opencode-chat--render-part (opencode-chat--section "prt_1"))
      (goto-char (point-min))
      (should (search-forward "Say **loud** and `code`" nil t))
      (should-not (search-forward "loud" nil t)))))

(ert-deftest opencode-chat/streamed-deltas-join-their-intervals ()
  "A thousand deltas make a few text intervals and few live chunks.
Every collection walks the intervals and the chunks: one of each per
delta made a flood's collections 30 ms longer.  The text, its
properties and a folded reasoning's invisibility stay as before."
  (opencode-test-with-chat "ses_x"
    (let ((opencode-chat-fontify-delay 0.01)
          (deltas (cl-loop for i below 1000
                           collect (format "%s word%d%s" (if (= 0 (% i 50)) "**b**" "")
                                           i (if (= 0 (% i 97)) "\n\n" "")))))
      (opencode-test-chat-message '(:id "msg_1" :sessionID "ses_x" :role "assistant"))
      (opencode-test-chat-part '(:id "prt_r" :messageID "msg_1" :sessionID "ses_x"
                                    :type "reasoning" :text "Think"))
      (opencode-test-chat-part '(:id "prt_1" :messageID "msg_1" :sessionID "ses_x"
                                    :type "text" :text "Say"))
      (cl-loop for d in deltas for i from 0
               do (opencode-test-event conn "message.part.delta"
                                       ;; A new string each time, as from the module.
                                       (list :sessionID "ses_x" :messageID "msg_1"
                                             :partID (copy-sequence "prt_1")
                                             :field "text" :delta d))
               (opencode-test-event conn "message.part.delta"
                                    (list :sessionID "ses_x" :messageID "msg_1"
                                          :partID (copy-sequence "prt_r")
                                          :field "text" :delta " more"))
               ;; A Markdown pass now and then, as the timer makes them.
               (when (= 0 (% i 100))
                 (opencode-chat--stop-fontify)
                 (opencode-chat--fontify-pending (current-buffer))))
      (opencode-chat--stop-fontify)
      (opencode-chat--fontify-pending (current-buffer))
      (let* ((section (opencode-chat--section "prt_1"))
             (beg (marker-position (opencode-chat-section-beg section)))
             (end (marker-position (opencode-chat-section-end section)))
             (intervals (cl-count-if (lambda (i) (and (< (car i) end) (> (cadr i) beg)))
                                     (object-intervals (current-buffer)))))
        (should (< intervals 150))
        (should (<= (length (opencode-part-chunks (opencode-chat--part "prt_1")))
                    (+ 4 opencode-timeline--chunks-merged)))
        (cl-loop for pos from beg below end
                 always (equal (get-text-property pos 'opencode-part) "prt_1"))
        (should (equal (plist-get (opencode-chat--part-plist "prt_1") :text)
                       (apply #'concat "Say" deltas))))
      (let* ((section (opencode-chat--section "prt_r"))
             (end (marker-position (opencode-chat-section-end section)))
             (beg (- end (length "Think") (* 1000 (length " more")))))
        (should (equal (plist-get (opencode-chat--part-plist "prt_r") :text)
                       (apply #'concat "Think" (make-list 1000 " more"))))
        (should (equal (buffer-substring-no-properties beg end)
                       (plist-get (opencode-chat--part-plist "prt_r") :text)))
        (should (cl-loop for pos from beg below end
                         always (eq (get-text-property pos 'face) 'opencode-chat-reasoning)))
        (should (cl-loop for pos from beg below end
                         always (get-text-property pos 'invisible))))
      (let ((shown (opencode-test--visible-text)))
        (dolist (s '("\nSayb word0\n\n word1 word2 " " word49b word50 " " word998 word999\n"))
          (should (string-search s shown)))
        (should-not (string-search "**" shown))
        (should-not (string-search "more" shown))))))

(ert-deftest opencode-chat/burst-rendered-in-slices ()
  "A burst of text is rendered a slice of blocks at a time, as a whole pass would.
Each pass stays near `opencode-chat-fontify-slice' characters, Emacs
runs between them, and the end reads as the whole text rendered."
  (opencode-test-with-chat "ses_x"
    (let* ((opencode-chat-fontify-delay 0.01)
           (opencode-chat-fontify-slice 500)
           (unit "## Step\n\nSome **bold** and `code`.\n\n- item *one*\n\n```python\nx = 1\n```\n\n")
           ;; A code block longer than a slice, in the middle.
           (long (concat "```python\n" (apply #'concat (make-list 80 "x = 1\n")) "```\n\n"))
           (text (concat (apply #'concat (make-list 20 unit)) long
                         (apply #'concat (make-list 20 unit))))
           (sizes nil)
           (note (lambda (beg end &optional from) (push (- end (or from beg)) sizes))))
      (opencode-test-chat-message '(:id "msg_1" :sessionID "ses_x" :role "assistant"))
      (opencode-test-chat-part '(:id "prt_1" :messageID "msg_1" :sessionID "ses_x"
                                    :type "text" :text "Start.\n\n"))
      (advice-add 'opencode-markdown-fontify :before note)
      (unwind-protect
          (progn
            ;; One delta: a burst the module merged.
            (opencode-test-chat-delta "prt_1" "text" text)
            (let ((deadline (+ (float-time) 10)))
              (while (and opencode-chat--fontify-timer (< (float-time) deadline))
                (accept-process-output nil 0.005))))
        (advice-remove 'opencode-markdown-fontify note))
      (should (> (length sizes) 5))
      ;; Each pass a slice, but the one that holds the long block.
      (should (<= (apply #'max sizes) (+ 500 (length long) (* 2 (length unit)))))
      (should (<= (cl-count-if (lambda (n) (> n (+ 500 (length unit)))) sizes) 1))
      (let ((sliced (opencode-test--visible-text)))
        (should-not (string-search "**" sliced))
        (should-not (string-search "```" sliced))
        (opencode-chat--render-part (opencode-chat--section "prt_1"))
        (should (equal sliced (opencode-test--visible-text)))))))

(ert-deftest opencode-chat/server-copy-of-streamed-text-not-redrawn ()
  "The server's copy of a text streamed in place is not drawn again.
Only the last Markdown pass runs, and the chat reads as a fresh render."
  (opencode-test-with-chat "ses_x"
    (let* ((renders 0)
           (count (lambda (&rest _) (cl-incf renders)))
           (text "# Title\n\nSome **bold** text.\n\n```python\nx = 1\n```\n\nThe end.")
           (part (lambda (text &rest more)
                   (append (list :id "prt_1" :messageID "msg_1" :sessionID "ses_x"
                                 :type "text" :text text)
                           more))))
      (opencode-test-chat-message '(:id "msg_1" :sessionID "ses_x" :role "assistant"))
      (opencode-test-chat-part (funcall part "# Ti"))
      (advice-add 'opencode-chat--render-part :after count)
      (unwind-protect
          (progn
            (dolist (d (list "tle\n\nSome **bo" "ld** text.\n\n```pyt" "hon\nx = 1\n```\n\nThe end."))
              (opencode-test-chat-delta "prt_1" "text" d)
              (opencode-chat--fontify-pending (current-buffer)))
            (should (= renders 0))
            ;; A copy taken mid-stream, behind the deltas shown: nothing
            ;; drawn again, nothing of the shown text forgotten.
            (opencode-test-chat-part (funcall part "# Title\n\nSome **bo"))
            (should (= renders 0))
            (should (equal (plist-get (opencode-chat--part-plist "prt_1") :text)
                           text))
            ;; The server's copy, as message.part.updated brings it at the end.
            (opencode-test-chat-part (funcall part text :time '(:start 1 :end 2)))
            (should (= renders 0))
            (should (equal (plist-get (opencode-chat--part-plist "prt_1") :time)
                           '(:start 1 :end 2)))
            (opencode-chat--fontify-pending (current-buffer))
            (let ((streamed (opencode-test--visible-text)))
              (should (string-match-p "^Title\n\nSome bold text\\.\n" streamed))
              ;; A different text is drawn again; the same one, drawn
              ;; whole, reads as the streamed one did.
              (opencode-test-chat-part (funcall part (concat text "!")))
              (should (= renders 1))
              (opencode-test-chat-part (funcall part text :time '(:start 1 :end 2)))
              (should (equal streamed (opencode-test--visible-text)))))
        (advice-remove 'opencode-chat--render-part count)))))

(defun opencode-test--messages (n)
  "Return N messages of session ses_x, oldest first, as the server sends them."
  (vconcat
   (cl-loop for i below n
            for mid = (format "msg_%05d" i)
            collect `(:info (:id ,mid :sessionID "ses_x" :role ,(if (cl-evenp i) "user" "assistant"))
                      :parts [(:id ,(format "prt_%05d" i) :sessionID "ses_x" :messageID ,mid
                                   :type "text" :text ,(format "message number %d" i))]))))

(ert-deftest opencode-chat/long-session-drawn-newest-first ()
  "A long page shows its newest messages at once, then the rest above, in order."
  (let ((messages (opencode-test--messages 95)) whole)
    (opencode-test-with-chat "ses_x"
      (let ((opencode-chat-render-batch 1000))
        (opencode-chat--fill messages)
        (should (opencode-chat-loaded-p))
        (setq whole (buffer-string))))
    (opencode-test-with-chat "ses_x"
      (let ((opencode-chat-render-batch 10))
        (opencode-chat--fill messages)
        (should-not (opencode-chat-loaded-p))
        (should (= (length (opencode-chat--message-sections)) 10))
        (goto-char (point-min))
        (should (search-forward "message number 85" nil t))
        (should-not (search-forward "message number 84" nil t))
        ;; Undrawn messages are not lost: the shown list has them all.
        (should (= (length (opencode-chat--shown-messages)) 95))
        ;; An event for an old, undrawn message waits for its batch.
        (opencode-test-event conn "message.updated"
                                 '(:info (:id "msg_00003" :sessionID "ses_x" :role "assistant")))
        (should (= (length (opencode-chat--message-sections)) 10))
        (let ((deadline (+ (float-time) 10)))
          (while (and (not (opencode-chat-loaded-p)) (< (float-time) deadline))
            (accept-process-output nil 0.02)))
        (should (opencode-chat-loaded-p))
        (should (equal (buffer-string) whole))
        ;; Every marker is where its message is.
        (dolist (s (opencode-chat--message-sections))
          (should (equal (get-text-property (opencode-chat-section-beg s) 'opencode-message)
                         (opencode-chat-section-id s))))
        ;; A new message still goes at the end.
        (opencode-test-event conn "message.updated"
                                 '(:info (:id "msg_99999" :sessionID "ses_x" :role "user")))
        (should (= (length (opencode-chat--message-sections)) 96))
        (let ((last (opencode-chat-section-beg (opencode-chat--section "msg_99999"))))
          (dolist (s (opencode-chat--message-sections))
            (should (<= (opencode-chat-section-beg s) last))))))))

(ert-deftest opencode-chat/parts-removed-and-unknown ()
  "Removed parts and messages vanish; unknown part types show their fields."
  (opencode-test-with-chat "ses_x"
    (opencode-test-chat-message '(:id "msg_1" :sessionID "ses_x" :role "assistant"))
    (opencode-test-chat-part '(:id "prt_1" :messageID "msg_1" :sessionID "ses_x"
                                  :type "text" :text "first"))
    (opencode-test-chat-part '(:id "prt_2" :messageID "msg_1" :sessionID "ses_x"
                                  :type "hologram" :beam "blue"))
    (opencode-test-chat-part '(:id "prt_3" :messageID "msg_1" :sessionID "ses_x"
                                  :type "text" :text "third"))
    (should (string-match-p "first\n▾ Part hologram\ntype: hologram\nbeam: blue\n" (opencode-test--visible-text)))
    (opencode-chat--remove-part "prt_2")
    (should (string-match-p "first\nthird" (opencode-test--visible-text)))
    (opencode-test-chat-delta "prt_1" "text" " more")
    (should (string-match-p "first more\nthird" (opencode-test--visible-text)))
    (opencode-test-chat-message '(:id "msg_2" :sessionID "ses_x" :role "user"))
    (opencode-test-chat-part '(:id "prt_4" :messageID "msg_2" :sessionID "ses_x"
                                  :type "text" :text "question"))
    (opencode-chat--remove-message "msg_1")
    (should-not (string-match-p "first" (opencode-test--visible-text)))
    (should (string-match-p "^You\nquestion\n" (opencode-test--visible-text)))))

(ert-deftest opencode-chat/failed-send-keeps-text ()
  "A prompt that cannot be sent stays in the prompt buffer."
  (opencode-test-with-chat "ses_x"
    (let* ((dead (opencode-connection-open "http://127.0.0.1:1" "/tmp"))
           (chat (current-buffer))
           (prompt (progn (setq opencode-chat--conn dead)
                          (save-window-excursion (opencode-chat-prompt)))))
      (unwind-protect
          (with-current-buffer prompt
            (insert "do not lose me")
            (opencode-prompt-send)
            (should (opencode-test-wait
                     (lambda () (zerop (hash-table-count (opencode-connection-callbacks dead))))))
            (should (equal (buffer-string) "do not lose me"))
            (should (eq opencode-prompt--chat chat)))
        (kill-buffer prompt)
        (opencode-connection-close dead)))))

(provide 'opencode-chat-test)
;;; opencode-chat-test.el ends here

(ert-deftest opencode-chat/session-diff-buffer ()
  "The session diff route's patches show in a `diff-mode' buffer with totals."
  (let* ((patch "Index: hello.txt\n===================================================================\n--- hello.txt\n+++ hello.txt\n@@ -0,0 +1,1 @@\n+hello from the agent\n")
         (server (opencode-test-http-start
                  (lambda (proc _m path _h _b)
                    (if (string-match-p "\\`/session/ses_x/diff" path)
                        (opencode-test-respond
                         proc "200 OK" "application/json"
                         (json-serialize `[(:file "hello.txt" :patch ,patch :additions 1
                                                  :deletions 0 :status "added")]))
                      (opencode-test-respond proc "404 Not Found" "text/plain" "no")))))
         (live (opencode-connection-open (format "http://127.0.0.1:%d" (opencode-test-port server))
                                         "/tmp"))
         (shown nil))
    (unwind-protect
        (opencode-test-with-chat "ses_x"
          (setq opencode-chat--conn live)
          (cl-letf (((symbol-function 'display-buffer) (lambda (b &rest _) (setq shown b))))
            (opencode-chat-diff)
            (should (opencode-test-wait (lambda () shown) 10)))
          (with-current-buffer shown
            (should (eq major-mode 'diff-mode))
            (should (string-match-p "^\\+hello from the agent$" (buffer-string)))
            (should (equal header-line-format " 1 file  +1 −0"))
            (kill-buffer)))
      (opencode-connection-close live)
      (delete-process server))))

(ert-deftest opencode-chat/markdown-and-code-blocks ()
  "Text parts are rendered Markdown; fenced code gets its language's faces."
  (opencode-test-with-chat "ses_x"
    (opencode-test-chat-message '(:id "msg_1" :sessionID "ses_x" :role "assistant"))
    (opencode-test-chat-part
     '(:id "prt_1" :messageID "msg_1" :sessionID "ses_x" :type "text"
       :text "# Title\nSome **bold** and `code` and [a link](https://example.invalid).\n```elisp\n(defun f () (message \"str **no**\"))\n```\nAfter **x**.\n"))
    (cl-flet ((face-at (s) (save-excursion (goto-char (point-min)) (search-forward s)
                                           (get-text-property (match-beginning 0) 'face))))
      (should (memq 'opencode-chat-markdown-heading-1 (ensure-list (face-at "Title"))))
      (should (memq 'bold (ensure-list (face-at "bold**"))))
      (should (memq 'opencode-chat-markdown-code (ensure-list (face-at "code`"))))
      (should (equal (save-excursion (goto-char (point-min)) (search-forward "a link")
                                     (button-get (button-at (match-beginning 0)) 'help-echo))
                     "https://example.invalid"))
      (should (eq (face-at "defun") 'font-lock-keyword-face))
      (should (eq (face-at "\"str") 'font-lock-string-face))
      ;; Markdown marks inside code are left alone, and apply after it.
      (should-not (memq 'bold (ensure-list (face-at "no**"))))
      (should (memq 'bold (ensure-list (face-at "x**")))))
    ;; Streaming into an open code block keeps the text intact.
    (opencode-test-chat-part '(:id "prt_2" :messageID "msg_1" :sessionID "ses_x" :type "text"
                                  :text "```sh\necho"))
    (opencode-test-chat-delta "prt_2" "text" " hi\n```\n")
    (add-to-invisibility-spec 'opencode-markup)
    (opencode-chat--fontify-pending (current-buffer))
    (should (string-match-p "^```sh\necho hi\n```$" (buffer-substring-no-properties
                                                      (point-min) (point-max))))
    ;; Rendered once the pending pass is done: the fences do not show.
    (should (string-match-p "^sh\necho hi\n+\\'" (opencode-test--visible-text)))
    (let ((opencode-chat-fontify-max 10))
      (opencode-test-chat-part '(:id "prt_3" :messageID "msg_1" :sessionID "ses_x" :type "text"
                                    :text "a long **text** past the limit"))
      (should (string-match-p "a long \\*\\*text\\*\\* past the limit" (opencode-test--visible-text)))
      (should-not (save-excursion (goto-char (point-min)) (search-forward "past the")
                                  (get-text-property (match-beginning 0) 'face))))))

(ert-deftest opencode-chat/navigation-imenu-bookmark ()
  "N/P and M-n/M-p move by message and part; imenu lists prompts; bookmarks reopen."
  (opencode-test-with-chat opencode-test--session
    (opencode-chat--fill (opencode-test--json-fixture "real-messages.json"))
    (goto-char (point-min))
    (opencode-chat-next-reply 1)
    (should (looking-at "Assistant"))
    (opencode-chat-previous-reply 1)
    (should (looking-at "You"))
    (should-error (opencode-chat-previous-reply 1) :type 'user-error)
    ;; One prompt: n has nowhere to go.
    (should-error (opencode-chat-next-message 1) :type 'user-error)
    (opencode-chat-next-part 1)
    (should (looking-at "Plan the work"))
    (opencode-chat-next-part 1)
    (should (looking-at "▸ Thinking"))
    (opencode-chat-next-part 2)
    (should (looking-at "▸ Todos 0/2 done"))
    (opencode-chat-previous-part 1)
    (should (looking-at "I will make a todo list"))
    (should (equal (mapcar #'car (opencode-chat--imenu-index)) '("Plan the work")))
    (let ((record (opencode-chat-bookmark-make-record))
          (opened nil))
      (should (equal (alist-get 'session (cdr record)) opencode-test--session))
      (should (equal (alist-get 'directory (cdr record)) "/tmp"))
      (cl-letf (((symbol-function 'opencode-connect) (lambda (dir) (list 'conn dir)))
                ((symbol-function 'opencode-chat-open) (lambda (c s) (setq opened (list c s)))))
        (opencode-chat-bookmark-jump record))
      (should (equal opened `((conn "/tmp") (:id ,opencode-test--session :title "fixture")))))))

(ert-deftest opencode-chat/files-open-only-inside-the-project ()
  "File and patch parts name files that open on RET, only inside the project."
  (opencode-test-with-chat "ses_x"
    (setf (opencode-connection-directory conn) "/tmp/proj")
    (opencode-test-chat-message '(:id "msg_1" :sessionID "ses_x" :role "assistant"))
    (opencode-test-chat-part '(:id "prt_1" :messageID "msg_1" :sessionID "ses_x" :type "patch"
                                  :hash "abc" :files ["/tmp/proj/src/a.c" "/etc/passwd"]))
    (setf (opencode-part-fold (opencode-chat--part "prt_1")) 'open)
    (opencode-chat--update-part "prt_1")
    (let ((visited nil))
      (cl-letf (((symbol-function 'find-file-other-window) (lambda (f) (setq visited f))))
        (goto-char (point-min))
        (search-forward "/tmp/proj/src/a.c")
        (goto-char (match-beginning 0))
        (call-interactively (lookup-key (get-text-property (point) 'keymap) (kbd "RET")))
        (should (equal visited "/tmp/proj/src/a.c"))
        (setq visited nil)
        (search-forward "/etc/passwd")
        (goto-char (match-beginning 0))
        (should-error (opencode-chat-visit-file-at-point) :type 'user-error)
        (should-not visited)))))

(ert-deftest opencode-chat/subagent-link-and-compaction ()
  "A task tool links to its sub-agent session; compaction shows a divider."
  (opencode-test-with-chat "ses_x"
    (opencode-test-chat-message '(:id "msg_1" :sessionID "ses_x" :role "assistant"))
    (opencode-test-chat-part
     '(:id "prt_1" :messageID "msg_1" :sessionID "ses_x" :type "tool" :tool "task"
       :state (:status "running" :input (:description "Look around" :prompt "Explore")
               :metadata (:sessionId "ses_child") :time (:start 1))))
    (should (string-match-p "^▸ Task: Look around  \\[running\\]$" (opencode-test--visible-text)))
    (goto-char (point-min))
    (search-forward "Task: Look around")
    (opencode-chat-toggle-fold)
    (search-forward "Sub-agent session ses_child")
    (goto-char (match-beginning 0))
    (let (opened)
      (cl-letf (((symbol-function 'opencode-api-session-get) (lambda (&rest _) '(:id "ses_child" :title "child")))
                ((symbol-function 'opencode-chat-open) (lambda (_c s) (setq opened s))))
        (call-interactively (lookup-key (get-text-property (point) 'keymap) (kbd "RET"))))
      (should (equal opened '(:id "ses_child" :title "child"))))
    (opencode-test-chat-part '(:id "prt_2" :messageID "msg_1" :sessionID "ses_x" :type "compaction"
                                  :auto :false))
    (should (string-match-p "^──── context compacted: earlier messages were summarised ────$"
                            (opencode-test--visible-text)))))

(ert-deftest opencode-chat/abort-on-switch ()
  "Killing a busy session's chat follows `opencode-abort-on-switch'."
  (dolist (case '((nil . nil) (abort . t) (ask . t)))
    (let ((opencode-abort-on-switch (car case))
          (aborted nil))
      (cl-letf (((symbol-function 'opencode-api-session-abort)
                 (lambda (_c id &rest _) (setq aborted id)))
                ((symbol-function 'y-or-n-p) (lambda (_) t)))
        (opencode-test-with-chat "ses_busy"
          (opencode-test-event conn "session.status" '(:sessionID "ses_busy" :status (:type "busy")))))
      (should (equal aborted (and (cdr case) "ses_busy"))))))

(ert-deftest opencode-chat/abort-on-switch-asks-by-default ()
  "Out of the box, killing a busy session's chat asks before it aborts."
  (let ((opencode-abort-on-switch (eval (car (get 'opencode-abort-on-switch 'standard-value)) t))
        (asked nil) (aborted nil))
    (cl-letf (((symbol-function 'opencode-api-session-abort)
               (lambda (_c id &rest _) (setq aborted id)))
              ((symbol-function 'y-or-n-p) (lambda (q) (setq asked q) nil)))
      (opencode-test-with-chat "ses_busy"
        (opencode-test-event conn "session.status" '(:sessionID "ses_busy" :status (:type "busy")))))
    (should (string-match-p "busy: abort its reply\\?" (or asked "")))
    (should-not aborted)))

(ert-deftest opencode-chat/diff-buffer-follows-the-summary ()
  "A file's diff opened from a chat shows the prompt's latest summary.
The server updates a prompt's summary after each step of its reply,
the last one after the session is idle: a diff opened before that
changes when it does."
  (let* ((hi [(:file "hello.py" :patch "--- a/hello.py\n+++ b/hello.py\n@@ -0,0 +1 @@\n+print('hi')\n")])
         (hello [(:file "hello.py" :patch "--- a/hello.py\n+++ b/hello.py\n@@ -0,0 +1 @@\n+print('hello')\n")])
         (now hi))
    (cl-letf (((symbol-function 'opencode-connection-usable-p) (lambda (_) t))
              ((symbol-function 'opencode-store-fetch-diff)
               (lambda (_conn _sid callback &optional _mid) (funcall callback now))))
      (opencode-test-with-chat "ses_d"
        (setq default-directory "/tmp/")
        (save-window-excursion (opencode-diff-patch-file "hello.py" "msg_1"))
        (let ((diff (get-buffer "*opencode-diff: hello.py*")))
          (unwind-protect
              (progn
                (should diff)
                (should (string-match-p "^\\+print('hi')" (with-current-buffer diff (buffer-string))))
                (setq now hello)
                (opencode-test-event conn "session.diff" '(:sessionID "ses_d" :diff [] :derived t))
                (should (opencode-test-wait
                         (lambda () (string-match-p "^\\+print('hello')"
                                                    (with-current-buffer diff (buffer-string))))
                         5))
                ;; Another session's change leaves it alone.
                (setq now hi)
                (opencode-test-event conn "session.diff" '(:sessionID "ses_other" :diff [] :derived t))
                (sleep-for 0.5)
                (should (string-match-p "^\\+print('hello')" (with-current-buffer diff (buffer-string)))))
            (when (buffer-live-p diff) (kill-buffer diff))))))))

(ert-deftest opencode-chat/api-routes-and-message-diff ()
  "The route functions send what they say; a message diff asks for that message."
  (let* ((seen nil)
         (server (opencode-test-http-start
                  (lambda (proc method path _h body)
                    (push (list method path body) seen)
                    (opencode-test-respond proc "200 OK" "application/json" "[]"))))
         (live (opencode-connection-open (format "http://127.0.0.1:%d" (opencode-test-port server))
                                         "/tmp")))
    (unwind-protect
        (progn
          (opencode-request-sync live "GET" "/noop")
          (let ((done nil))
            (opencode-api-session-revert live "ses_1" :body '(:messageID "msg_2")
                                         :callback (lambda (_) (setq done t)))
            (should (opencode-test-wait (lambda () done) 10)))
          (should (member '("POST" "/session/ses_1/revert?directory=%2Ftmp" "{\"messageID\":\"msg_2\"}")
                          seen))
          (let ((done nil))
            (opencode-api-part-update live "ses_1" "msg_2" "prt/3" :body '(:text "x")
                                      :callback (lambda (_) (setq done t)))
            (should (opencode-test-wait (lambda () done) 10)))
          (should (assoc "PATCH" seen))
          (should (equal (nth 1 (assoc "PATCH" seen))
                         "/session/ses_1/message/msg_2/part/prt%2F3?directory=%2Ftmp"))
          (opencode-test-with-chat "ses_1"
            (setq opencode-chat--conn live)
            (cl-letf (((symbol-function 'display-buffer) #'ignore))
              (opencode-chat-diff "msg_9"))
            (should (opencode-test-wait
                     (lambda () (cl-some (lambda (r) (equal (nth 1 r) "/session/ses_1/diff?messageID=msg_9&directory=%2Ftmp"))
                                         seen))
                     10))))
      (opencode-connection-close live)
      (delete-process server))))

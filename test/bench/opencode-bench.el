;;; opencode-bench.el --- `make bench': the module against plain Elisp  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;;; Commentary:

;; Run by `make bench' (never by `make test'):
;;
;;   emacs -Q --batch -L lisp -L test -l test/bench/opencode-bench.el \
;;         -f opencode-bench-main
;;
;; Every figure is measured twice in the same run: through the C module,
;; and through a plain-Elisp baseline built the way Emacs LLM clients
;; commonly stream: a `curl -N' subprocess, a process filter that splits
;; the text at blank lines, and `json-parse-string'.  Both feed the same
;; renderer (the package's event hooks), so the difference is the
;; transport, the parsing and the delta merging.  The C-only ceiling is
;; build/bench-ingest: the module's pipeline without Emacs.
;;
;; The data are generated here (OpenCode-shaped, like the recorded
;; fixtures) into build/bench/ and served by build/bench-server on
;; 127.0.0.1.  The table goes to stdout and build/bench/results.md, a
;; plot to build/bench/results.svg.

;;; Code:

(require 'cl-lib)
(require 'opencode)
(require 'opencode-chat)
(require 'opencode-sessions)
(require 'markdown-bench)
(require 'opencode-test-helpers)

(declare-function opencode--module-version "ext:opencode-module" ())
(declare-function opencode--module-stats "ext:opencode-module" (handle))

(defvar opencode-bench-root
  (file-name-directory (directory-file-name
                        (file-name-directory
                         (directory-file-name
                          (file-name-directory (or load-file-name buffer-file-name))))))
  "The repository's root directory.")

(defvar opencode-bench-dir (expand-file-name "build/bench/" opencode-bench-root)
  "Where generated data and results go.")

(defvar opencode-bench-events 100000
  "How many `message.part.delta' events the ingest stream has.")

(defvar opencode-bench-sessions 4
  "How many sessions stream side by side.")

(defvar opencode-bench-rate 2000
  "Events per second of the responsiveness stream.")

(defvar opencode-bench-rate-seconds 8
  "How long the responsiveness stream lasts.")

(defvar opencode-bench-messages 2000
  "How many messages the large session has.")

(defvar opencode-bench-list-sizes '(1000 10000)
  "Session list sizes measured.")

(defvar opencode-bench-steps
  (if (getenv "OPENCODE_BENCH_ONLY")
      (mapcar (lambda (s) (intern (concat "opencode-bench-" s)))
              (split-string (getenv "OPENCODE_BENCH_ONLY") ","))
    (list (function opencode-bench-ingest) (function opencode-bench-responsiveness)
          (function opencode-bench-open-session) (function opencode-bench-session-list)
          (function opencode-bench-markdown) (function opencode-bench-displayed)))
  "The benchmarks run, in order; OPENCODE_BENCH_ONLY=ingest,displayed picks some.")

(defvar opencode-bench--numbers nil
  "Figures for the plot, an alist (KEY . NUMBER).")

(defvar opencode-bench--results nil
  "Rows of the results table, newest first: (WHAT MODULE BASELINE NOTE).")

;;;; Utilities

(defun opencode-bench--file (name)
  "Return NAME under `opencode-bench-dir'."
  (expand-file-name name opencode-bench-dir))

(defun opencode-bench--say (fmt &rest args)
  "Print FMT with ARGS on stderr, as progress."
  (princ (concat (apply #'format fmt args) "\n") #'external-debugging-output))

(defun opencode-bench--row (what module baseline &optional note)
  "Record a result row WHAT with MODULE and BASELINE figures and a NOTE."
  (push (list what module baseline (or note "")) opencode-bench--results)
  (opencode-bench--say "  %-52s %16s %16s  %s" what module baseline (or note "")))

(defun opencode-bench--heap-bytes ()
  "Return the bytes of the Lisp heap in use, after a collection."
  (cl-loop for entry in (garbage-collect)
           when (and (consp entry) (numberp (nth 1 entry)) (numberp (nth 2 entry)))
           sum (* (nth 1 entry) (nth 2 entry))))

(defmacro opencode-bench--time (&rest body)
  "Run BODY; return the seconds it took."
  (declare (indent 0))
  (let ((t0 (make-symbol "t0")))
    `(let ((,t0 (float-time)))
       ,@body
       (- (float-time) ,t0))))

(defun opencode-bench--wait (pred &optional limit)
  "Let Emacs run until PRED returns non-nil; fail after LIMIT seconds."
  (let ((deadline (+ (float-time) (or limit 300))))
    (while (not (funcall pred))
      (when (> (float-time) deadline) (error "Benchmark step timed out"))
      (accept-process-output nil 0.002))))

;;;; Generated data

(defvar opencode-bench--words
  ["the " "module " "parses " "events " "in " "a " "worker " "thread; " "Emacs "
   "renders " "**bold** " "`code` " "and " "plain " "text, " "with " "some "
   "longer-words-here " "deltas\n" "\n- item " "of " "OpenCode. "]
  "Words the generated replies are made of.")

(defun opencode-bench--id (prefix n)
  "Return an id with PREFIX whose order follows N."
  (format "%s_%012d" prefix n))

(defun opencode-bench--session-events (sid deltas seed)
  "Return the events of session SID with DELTAS deltas, as a list.
SEED varies the words.  Each turn: a user message, an assistant
message with reasoning, text streamed in deltas, a tool part; the text
part's final update carries the whole text, as the server's does."
  (let ((events nil) (made 0) (turn 0) (w seed))
    (cl-flet ((ev (type props) (push (cons type props) events)))
      (while (< made deltas)
        (cl-incf turn)
        (let* ((umid (opencode-bench--id (format "msg_%s_u" sid) turn))
               (amid (opencode-bench--id (format "msg_%s_a" sid) turn))
               (tpid (opencode-bench--id (format "prt_%s_t" sid) turn))
               (n (min 400 (- deltas made)))
               (text ""))
          (ev "session.status" `(:sessionID ,sid :status (:type "busy")))
          (ev "message.updated" `(:sessionID ,sid :info (:id ,umid :sessionID ,sid :role "user"
                                                        :time (:created ,(* 1000 turn)))))
          (ev "message.part.updated"
              `(:sessionID ,sid :part (:id ,(opencode-bench--id (format "prt_%s_u" sid) turn)
                                       :sessionID ,sid :messageID ,umid :type "text"
                                       :text ,(format "Question %d" turn))))
          (ev "message.updated" `(:sessionID ,sid :info (:id ,amid :sessionID ,sid
                                                        :role "assistant" :modelID "mock-1"
                                                        :providerID "mock"
                                                        :time (:created ,(* 1000 turn)))))
          (ev "message.part.updated"
              `(:sessionID ,sid :part (:id ,tpid :sessionID ,sid :messageID ,amid
                                       :type "text" :text "")))
          (dotimes (_ n)
            (let ((d (aref opencode-bench--words (% (cl-incf w 7) (length opencode-bench--words)))))
              (setq text (concat text d))
              (ev "message.part.delta" `(:sessionID ,sid :messageID ,amid :partID ,tpid
                                         :field "text" :delta ,d))))
          (cl-incf made n)
          (ev "message.part.updated"
              `(:sessionID ,sid :part (:id ,tpid :sessionID ,sid :messageID ,amid
                                       :type "text" :text ,text)))
          (ev "message.part.updated"
              `(:sessionID ,sid :part (:id ,(opencode-bench--id (format "prt_%s_x" sid) turn)
                                       :sessionID ,sid :messageID ,amid :type "tool"
                                       :tool "bash" :callID ,(format "call_%d" turn)
                                       :state (:status "completed" :input (:command "ls")
                                               :title "ls" :output ,(make-string 2000 ?x)
                                               :metadata (:exit 0)
                                               :time (:start 1 :end 2)))))
          (ev "session.status" `(:sessionID ,sid :status (:type "idle"))))))
    (nreverse events)))

(defun opencode-bench--write-stream (file deltas)
  "Write FILE: `opencode-bench-sessions' sessions' events interleaved.
DELTAS deltas in all, then a `bench.done' event; return the event count."
  (let* ((per (/ deltas opencode-bench-sessions))
         (queues (cl-loop for i from 1 to opencode-bench-sessions
                          collect (opencode-bench--session-events
                                   (format "ses_bench_%d" i) per i)))
         (count 0) (n 0))
    (with-temp-file file
      (set-buffer-multibyte nil)
      (while (cl-some #'identity queues)
        (setq queues
              (cl-loop for q in queues
                       when q do (let ((e (car q)))
                                   (cl-incf n)
                                   (insert "data: "
                                           (encode-coding-string
                                            (json-serialize
                                             (list :id (opencode-bench--id "evt" n)
                                                   :type (car e) :properties (cdr e)))
                                            'utf-8)
                                           "\n\n")
                                   (cl-incf count))
                       and collect (cdr q))))
      (insert "data: {\"type\":\"bench.done\",\"properties\":{}}\n\n"))
    (1+ count)))

(defun opencode-bench--message (n)
  "Return stored message N of the large session, with its parts."
  (let* ((sid "ses_open")
         (mid (opencode-bench--id "msg" n))
         (pid (lambda (k) (format "prt_%012d_%d" n k))))
    (if (cl-evenp n)
        `(:info (:id ,mid :sessionID ,sid :role "user" :time (:created ,n))
          :parts [(:id ,(funcall pid 0) :sessionID ,sid :messageID ,mid :type "text"
                       :text ,(format "Question %d: what does this do?" n))])
      `(:info (:id ,mid :sessionID ,sid :role "assistant" :modelID "mock-1"
               :providerID "mock" :time (:created ,n :completed ,(1+ n))
               :cost 0.001 :tokens (:input 1000 :output 200 :reasoning 0
                                    :cache (:read 0 :write 0)))
        :parts [(:id ,(funcall pid 0) :sessionID ,sid :messageID ,mid :type "step-start")
                (:id ,(funcall pid 1) :sessionID ,sid :messageID ,mid :type "reasoning"
                     :text "Let me look at the files first, then answer.")
                (:id ,(funcall pid 2) :sessionID ,sid :messageID ,mid :type "text"
                     :text ,(concat "It runs **the** tests:\n\n```sh\nmake test\n```\n\n"
                                    (apply #'concat (make-list 8 "More `words` here. "))))
                (:id ,(funcall pid 3) :sessionID ,sid :messageID ,mid :type "tool"
                     :tool "bash" :callID ,(format "call_%d" n)
                     :state (:status "completed" :input (:command "make test")
                             :title "make test" :metadata (:exit 0)
                             :output ,(apply #'concat
                                             (make-list 128 (concat (make-string 79 ?.) "\n")))
                             :time (:start 1 :end 2)))
                (:id ,(funcall pid 4) :sessionID ,sid :messageID ,mid :type "step-finish"
                     :reason "stop" :cost 0.001
                     :tokens (:input 1000 :output 200 :reasoning 0
                              :cache (:read 0 :write 0)))]))))

(defun opencode-bench--write-json (file value)
  "Write VALUE as JSON to FILE."
  (with-temp-file file
    (set-buffer-multibyte nil)
    (insert (encode-coding-string (json-serialize value) 'utf-8))))

(defun opencode-bench--write-session-pages ()
  "Write the large session's message pages; return bench-server routes."
  (let* ((limit opencode-chat-message-limit)
         (all (cl-loop for n below opencode-bench-messages
                       collect (opencode-bench--message n)))
         (pages (cl-loop with rest = (reverse all)
                         while rest
                         collect (reverse (cl-subseq rest 0 (min limit (length rest))))
                         do (setq rest (nthcdr limit rest))))
         (routes nil))
    (opencode-bench--write-json (opencode-bench--file "messages-all.json") (vconcat all))
    (cl-loop for page in pages
             for i from 0
             for file = (opencode-bench--file (format "messages-%d.json" i))
             for next = (and (< (1+ i) (length pages)) (format "c%d" (1+ i)))
             do (opencode-bench--write-json file (vconcat page))
             (push (concat "/session/ses_open/message?limit=" (number-to-string limit)
                           (if (> i 0) (format "&before=c%d" i) "")
                           "=" file (if next (concat "=" next) ""))
                   routes))
    (push (concat "/session/ses_open/message?all=1=" (opencode-bench--file "messages-all.json"))
          routes)
    ;; A chat opened asks for its newest screenful, then the rest of
    ;; the first page from there (opencode-chat--fetch), and the
    ;; changes' reader goes through every message in pages of its own
    ;; (opencode-store-fetch-message-diffs): serve those too.
    (let* ((batch opencode-chat-render-batch)
           (newest (reverse all))
           (first (reverse (cl-subseq newest 0 batch)))
           (rest (reverse (cl-subseq newest batch (min limit (length newest))))))
      (opencode-bench--write-json (opencode-bench--file "messages-first.json") (vconcat first))
      (opencode-bench--write-json (opencode-bench--file "messages-rest.json") (vconcat rest))
      (push (format "/session/ses_open/message?limit=%d=%s=f0" batch
                    (opencode-bench--file "messages-first.json"))
            routes)
      (push (format "/session/ses_open/message?limit=%d&before=f0=%s%s" (- limit batch)
                    (opencode-bench--file "messages-rest.json")
                    (if (> (length newest) limit) "=c1" ""))
            routes))
    (let ((size opencode-changes-page))
      (cl-loop with rest = (reverse all)
               for i from 0
               while rest
               for file = (opencode-bench--file (format "messages-changes-%d.json" i))
               do (opencode-bench--write-json
                   file (vconcat (reverse (cl-subseq rest 0 (min size (length rest))))))
               (push (concat "/session/ses_open/message?limit=" (number-to-string size)
                             (if (> i 0) (format "&before=d%d" i) "")
                             "=" file (if (> (length rest) size) (format "=d%d" (1+ i)) ""))
                     routes)
               (setq rest (nthcdr size rest))))
    routes))

(defun opencode-bench--write-sessions (n)
  "Write a list of N sessions; return its file."
  (let ((file (opencode-bench--file (format "sessions-%d.json" n))))
    (opencode-bench--write-json
     file
     (vconcat
      (cl-loop for i from n downto 1
               collect `(:id ,(opencode-bench--id "ses" i) :slug ,(format "slug-%d" i)
                             :projectID "prj" :directory ,opencode-bench-dir
                             :title ,(format "Session number %d" i) :version "1.18.33"
                             :time (:created ,(* 1000 i) :updated ,(* 1000 i))))))
    file))

;;;; The bench server

(defun opencode-bench--quiet-stream ()
  "Return a stream file with no events, for the benchmarks of requests."
  (let ((file (opencode-bench--file "quiet.sse")))
    (with-temp-file file (insert ": nothing to see\n\n"))
    file))

(defun opencode-bench--start-server (stream rate &rest routes)
  "Start bench-server on STREAM at RATE with ROUTES; return (PROCESS . URL)."
  (let* ((out (generate-new-buffer " *bench-server*"))
         (proc (make-process
                :name "bench-server" :buffer out :noquery t
                :command (append (list (expand-file-name "build/bench-server" opencode-bench-root)
                                       stream (number-to-string rate))
                                 routes)
                :connection-type 'pipe)))
    (opencode-bench--wait (lambda () (with-current-buffer out
                                       (string-match-p "\n" (buffer-string))))
                          10)
    (cons proc (format "http://127.0.0.1:%d"
                       (string-to-number (with-current-buffer out (buffer-string)))))))

(defun opencode-bench--stop-server (server)
  "Stop SERVER, a (PROCESS . URL) pair."
  (let ((buf (process-buffer (car server))))
    (delete-process (car server))
    (kill-buffer buf)))

;;;; The two transports

(defvar opencode-bench--done nil
  "Set when the `bench.done' event arrives.")

(defun opencode-bench--watch-done (_conn _props _type)
  "Note the end of the benchmark stream: its `bench.done' event."
  (setq opencode-bench--done (float-time)))

(defun opencode-bench--module-stream (url)
  "Open a module connection streaming from URL; return it."
  (let ((conn (opencode-connection-open url opencode-bench-dir)))
    conn))

(defun opencode-bench--baseline-stream (url)
  "Stream URL's events the plain-Elisp way; return (CONN . PROCESS).
A `curl -N' subprocess; its filter appends to a buffer, cuts events at
blank lines, parses each `data:' with `json-parse-string' and hands it
to the same handlers the module's events go to."
  (let* ((conn (opencode-connection--make :url url :directory opencode-bench-dir))
         (work (generate-new-buffer " *bench-baseline*"))
         (proc
          (make-process
           :name "bench-curl" :noquery t :connection-type 'pipe
           :coding 'utf-8-unix
           :command (list "curl" "-sN" (concat url "/event"))
           :filter
           (lambda (_p chunk)
             (with-current-buffer work
               (goto-char (point-max))
               (insert chunk)
               (goto-char (point-min))
               (let ((start (point-min)))
                 (while (search-forward "\n\n" nil t)
                   (let ((data (mapconcat
                                (lambda (line) (substring line 6))
                                (cl-remove-if-not
                                 (lambda (line) (string-prefix-p "data: " line))
                                 (split-string (buffer-substring-no-properties start (point))
                                               "\n"))
                                "\n")))
                     (setq start (point))
                     (condition-case nil
                         (let ((event (json-parse-string data :object-type 'plist
                                                         :null-object :null
                                                         :false-object :false)))
                           (let ((type (plist-get event :type))
                                 (p (plist-get event :properties)))
                             (if (equal type "message.part.delta")
                                 (opencode-events-route-delta
                                  conn (plist-get p :sessionID) (plist-get p :messageID)
                                  (plist-get p :partID) (plist-get p :field)
                                  (plist-get p :delta))
                               (opencode-events-route conn type p))))
                       (json-parse-error nil))))
                 (delete-region (point-min) start)))))))
    (set-process-sentinel proc #'ignore)
    (cons conn proc)))

(defun opencode-bench--open-chats (conn)
  "Open the benchmark sessions' chat buffers on CONN; return them."
  (cl-loop for i from 1 to opencode-bench-sessions
           collect (with-current-buffer (generate-new-buffer (format " *bench-chat-%d*" i))
                     (opencode-chat-mode)
                     (opencode-chat--attach conn (list :id (format "ses_bench_%d" i)
                                                       :title "bench"))
                     (current-buffer))))

(defun opencode-bench--chat-text (buffers)
  "Return the text of BUFFERS, joined."
  (mapconcat (lambda (b) (with-current-buffer b (buffer-substring-no-properties
                                                 (point-min) (point-max))))
             buffers "\f"))

(defun opencode-bench--kill (buffers)
  "Kill BUFFERS."
  (mapc #'kill-buffer buffers))

(defun opencode-bench--run-stream (kind url &optional probe)
  "Stream URL through KIND (`module' or `baseline') into chat buffers.
With PROBE, a 10 ms timer measures the main loop's longest stall.
Return (SECONDS MAX-STALL-SECONDS TEXT STATS)."
  (let* ((opencode-connection-state-functions nil)
         (opencode-events--handlers
          (let ((table (copy-hash-table opencode-events--handlers)))
            (puthash "bench.done" (list (cons 50 #'opencode-bench--watch-done)) table)
            table))
         (opencode-notify nil)
         (opencode-bench--done nil)
         (last nil) (stall 0.0) (timer nil)
         (t0 (float-time))
         (conn nil) (proc nil) (chats nil)
         ;; A plain client holds no GC threshold up while it streams.
         (opencode-gc-streaming-threshold (and (eq kind 'module)
                                               opencode-gc-streaming-threshold)))
    ;; From the user's threshold: what the run before held goes.
    (opencode--gc-release)
    (garbage-collect)
    (when probe
      (setq last (float-time)
            timer (run-with-timer 0.01 0.01
                                  (lambda ()
                                    (let ((now (float-time)))
                                      (setq stall (max stall (- now last))
                                            last now))))))
    (setq t0 (float-time))
    (pcase kind
      ('module (setq conn (opencode-bench--module-stream url)))
      ('baseline (pcase-let ((`(,c . ,p) (opencode-bench--baseline-stream url)))
                   (setq conn c proc p))))
    (setq chats (opencode-bench--open-chats conn))
    (unwind-protect
        (progn
          (opencode-bench--wait (lambda () opencode-bench--done))
          ;; Let the deferred fontification run too.
          (let ((t1 (float-time)))
            (while (< (float-time) (+ t1 (* 2 opencode-chat-fontify-delay)))
              (accept-process-output nil 0.01)))
          (list (- opencode-bench--done t0)
                (and probe (- stall 0.01))
                (opencode-bench--chat-text chats)
                (and (eq kind 'module)
                     (opencode--module-stats (opencode-connection-handle conn)))))
      (when timer (cancel-timer timer))
      (if (eq kind 'module) (opencode-connection-close conn) (delete-process proc))
      (opencode-bench--kill chats))))

;;;; The benchmarks

(defun opencode-bench-ingest ()
  "Events per second from a replayed stream, module, baseline and C only."
  (let* ((stream (opencode-bench--file "ingest.sse"))
         (count (progn (opencode-bench--say "generating %d deltas…" opencode-bench-events)
                       (opencode-bench--write-stream stream opencode-bench-events)))
         (server (opencode-bench--start-server stream 0)))
    (unwind-protect
        (let* ((c-run (lambda (arg)
                        (string-to-number
                         (with-output-to-string
                           (call-process (expand-file-name "build/bench-ingest"
                                                           opencode-bench-root)
                                         nil standard-output nil arg)))))
               ;; The best of three: this is the ceiling.
               (c-mem (min (funcall c-run stream) (funcall c-run stream)
                           (funcall c-run stream)))
               (c-net (funcall c-run (cdr server)))
               (m (opencode-bench--run-stream 'module (cdr server)))
               (b (opencode-bench--run-stream 'baseline (cdr server)))
               (rate (lambda (secs) (format "%.0f ev/s" (/ count secs)))))
          (push (cons 'ingest-module (/ count (nth 0 m))) opencode-bench--numbers)
          (push (cons 'ingest-baseline (/ count (nth 0 b))) opencode-bench--numbers)
          (push (cons 'ingest-ceiling (/ count c-mem)) opencode-bench--numbers)
          (opencode-bench--row (format "1. ingest %d events, %d sessions, into chats"
                                       count opencode-bench-sessions)
                               (funcall rate (nth 0 m)) (funcall rate (nth 0 b))
                               (format "%.1fx the baseline; same text: %s; %s deltas merged"
                                       (/ (nth 0 b) (nth 0 m))
                                       (if (equal (nth 2 m) (nth 2 b)) "yes" "NO")
                                       (plist-get (nth 3 m) :merged)))
          (opencode-bench--row "   C-only ceiling: parse + queue from memory (best of 3)"
                               (funcall rate c-mem) "-"
                               (format "the module takes %.1fx the ceiling's time"
                                       (/ (nth 0 m) c-mem)))
          (opencode-bench--row "   C-only over loopback: curl + parse + queue"
                               (funcall rate c-net) "-"
                               "drained as soon as woken: fewer merges")
          (unless (equal (nth 2 m) (nth 2 b))
            (error "The module's and the baseline's chats differ")))
      (opencode-bench--stop-server server))))

(defun opencode-bench-responsiveness ()
  "The longest main-loop stall while streaming at `opencode-bench-rate'."
  (let* ((stream (opencode-bench--file "rate.sse"))
         (count (opencode-bench--write-stream
                 stream (round (* opencode-bench-rate opencode-bench-rate-seconds 0.9))))
         (server (opencode-bench--start-server stream opencode-bench-rate)))
    (unwind-protect
        (let ((m (opencode-bench--run-stream 'module (cdr server) t))
              (b (opencode-bench--run-stream 'baseline (cdr server) t)))
          (opencode-bench--row
           (format "2. longest stall, %d ev/s for %.0f s, %d sessions"
                   opencode-bench-rate (/ count (float opencode-bench-rate))
                   opencode-bench-sessions)
           (format "%.1f ms" (* 1000 (nth 1 m))) (format "%.1f ms" (* 1000 (nth 1 b)))
           "10 ms timer's worst lateness"))
      (opencode-bench--stop-server server))))

(defun opencode-bench--fetch-baseline (url)
  "GET URL with a curl subprocess and `json-parse-string'; return the value."
  ;; From the user's GC threshold, not one a module run held up.
  (opencode--gc-release)
  (let ((done nil) (value nil)
        (buf (generate-new-buffer " *bench-fetch*")))
    (make-process :name "bench-fetch" :buffer buf :noquery t :connection-type 'pipe
                  :coding 'utf-8-unix
                  :command (list "curl" "-s" url)
                  :sentinel (lambda (p _e)
                              (unless (process-live-p p)
                                (with-current-buffer (process-buffer p)
                                  (goto-char (point-min))
                                  (setq value (json-parse-buffer
                                               :object-type 'plist :null-object :null
                                               :false-object :false)
                                        done t)))))
    (opencode-bench--wait (lambda () done))
    (kill-buffer buf)
    value))

(defun opencode-bench--open-one (kind conn url query buf)
  "Fetch the large session with QUERY through KIND into BUF.
Return (FIRST-SCREEN FULLY-DRAWN) in seconds."
  (let* ((t0 (float-time))
         (page (if (eq kind 'module)
                   (opencode-request-sync conn "GET" "/session/ses_open/message" :query query)
                 (opencode-bench--fetch-baseline
                  (format "%s/session/ses_open/message?%s" url
                          (opencode--query-string query)))))
         first)
    (with-current-buffer buf (opencode-chat--fill page))
    (setq first (- (float-time) t0))
    (opencode-bench--wait (lambda () (with-current-buffer buf (opencode-chat-loaded-p))))
    (list first (- (float-time) t0))))

(defun opencode-bench-open-session ()
  "Open a session of `opencode-bench-messages' messages."
  (let* ((routes (opencode-bench--write-session-pages))
         (server (apply #'opencode-bench--start-server
                        (opencode-bench--quiet-stream) 0 routes))
         (url (cdr server))
         (opencode-connection-state-functions nil)
         (limit opencode-chat-message-limit)
         (conn (opencode-connection-open url opencode-bench-dir))
         (results nil))
    (unwind-protect
        (dolist (kind '(module baseline))
          (let* ((buf (generate-new-buffer " *bench-open*"))
                 (heap0 (opencode-bench--heap-bytes))
                 page all)
            (with-current-buffer buf
              (opencode-chat-mode)
              (opencode-chat--attach conn '(:id "ses_open" :title "open")))
            (setq page (opencode-bench--open-one kind conn url `(("limit" . ,limit)) buf))
            (setq all (opencode-bench--open-one kind conn url '(("all" . "1")) buf))
            (let ((heap (- (opencode-bench--heap-bytes) heap0))
                  (size (with-current-buffer buf (buffer-size)))
                  (count (with-current-buffer buf (length (opencode-chat--message-sections)))))
              (unless (= count opencode-bench-messages)
                (error "Loaded %d messages, not %d" count opencode-bench-messages))
              (push (list kind page all heap size) results))
            (kill-buffer buf)))
      (opencode-connection-close conn)
      (opencode-bench--stop-server server))
    (let ((m (cdr (assq 'module results))) (b (cdr (assq 'baseline results)))
          (ms (lambda (s) (format "%.0f ms" (* 1000 s)))))
      (opencode-bench--row (format "3. open %d-message session: first screen"
                                   opencode-bench-messages)
                           (funcall ms (car (nth 0 m))) (funcall ms (car (nth 0 b)))
                           (format "newest page of %d: fetch, parse, draw newest %d"
                                   limit opencode-chat-render-batch))
      (opencode-bench--row (format "   that page fully drawn (%d messages)" limit)
                           (funcall ms (cadr (nth 0 m))) (funcall ms (cadr (nth 0 b)))
                           "older batches drawn from a timer")
      (opencode-bench--row (format "   all %d messages fully drawn" opencode-bench-messages)
                           (funcall ms (cadr (nth 1 m))) (funcall ms (cadr (nth 1 b)))
                           (format "first screen of it in %s / %s"
                                   (funcall ms (car (nth 1 m))) (funcall ms (car (nth 1 b)))))
      (opencode-bench--row "   memory: Lisp heap growth / buffer text"
                           (format "%.0f MB / %.0f MB" (/ (nth 2 m) 1e6) (/ (nth 3 m) 1e6))
                           (format "%.0f MB / %.0f MB" (/ (nth 2 b) 1e6) (/ (nth 3 b) 1e6))
                           "2,000 messages with 10 KB tool outputs"))))

(defun opencode-bench-session-list ()
  "Open session lists of `opencode-bench-list-sizes' sessions; update one."
  (dolist (n opencode-bench-list-sizes)
    (let* ((file (opencode-bench--write-sessions n))
           (server (opencode-bench--start-server
                    (opencode-bench--quiet-stream) 0
                    (concat "/experimental/session=" file)))
           (url (cdr server))
           (opencode-connection-state-functions nil)
           (opencode-sessions-page-size n)
           (conn (opencode-connection-open url opencode-bench-dir))
           (buf (generate-new-buffer " *bench-sessions*"))
           open-m open-b update naive)
      (unwind-protect
          (with-current-buffer buf
            (opencode-sessions-mode)
            (opencode-sessions--attach conn)
            (setq open-m
                  (opencode-bench--time
                    (opencode-sessions--load-page buf nil)
                    (opencode-bench--wait
                     (lambda () (= (hash-table-count opencode-sessions--sessions) n)))))
            ;; The baseline: curl + json-parse-string, then the same table.
            (setq open-b
                  (opencode-bench--time
                    (let ((list (opencode-bench--fetch-baseline
                                 (format "%s/experimental/session?limit=%d" url n))))
                      (clrhash opencode-sessions--sessions)
                      (seq-doseq (s list)
                        (opencode-sessions--add s))
                      (opencode-sessions--redraw))))
            ;; One status update, in place, averaged over 200 sessions.
            (let ((ids (cl-loop for i from 1 to 200
                                collect (opencode-bench--id "ses" (1+ (* (1- i) (/ n 200)))))))
              (setq update
                    (/ (opencode-bench--time
                         (dolist (id ids)
                           (opencode-events-route
                            conn "session.status"
                            (list :sessionID id :status '(:type "busy")))))
                       (length ids)))
              (dolist (id ids)
                (goto-char (point-min))
                (unless (opencode-sessions--goto id) (error "Row %s missing" id))
                (unless (string-match-p "busy\\|[⠁-⣿]"
                                        (buffer-substring (line-beginning-position)
                                                          (line-end-position)))
                  (error "Row %s shows no busy badge" id))))
            ;; What a list without in-place updates does: redraw it all.
            (setq naive (opencode-bench--time (opencode-sessions--redraw))))
        (opencode--spinner-stop opencode-sessions--spinner)
        (kill-buffer buf)
        (opencode-connection-close conn)
        (opencode-bench--stop-server server))
      (opencode-bench--row (format "4. session list of %d: open" n)
                           (format "%.0f ms" (* 1000 open-m))
                           (format "%.0f ms" (* 1000 open-b))
                           "fetch + parse + render")
      (push (cons (intern (format "update-module-%d" n)) (* 1000 update)) opencode-bench--numbers)
      (push (cons (intern (format "update-redraw-%d" n)) (* 1000 naive)) opencode-bench--numbers)
      (opencode-bench--row (format "   %d sessions: one status update" n)
                           (format "%.3f ms" (* 1000 update))
                           (format "%.1f ms" (* 1000 naive))
                           "baseline: redraw the whole list"))))

;;;; Markdown: a pass's cost against the reply's length

(defun opencode-bench-markdown ()
  "One Markdown pass at 1,000 and 30,000 characters: whole, from the boundary."
  (dolist (size '(1000 30000))
    (pcase-let ((`(,whole ,from ,tail) (opencode-markdown-bench-pass size)))
      (opencode-bench--row
       (format "7. Markdown pass, reply of %s chars: whole / from the boundary"
               (if (= size 1000) "1,000" "30,000"))
       (format "%.2f ms / %.2f ms" whole from) "–"
       (format "mean over 10 cuts; the boundary's tail up to %d chars" tail)))))

;;;; Displayed: an Emacs in a terminal, the real server, a paced mock

(defvar opencode-bench-display-interval 2
  "Milliseconds between two chunks of the mock model's reply.")

(defvar opencode-bench-display-timeout 300
  "Seconds the displayed Emacs has for all its measurements.")

(defvar opencode-bench-display-profile (getenv "OPENCODE_BENCH_PROFILE")
  "Non-nil: profile the CPU of the displayed Emacs while replies stream.
\"mem\": profile the memory it allocates instead.")

(defun opencode-bench--mock-chunk (delta &optional finish)
  "Return one Chat Completions stream event with DELTA and FINISH."
  (concat "data: "
          (json-serialize `(:id "chatcmpl-bench" :object "chat.completion.chunk"
                            :created 0 :model "mock-1"
                            :choices [(:index 0 :delta ,(or delta '(:content ""))
                                       :finish_reason ,(or finish :null))]))
          "\n\n"))

(defun opencode-bench--reply-text ()
  "Return a long Markdown reply: prose, lists, a table, code in three languages."
  (let ((units nil) (i 0) (len 0))
    (while (< len 30000)
      (let ((u (format "## Step %d\n\nThe function **`parse-item`** reads one *item* from the queue;
see [the docs](https://example.com/%d).  It is `fast` now.\n\n- first point with `code`\n- second point, **bold**\n\n%s\n| Name | Count |\n|------|------:|\n| apple | %d |\n\n"
                       i i
                       (pcase (% i 3)
                         (0 (format "```python\ndef parse_item(queue, n=%d):\n    \"\"\"Take one.\"\"\"\n    return queue.pop(0) * n\n```\n" i))
                         (1 (format "```elisp\n(defun parse-item (queue)\n  \"Take one.\"\n  (* %d (pop queue)))\n```\n" i))
                         (_ (format "```sh\nfor f in *.c; do\n  echo \"$f: %d\"\ndone\n```\n" i)))
                       i)))
        (push u units)
        (setq len (+ len (length u)) i (1+ i))))
    (concat (apply #'concat (nreverse units)) "The end: BENCH-END\n")))

(defun opencode-bench--write-reply (file chunks reasoning)
  "Write the mock's reply to FILE: REASONING then CHUNKS text chunks.
Return the reply's text."
  (let* ((text (opencode-bench--reply-text))
         (n (length text)))
    (with-temp-file file
      (set-buffer-multibyte nil)
      (insert (opencode-bench--mock-chunk '(:role "assistant" :content "")))
      (dotimes (i reasoning)
        (insert (encode-coding-string
                 (opencode-bench--mock-chunk
                  `(:reasoning_content ,(format "Thinking, step %d of the plan. " i)))
                 'utf-8)))
      (dotimes (i chunks)
        (insert (encode-coding-string
                 (opencode-bench--mock-chunk
                  `(:content ,(substring text (/ (* i n) chunks) (/ (* (1+ i) n) chunks))))
                 'utf-8)))
      (insert (opencode-bench--mock-chunk '(:content "") "stop") "data: [DONE]\n\n"))
    text))

(defun opencode-bench--start-program (name &rest args)
  "Start program NAME under build/ with ARGS; return (PROCESS . PORT).
The program prints its port on its first line."
  (let* ((out (generate-new-buffer (format " *%s*" name)))
         (proc (make-process :name name :buffer out :noquery t :connection-type 'pipe
                             :command (cons (expand-file-name (concat "build/" name)
                                                              opencode-bench-root)
                                            args))))
    (opencode-bench--wait (lambda () (with-current-buffer out
                                       (string-match-p "\n" (buffer-string))))
                          10)
    (cons proc (string-to-number (with-current-buffer out (buffer-string))))))

(defun opencode-bench--scratch-project (root mock-port)
  "Make a git project under ROOT whose model is the mock on MOCK-PORT.
Return its directory."
  (let ((project (expand-file-name "project" root)))
    (make-directory project t)
    (call-process "git" nil nil nil "-C" project "init" "-q")
    (with-temp-file (expand-file-name "README" project) (insert "bench project\n"))
    (call-process "git" nil nil nil "-C" project "add" "README")
    (call-process "git" nil nil nil "-C" project "-c" "user.name=bench"
                  "-c" "user.email=bench@127.0.0.1" "commit" "-q" "-m" "start")
    (with-temp-file (expand-file-name "opencode.json" project)
      (insert (json-serialize
               `(:provider (:mock (:npm "@ai-sdk/openai-compatible" :name "Mock"
                                   :options (:baseURL ,(format "http://127.0.0.1:%d/v1" mock-port)
                                             :apiKey "x")
                                   :models (:mock-1 (:name "Mock 1"))))
                 :model "mock/mock-1" :small_model "mock/mock-1"))))
    project))

(defun opencode-bench--run-displayed (config)
  "Run display-bench.el in an Emacs in a terminal under tmux with CONFIG.
Return its results, a plist; the tmux server is gone afterwards."
  (let* ((out (plist-get config :out))
         (cfg-file (opencode-bench--file "display-config.el"))
         (socket (opencode-bench--file "tmux.sock"))
         (deadline (+ (float-time) opencode-bench-display-timeout))
         (cmd (mapconcat
               #'shell-quote-argument
               (append (list "env" (concat "OPENCODE_BENCH_CONFIG=" cfg-file)
                             (concat "OPENCODE_SERVER_PASSWORD=" (plist-get config :password))
                             (concat "HOME=" (plist-get config :home))
                             "TERM=xterm-256color"
                             (expand-file-name invocation-name invocation-directory)
                             "-nw" "-Q" "-L" (expand-file-name "lisp" opencode-bench-root)
                             "-L" (expand-file-name "test/bench" opencode-bench-root)
                             "--eval" "(setq load-prefer-newer t)"
                             "-l" "display-bench" "-f" "opencode-display-bench-start"))
               " "))
         (results nil))
    (when (file-exists-p out) (delete-file out))
    (with-temp-file cfg-file (let ((print-length nil)) (prin1 config (current-buffer))))
    (unwind-protect
        (progn
          (unless (= 0 (call-process "tmux" nil nil nil "-S" socket "-f" "/dev/null"
                                     "new-session" "-d" "-x" "200" "-y" "50" cmd))
            (error "Cannot start tmux"))
          (while (and (not (plist-get results :done)) (< (float-time) deadline))
            (accept-process-output nil 0.5)
            (when (file-exists-p out)
              (setq results (ignore-errors
                              (with-temp-buffer
                                (insert-file-contents out)
                                (read (current-buffer)))))))
          (unless (plist-get results :done)
            (setq results (plist-put results :error
                                     (format "the displayed Emacs did not finish in %ds"
                                             opencode-bench-display-timeout)))))
      (call-process "tmux" nil nil nil "-S" socket "kill-server")
      (when (file-exists-p socket) (delete-file socket)))
    results))

(defun opencode-bench--late-cell (stats)
  "Return STATS of a probe as \"worst / p99 / median\"."
  (if stats
      (format "%.1f / %.1f / %.1f ms" (plist-get stats :worst) (plist-get stats :p99)
              (plist-get stats :median))
    "–"))

(defun opencode-bench--key-cell (stats)
  "Return STATS of keys as \"median, p99 / worst\"."
  (if stats
      (format "%.1f / %.1f / %.1f ms" (plist-get stats :worst) (plist-get stats :p99)
              (plist-get stats :median))
    "–"))

(defun opencode-bench--load ()
  "Return the load averages now, as a string."
  (mapconcat (lambda (l) (format "%.2f" l)) (load-average t) " "))

(defun opencode-bench-displayed ()
  "Streams and a big chat in a displayed Emacs (terminal, tmux).
Skipped, with a row that says why, without tmux or the real server."
  (let ((missing (cond ((not (executable-find "tmux")) "no tmux")
                       ((not (file-executable-p
                              (expand-file-name ".deps/node_modules/.bin/opencode"
                                                opencode-bench-root)))
                        "no server: run `make deps'"))))
    (if missing
        (opencode-bench--row "5. displayed rows" "skipped" "skipped" missing)
      (opencode-bench--displayed))))

(defun opencode-bench--displayed ()
  "Run the displayed rows: see `opencode-bench-displayed'."
  (let* ((root (make-temp-file "opencode-bench-" t))
         (home (expand-file-name "home" root))
         (reply (opencode-bench--file "reply.sse"))
         (mock nil) (big nil) (server nil) (results nil)
         (load-before (opencode-bench--load)))
    (unwind-protect
        (progn
          (opencode-bench--write-reply reply 3000 200)
          (setq mock (opencode-bench--start-program
                      "bench-mock" reply (number-to-string opencode-bench-display-interval)))
          (setq big (apply #'opencode-bench--start-server
                           (opencode-bench--quiet-stream) 0
                           (concat "/session/ses_open="
                                   (let ((f (opencode-bench--file "session-open.json")))
                                     (opencode-bench--write-json
                                      f '(:id "ses_open" :title "big" :version "1.18.33"
                                          :projectID "prj" :directory "/tmp"
                                          :time (:created 1 :updated 2)))
                                     f))
                           (opencode-bench--write-session-pages)))
          (let* ((project (opencode-bench--scratch-project root (cdr mock)))
                 (process-environment
                  (append (opencode-test-scratch-home home) process-environment))
                 (opencode-server-program
                  (expand-file-name ".deps/node_modules/.bin/opencode" opencode-bench-root)))
            (setq server (opencode-server-start project))
            (setq results
                  (opencode-bench--run-displayed
                   (list :server (opencode-server-url server)
                         :password (opencode-server-password server)
                         :home home :project project :mock (cdr mock) :big (cdr big)
                         :profile (and opencode-bench-display-profile
                                       (if (equal opencode-bench-display-profile "mem") 'mem t))
                         :steps (if (getenv "OPENCODE_BENCH_DISPLAY_STEPS")
                                    (read (getenv "OPENCODE_BENCH_DISPLAY_STEPS"))
                                  '(:plain-1 :chat-1 :plain-4 :chat-4 :big))
                         :out (opencode-bench--file "display-results.el"))))))
      (when server (opencode-server-stop server))
      (when mock (delete-process (car mock)) (kill-buffer (process-buffer (car mock))))
      (when big (opencode-bench--stop-server big))
      (delete-directory root t))
    (opencode-bench--rows-displayed results (format "%s → %s" load-before (opencode-bench--load)))))

(defun opencode-bench--took (chat plain)
  "Return how long CHAT and PLAIN streamed, and the CPU the Emacs used."
  (format "streamed in %.1f s, Emacs CPU %.1f s, %d GCs (plain: %.1f s, %.1f s)"
          (or (plist-get chat :seconds) 0) (or (plist-get chat :cpu) 0)
          (or (plist-get chat :gcs) 0)
          (or (plist-get plain :seconds) 0) (or (plist-get plain :cpu) 0)))

(defun opencode-bench--rows-displayed (r load)
  "Add the rows of the displayed results R; LOAD is the load average during them."
  (let ((c1 (plist-get r :chat-1)) (p1 (plist-get r :plain-1))
        (c4 (plist-get r :chat-4)) (p4 (plist-get r :plain-4))
        (big (plist-get r :big)))
    (when (plist-get r :error)
      (opencode-bench--say "displayed Emacs: %s" (plist-get r :error)))
    (when (or c1 p1)
      (opencode-bench--row
       "5. displayed, 1 chat: 10 ms timer late, worst / p99 / median"
       (opencode-bench--late-cell c1) (opencode-bench--late-cell p1)
       (format "real server, mock: 200 reasoning + 3,000 text chunks 2 ms apart; %s; load %s"
               (opencode-bench--took c1 p1) load))
      (opencode-bench--row
       "   displayed, 4 chats at once, 4 windows"
       (opencode-bench--late-cell c4) (opencode-bench--late-cell p4)
       (format "4 sessions, the same reply each; %s; chats follow their end: %s"
               (opencode-bench--took c4 p4)
               (if (and (plist-get c1 :following) (plist-get c4 :following)) "yes" "NO"))))
    (pcase-dolist (`(,name . ,stats) `(("1 chat" . ,c1) ("1 plain" . ,p1)
                                       ("4 chats" . ,c4) ("4 plain" . ,p4)))
      (when (plist-get stats :gc-pauses)
        (opencode-bench--say "%s: collections while streaming (ms): %s; Lisp heap after: %.0f MB; one collection when idle before / after: %s / %s ms"
                             name (plist-get stats :gc-pauses)
                             (/ (or (plist-get stats :heap) 0) 1e6)
                             (plist-get stats :idle-gc) (plist-get stats :after-gc)))
      (when-let ((w (plist-get stats :where)))
        (opencode-bench--say
         "%s: %d firings late > 17 ms, %.0f ms late in all: GC %.0f, drains %.0f, fontify %.0f, other timers %.0f, the rest (redisplay, input) %.0f; the worst %s"
         name (plist-get w :windows) (plist-get w :late) (plist-get w :gc) (plist-get w :drain)
         (plist-get w :fontify) (plist-get w :timer) (plist-get w :rest)
         (let ((ww (plist-get w :worst-window)))
           (if ww (format "%.0f ms: %s" (car ww)
                          (mapconcat (lambda (x) (if (numberp x) (format "%.0f" x) (substring (symbol-name x) 1)))
                                     (cdr ww) " "))
             "–")))
        (when (plist-get w :worst-spans)
          (opencode-bench--say "  what ran in the worst: %S" (plist-get w :worst-spans)))
        (opencode-bench--say "  Markdown passes: %S; parts drawn: %S"
                             (plist-get w :markdown) (plist-get w :renders))
        (opencode-bench--say "  KB allocated, by what ran (all: while probing): %S"
                             (plist-get w :consed))))
    (when big
      (let ((ms (lambda (s) (format "%.0f ms" (* 1000 s))))
            (keys (plist-get big :keys)))
        (opencode-bench--row
         (format "6. displayed chat of %d messages: first screen" (plist-get big :messages))
         (funcall ms (plist-get big :first)) "–"
         "command → newest 40 of a page of 400 drawn → redisplay done; replayed by bench-server")
        (opencode-bench--row "   all of them drawn" (funcall ms (plist-get big :all)) "–"
                             "from a timer, batches of 40 above the others")
        (dolist (k '(:next-line :previous-line :forward-char :backward-char))
          (opencode-bench--row
           (format "   one %s: folded / over open 10 KB outputs" (substring (symbol-name k) 1))
           (opencode-bench--key-cell (car (plist-get keys k)))
           (opencode-bench--key-cell (cadr (plist-get keys k)))
           "command + redisplay, worst / p99 / median of 120 keys at 3 places"))
        (opencode-bench--row "   TAB: unfold a 10 KB tool output"
                             (opencode-bench--key-cell (plist-get keys :tab))
                             "–" (format "command + redisplay, 12 parts; %d GCs (%.0f ms) in all the keys"
                                         (or (plist-get keys :gcs) 0)
                                         (* 1000 (or (plist-get keys :gc-time) 0))))
        (let ((a (plist-get big :ablation)))
          (when a
            (opencode-bench--row
             "   next-line, p99 / median: no header line; no visual-line-mode"
             (format "%.1f / %.1f ms; %.1f / %.1f ms"
                     (plist-get (plist-get a :no-header-line) :p99)
                     (plist-get (plist-get a :no-header-line) :median)
                     (plist-get (plist-get a :no-visual-line) :p99)
                     (plist-get (plist-get a :no-visual-line) :median))
             "–"
             (format "as the chat is: %.1f / %.1f ms; neither: %.1f / %.1f ms; bidi left-to-right: %.1f / %.1f ms; 60 keys mid-chat"
                     (plist-get (plist-get a :default) :p99)
                     (plist-get (plist-get a :default) :median)
                     (plist-get (plist-get a :neither) :p99)
                     (plist-get (plist-get a :neither) :median)
                     (plist-get (plist-get a :ltr) :p99)
                     (plist-get (plist-get a :ltr) :median)))))
        (opencode-bench--row "   memory per 1,000 messages: heap / buffer"
                             (format "%.1f MB / %.1f MB"
                                     (/ (plist-get big :heap) 1e6 (/ (plist-get big :messages) 1000.0))
                                     (/ (plist-get big :size) 1e6 (/ (plist-get big :messages) 1000.0)))
                             "–" "tool outputs of 10 KB")))
    (dolist (key (cl-loop for (k _) on r by #'cddr
                          when (string-prefix-p ":profile-" (symbol-name k)) collect k))
      (when (plist-get r key)
        (opencode-bench--say "CPU profile %s (self %% / total %%):" key)
        (pcase-dolist (`(,f ,self ,total) (plist-get r key))
          (opencode-bench--say "  %5.1f %5.1f  %s" self total f))))))

;;;; Main

(defun opencode-bench--plot ()
  "Return an SVG plot of the ingest rates and the status update times."
  (let* ((num (lambda (k) (or (cdr (assq k opencode-bench--numbers)) 0)))
         (bars-lin
          `(("plain-Elisp baseline" ,(funcall num 'ingest-baseline) "#9e9e9e")
            ("module, into chats" ,(funcall num 'ingest-module) "#1f5fbf")
            ("C-only ceiling" ,(funcall num 'ingest-ceiling) "#7fa7e0")))
         (bars-log
          (cl-loop for n in opencode-bench-list-sizes
                   append `((,(format "%d sessions, redraw" n)
                             ,(funcall num (intern (format "update-redraw-%d" n))) "#9e9e9e")
                            (,(format "%d sessions, module" n)
                             ,(funcall num (intern (format "update-module-%d" n))) "#1f5fbf"))))
         (w 760) (left 190) (bar 22) (gap 8)
         (y 0) (out nil))
    (cl-flet ((text (x y s &optional anchor weight)
                (push (format "<text x=\"%d\" y=\"%d\" font-size=\"13\"%s%s>%s</text>"
                              x y (if anchor (format " text-anchor=\"%s\"" anchor) "")
                              (if weight " font-weight=\"bold\"" "") s)
                      out)))
      (text 10 (cl-incf y 20) "Events per second, 100,000 streamed deltas in 4 sessions (more is better)" nil t)
      (cl-incf y 10)
      (let ((top (apply #'max 1 (mapcar #'cadr bars-lin))))
        (pcase-dolist (`(,label ,v ,color) bars-lin)
          (let ((len (round (* (- w left 90) (/ v top)))))
            (text (- left 8) (+ y 16) label "end")
            (push (format "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>"
                          left y (max 1 len) bar color)
                  out)
            (text (+ left len 6) (+ y 16) (format "%.0f" v))
            (cl-incf y (+ bar gap)))))
      (text 10 (cl-incf y 28) "One status update in the session list, ms, log scale (less is better)" nil t)
      (cl-incf y 10)
      (let* ((lo 0.001) (hi (apply #'max 10 (mapcar #'cadr bars-log)))
             (scale (lambda (v) (round (* (- w left 90)
                                          (/ (log (/ (max v lo) lo)) (log (/ hi lo))))))))
        (pcase-dolist (`(,label ,v ,color) bars-log)
          (let ((len (funcall scale v)))
            (text (- left 8) (+ y 16) label "end")
            (push (format "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>"
                          left y (max 1 len) bar color)
                  out)
            (text (+ left len 6) (+ y 16) (format "%.3g" v))
            (cl-incf y (+ bar gap))))))
    (concat (format "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n"
                    w (+ y 10))
            (mapconcat #'identity (nreverse out) "\n")
            "\n</svg>\n")))

(defun opencode-bench--machine ()
  "Return a line describing this machine."
  (format "%s; %s; %d CPUs; Emacs %s; opencode-module %s"
          (string-trim (shell-command-to-string
                        "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"))
          (string-trim (shell-command-to-string "uname -sr"))
          (string-to-number (shell-command-to-string "nproc"))
          emacs-version (opencode--module-version)))

(defun opencode-bench--table ()
  "Return the results as a Markdown table."
  (concat "| What | Module | Plain-Elisp baseline | Note |\n"
          "|---|---:|---:|---|\n"
          (mapconcat (lambda (r) (apply #'format "| %s | %s | %s | %s |" r))
                     (reverse opencode-bench--results) "\n")
          "\n"))

(defun opencode-bench-main ()
  "Run every benchmark and print the table."
  (make-directory opencode-bench-dir t)
  (opencode-module-ensure)
  (setq opencode-bench--results nil
        opencode-bench--numbers nil
        opencode-notify nil)
  (opencode-bench--say "%s" (opencode-bench--machine))
  (dolist (b opencode-bench-steps)
    (opencode-bench--say "%s (load %s)" b (opencode-bench--load))
    (funcall b))
  (let ((out (concat "Machine: " (opencode-bench--machine) "\n"
                     (format-time-string "Run: %F %T %Z\n\n")
                     (opencode-bench--table))))
    (with-temp-file (opencode-bench--file "results.md") (insert out))
    (with-temp-file (opencode-bench--file "results.svg") (insert (opencode-bench--plot)))
    (princ out)))

(provide 'opencode-bench)
;;; opencode-bench.el ends here

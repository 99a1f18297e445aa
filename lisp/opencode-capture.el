;;; opencode-capture.el --- Record a connection's traffic, and play it back  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; `opencode-capture-start' records what a connection receives (events,
;; text deltas, stream states, replies) and sends (requests) to a JSON
;; Lines file, one object per line; `opencode-capture-stop' ends it.
;; Nothing secret goes in: credentials travel in HTTP headers, which are
;; never recorded, and any object key that names a password, a token, a
;; secret or an authorization has its value replaced.
;;
;; `opencode-replay' plays such a file back through the same dispatch,
;; into the same buffers, with no server: a connection whose requests
;; are answered from the recorded replies (the same route's replies in
;; the order they came).  A bug seen against a server becomes a file
;; anyone can replay, and a test.

;;; Code:

(require 'cl-lib)
(require 'opencode-lib)
(require 'opencode)
(require 'opencode-sessions)

(defconst opencode-capture--secret-keys
  '("password" "token" "secret" "authorization" "apikey" "api_key")
  "Object keys whose values a capture never keeps.")

(defvar opencode-capture--files (make-hash-table :test 'eq :weakness 'key)
  "Connection -> the file its traffic is recorded to.")

(defun opencode-capture--redact (value)
  "Return VALUE, a JSON-shaped Lisp value, with secret fields replaced."
  (cond ((and (consp value) (keywordp (car value)))
         (cl-loop for (k v) on value by #'cddr
                  nconc (list k (if (member (downcase (substring (symbol-name k) 1))
                                            (mapcar #'downcase opencode-capture--secret-keys))
                                    "[redacted]"
                                  (opencode-capture--redact v)))))
        ((vectorp value) (vconcat (mapcar #'opencode-capture--redact value)))
        (t value)))

(defun opencode-capture--record (conn item)
  "Return the JSON object (a plist) that records ITEM of CONN, or nil."
  (pcase item
    (`(in (event ,type ,props)) (list :in "event" :type type :props props))
    (`(in (delta ,s ,m ,p ,f ,text))
     (list :in "delta" :session s :message m :part p :field f :text text))
    (`(in (state ,state ,ms ,detail))
     (list :in "state" :state (symbol-name state) :ms ms :detail (or detail :null)))
    (`(in (response ,id ,status ,data ,_raw ,_headers))
     (list :in "response" :id id :status status :data (if (null data) :null data)))
    (`(in (failure ,id ,code ,message)) (list :in "failure" :id id :code code :message message))
    (`(in (warning ,message)) (list :in "warning" :message message))
    (`(out (request ,id ,method ,path ,query ,body))
     (list :out "request" :id id :method method :path path
           :query (or (mapcan (lambda (kv) (and (cdr kv) (list (intern (concat ":" (car kv)))
                                                               (format "%s" (cdr kv)))))
                              query)
                      :null)
           :body (if (null body) :null body)
           :directory (opencode-connection-directory conn)))))

(defun opencode-capture--tap (conn direction item)
  "Append ITEM going in DIRECTION on CONN to its capture file, if any."
  (let ((file (gethash conn opencode-capture--files)))
    (when file
      (let ((record (opencode-capture--record conn (list direction item))))
        (when record
          (let ((line (concat (json-serialize
                               (opencode-capture--redact
                                (append (list :t (float-time)) record))
                               :null-object :null :false-object :false)
                              "\n")))
            (let ((coding-system-for-write 'utf-8-unix))
              (write-region line nil file t 'silent))))))))

;;;###autoload
(defun opencode-capture-start (file &optional directory)
  "Record the traffic of DIRECTORY's connection to FILE, JSON Lines.
DIRECTORY defaults to the current project.  Stop with
`opencode-capture-stop'; play back with `opencode-replay'."
  (interactive (list (read-file-name "Capture to file: " nil nil nil "opencode-capture.jsonl")))
  (let ((conn (opencode-connect directory))
        (file (expand-file-name file)))
    (let ((coding-system-for-write 'utf-8-unix))
      (write-region (concat (json-serialize
                             (list :t (float-time) :capture "opencode.el"
                                   :url (opencode-connection-url conn)
                                   :directory (opencode-connection-directory conn)))
                            "\n")
                    nil file nil 'silent))
    (puthash conn file opencode-capture--files)
    (add-hook 'opencode-connection-traffic-functions #'opencode-capture--tap)
    (message "OpenCode: recording %s to %s" (opencode-connection-directory conn) file)
    conn))

(defun opencode-capture-stop (&optional directory)
  "Stop recording the connection of DIRECTORY (default: the current project)."
  (interactive)
  (let ((conn (opencode-connection-find
               (opencode--normalize-directory
                (or directory (opencode-project-directory))))))
    (when conn
      (let ((file (gethash conn opencode-capture--files)))
        (remhash conn opencode-capture--files)
        (when (zerop (hash-table-count opencode-capture--files))
          (remove-hook 'opencode-connection-traffic-functions #'opencode-capture--tap))
        (when file (message "OpenCode: recorded to %s" file))
        file))))

;;;; Playing back

(defun opencode-capture-read (file)
  "Return the records of capture FILE, a list of plists, oldest first."
  (with-temp-buffer
    (let ((coding-system-for-read 'utf-8))
      (insert-file-contents file))
    (let (records)
      (dolist (line (split-string (buffer-string) "\n" t))
        (push (json-parse-string line :object-type 'plist :null-object :null
                                 :false-object :false)
              records))
      (nreverse records))))

(defun opencode-capture--responder (records)
  "Return a responder answering requests from the replies in RECORDS.
A request gets the next recorded reply to the same method and path."
  (let ((replies (make-hash-table :test 'equal))
        (requests (make-hash-table :test 'eql)))
    (dolist (r records)
      (pcase (or (plist-get r :out) (plist-get r :in))
        ("request" (puthash (plist-get r :id)
                            (cons (plist-get r :method) (plist-get r :path)) requests))
        ("response"
         (let ((key (gethash (plist-get r :id) requests)))
           (when key
             (puthash key (append (gethash key replies)
                                  (list (cons (plist-get r :status)
                                              (let ((d (plist-get r :data)))
                                                (if (eq d :null) nil d)))))
                      replies))))))
    (lambda (method path _query _body)
      (let* ((key (cons method path))
             (left (gethash key replies)))
        (cond ((cdr left) (puthash key (cdr left) replies) (car left))
              (left (car left))        ; The last reply answers again.
              (t (cons 404 (list :name "NotRecorded"
                                 :data (list :message (format "%s %s was not recorded"
                                                              method path))))))))))

(defun opencode-capture-item (record)
  "Return the module item that capture RECORD stands for, or nil."
  (pcase (plist-get record :in)
    ("event" (list 'event (plist-get record :type)
                   (let ((p (plist-get record :props))) (if (eq p :null) nil p))))
    ("delta" (list 'delta (plist-get record :session) (plist-get record :message)
                   (plist-get record :part) (plist-get record :field) (plist-get record :text)))
    ("state" (list 'state (intern (plist-get record :state)) (plist-get record :ms)
                   (let ((d (plist-get record :detail))) (if (eq d :null) nil d))))
    ("warning" (list 'warning (plist-get record :message)))))

(defun opencode-replay-connection (file)
  "Return a connection with no server that plays capture FILE back.
Its requests are answered from the recording; nothing is dispatched
yet: `opencode-replay-play' does that."
  (let* ((records (opencode-capture-read file))
         (head (car records))
         (conn (opencode-connection-make-offline
                (format "replay:%s" (file-name-nondirectory file))
                (or (plist-get head :directory) default-directory)
                (opencode-capture--responder records))))
    (setf (opencode-connection-plist conn) (list :replay records))
    conn))

(defun opencode-replay-play (conn)
  "Dispatch the recorded events of replay connection CONN, in order.
They go through the same routing as a server's, into the same buffers."
  (dolist (r (plist-get (opencode-connection-plist conn) :replay))
    (let ((item (opencode-capture-item r)))
      (when item
        (opencode-connection-dispatch conn item)
        ;; Replies to what the item made the views ask come now, as
        ;; they came then: before the next item.
        (accept-process-output nil 0.001)))))

(defvar-local opencode-capture--replay nil
  "The replay connection this buffer shows.")

;;;###autoload
(defun opencode-replay (file)
  "Play capture FILE back with no server: its session list, then its events.
To see them in a chat, open the chat from the list, then play the events
again into it with `opencode-replay-play-again'."
  (interactive (list (read-file-name "Replay capture: " nil nil t)))
  (let ((conn (opencode-replay-connection file)))
    (push conn opencode-connections)
    (let ((buf (opencode-sessions-show conn)))
      (with-current-buffer buf
        (setq-local opencode-capture--replay conn))
      (opencode-replay-play conn)
      buf)))

(defun opencode-replay-play-again ()
  "Play the events of this buffer's replay again."
  (interactive)
  (opencode-replay-play (or opencode-capture--replay
                            (user-error "This buffer shows no replay"))))

(provide 'opencode-capture)
;;; opencode-capture.el ends here

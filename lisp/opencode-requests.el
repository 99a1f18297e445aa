;;; opencode-requests.el --- Permissions and questions a session asks  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; A session asks permission to run some tools, and asks the user
;; questions; each waits, listed in the chat's header line and drawn
;; as a block under the tool part that asked (`opencode-requests-block':
;; what is asked, what "always" would allow, an edit's diff, and keys
;; that act on it), until answered with those keys, with
;; `opencode-chat-answer' (or from Lisp with
;; `opencode-chat-reply-permission' and `opencode-chat-reply-question').
;; The connection's store keeps the pending requests.

;;; Code:

(require 'cl-lib)
(require 'seq)
(require 'opencode-api)
(require 'opencode-model)
(require 'opencode-tools)

(declare-function opencode-chat-connection "opencode-chat" (&optional buffer))
(declare-function opencode-chat-session "opencode-chat" (&optional buffer))
(declare-function opencode-chat-session-id "opencode-chat" (&optional buffer))

(defun opencode-requests-pending (&optional buffer)
  "Return the pending requests of chat BUFFER's session, oldest first.
Those of its sub-agents' sessions too, which wait on the same user.
Each is (KIND . PROPS) with KIND `permission' or `question'; the
connection's store has them.  BUFFER defaults to the current one."
  (let* ((conn (opencode-chat-connection buffer))
         (sid (opencode-chat-session-id buffer)))
    (mapcar (lambda (r) (cons (opencode-user-request-kind r) (opencode-user-request-data r)))
            (cl-remove-if-not
             (lambda (r) (opencode-store-descends-p conn (opencode-user-request-session-id r) sid))
             (opencode-store-pending conn)))))

(declare-function opencode-chat-buffer "opencode-chat" (conn session-id))
(declare-function opencode-chat-open "opencode-chat" (conn session))

(defun opencode-requests--chat-of (conn sid)
  "Return the chat on CONN nearest to session SID: its own, or an ancestor's."
  (let ((seen nil) (buf nil))
    (while (and (stringp sid) (not buf) (not (member sid seen)))
      (push sid seen)
      (setq buf (opencode-chat-buffer conn sid)
            sid (opencode-store-parent conn sid)))
    buf))

(opencode-defevent opencode-requests--on-asked ("permission.asked" "question.asked")
    (conn props type)
  "Tell the user of the request in PROPS on CONN, if its chat is open.
Or a parent's, for a sub-agent's session, whose parent is asked of the
server when not known yet.  TYPE says which kind it is."
  (let ((sid (plist-get props :sessionID))
        (request (cons (if (equal type "permission.asked") 'permission 'question) props)))
    (when (stringp sid)
      (opencode-store-learn-parent
       conn sid
       (lambda ()
         (let ((buf (opencode-requests--chat-of conn sid)))
           (when buf
             (with-current-buffer buf
               (message "OpenCode %s: %s (%s)" (plist-get (opencode-chat-session) :title)
                        (opencode-requests-summary request)
                        (opencode-requests-answer-hint buf))))
           (force-mode-line-update t)))))))

(defvar opencode-command-map)
(defvar opencode-chat-mode-map)

(defun opencode-requests-answer-hint (chat)
  "Return how to answer a request of CHAT from where the user is now.
In CHAT or its prompt, their key; elsewhere, the command that goes to
the next session that needs the user."
  (let* ((here (window-buffer (selected-window)))
         (mode (buffer-local-value 'major-mode here)))
    (cond
     ((and (eq here chat) (provided-mode-derived-p mode 'opencode-chat-mode)
           (with-current-buffer chat (eobp)))
      ;; At the end, where the chat follows: the block's keys work here.
      (format "the keys of its block answer it here, or %s"
              (key-description (seq-find (lambda (k) (> (length k) 1))
                                         (where-is-internal #'opencode-chat-answer
                                                            opencode-chat-mode-map)))))
     ((and (eq here chat) (provided-mode-derived-p mode 'opencode-chat-mode))
      (substitute-command-keys
       "\\<opencode-chat-mode-map>\\[opencode-chat-answer] to answer, or the keys of its block"))
     ((and (provided-mode-derived-p mode 'opencode-prompt-mode)
           (eq (opencode-prompt-chat here) chat))
      (substitute-command-keys "\\<opencode-prompt-mode-map>\\[opencode-chat-answer] to answer"))
     (t (let ((keys (where-is-internal #'opencode-answer-next nil t)))
          (format "%s to answer"
                  (if keys (key-description keys) "M-x opencode-answer-next")))))))

(opencode-defevent opencode-requests--on-answered
    ("permission.replied" "question.replied" "question.rejected") (_conn _props)
  "Redraw header lines: a request was answered."
  (force-mode-line-update t))

;;;; Permissions and questions

(defun opencode-requests-summary (request)
  "Return a one-line description of REQUEST, (KIND . PROPS)."
  (let ((props (cdr request)))
    (pcase (car request)
      ('permission
       (format "Permission: %s %s" (plist-get props :permission)
               (mapconcat #'identity (plist-get props :patterns) " ")))
      ('question
       (format "Question: %s"
               (let ((q (and (> (length (plist-get props :questions)) 0)
                             (aref (plist-get props :questions) 0))))
                 (or (plist-get q :question) "?")))))))

(defun opencode-chat-reply-permission (id reply &optional text conn)
  "Answer permission request ID with REPLY: `once', `always' or `reject'.
TEXT, a string, goes along to the agent: why it was refused, what to do
instead.  CONN is the connection (default: the current chat's)."
  (opencode-api-permission-reply (or conn (opencode-chat-connection)) id
                                 :body `(:reply ,(symbol-name reply)
                                                ,@(and (stringp text) (not (string-empty-p text))
                                                       (list :message text)))
                                 :callback (lambda (_) (message "Permission: %s" reply))))

(defun opencode-chat-reply-question (id answers &optional conn)
  "Answer question request ID with ANSWERS, a list of lists of labels.
With ANSWERS nil, reject the question.  CONN is the connection
\(default: the current chat's)."
  (if answers
      (opencode-api-question-reply (or conn (opencode-chat-connection)) id
                                   :body `(:answers ,(apply #'vector (mapcar (lambda (a) (apply #'vector a))
                                                                 answers)))
                        :callback (lambda (_) (message "Answered")))
    (opencode-api-question-reject (or conn (opencode-chat-connection)) id
                                  :callback (lambda (_) (message "Question dismissed")))))

(defun opencode-requests--ask-question (q)
  "Ask question Q (a QuestionInfo plist) in the minibuffer; return labels."
  (let* ((options (mapcar (lambda (o) (cons (plist-get o :label) (plist-get o :description)))
                          (plist-get q :options)))
         (annotate (lambda (c) (let ((d (cdr (assoc c options))))
                                 (if d (concat "  " d) ""))))
         (completion-extra-properties (list :annotation-function annotate))
         (prompt (format "%s: " (plist-get q :question)))
         (require-match (not (eq (plist-get q :custom) t))))
    (if (eq (plist-get q :multiple) t)
        (completing-read-multiple prompt options nil require-match)
      (list (completing-read prompt options nil require-match)))))

(defcustom opencode-permission-show-diff t
  "Whether an edit or write permission shows its proposed change.
It shows as a diff in the request's block in the chat, and, when the
request is answered in the minibuffer, in a window of its own that
goes once answered.  With `ediff', an ediff session of the file
against its proposed text is offered as well."
  :type '(choice (const :tag "A diff" t) (const :tag "A diff, and ediff on request" ediff)
                 (const :tag "No" nil))
  :group 'opencode)

(defun opencode-requests--diff (props)
  "Return the proposed change of permission PROPS as diff text, or nil.
Edit and write requests carry it in their metadata."
  (let* ((meta (plist-get props :metadata))
         (diff (or (plist-get meta :diff) (plist-get (plist-get meta :filediff) :patch))))
    (and (stringp diff) (not (string-empty-p diff)) diff)))

(defun opencode-requests--show-diff (props)
  "Show the proposed change of permission PROPS; return its window, or nil."
  (let ((diff (and opencode-permission-show-diff (opencode-requests--diff props))))
    (when diff
      (let ((buf (get-buffer-create "*opencode-permission-diff*")))
        (with-current-buffer buf
          (let ((inhibit-read-only t))
            (erase-buffer)
            (insert diff)
            (diff-mode)
            (setq buffer-read-only t)
            (goto-char (point-min))))
        (display-buffer buf '((display-buffer-below-selected display-buffer-pop-up-window)
                              (window-height . fit-window-to-buffer)))))))

(defun opencode-requests--always-text (props)
  "Return what `always' would allow for permission PROPS, for the prompt."
  (let ((always (append (plist-get props :always) nil)))
    (if always (format "Allow from now on: %s" (string-join always ", "))
      "Allow from now on for these patterns")))

(defun opencode-chat-answer ()
  "Answer the oldest pending permission or question of this session.
Works from the chat and from its prompt.  An edit or write request
shows its change as a diff while you answer (`opencode-permission-show-diff');
\"always\" says the patterns it would allow from then on."
  (interactive)
  (let* ((chat (if (derived-mode-p 'opencode-prompt-mode) (opencode-prompt-chat)
                 (current-buffer)))
         (request (or (and (buffer-live-p chat)
                           (car (opencode-requests-pending chat)))
                      (user-error "Nothing is waiting for an answer"))))
    (opencode-requests--answer request (opencode-chat-connection chat))))

(declare-function opencode-prompt-chat "opencode-prompt" (&optional buffer))

(defun opencode-requests--answer (request conn)
  "Ask the user about REQUEST, (KIND . PROPS), and send the answer on CONN.
CONN is taken before asking: the minibuffer may leave another buffer
current."
  (pcase (car request)
      ('permission
       (let* ((props (cdr request))
              (window (opencode-requests--show-diff props))
              (choice (unwind-protect
                          (read-multiple-choice
                           (opencode-requests-summary request)
                           `((?o "once" "Allow this time")
                             (?a "always" ,(opencode-requests--always-text props))
                             (?r "reject" "Refuse")
                             (?m "message" "Refuse, and tell the agent why or what to do")
                             ,@(and window (eq opencode-permission-show-diff 'ediff)
                                    '((?e "ediff" "Compare in ediff first, then answer")))))
                        (when (window-live-p window)
                          (quit-restore-window window 'kill)))))
         (when (equal (cadr choice) "ediff")
           (opencode-requests--ediff props)
           (setq choice (read-multiple-choice
                         (opencode-requests-summary request)
                         `((?o "once" "Allow this time")
                           (?a "always" ,(opencode-requests--always-text props))
                           (?r "reject" "Refuse")
                           (?m "message" "Refuse, and tell the agent why")))))
         (if (equal (cadr choice) "message")
             (opencode-chat-reply-permission (plist-get props :id) 'reject
                                             (read-string "Tell the agent: ") conn)
           (opencode-chat-reply-permission (plist-get props :id)
                                           (intern (cadr choice)) nil conn))))
      ('question
       (let* ((props (cdr request))
              (answers (condition-case nil
                           (mapcar #'opencode-requests--ask-question
                                   (append (plist-get props :questions) nil))
                         (quit (if (y-or-n-p "Dismiss the question? ") nil
                                 (signal 'quit nil))))))
         (opencode-chat-reply-question (plist-get props :id) answers conn)))))

(declare-function ediff-buffers "ediff" (buffer-a buffer-b &optional startup-hooks job-name))

(defun opencode-requests--ediff (props)
  "Compare the file of permission PROPS with its proposed text, in ediff."
  (let* ((meta (plist-get props :metadata))
         (file (or (plist-get meta :filepath) (plist-get (plist-get meta :filediff) :file)))
         (after (plist-get (plist-get meta :filediff) :after)))
    (unless (and (stringp file) (stringp after))
      (user-error "This request does not say what the file would become"))
    (let ((proposed (get-buffer-create (format "*proposed %s*" (file-name-nondirectory file)))))
      (with-current-buffer proposed
        (erase-buffer)
        (insert after)
        (set-auto-mode-0 (assoc-default file auto-mode-alist #'string-match) t))
      (ediff-buffers (find-file-noselect file) proposed))))

;;;###autoload
(defun opencode-answer-next ()
  "Go to the next session that needs you, anywhere, and answer it.
It opens that session's chat (or its parent's, for a sub-agent) and
asks about its oldest permission or question."
  (interactive)
  (let ((found nil))
    (dolist (conn opencode-connections)
      (unless found
        (let ((r (car (opencode-store-pending conn))))
          (when r (setq found (cons conn r))))))
    (unless found (user-error "No session needs you"))
    (pcase-let* ((`(,conn . ,r) found)
                 (sid (opencode-user-request-session-id r))
                 (chat (or (opencode-requests--chat-of conn sid)
                           (opencode-chat-open conn (list :id sid)))))
      (pop-to-buffer chat)
      (opencode-requests--answer (cons (opencode-user-request-kind r)
                                       (opencode-user-request-data r))
                                 conn))))

;;;; The block at the tool part that asked

(defface opencode-request '((t :inherit warning :weight bold))
  "Face of what a permission or question block asks, in a chat."
  :group 'opencode)

(defface opencode-request-key '((t :inherit help-key-binding))
  "Face of the keys of a permission or question block."
  :group 'opencode)

(defcustom opencode-permission-diff-lines 60
  "Lines of an edit's proposed diff shown in its permission block.
Longer diffs are cut; \\<opencode-requests-permission-map>\\[opencode-request-show-diff] on the block shows it whole.
nil shows every line."
  :type '(choice (const :tag "All" nil) integer)
  :group 'opencode)

(defvar opencode-requests-permission-map
  (let ((map (make-sparse-keymap)))
    (define-key map "o" #'opencode-request-once)
    (define-key map "a" #'opencode-request-always)
    (define-key map "r" #'opencode-request-reject)
    (define-key map "m" #'opencode-request-reject-with-message)
    (define-key map "d" #'opencode-request-show-diff)
    (define-key map "e" #'opencode-request-ediff)
    (define-key map (kbd "RET") #'opencode-request-answer)
    map)
  "Keymap of a permission block in a chat, on the block only.")

(defvar opencode-requests-question-map
  (let ((map (make-sparse-keymap)))
    (dotimes (i 9)
      (define-key map (number-to-string (1+ i)) #'opencode-request-choose))
    (define-key map "a" #'opencode-request-answer)
    (define-key map (kbd "RET") #'opencode-request-answer)
    (define-key map "r" #'opencode-request-reject)
    map)
  "Keymap of a question block in a chat, on the block only.")

(defconst opencode-requests--bar "  ┃ "
  "What each line of a request block starts with.")

(defun opencode-requests--key (key label command map &rest properties)
  "Return \"[KEY] LABEL\" that runs COMMAND on click or RET; MAP is the block's.
PROPERTIES are more text properties of [KEY], for COMMAND to read."
  (let ((m (make-sparse-keymap)))
    (set-keymap-parent m map)
    (define-key m (kbd "RET") command)
    (define-key m [mouse-2] command)
    (concat (apply #'propertize (concat "[" key "]") 'face 'opencode-request-key
                        'mouse-face 'highlight 'keymap m
                        'help-echo (format "%s (or RET, or click)" key)
                        properties)
            " " label)))

(defun opencode-requests--lines (text)
  "Return TEXT with the bar of a request block before each of its lines."
  (mapconcat (lambda (l) (concat (propertize opencode-requests--bar 'face 'opencode-request) l))
             (split-string text "\n") "\n"))

(defun opencode-requests--block-diff (props)
  "Return the diff of permission PROPS for its block, in `diff-mode' faces, or nil.
Cut to `opencode-permission-diff-lines', saying so."
  (let ((diff (and opencode-permission-show-diff (opencode-requests--diff props))))
    (when diff
      (let* ((lines (mapcar (lambda (l)
                              ;; Files as the chat names them: relative to the project.
                              (if (string-match "\\`\\(\\(?:---\\|\\+\\+\\+\\) \\)\\(/[^\t]*\\)" l)
                                  (concat (match-string 1 l)
                                          (propertize (opencode-tools-relative (match-string 2 l))
                                                      'face (get-text-property (match-beginning 2) 'face l))
                                          (substring l (match-end 2)))
                                l))
                            (split-string (opencode-tools-diff diff) "\n")))
             (n (length lines))
             (max opencode-permission-diff-lines))
        (if (or (null max) (<= n max)) (string-join lines "\n")
          (concat (string-join (seq-take lines max) "\n") "\n"
                  (propertize (substitute-command-keys
                               (format "[… %d more lines: \\<opencode-requests-permission-map>\\[opencode-request-show-diff] shows the whole diff]"
                                       (- n max)))
                              'face 'opencode-chat-dim)))))))

(defun opencode-requests--always-line (props)
  "Return what \"always\" would allow for permission PROPS, as a line."
  (let ((always (append (plist-get props :always) nil)))
    (propertize (if always
                    (format "always allows from now on: %s %s" (plist-get props :permission)
                            (string-join always ", "))
                  "always allows these patterns from now on")
                'face 'opencode-chat-dim)))

(defun opencode-requests--question-choosable-p (props)
  "Return non-nil if question PROPS is one pick among its options."
  (let ((qs (plist-get props :questions)))
    (and (= (length qs) 1)
         (not (eq (plist-get (aref qs 0) :multiple) t))
         (<= 1 (length (plist-get (aref qs 0) :options)) 9))))

(defun opencode-requests-block (request)
  "Return the block that shows REQUEST, (KIND . PROPS), in a chat.
It says what is asked; for a permission, what \"always\" would allow
and an edit's proposed change as a diff; for a question, its options;
then its keys, which act with point anywhere on the block.  The text
ends without a newline, and carries REQUEST as `opencode-request'."
  (let* ((props (cdr request))
         (permission (eq (car request) 'permission))
         (map (if permission opencode-requests-permission-map opencode-requests-question-map))
         (lines
          (if permission
              (let ((diff (opencode-requests--block-diff props)))
                (delq nil
                      (list (propertize (opencode-requests-summary request) 'face 'opencode-request)
                            (opencode-requests--always-line props)
                            diff
                            (mapconcat
                             #'identity
                             (delq nil
                                   (list (opencode-requests--key "o" "once" #'opencode-request-once map)
                                         (opencode-requests--key "a" "always" #'opencode-request-always map)
                                         (opencode-requests--key "r" "reject" #'opencode-request-reject map)
                                         (opencode-requests--key "m" "reject with a message"
                                                                 #'opencode-request-reject-with-message map)
                                         (and diff (opencode-requests--key "d" "diff in a window"
                                                                           #'opencode-request-show-diff map))
                                         (and diff (eq opencode-permission-show-diff 'ediff)
                                              (opencode-requests--key "e" "ediff" #'opencode-request-ediff map))))
                             "  "))))
            (let ((choosable (opencode-requests--question-choosable-p props)))
              (append
               (apply #'append
                      (mapcar
                       (lambda (q)
                         (cons (propertize (concat "Question: " (or (plist-get q :question) "?"))
                                           'face 'opencode-request)
                               (cl-loop for o across (or (plist-get q :options) [])
                                        for i from 1
                                        collect (concat "  "
                                                        (if choosable
                                                            (opencode-requests--key
                                                             (number-to-string i) (or (plist-get o :label) "")
                                                             #'opencode-request-choose map
                                                             'opencode-option i)
                                                          (concat "- " (or (plist-get o :label) "")))
                                                        (if (stringp (plist-get o :description))
                                                            (propertize (concat " — " (plist-get o :description))
                                                                        'face 'opencode-chat-dim)
                                                          "")))))
                       (append (plist-get props :questions) nil)))
               (list (mapconcat
                      #'identity
                      (delq nil (list (and choosable
                                           (concat (propertize (format "[1-%d]" (length (plist-get (aref (plist-get props :questions) 0) :options)))
                                                               'face 'opencode-request-key)
                                                   " choose"))
                                      (opencode-requests--key "a" "answer…" #'opencode-request-answer map)
                                      (opencode-requests--key "r" "dismiss" #'opencode-request-reject map)))
                      "  ")))))))
    (let ((text (opencode-requests--lines (string-join lines "\n"))))
      ;; The keys' own maps stay; the rest of the block gets the block's.
      (let ((i 0) (n (length text)))
        (while (< i n)
          (let ((next (next-single-property-change i 'keymap text n)))
            (unless (get-text-property i 'keymap text)
              (put-text-property i next 'keymap map text))
            (setq i next))))
      (add-text-properties 0 (length text) (list 'opencode-request request) text)
      text)))

;;;; The block's commands

(defun opencode-requests--at-point ()
  "Return the request of the block at point, (KIND . PROPS), or signal.
After a click, point is where the click was.  At the end of a chat,
the newest request waiting (`opencode-requests--at-end')."
  (when (mouse-event-p last-command-event)
    (posn-set-point (event-end last-command-event)))
  (or (get-text-property (point) 'opencode-request)
      (and (> (point) (point-min)) (get-text-property (1- (point)) 'opencode-request))
      (opencode-requests--at-end)
      (user-error "No permission or question here")))

;;;; The keys of the newest block, at the end of the chat

(defun opencode-requests--at-end ()
  "Return the newest request waiting, (KIND . PROPS), if point is at the end.
The end of a chat is where point follows what streams in: when a
request comes, its block is drawn above point, and its keys answer it
from there."
  (and (eobp) (derived-mode-p 'opencode-chat-mode)
       (car (last (opencode-requests-pending)))))

(defun opencode-requests--block-keys (request)
  "Return the keys the block of REQUEST, (KIND . PROPS), shows, as events."
  (let ((props (cdr request)))
    (if (eq (car request) 'permission)
        (append '(?o ?a ?r ?m ?\r)
                (and opencode-permission-show-diff (opencode-requests--diff props)
                     (cons ?d (and (eq opencode-permission-show-diff 'ediff) '(?e)))))
      (append '(?a ?r ?\r)
              (and (opencode-requests--question-choosable-p props)
                   (number-sequence ?1 (+ ?0 (length (plist-get (aref (plist-get props :questions) 0)
                                                                :options)))))))))

(defun opencode-requests--end-binding (event binding)
  "Return what EVENT runs in a chat, whose own BINDING it has.
At the end of the chat, while a request waits, the command of EVENT
on the newest request's block, if the block shows EVENT; else BINDING."
  (let ((request (opencode-requests--at-end)))
    (or (and request (memq event (opencode-requests--block-keys request))
             (lookup-key (if (eq (car request) 'permission) opencode-requests-permission-map
                           opencode-requests-question-map)
                         (vector event)))
        binding)))

(defun opencode-requests-answer-at-end (map)
  "Make the keys of request blocks answer from the end of a chat, in MAP.
MAP is the chat's keymap: each key a block has keeps its binding in
MAP, except at the end of the chat while a request waits, where it
acts on the newest request (`opencode-requests--end-binding')."
  (let ((events nil))
    (dolist (m (list opencode-requests-permission-map opencode-requests-question-map))
      (map-keymap (lambda (event _) (when (integerp event) (cl-pushnew event events))) m))
    (dolist (event events)
      (let ((binding (lookup-key map (vector event))))
        ;; Once: loading the file again leaves MAP (a `defvar') as it was.
        (unless (eq (car-safe binding) 'menu-item)
          (define-key map (vector event)
            `(menu-item "" ,binding
                        :filter ,(lambda (b) (opencode-requests--end-binding event b)))))))))

(defun opencode-requests--reply-at-point (reply &optional text)
  "Answer the permission of the block at point with REPLY and TEXT."
  (let ((request (opencode-requests--at-point)))
    (if (eq (car request) 'permission)
        (opencode-chat-reply-permission (plist-get (cdr request) :id) reply text
                                        (opencode-chat-connection))
      (unless (eq reply 'reject) (user-error "This is a question: %s answers it"
                                             (substitute-command-keys "\\[opencode-request-answer]")))
      (opencode-chat-reply-question (plist-get (cdr request) :id) nil (opencode-chat-connection)))))

(defun opencode-request-once ()
  "Allow the tool of the permission block at point, this time."
  (interactive)
  (opencode-requests--reply-at-point 'once))

(defun opencode-request-always ()
  "Allow the tool of the permission block at point from now on.
The block says which patterns \"always\" allows."
  (interactive)
  (opencode-requests--reply-at-point 'always))

(defun opencode-request-reject ()
  "Refuse the permission, or dismiss the question, of the block at point."
  (interactive)
  (opencode-requests--reply-at-point 'reject))

(defun opencode-request-reject-with-message (text)
  "Refuse the permission of the block at point, telling the agent TEXT."
  (interactive (progn (opencode-requests--at-point)
                      (list (read-string "Tell the agent: "))))
  (opencode-requests--reply-at-point 'reject text))

(defun opencode-request-answer ()
  "Answer the permission or question of the block at point in the minibuffer."
  (interactive)
  (opencode-requests--answer (opencode-requests--at-point) (opencode-chat-connection)))

(defun opencode-request-choose (n)
  "Answer the question of the block at point with its option N.
Interactively, N is the digit typed, or the option clicked."
  (interactive
   (list (if (memq last-command-event '(?1 ?2 ?3 ?4 ?5 ?6 ?7 ?8 ?9))
             (- last-command-event ?0)
           (or (get-text-property (point) 'opencode-option)
               (user-error "No option here")))))
  (let* ((request (opencode-requests--at-point))
         (props (cdr request)))
    (unless (and (eq (car request) 'question) (opencode-requests--question-choosable-p props))
      (user-error "Not a question with one pick: %s answers it"
                  (substitute-command-keys "\\[opencode-request-answer]")))
    (let ((o (nth (1- n) (append (plist-get (aref (plist-get props :questions) 0) :options) nil))))
      (unless o (user-error "No option %d" n))
      (opencode-chat-reply-question (plist-get props :id) (list (list (plist-get o :label)))
                                    (opencode-chat-connection)))))

(defun opencode-request-show-diff ()
  "Show the whole proposed change of the permission block at point."
  (interactive)
  (let ((opencode-permission-show-diff t))
    (unless (opencode-requests--show-diff (cdr (opencode-requests--at-point)))
      (user-error "This request proposes no change"))))

(defun opencode-request-ediff ()
  "Compare the file of the permission block at point with its proposed text."
  (interactive)
  (opencode-requests--ediff (cdr (opencode-requests--at-point))))

(provide 'opencode-requests)
;;; opencode-requests.el ends here

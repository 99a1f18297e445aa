;;; opencode-complete.el --- @ mentions and / commands in the prompt  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;;; Commentary:

;; Completion at point for the prompt buffer:
;;
;; - `@' followed by part of a file or folder name completes from the
;;   server's fuzzy file finder (GET /find/file), files and folders;
;;   when the prompt is sent, every @path naming a file or folder of
;;   the project goes along as a file part (as the TUI does).
;; - `/' at the start of the prompt completes slash commands: the
;;   server's (GET /command) and the package's own
;;   (`opencode-prompt-own-commands').

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'opencode-api)
(require 'opencode-context)

(defcustom opencode-complete-file-limit 50
  "How many files the server returns for one @ completion."
  :type 'integer
  :group 'opencode)

(defvar opencode-prompt-own-commands
  '(("compact" . "summarize the session to free its context")
    ("rename" . "rename the session: /rename NEW TITLE")
    ("fork" . "fork the session and open the fork")
    ("share" . "share the session and copy its URL")
    ("unshare" . "stop sharing the session")
    ("undo" . "revert the last prompt and its file changes")
    ("redo" . "restore what /undo reverted"))
  "The package's own slash commands, (NAME . DESCRIPTION).
They run in Emacs and take precedence over the server's of the same name.")

;;;; @ mentions: the server matches, a completion style keeps its answers

;; The server's finder matches any part of a name (@calc finds
;; src/calc.py), which Emacs's own styles, prefix or pattern based,
;; would drop.  So the table answers two actions of its own, and the
;; style `opencode-server', which its category names, asks them: the
;; server's matches as they are.  Other styles, for users who set
;; `completion-category-defaults' aside (as orderless users do), get
;; the same matches filtered as the standard actions filter; a style
;; that asks for "" (orderless, flex, substring) gets the server's
;; matches for the text typed, not for "".

(defun opencode-complete--style-try (string table pred point)
  "Complete STRING at POINT from TABLE's own matches: the `opencode-server' style.
PRED is the predicate.  A table that does not know the style gives nil."
  (pcase (funcall table string pred (cons 'opencode-complete--tryc point))
    (`(opencode-complete--tryc . ,result) result)))

(defun opencode-complete--style-all (string table pred point)
  "Return TABLE's own matches for STRING at POINT: the `opencode-server' style.
PRED is the predicate.  The list ends in a base size of 0, as
`completion-all-completions' wants."
  (pcase (funcall table string pred (cons 'opencode-complete--allc point))
    (`(opencode-complete--allc . ,all) (and all (nconc (copy-sequence all) 0)))))

(add-to-list 'completion-styles-alist
             '(opencode-server opencode-complete--style-try opencode-complete--style-all
                               "The matches of the OpenCode server, as it gives them."))

;; The old category, with the styles that dropped the server's matches.
(setq completion-category-defaults
      (delete '(opencode-file (styles basic partial-completion flex))
              completion-category-defaults))
(add-to-list 'completion-category-defaults '(opencode-file (styles opencode-server)))

(defun opencode-complete--files (conn prefix)
  "Return the server's fuzzy matches for PREFIX on CONN, files and folders."
  (let ((found (condition-case nil
                   (opencode-api-find-files
                    conn :query `(("query" . ,prefix) ("dirs" . "true")
                                  ("limit" . ,opencode-complete-file-limit))
                    :timeout 5 :sync t)
                 (error nil))))
    (and (vectorp found) (append found nil))))

(defun opencode-complete--fuzzy-p (query name)
  "Return non-nil if QUERY's characters are in NAME in order, ignoring case."
  (string-match-p (mapconcat (lambda (c) (regexp-quote (string c))) (downcase query) ".*")
                  (downcase name)))

(defun opencode-complete--try (query candidates)
  "Return what TAB makes of QUERY among CANDIDATES, the server's matches.
nil when there are none; t when QUERY is the only one; else
\(STRING . POINT): the one candidate that holds QUERY whole (ignoring
case), the longer prefix common to all those when QUERY starts them
all, or QUERY itself, for the list to show the choice."
  (let* ((case-fold-search t)
         (holding (cl-remove-if-not
                   (lambda (c) (string-match-p (regexp-quote query) c))
                   candidates))
         (common (and holding
                      (cl-every (lambda (c) (string-prefix-p query c t)) holding)
                      (let ((completion-ignore-case t)) (try-completion "" holding)))))
    (cond ((null candidates) nil)
          ((equal candidates (list query)) t)
          ((= (length holding) 1) (cons (car holding) (length (car holding))))
          ((and (stringp common) (> (length common) (length query)))
           (cons common (length common)))
          (t (cons query (length query))))))

(defun opencode-complete--mention-table (conn names field)
  "Return a completion table of what @ can mention on CONN.
NAMES are the sub-agents and context providers; the files and folders
come from the server, asked once per text.  FIELD returns the text
typed after @, asked for when a style completes \"\" (see above)."
  (let ((cache (make-hash-table :test 'equal)))
    (cl-labels
        ((files (query)
           (or (gethash query cache)
               ;; A failed or timed-out search is asked again next
               ;; time, not remembered as "nothing".
               (let ((found (opencode-complete--files conn query)))
                 (when found (puthash query found cache))
                 found)))
         (matches (query pred)
           (let ((all (append (cl-remove-if-not
                               (lambda (n) (opencode-complete--fuzzy-p query n))
                               names)
                              (cl-remove-if (lambda (f) (member f names)) (files query)))))
             (if pred (cl-remove-if-not pred all) all))))
      (lambda (string pred action)
        (pcase action
          ('metadata
           '(metadata (category . opencode-file)
                      ;; The server's order: the best match first.
                      (display-sort-function . identity)
                      (cycle-sort-function . identity)))
          (`(opencode-complete--tryc . ,_)
           (cons 'opencode-complete--tryc
                 (opencode-complete--try string (matches string pred))))
          (`(opencode-complete--allc . ,_)
           (cons 'opencode-complete--allc (matches string pred)))
          (`(boundaries . ,_) nil)
          (_
           (let ((query (if (string-empty-p string) (funcall field) string)))
             (complete-with-action action (append names (files query)) string pred))))))))

(defun opencode-complete--cache-commands (conn commands)
  "Keep COMMANDS, the vector of CONN's slash commands, for later prompts."
  (setf (opencode-connection-plist conn)
        (plist-put (opencode-connection-plist conn) :commands commands)))

(defun opencode-complete--server-commands (conn)
  "Return CONN's slash commands (plists), asked of the server once."
  (or (plist-get (opencode-connection-plist conn) :commands)
      (let ((cmds (condition-case nil
                      (opencode-api-commands conn :timeout 5 :sync t)
                    (error nil))))
        (when (vectorp cmds) (opencode-complete--cache-commands conn cmds))
        cmds)))

(defun opencode-complete-command-names (conn callback)
  "Call CALLBACK with the names of CONN's slash commands.
They are asked once per connection, and kept for completion too."
  (let ((names (lambda (cmds) (mapcar (lambda (c) (plist-get c :name)) cmds)))
        (cached (plist-get (opencode-connection-plist conn) :commands)))
    (if cached (funcall callback (funcall names cached))
      (opencode-api-commands
       conn
       :callback (lambda (cmds)
                   (opencode-complete--cache-commands conn cmds)
                   (funcall callback (funcall names cmds)))))))

(defun opencode-complete--commands (conn)
  "Return the slash command names of CONN and the package, annotated."
  (let ((server (opencode-complete--server-commands conn)))
    (append
     (mapcar (lambda (c) (propertize (car c) 'opencode-doc (cdr c)))
             opencode-prompt-own-commands)
     (cl-loop for c across (if (vectorp server) server [])
              for name = (plist-get c :name)
              unless (assoc name opencode-prompt-own-commands)
              collect (propertize name 'opencode-doc
                                  (or (plist-get c :description) ""))))))

(defun opencode-complete-warm-up (conn)
  "Ask CONN's server for files once, so that its first @ completion is quick.
The server builds its file index on the first search, which can take
seconds in a large project."
  (unless (plist-get (opencode-connection-plist conn) :files-warm)
    (setf (opencode-connection-plist conn)
          (plist-put (opencode-connection-plist conn) :files-warm t))
    (opencode-api-find-files conn :query '(("query" . "") ("limit" . 1))
                             :timeout 60 :callback #'ignore :errback #'ignore)))

(defun opencode-complete-at-point-function (conn)
  "Return a `completion-at-point' function for prompts on CONN."
  (lambda ()
    (cond
     ;; @path anywhere.
     ((save-excursion
        (skip-chars-backward "^ \t\n@")
        (eq (char-before) ?@))
      (let* ((beg (save-excursion (skip-chars-backward "^ \t\n@") (point)))
             (end (point))
             (buffer (current-buffer))
             (start (copy-marker beg))
             (agents (append (mapcar #'car opencode-context-providers)
                             (opencode-complete--agents conn))))
        ;; Exclusive: Emacs tries a non-exclusive capf with a prefix
        ;; match, which drops the server's other matches; and when
        ;; nothing matches, TAB says so.
        (list beg end
              (opencode-complete--mention-table
               conn agents
               (lambda ()
                 (if (buffer-live-p buffer)
                     (with-current-buffer buffer
                       (save-excursion
                         (goto-char start)
                         (buffer-substring-no-properties
                          start (progn (skip-chars-forward "^ \t\n") (point)))))
                   "")))
              :annotation-function
              (lambda (s) (cond ((assoc s opencode-context-providers) "  context from Emacs")
                                ((member s agents) "  agent")
                                ((string-suffix-p "/" s) "  folder")
                                (t ""))))))
     ;; /command at the very start.
     ((save-excursion
        (skip-chars-backward "^ \t\n/")
        (and (eq (char-before) ?/) (= (1- (point)) (point-min))))
      (let ((beg (1+ (point-min)))
            (names (opencode-complete--commands conn)))
        (list beg (point) names
              :exclusive 'no
              :annotation-function
              (lambda (s)
                (let ((doc (get-text-property 0 'opencode-doc
                                              (or (car (member s names)) s))))
                  (and doc (not (string-empty-p doc)) (concat "  " doc))))))))))

(defun opencode-complete-parse-range (mention)
  "Split MENTION, a name with an optional line range, into (NAME START END).
\"src/a.el#L10-20\" gives (\"src/a.el\" 10 20), \"a.el#L7\" gives
\(\"a.el\" 7 7) and \"a.el\" gives (\"a.el\" nil nil)."
  (if (string-match "\\`\\(.*?\\)#L\\([0-9]+\\)\\(?:-L?\\([0-9]+\\)\\)?\\'" mention)
      (let ((start (string-to-number (match-string 2 mention))))
        (list (match-string 1 mention) start
              (max start (if (match-string 3 mention)
                             (string-to-number (match-string 3 mention))
                           start))))
    (list mention nil nil)))

(defun opencode-complete-mentions (text directory &optional agents)
  "Return the files, folders and AGENTS @mentioned in TEXT.
Files and folders must exist in DIRECTORY: each is an absolute file
name (folders end in a slash), or (FILE START END) for a file with a
line range, @path#L10-20.  A mention of one of AGENTS (names) is
\(:agent NAME).  Mentions that name nothing are left as text."
  (let ((root (file-name-as-directory (expand-file-name directory)))
        (found nil) (start 0))
    (while (string-match "\\(?:^\\|[ \t\n(]\\)@\\([^ \t\n]+\\)" text start)
      (setq start (match-end 0))
      (pcase-let* ((mention (string-trim-right (match-string 1 text) "[.,;:!?)]+"))
                   (`(,name ,from ,to) (opencode-complete-parse-range mention))
                   (file (expand-file-name name root)))
        (cond
         ((and (string-prefix-p root file) (file-exists-p file))
          (cl-pushnew (cond ((file-directory-p file) (file-name-as-directory file))
                            (from (list file from to))
                            (t file))
                      found :test #'equal))
         ((member mention agents)
          (cl-pushnew (list :agent mention) found :test #'equal)))))
    (nreverse found)))

(defun opencode-complete--agents (conn)
  "Return the names of CONN's sub-agents, which @ can mention, asked once."
  (or (plist-get (opencode-connection-plist conn) :subagents)
      (let* ((all (condition-case nil (opencode-api-agents conn :timeout 5 :sync t)
                    (error nil)))
             (names (cl-loop for a across (if (vectorp all) all [])
                             when (and (member (plist-get a :mode) '("subagent" "all"))
                                       (not (eq (plist-get a :hidden) t)))
                             collect (plist-get a :name))))
        (when names
          (setf (opencode-connection-plist conn)
                (plist-put (opencode-connection-plist conn) :subagents names)))
        names)))

(defun opencode-complete-agent-names (conn)
  "Return the names of the agents a prompt on CONN can @mention."
  (opencode-complete--agents conn))

(provide 'opencode-complete)
;;; opencode-complete.el ends here

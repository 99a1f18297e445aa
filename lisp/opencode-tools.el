;;; opencode-tools.el --- How each tool's part is shown  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The renderers of the server's built-in tools, and the table that
;; holds them (`opencode-chat-tool-renderers').  Each makes a one-line
;; heading and a body from what the server stores in the tool part's
;; state: todowrite a checklist, bash its command and the tail of its
;; output, write and read the file's text in its major mode's colours,
;; edit a diff, glob and grep file buttons, question its options and the
;; answer, task a link to the sub-agent's session...  A tool with no
;; renderer shows its input as `key: value' lines and its output.
;; `opencode-parts-insert' (opencode-parts.el) lays them out and folds
;; them; the buttons it shares with other parts live there too.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'seq)
(require 'diff-mode)
(require 'opencode-lib)
(require 'opencode-connection)
(require 'opencode-remote)

(declare-function opencode-parts-file-button "opencode-parts" (file &optional line label))
(declare-function opencode-parts-session-button "opencode-parts" (id))
(declare-function opencode-parts-expanded-p "opencode-parts" (id))
(declare-function opencode-chat-expand-part "opencode-chat-nav" ())
(declare-function opencode-chat-patch-file-at-point "opencode-parts" ())
(declare-function opencode-chat-connection "opencode-chat" (&optional buffer))

;;;; Options

(defcustom opencode-chat-bash-tail-lines 30
  "Lines of a shell command's output shown, the last ones.
Earlier lines are behind a \"show all\" button.  nil shows the output
whole (`opencode-chat-tool-output-max' still applies)."
  :type '(choice (const :tag "All" nil) integer)
  :group 'opencode)

(defcustom opencode-chat-fontify-file-max 60000
  "Characters of a file's text (written or read) fontified in its mode.
Longer text is shown plain."
  :type 'integer
  :group 'opencode)

;;;; The table

(defvar opencode-chat-tool-renderers nil
  "How tool parts are shown, an alist of (TOOL . RENDERER).
TOOL is a tool's name (\"bash\", \"edit\", …).  RENDERER is called
with the tool PART, a plist (:tool, :state with :status, :input,
:output, :error, :metadata, :title, :time) and returns a plist with
:heading (one line) and :body (any text); a key left out keeps the
package's default.  The package keeps the layout: it draws the heading,
folds the body, limits its size and redraws when the part changes.
Every built-in tool has one (see opencode-tools.el); a tool with none
shows its input as `key: value' lines, then its output.
See `opencode-chat-define-tool-renderer'.")

(defvar opencode-chat-tool-renderer-functions (list #'opencode-mcp-tool-renderer)
  "Functions that find the renderer of a tool no entry names.
When `opencode-chat-tool-renderers' has no entry for a tool, each of
these is called in turn with the tool's name, until one returns a
renderer.  The one there finds Emacs's own tools (opencode-mcp-views.el):
any tool, defined now or later, whose name begins as theirs do,
whether `opencode-emacs-tools' is on or not.")

(autoload 'opencode-mcp-tool-renderer "opencode-mcp-views")

(defun opencode-chat-tool-renderer (tool)
  "Return the renderer of TOOL, a tool's name, or nil for the default.
See `opencode-chat-tool-renderers' and `opencode-chat-tool-renderer-functions'."
  (or (cdr (assoc tool opencode-chat-tool-renderers))
      (run-hook-with-args-until-success 'opencode-chat-tool-renderer-functions tool)))

(defun opencode-chat-define-tool-renderer (tool renderer)
  "Show parts of TOOL (a tool name) with RENDERER, or the default if nil.
See `opencode-chat-tool-renderers' for what RENDERER gets and returns."
  (setf (alist-get tool opencode-chat-tool-renderers nil (null renderer) #'equal)
        renderer))

;;;; Shared pieces

(defun opencode-tools--string (v)
  "Return V if it is a non-empty string, else nil."
  (and (stringp v) (not (string-empty-p v)) v))

(defun opencode-tools--duration (time)
  "Return a duration string from TIME's :start and :end (ms), or nil."
  (let ((s (plist-get time :start)) (e (plist-get time :end)))
    (and (numberp s) (numberp e) (format "%.1fs" (/ (- e s) 1000.0)))))

(defun opencode-tools-status (state &optional extra)
  "Return the status suffix of a tool heading for STATE: \"  [status] 1.2s\".
EXTRA, a string, goes inside the brackets after the status."
  (concat (format "  [%s%s]" (or (plist-get state :status) "?")
                  (if extra (concat ", " extra) ""))
          (let ((d (opencode-tools--duration (plist-get state :time))))
            (if d (concat " " d) ""))))

(defun opencode-tools--error (state)
  "Return STATE's error as text in the error face, or \"\"."
  (let ((err (plist-get state :error)))
    (if (opencode-tools--string err)
        (concat "\n" (propertize (concat "Error: " err) 'face 'opencode-chat-error))
      "")))

(defun opencode-tools--dim (text)
  "Return TEXT in the dim face."
  (propertize text 'face 'opencode-chat-dim))

(defun opencode-tools--size (n)
  "Return N bytes briefly: 950 B, 12.3 kB, 1.2 MB."
  (cond ((< n 1000) (format "%d B" n))
        ((< n 1000000) (format "%.1f kB" (/ n 1000.0)))
        (t (format "%.1f MB" (/ n 1000000.0)))))

(defun opencode-tools-value (v)
  "Return value V of a tool's input as compact text."
  (cond ((stringp v) v)
        ((eq v t) "true")
        ((eq v :false) "false")
        ((memq v '(nil :null)) "null")
        ((numberp v) (number-to-string v))
        (t (condition-case nil
               (let ((json (json-serialize v :null-object :null :false-object :false)))
                 ;; Compact, and no JSON punctuation a reader trips on.
                 (opencode-tools--compact v json))
             (error (format "%S" v))))))

(defun opencode-tools--compact (v json)
  "Return V (a vector or plist) as compact text; JSON is its JSON text.
Vectors of scalars become \"a, b, c\"; plists \"k=v, k=v\"; deeper
values \"N items\" or \"{N keys}\"."
  (cond ((and (vectorp v) (cl-every (lambda (x) (or (stringp x) (numberp x))) v))
         (mapconcat #'opencode-tools-value v ", "))
        ((vectorp v) (opencode--plural (length v) "item"))
        ((and (consp v) (keywordp (car v)))
         (mapconcat (lambda (kv)
                      (format "%s=%s" (substring (symbol-name (car kv)) 1)
                              (let ((x (cadr kv)))
                                (if (or (vectorp x) (consp x))
                                    (if (vectorp x) (opencode--plural (length x) "item") "{…}")
                                  (opencode-tools-value x)))))
                    (seq-partition v 2) ", "))
        (t json)))

(defun opencode-tools-key-values (input)
  "Return plist INPUT as `key: value' lines, nested values compact."
  (mapconcat (lambda (kv)
               (let ((text (opencode-tools-value (cadr kv))))
                 (concat (propertize (concat (substring (symbol-name (car kv)) 1) ":")
                                     'face 'opencode-chat-dim)
                         (if (string-search "\n" text)
                             (concat "\n" (replace-regexp-in-string "^" "  " text))
                           (concat " " text)))))
             (and (consp input) (seq-partition input 2))
             "\n"))

(defun opencode-tools-summary (input)
  "Return a one-line summary of tool INPUT, a plist, with no JSON."
  (let ((v (cl-some (lambda (k) (opencode-tools--string (plist-get input k)))
                    '(:command :filePath :pattern :url :description :path :name :query))))
    (opencode--first-line
     (or v (and (consp input)
                (string-join (mapcar (lambda (kv)
                                       (format "%s: %s" (substring (symbol-name (car kv)) 1)
                                               (opencode-tools-value (cadr kv))))
                                     (seq-take (seq-partition input 2) 2))
                             ", "))
         ""))))

(defun opencode-tools-relative (file)
  "Return FILE relative to the chat's project when inside it, else FILE.
FILE is as the server names it (in a remote project, a host path)."
  (let* ((root (ignore-errors (opencode-connection-directory (opencode-chat-connection))))
         (local (if (and root (stringp file) (file-name-absolute-p file))
                    (opencode-remote-local-name file root)
                  file)))
    (if (and root (stringp local) (file-name-absolute-p local)
             (string-prefix-p (file-name-as-directory root) local))
        (file-relative-name local root)
      file)))

(defun opencode-tools--file-button (file &optional line)
  "Return a button visiting FILE (at LINE), named relative to the project."
  (opencode-parts-file-button file line (opencode-tools-relative file)))

;;;; A file's text in its major mode

(defun opencode-tools--mode-for (file)
  "Return the major mode `auto-mode-alist' gives FILE, or nil."
  (let ((mode (and (stringp file)
                   (assoc-default (file-name-sans-versions file) auto-mode-alist
                                  #'string-match))))
    (when (consp mode) (setq mode (car mode)))
    (and (functionp mode) mode)))

(defun opencode-tools-language (file)
  "Return the name of FILE's language, as Org and Markdown code blocks say it.
It is the major mode `auto-mode-alist' gives FILE, less \"-mode\":
\"python\", \"emacs-lisp\"...; nil for a file with no mode."
  (let ((mode (opencode-tools--mode-for file)))
    (and mode (not (memq mode '(fundamental-mode text-mode)))
         (replace-regexp-in-string "\\(?:-ts\\)?-mode\\'" "" (symbol-name mode)))))

(defun opencode-tools-fontify (text file)
  "Return TEXT coloured as FILE's major mode colours it.
The mode is chosen by FILE's name (`auto-mode-alist'); its hooks do
not run and it prints nothing.  Text longer than
`opencode-chat-fontify-file-max', or of a file with no mode, is
returned as it is."
  (let ((mode (opencode-tools--mode-for file)))
    (if (or (null mode) (> (length text) opencode-chat-fontify-file-max))
        text
      (condition-case nil
          (with-temp-buffer
            (insert text)
            (let ((inhibit-message t) (message-log-max nil)
                  (enable-local-variables nil))
              (delay-mode-hooks (funcall mode))
              (font-lock-ensure))
            (buffer-string))
        (error text)))))

;;;; The server's wrappers

(defun opencode-tools-parse-read (output)
  "Parse OUTPUT of the read tool, or a file the server added as context.
The server wraps it as <path>P</path> <type>T</type> <content>…</content>,
each content line as \"N: text\".  Return a plist (:path :type :text
:first :last :note), or nil if OUTPUT is not so wrapped."
  (when (and (stringp output)
             (string-match "\\`<path>\\(.*\\)</path>\n<type>\\(.*\\)</type>\n<\\(content\\|entries\\)>\n?"
                           output))
    (let* ((path (match-string 1 output))
           (type (match-string 2 output))
           (rest (substring output (match-end 0)))
           (rest (if (string-match "\n?</\\(content\\|entries\\)>[ \t\n]*\\'" rest)
                     (substring rest 0 (match-beginning 0))
                   rest))
           (first nil) (last nil) (note nil) (lines nil))
      (dolist (line (split-string rest "\n"))
        (cond ((string-match "\\`\\([0-9]+\\): ?\\(.*\\)\\'" line)
               (let ((n (string-to-number (match-string 1 line))))
                 (unless first (setq first n))
                 (setq last n)
                 (push (match-string 2 line) lines)))
              ((string-match "\\`(\\(.*\\))\\'" line) (setq note (match-string 1 line)))
              ((and (string-empty-p line) first))
              (t (push line lines))))
      ;; The blank line before the note is the wrapper's, not the file's.
      (while (and lines first (string-empty-p (car lines)) (> (length lines) (1+ (- last first))))
        (pop lines))
      (list :path path :type type :text (string-join (nreverse lines) "\n")
            :first first :last last :note note))))

;;;; The built-in tools

(defconst opencode-tools--todo-glyphs
  '(("completed" "✓" success) ("in_progress" "◐" warning)
    ("pending" "☐" nil) ("cancelled" "✗" shadow))
  "Glyph and face of each todo status.")

(defun opencode-tools-todowrite (part)
  "Show a todowrite PART as a checklist."
  (let* ((state (plist-get part :state))
         (todos (append (or (plist-get (plist-get state :input) :todos)
                            (plist-get (plist-get state :metadata) :todos))
                        nil))
         (live (cl-remove "cancelled" todos :key (lambda (td) (plist-get td :status)) :test #'equal))
         (done (cl-count "completed" live :key (lambda (td) (plist-get td :status)) :test #'equal)))
    (list :heading (concat (if todos (format "Todos %d/%d done" done (length live)) "Todos")
                           (opencode-tools-status state))
          :body (concat
                 (mapconcat
                  (lambda (td)
                    (pcase-let ((`(,glyph ,face) (cdr (assoc (plist-get td :status)
                                                             opencode-tools--todo-glyphs))))
                      (concat (propertize (or glyph "?") 'face face) " "
                              (propertize (or (plist-get td :content) "")
                                          'face (and (equal (plist-get td :status) "cancelled")
                                                     '(:strike-through t :inherit shadow)))
                              (if (opencode-tools--string (plist-get td :priority))
                                  (opencode-tools--dim (format "  (%s)" (plist-get td :priority)))
                                ""))))
                  todos "\n")
                 (opencode-tools--error state)))))

(defun opencode-tools--bash-tail (part output)
  "Return the end of bash PART's OUTPUT, behind a \"show all\" button.
See `opencode-chat-bash-tail-lines' and `opencode-chat-tool-output-max'.
The tail is found by searching newlines from the end, so a long output
costs no more than the lines shown."
  (let* ((id (plist-get part :id))
         (text (string-trim-right output "\n"))
         (n opencode-chat-bash-tail-lines)
         (max (bound-and-true-p opencode-chat-tool-output-max))
         ;; Where the last N lines start, or 0.
         (start (if (null n) 0
                  (let ((pos (length text)) (k 0))
                    (while (and pos (< k n))
                      (setq pos (opencode-tools--newline-before text pos))
                      (when pos (setq k (1+ k))))
                    (if pos (1+ pos) 0)))))
    (if (or (opencode-parts-expanded-p id)
            (and (= start 0) (or (null max) (<= (length text) max))))
        text
      (let* ((start (if (and max (> (- (length text) start) max))
                        (- (length text) max)
                      start))
             (tail (substring text start))
             (hidden-lines (opencode-tools--count-newlines text start)))
        (concat (opencode--link
                 (format "[… %s and %d characters before: RET shows all]"
                         (opencode--plural hidden-lines "line")
                         start)
                 #'opencode-chat-expand-part 'opencode-expand id)
                "\n" tail)))))

(defun opencode-tools--newline-before (text pos)
  "Return the position of the last newline in TEXT before POS, or nil."
  (let ((i (1- pos)))
    (while (and (>= i 0) (/= (aref text i) ?\n))
      (setq i (1- i)))
    (and (>= i 0) i)))

(defun opencode-tools--count-newlines (text end)
  "Return the number of newlines in TEXT before END."
  (let ((count 0) (pos 0))
    (while (and (< pos end) (setq pos (string-search "\n" text pos)) (< pos end))
      (setq count (1+ count) pos (1+ pos)))
    count))

(defun opencode-tools-bash (part)
  "Show a bash PART: its command, exit status and the end of its output."
  (let* ((state (plist-get part :state))
         (input (plist-get state :input))
         (meta (plist-get state :metadata))
         (exit (plist-get meta :exit))
         (output (or (opencode-tools--string (plist-get state :output))
                     (opencode-tools--string (plist-get meta :output)))))
    (list :heading (concat "$ " (opencode--first-line (or (plist-get input :command) ""))
                           (opencode-tools-status
                            state (and (numberp exit) (/= exit 0) (format "exit %d" exit))))
          :body (concat (if (opencode-tools--string (plist-get input :description))
                            (opencode-tools--dim (concat "# " (plist-get input :description) "\n"))
                          "")
                        (if output (opencode-tools--bash-tail part output) "")
                        (if (and (numberp exit) (/= exit 0))
                            (concat "\n" (propertize (format "exit status %d" exit)
                                                     'face 'opencode-chat-error))
                          "")
                        (opencode-tools--error state)))))

(defun opencode-tools--diff-link (part file)
  "Return a link to the diff tool PART made in FILE, once done, or \"\".
It shows what the prompt changed in FILE, as a patch line would."
  (if (and (stringp file) (equal (plist-get (plist-get part :state) :status) "completed"))
      (concat "  " (opencode--link "diff" #'opencode-chat-patch-file-at-point
                                   'help-echo (format "RET: show the diff of %s" file)
                                   'opencode-file file
                                   'opencode-patch-message (plist-get part :messageID)))
    ""))

(defun opencode-tools-write (part)
  "Show a write PART: the file and its new text, coloured in its mode."
  (let* ((state (plist-get part :state))
         (input (plist-get state :input))
         (file (or (plist-get input :filePath) (plist-get (plist-get state :metadata) :filepath)))
         (content (plist-get input :content)))
    (list :heading (concat "Write " (or (opencode-tools-relative file) "…")
                           (if (stringp content)
                               (format " (%s)" (opencode--plural
                                                (length (split-string (string-trim-right content "\n") "\n"))
                                                "line"))
                             "")
                           (opencode-tools-status state)
                           (opencode-tools--diff-link part file))
          :body (concat (if (stringp file) (concat (opencode-tools--file-button file) "\n") "")
                        (if (stringp content)
                            (opencode-tools-fontify (string-trim-right content "\n") file)
                          "")
                        (opencode-tools--error state)))))

(defun opencode-tools-read (part)
  "Show a read PART: the file, the lines read, their text in its mode."
  (let* ((state (plist-get part :state))
         (file (plist-get (plist-get state :input) :filePath))
         (display (plist-get (plist-get state :metadata) :display))
         (parsed (opencode-tools-parse-read (plist-get state :output)))
         (text (or (and (stringp (plist-get display :text)) (plist-get display :text))
                   (plist-get parsed :text)))
         (first (or (plist-get display :lineStart) (plist-get parsed :first)))
         (last (or (plist-get display :lineEnd) (plist-get parsed :last)))
         (total (plist-get display :totalLines)))
    (list :heading (concat "Read " (or (opencode-tools-relative file) "…")
                           (cond ((and (numberp first) (numberp last) (numberp total)
                                       (= first 1) (= last total))
                                  (format " (%s)" (opencode--plural total "line")))
                                 ((and (numberp first) (numberp last))
                                  (format " (lines %d-%d%s)" first last
                                          (if (numberp total) (format " of %d" total) "")))
                                 (t ""))
                           (opencode-tools-status state))
          :body (concat (if (stringp file) (concat (opencode-tools--file-button file first) "\n") "")
                        (cond (text (opencode-tools-fontify text file))
                              ((stringp (plist-get state :output)) (plist-get state :output))
                              (t ""))
                        (let ((note (plist-get parsed :note)))
                          (if (and note (not (string-prefix-p "End of file" note)))
                              (concat "\n" (opencode-tools--dim (format "(%s)" note)))
                            ""))
                        (opencode-tools--error state)))))

(defun opencode-tools-diff (diff)
  "Return DIFF (unified diff text) in `diff-mode' faces.
The Index: and ==== lines the server puts first are left out."
  (with-temp-buffer
    (insert (string-trim-right (replace-regexp-in-string "\\`Index: .*\n=+\n" "" diff) "\n"))
    (let ((inhibit-message t) (message-log-max nil))
      (delay-mode-hooks (diff-mode))
      (font-lock-ensure))
    (buffer-string)))

(defun opencode-tools-edit (part)
  "Show an edit PART: the file and the diff it made, when the server gave one."
  (let* ((state (plist-get part :state))
         (input (plist-get state :input))
         (meta (plist-get state :metadata))
         (file (or (plist-get input :filePath) (plist-get (plist-get meta :filediff) :file)))
         (fd (plist-get meta :filediff))
         (diff (or (opencode-tools--string (plist-get meta :diff))
                   (opencode-tools--string (plist-get fd :patch)))))
    (list :heading (concat "Edit " (or (opencode-tools-relative file) "…")
                           (if (numberp (plist-get fd :additions))
                               (format " +%d -%d" (plist-get fd :additions) (or (plist-get fd :deletions) 0))
                             "")
                           (opencode-tools-status state)
                           (opencode-tools--diff-link part file))
          :body (concat (if (stringp file) (concat (opencode-tools--file-button file) "\n") "")
                        (if diff (opencode-tools-diff diff)
                          (opencode-tools-key-values
                           (list :oldString (plist-get input :oldString)
                                 :newString (plist-get input :newString))))
                        (opencode-tools--error state)))))

(defun opencode-tools-patch (part)
  "Show a patch PART (apply_patch) as the diff it made."
  (let* ((state (plist-get part :state))
         (input (plist-get state :input))
         (meta (plist-get state :metadata))
         (files (append (plist-get meta :files) nil))
         (diff (or (opencode-tools--string (plist-get meta :diff))
                   (let ((ds (delq nil (mapcar (lambda (f) (and (consp f)
                                                                (or (opencode-tools--string (plist-get f :diff))
                                                                    (opencode-tools--string (plist-get f :patch)))))
                                               files))))
                     (and ds (string-join ds "\n")))
                   (opencode-tools--string (plist-get input :patchText))
                   (opencode-tools--string (plist-get input :patch)))))
    (list :heading (concat "Patch"
                           (if files (format " %s" (opencode--plural (length files) "file")) "")
                           (opencode-tools-status state))
          :body (concat (if diff (opencode-tools-diff diff) (opencode-tools-key-values input))
                        (opencode-tools--error state)))))

(defun opencode-tools--file-lines (output)
  "Return the lines of OUTPUT that name absolute files as buttons, others dim."
  (mapconcat (lambda (line)
               (if (file-name-absolute-p line)
                   (opencode-parts-file-button line nil (opencode-tools-relative line))
                 (opencode-tools--dim line)))
             (split-string (string-trim-right (or output "") "\n") "\n")
             "\n"))

(defun opencode-tools-glob (part)
  "Show a glob PART: the pattern and the files found, as buttons."
  (let* ((state (plist-get part :state))
         (input (plist-get state :input))
         (count (plist-get (plist-get state :metadata) :count)))
    (list :heading (concat "Glob " (or (plist-get input :pattern) "")
                           (if (opencode-tools--string (plist-get input :path))
                               (concat " in " (plist-get input :path)) "")
                           (if (numberp count) (format ": %s" (opencode--plural count "file")) "")
                           (opencode-tools-status state))
          :body (concat (opencode-tools--file-lines (plist-get state :output))
                        (opencode-tools--error state)))))

(defun opencode-tools--grep-lines (output)
  "Return grep OUTPUT with its files and lines as buttons.
The server writes \"/file:\" then \"  Line N: text\" lines."
  (let ((file nil))
    (string-join
     (delq nil
	   (mapcar
	    (lambda (line)
	      (cond ((and (string-match "\\`\\(/.*\\):\\'" line))
		     (setq file (match-string 1 line))
		     (opencode-parts-file-button file nil (opencode-tools-relative file)))
		    ((and file (string-match "\\`  Line \\([0-9]+\\): ?\\(.*\\)\\'" line))
		     (let ((n (string-to-number (match-string 1 line))))
                       (concat "  " (opencode-parts-file-button file n (format "%4d" n))
                               ": " (match-string 2 line))))
		    ((string-empty-p line) nil)
		    ((string-match-p "\\`Found [0-9]+ match" line) nil)
		    (t (opencode-tools--dim line))))
	    (split-string (string-trim-right (or output "") "\n") "\n")))
     "\n")))

(defun opencode-tools-grep (part)
  "Show a grep PART: the pattern and its matches, RET visiting each line."
  (let* ((state (plist-get part :state))
         (input (plist-get state :input))
         (matches (plist-get (plist-get state :metadata) :matches)))
    (list :heading (concat "Grep " (or (plist-get input :pattern) "")
                           (if (opencode-tools--string (plist-get input :include))
                               (concat " in " (plist-get input :include)) "")
                           (if (numberp matches) (format ": %s" (opencode--plural matches "match" "matches")) "")
                           (opencode-tools-status state))
          :body (concat (opencode-tools--grep-lines (plist-get state :output))
                        (opencode-tools--error state)))))

(defun opencode-tools-list (part)
  "Show a list PART: the folder and its tree."
  (let* ((state (plist-get part :state))
         (path (plist-get (plist-get state :input) :path)))
    (list :heading (concat "List " (or (opencode-tools-relative path) ".")
                           (opencode-tools-status state))
          :body (concat (if (stringp path) (concat (opencode-parts-file-button path) "\n") "")
                        (or (plist-get state :output) "")
                        (opencode-tools--error state)))))

(defun opencode-tools-webfetch (part)
  "Show a webfetch PART: the URL, the size fetched, the text."
  (let* ((state (plist-get part :state))
         (input (plist-get state :input))
         (output (plist-get state :output)))
    (list :heading (concat "Fetch " (or (plist-get input :url) "")
                           (if (stringp output)
                               (format " (%s)" (opencode-tools--size (string-bytes output)))
                             "")
                           (opencode-tools-status state))
          :body (concat (opencode-tools--dim
                         (format "%s as %s" (or (plist-get state :title) (plist-get input :url) "")
                                 (or (plist-get input :format) "markdown")))
                        (if (stringp output) (concat "\n" output) "")
                        (opencode-tools--error state)))))

(defun opencode-tools--answers (state)
  "Return the answers of a question tool's STATE: a list of label lists."
  (mapcar (lambda (a) (append a nil))
          (append (plist-get (plist-get state :metadata) :answers) nil)))

(defun opencode-tools-question (part)
  "Show a question PART: the questions, their options and the answers."
  (let* ((state (plist-get part :state))
         (questions (append (plist-get (plist-get state :input) :questions) nil))
         (answers (opencode-tools--answers state))
         (first (car questions)))
    (list :heading (concat (format "Question%s: %s"
                                   (if (cdr questions) (format "s (%d)" (length questions)) "")
                                   (opencode--first-line (or (plist-get first :question) "") 50))
                           (if (car answers) (concat " → " (string-join (car answers) ", ")) "")
                           (opencode-tools-status state))
          :body (concat
                 (mapconcat
                  (lambda (q)
                    (let ((answer (nth (cl-position q questions) answers)))
                      (concat (if (opencode-tools--string (plist-get q :header))
                                  (opencode-tools--dim (concat (plist-get q :header) ": "))
                                "")
                              (or (plist-get q :question) "")
                              (mapconcat
                               (lambda (o)
                                 (let ((chosen (member (plist-get o :label) answer)))
                                   (concat "\n  " (if chosen (propertize "●" 'face 'success) "○")
                                           " " (propertize (or (plist-get o :label) "")
                                                           'face (and chosen 'bold))
                                           (if (opencode-tools--string (plist-get o :description))
                                               (opencode-tools--dim (concat " — " (plist-get o :description)))
                                             ""))))
                               (plist-get q :options) "")
                              (let ((own (cl-remove-if (lambda (a) (cl-find a (plist-get q :options)
                                                                            :key (lambda (o) (plist-get o :label))
                                                                            :test #'equal))
                                                       answer)))
                                (if own (concat "\n  Answer: " (string-join own ", ")) ""))
                              (if (and (null answers) (member (plist-get state :status) '("pending" "running")))
                                  (concat "\n" (opencode-tools--dim "Waiting for your answer: a in the chat answers"))
                                ""))))
                  questions "\n\n")
                 (opencode-tools--error state)))))

(defun opencode-tools-task-result (output)
  "Return the result text in task OUTPUT and its state, as (TEXT . STATE)."
  (if (and (stringp output)
           (string-match "\\`<task id=\"[^\"]*\"\\(?: state=\"\\([^\"]*\\)\"\\)?>\n?<task_result>\n?\\(\\(?:.\\|\n\\)*?\\)\n?</task_result>\n?</task>" output))
      (cons (match-string 2 output) (match-string 1 output))
    (cons output nil)))

(defun opencode-tools-task (part)
  "Show a task PART: the sub-agent, a link to its session and its result."
  (let* ((state (plist-get part :state))
         (input (plist-get state :input))
         (child (plist-get (plist-get state :metadata) :sessionId))
         (result (opencode-tools-task-result (plist-get state :output))))
    (list :heading (concat (format "Task%s: %s"
                                   (if (opencode-tools--string (plist-get input :subagent_type))
                                       (format " (%s)" (plist-get input :subagent_type)) "")
                                   (opencode--first-line (or (plist-get input :description) "")))
                           (opencode-tools-status state))
          :body (concat (if (stringp child) (concat (opencode-parts-session-button child) "\n") "")
                        (opencode-tools--dim
                         (format "Sub-agent %s" (or (cdr result) (plist-get state :status) "")))
                        (if (opencode-tools--string (plist-get input :prompt))
                            (concat "\n" (opencode-tools--dim "Prompt: ") (plist-get input :prompt))
                          "")
                        (if (opencode-tools--string (car result)) (concat "\n\n" (car result)) "")
                        (opencode-tools--error state)))))

(defun opencode-tools-skill (part)
  "Show a skill PART: the skill's name, and its text once loaded."
  (let* ((state (plist-get part :state))
         (name (plist-get (plist-get state :input) :name))
         (output (plist-get state :output)))
    (list :heading (concat "Skill " (or name "") (opencode-tools-status state))
          :body (concat (if (stringp output)
                            (string-trim
                             (replace-regexp-in-string
                              "^</?skill_\\(?:content\\|files\\)[^>]*>\n?" "" output))
                          "")
                        (opencode-tools--error state)))))

(defun opencode-tools-default (part)
  "Show PART of a tool with no renderer: input as `key: value', then output."
  (let* ((state (plist-get part :state))
         (input (plist-get state :input))
         (output (plist-get state :output))
         (summary (opencode-tools-summary input)))
    (list :heading (concat (format "Tool %s [%s]" (plist-get part :tool) (plist-get state :status))
                           (let ((d (opencode-tools--duration (plist-get state :time))))
                             (if d (concat " " d) ""))
                           (if (string-empty-p summary) "" (concat ": " summary)))
          :body (concat (let ((child (plist-get (plist-get state :metadata) :sessionId)))
                          (if (stringp child) (concat (opencode-parts-session-button child) "\n") ""))
                        (if (consp input) (concat (opencode-tools-key-values input) "\n") "")
                        (if (stringp output) (concat "\n" output) "")
                        (opencode-tools--error state)))))

(dolist (r '(("todowrite" . opencode-tools-todowrite) ("bash" . opencode-tools-bash)
             ("write" . opencode-tools-write) ("read" . opencode-tools-read)
             ("edit" . opencode-tools-edit)
             ("patch" . opencode-tools-patch) ("apply_patch" . opencode-tools-patch)
             ("glob" . opencode-tools-glob) ("grep" . opencode-tools-grep)
             ("list" . opencode-tools-list) ("webfetch" . opencode-tools-webfetch)
             ("question" . opencode-tools-question) ("task" . opencode-tools-task)
             ("skill" . opencode-tools-skill)))
  (opencode-chat-define-tool-renderer (car r) (cdr r)))

(provide 'opencode-tools)
;;; opencode-tools.el ends here

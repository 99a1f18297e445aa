;;; opencode-chat-export-formats.el --- A session's messages as Markdown and as Org  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The formats of the export and the copy (opencode-chat-export.el, the
;; commands): a part, a message or a session's messages, the server's
;; plists as the timeline holds them, written as Markdown or as Org.
;; Text parts are their Markdown source, reasoning a quote, tools what
;; the chat's renderers show, as plain text: the heading line, the
;; input as `key: value' items, code, diffs and output as blocks (never
;; JSON).  Files attached as data: URLs show their name, never their
;; base64 contents; context the server added is folded under its
;; summary.  A reply's steps (a message each) are one reply, as in the
;; chat.  The Org export turns the Markdown into Org: a heading per
;; prompt and per reply, fenced code into source blocks, headings
;; demoted under the message's, emphasis, inline code and links into
;; Org syntax, tools into folded drawers.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'json)
(require 'opencode-lib)
(require 'opencode-api)
(require 'opencode-parts)
(require 'opencode-tools)

;;;; Shared pieces

(defun opencode-chat-export--time (ms &optional format)
  "Return the time MS (milliseconds since the epoch) with FORMAT, or nil.
FORMAT defaults to \"%F %R\"."
  (and (numberp ms) (format-time-string (or format "%F %R") (/ ms 1000.0))))

(defun opencode-chat-export--string (value)
  "Return VALUE if it is a non-empty string, else nil."
  (and (stringp value) (not (string-empty-p value)) value))

(defun opencode-chat-export--json (value)
  "Return VALUE (a plist or vector) as indented JSON text."
  (with-temp-buffer
    (insert (json-serialize value :null-object :null :false-object :false))
    (ignore-errors (json-pretty-print-buffer))
    (buffer-string)))

(defun opencode-chat-export--first-line (text)
  "Return the first non-empty line of TEXT, at most 72 characters."
  (let ((line (or (cl-find-if (lambda (l) (not (string-blank-p l)))
                              (split-string (or text "") "\n"))
                  "")))
    (truncate-string-to-width (string-trim line) 72 nil nil "…")))

(defun opencode-chat-export--model (info)
  "Return \"PROVIDER/MODEL\" of message INFO, or nil."
  (let* ((m (plist-get info :model))
         (provider (or (plist-get info :providerID) (plist-get m :providerID)))
         (model (or (plist-get info :modelID) (plist-get m :modelID))))
    (and (stringp model) (if (stringp provider) (concat provider "/" model) model))))

(defun opencode-chat-export--file-label (part)
  "Return the name shown for file PART: its file name or path, never a data URL."
  (let ((url (plist-get part :url))
        (path (plist-get (plist-get part :source) :path)))
    (or (opencode-chat-export--string (plist-get part :filename))
        (opencode-chat-export--string path)
        (and (stringp url) (string-prefix-p "file://" url) (substring url 7))
        (and (stringp url) (not (string-prefix-p "data:" url)) url)
        "attachment")))

(defun opencode-chat-export--file-target (part)
  "Return what file PART links to (a path or URL), or nil for inline data."
  (let ((url (plist-get part :url)))
    (cond ((not (stringp url)) nil)
          ((string-prefix-p "file://" url) (substring url 7))
          ((string-prefix-p "data:" url) nil)
          (t url))))

;; A tool is exported as the chat shows it (opencode-tools.el), as
;; plain text: its heading line, then sections: `key: value' items
;; (`:items', a list of (KEY . VALUE)), code or output blocks (`:block'
;; LABEL LANG TEXT; LANG nil for an example block) and lines as the chat
;; draws them (`:lines').

(defun opencode-chat-export--plain (text)
  "Return TEXT without its properties, nor the links only the chat has."
  (let ((s (copy-sequence (or text ""))) (out nil) (i 0))
    ;; A link to a diff on a tool's heading means nothing in a file.
    (while (< i (length s))
      (let ((next (or (next-single-property-change i 'opencode-patch-message s) (length s))))
        (unless (get-text-property i 'opencode-patch-message s)
          (push (substring-no-properties s i next) out))
        (setq i next)))
    (string-trim-right (apply #'concat (nreverse out)))))

(defun opencode-chat-export--tool-heading (part)
  "Return the heading line the chat shows for tool PART, as plain text."
  (replace-regexp-in-string
   "  +" " " (opencode-chat-export--plain (plist-get (opencode-parts-rendered part) :heading))))

(defun opencode-chat-export--items (plist &optional skip)
  "Return the `key: value' items of PLIST (a tool's input), but keys in SKIP.
Values are as the chat shows them, compact, never JSON."
  (cl-loop for (k v) on plist by #'cddr
           unless (or (memq k skip) (memq v '(nil :null)))
           collect (cons (substring (symbol-name k) 1)
                         (opencode-chat-export--plain (opencode-tools-value v)))))

(defun opencode-chat-export--rendered-lines (part)
  "Return the body the chat draws for tool PART, as plain lines."
  (opencode-chat-export--plain (plist-get (opencode-parts-rendered part) :body)))

(defun opencode-chat-export--tool-sections (part)
  "Return the sections of tool PART's body, as the chat shows them.
A list of (:items ALIST), (:block LABEL LANG TEXT) and (:lines TEXT):
the input as `key: value' items, a command as a shell block, a file's
text in its language, a diff as a diff, the output whole."
  (let* ((opencode-chat-tool-output-max nil)
         (opencode-chat-bash-tail-lines nil)
         (state (plist-get part :state))
         (input (plist-get state :input))
         (meta (plist-get state :metadata))
         (str #'opencode-chat-export--string)
         (output (or (funcall str (plist-get state :output))
                     (and (equal (plist-get state :status) "running")
                          (funcall str (plist-get meta :output)))))
         (file (plist-get input :filePath))
         (lang (and (stringp file) (opencode-tools-language file)))
         (sections
          (pcase (plist-get part :tool)
            ("bash"
             (list (list :items (append (opencode-chat-export--items input '(:command))
                                        (and (numberp (plist-get meta :exit))
                                             (/= (plist-get meta :exit) 0)
                                             (list (cons "exit status"
                                                         (number-to-string (plist-get meta :exit)))))))
                   (list :block "Command" "sh" (or (plist-get input :command) ""))
                   (and output (list :block "Output" nil output))))
            ("write"
             (list (list :items (opencode-chat-export--items input '(:content)))
                   (and (funcall str (plist-get input :content))
                        (list :block "Content" lang (plist-get input :content)))))
            ("read"
             (let* ((parsed (opencode-tools-parse-read output))
                    (display (plist-get meta :display))
                    (text (or (funcall str (plist-get display :text)) (plist-get parsed :text))))
               (list (list :items (opencode-chat-export--items input))
                     (cond (text (list :block "Content" lang text))
                           (output (list :block "Output" nil output))))))
            ((or "edit" "patch" "apply_patch")
             (let* ((fd (plist-get meta :filediff))
                    (diff (or (funcall str (plist-get meta :diff)) (funcall str (plist-get fd :patch))
                              (cl-some (lambda (f) (and (consp f) (or (funcall str (plist-get f :diff))
                                                                      (funcall str (plist-get f :patch)))))
                                       (append (plist-get meta :files) nil)))))
               (if diff
                   (list (list :items (opencode-chat-export--items
                                       input '(:oldString :newString :patchText :patch)))
                         (list :block "Diff" "diff"
                               (replace-regexp-in-string "\\`Index: .*\n=+\n" "" diff)))
                 (list (list :items (opencode-chat-export--items
                                     input '(:oldString :newString :patchText :patch)))
                       (and (funcall str (plist-get input :oldString))
                            (list :block "Old" lang (plist-get input :oldString)))
                       (and (funcall str (plist-get input :newString))
                            (list :block "New" lang (plist-get input :newString)))
                       (and (funcall str (or (plist-get input :patchText) (plist-get input :patch)))
                            (list :block "Patch" "diff" (or (plist-get input :patchText)
                                                            (plist-get input :patch))))))))
            ((or "todowrite" "question")
             (list (list :lines (opencode-chat-export--rendered-lines part))))
            ("task"
             (let ((result (opencode-tools-task-result output)))
               (list (list :items (append (opencode-chat-export--items input '(:prompt))
                                          (and (stringp (plist-get meta :sessionId))
                                               (list (cons "session" (plist-get meta :sessionId))))))
                     (and (funcall str (plist-get input :prompt))
                          (list :block "Prompt" nil (plist-get input :prompt)))
                     (and (funcall str (car result)) (list :block "Result" nil (car result))))))
            ("skill"
             (list (list :items (opencode-chat-export--items input))
                   (and output (list :block "Skill" nil (opencode-chat-export--rendered-lines part)))))
            (_
             (list (list :items (opencode-chat-export--items input))
                   (and output (list :block "Output" nil output)))))))
    (when (funcall str (plist-get state :error))
      (setq sections (append sections (list (list :block "Error" nil (plist-get state :error))))))
    (let ((files (mapcar #'opencode-chat-export--file-label
                         (append (plist-get state :attachments) nil))))
      (when files
        (setq sections (append sections
                               (list (list :items (mapcar (lambda (f) (cons "attached" f)) files)))))))
    (cl-remove-if (lambda (sec) (or (null sec) (and (eq (car sec) :items) (null (cadr sec)))
                                    (and (eq (car sec) :lines) (string-empty-p (cadr sec)))))
                  sections)))

;;;; Markdown

(defun opencode-chat-export--fence (text &optional lang)
  "Return TEXT as a fenced Markdown block in LANG.
The fence is longer than any run of backticks in TEXT."
  (let ((n 3) (start 0))
    (while (string-match "`\\{3,\\}" text start)
      (setq n (max n (1+ (- (match-end 0) (match-beginning 0))))
            start (match-end 0)))
    (let ((fence (make-string n ?`)))
      (concat fence (or lang "") "\n"
              (string-trim-right text "\n+") "\n"
              fence))))

(defun opencode-chat-export--quote (text)
  "Return TEXT as a Markdown block quote."
  (mapconcat (lambda (l) (if (string-empty-p l) ">" (concat "> " l)))
             (split-string (string-trim-right text) "\n") "\n"))

(defun opencode-chat-export--md-sections (sections)
  "Return tool SECTIONS (see `opencode-chat-export--tool-sections') as Markdown."
  (mapcar (lambda (sec)
            (pcase sec
              (`(:items ,items)
               (mapconcat (lambda (kv) (format "- %s: %s" (car kv)
                                               (replace-regexp-in-string "\n" " " (cdr kv))))
                          items "\n"))
              (`(:block ,label ,lang ,text)
               (concat label ":\n" (opencode-chat-export--fence text lang)))
              (`(:lines ,text) (opencode-chat-export--fence text))))
          sections))

(defun opencode-chat-export--context (part)
  "Return context PART the server added as (SUMMARY LANG TEXT).
SUMMARY is the line the chat shows for it; TEXT what it holds, in LANG
\(the language of the file it holds), or nil when the summary says all."
  (let* ((text (or (plist-get part :text) ""))
         (read (opencode-tools-parse-read text))
         (summary (substring-no-properties (opencode-parts-synthetic-heading text))))
    (cond (read (list summary (opencode-tools-language (plist-get read :path))
                      (plist-get read :text)))
          ((not (equal (opencode-parts-unjson text) text)) (list summary nil nil))
          (t (list summary nil text)))))

(defun opencode-chat-export-part-markdown (part)
  "Return PART (a part plist from the server) as Markdown, or nil.
Text is its Markdown source; reasoning a block quote; a tool the line
the chat shows for it over its input as `key: value' items and its
code, diff and output as fenced blocks; context the server added a
folded <details> block; a file its name (never the contents of a
data: URL).  Parts with nothing to read (steps, snapshots) give nil."
  (pcase (plist-get part :type)
    ("text"
     (let ((text (or (plist-get part :text) "")))
       (if (eq (plist-get part :synthetic) t)
           (pcase-let ((`(,summary ,lang ,body) (opencode-chat-export--context part)))
             (if body
                 (concat "<details><summary>" summary "</summary>\n\n"
                         (opencode-chat-export--fence body lang) "\n\n</details>")
               (concat "*" summary "*")))
         text)))
    ("reasoning"
     (let ((text (string-trim (or (plist-get part :text) ""))))
       (opencode-chat-export--quote (concat "*Thinking*\n\n" text))))
    ("tool"
     (mapconcat #'identity
                (cons (format "**Tool %s**: `%s`" (plist-get part :tool)
                              (opencode-chat-export--tool-heading part))
                      (opencode-chat-export--md-sections (opencode-chat-export--tool-sections part)))
                "\n\n"))
    ("file"
     (let ((label (opencode-chat-export--file-label part))
           (target (opencode-chat-export--file-target part))
           (mime (opencode-chat-export--string (plist-get part :mime))))
       (concat "**File** "
               (if target (format "[%s](%s)" label target) (format "`%s`" label))
               (if mime (format " (%s)" mime) ""))))
    ("patch"
     (let ((files (append (plist-get part :files) nil)))
       (concat (format "**Patch**: %s" (opencode--plural (length files) "file"))
               (mapconcat (lambda (f) (concat "\n- `" f "`")) files ""))))
    ("agent" (format "**Agent** %s" (plist-get part :name)))
    ("subtask"
     (concat (format "**Subtask** (%s): %s" (plist-get part :agent)
                     (or (plist-get part :description) ""))
             (if (opencode-chat-export--string (plist-get part :prompt))
                 (concat "\n\n" (opencode-chat-export--quote (plist-get part :prompt)))
               "")))
    ("retry"
     (format "**Retry %s**: %s" (plist-get part :attempt)
             (or (opencode-api-error-text (plist-get part :error)) "")))
    ("compaction" "---\n\n*Context compacted: earlier messages were summarised.*")
    ((or "step-start" "step-finish" "snapshot") nil)
    (type (format "**Part %s**" type))))

(defun opencode-chat-export--join (blocks)
  "Join the non-nil BLOCKS of text, a blank line between each."
  (mapconcat (lambda (b) (string-trim-right b "\n+"))
             (delq nil blocks) "\n\n"))

(defun opencode-chat-export-message-markdown (message)
  "Return the parts of MESSAGE, a plist (:info :parts), as Markdown."
  (opencode-chat-export--join
   (mapcar #'opencode-chat-export-part-markdown (plist-get message :parts))))

(defun opencode-chat-export--message-title (info)
  "Return the heading words of message INFO: role, model and agent."
  (if (equal (plist-get info :role) "user")
      "You"
    (let ((model (opencode-chat-export--model info))
          (agent (opencode-chat-export--string (plist-get info :agent))))
      (concat "Assistant"
              (cond ((and model agent) (format " (%s, %s)" model agent))
                    ((or model agent) (format " (%s)" (or model agent)))
                    (t ""))))))

(defun opencode-chat-export--error (info)
  "Return the error text of message INFO, or nil."
  (let ((err (plist-get info :error)))
    (and err (opencode-chat-export--string (opencode-api-error-text err)))))

(defun opencode-chat-export--stopped-p (message)
  "Return non-nil if MESSAGE, a reply's step, was stopped by the user.
It has the server's abort error, or (aborted while it waited to retry)
it is done with no error, no reason to end and no part."
  (let ((info (plist-get message :info)))
    (or (opencode-api-aborted-p (plist-get info :error))
        (and (equal (plist-get info :role) "assistant")
             (plist-get (plist-get info :time) :completed)
             (not (plist-get info :error))
             (not (stringp (plist-get info :finish)))
             (cl-every (lambda (p) (equal (plist-get p :type) "step-start"))
                       (plist-get message :parts))))))

(defun opencode-chat-export--patch-shown-p (part parts)
  "Return non-nil if patch PART names only files a tool among PARTS shows.
A write or an edit shows its change: the patch would say it again."
  (let ((shown (cl-loop for p in parts
                        for input = (plist-get (plist-get p :state) :input)
                        when (and (equal (plist-get p :type) "tool")
                                  (member (plist-get p :tool) '("write" "edit" "patch" "apply_patch"))
                                  (stringp (plist-get input :filePath)))
                        collect (expand-file-name (plist-get input :filePath))))
        (files (append (plist-get part :files) nil)))
    (and files (cl-every (lambda (f) (member (expand-file-name f) shown)) files))))

(defun opencode-chat-export--replies (messages)
  "Return MESSAGES with the steps of each reply merged, as the chat shows them.
The server makes a message per step of the agent; a reply is the
steps that answer one prompt.  Each element is a plist (:info INFO
:parts PARTS :errors TEXTS :aborted FLAG): INFO is the first step's,
PARTS every step's, TEXTS the steps' errors (an abort is none) and FLAG
non-nil if the user stopped the reply."
  (let ((out nil))
    (dolist (m messages)
      (let* ((info (plist-get m :info))
             (prompt (and (equal (plist-get info :role) "assistant") (plist-get info :parentID)))
             (prev (car out))
             (err (and (not (opencode-api-aborted-p (plist-get info :error)))
                       (opencode-chat-export--error info)))
             (parts (append (plist-get m :parts) nil)))
        (if (and prompt prev (equal (plist-get prev :prompt) prompt))
            (setcar out (list :info (plist-get prev :info) :prompt prompt
                              :parts (append (plist-get prev :parts) parts)
                              :errors (append (plist-get prev :errors) (and err (list err)))
                              :aborted (or (plist-get prev :aborted)
                                           (opencode-chat-export--stopped-p m))))
          (push (list :info info :prompt prompt :parts parts :errors (and err (list err))
                      :aborted (opencode-chat-export--stopped-p m))
                out))))
    (mapcar (lambda (m)
              (let ((parts (plist-get m :parts)))
                (plist-put m :parts
                           (cl-remove-if (lambda (p) (and (equal (plist-get p :type) "patch")
                                                          (opencode-chat-export--patch-shown-p p parts)))
                                         parts))))
            (nreverse out))))

(defun opencode-chat-export-markdown (messages &optional session)
  "Return MESSAGES of SESSION (a session plist) as a Markdown document.
MESSAGES are as `opencode-chat-messages' returns them.  A reply's
steps are one section, as in the chat."
  (concat
   (format "# %s\n\n" (or (plist-get session :title) (plist-get session :id) "OpenCode session"))
   (format "<!-- OpenCode session %s, exported %s -->\n\n"
           (or (plist-get session :id) "?") (format-time-string "%F %R"))
   (mapconcat
    (lambda (m)
      (let* ((info (plist-get m :info))
             (time (opencode-chat-export--time (plist-get (plist-get info :time) :created)))
             (body (opencode-chat-export-message-markdown m)))
        (opencode-chat-export--join
         (append
          (list (concat "## " (opencode-chat-export--message-title info)
                        (if time (concat " — " time) "")))
          (mapcar (lambda (err) (concat "> **Error:** " err)) (plist-get m :errors))
          (list (and (not (string-empty-p body)) body)
                (and (plist-get m :aborted) "*Aborted.*"))))))
    (opencode-chat-export--replies messages) "\n\n")
   "\n"))

;;;; Org

(defconst opencode-chat-export--bold (string #xE000)
  "Stands for an Org bold marker while emphasis is converted.")

(defun opencode-chat-export--org-emphasis (s)
  "Convert the Markdown emphasis of S (no code, no links) to Org."
  (let ((b opencode-chat-export--bold))
    (setq s (replace-regexp-in-string "\\*\\*\\([^*\n]+?\\)\\*\\*" (concat b "\\1" b) s t))
    ;; Twice: a match takes the character after it, which may start the next.
    (dotimes (_ 2)
      (setq s (replace-regexp-in-string
               "\\(^\\|[^_[:alnum:]]\\)__\\([^_\n]+?\\)__\\([^_[:alnum:]]\\|$\\)"
               (concat "\\1" b "\\2" b "\\3") s t)))
    (setq s (replace-regexp-in-string "~~\\([^~\n]+?\\)~~" "+\\1+" s t))
    (setq s (replace-regexp-in-string
             "\\(^\\|[^*[:alnum:]]\\)\\*\\([^* \t\n]\\(?:[^*\n]*[^* \t\n]\\)?\\)\\*"
             "\\1/\\2/" s t))
    (dotimes (_ 2)
      (setq s (replace-regexp-in-string
               "\\(^\\|[^_[:alnum:]]\\)_\\([^_ \t\n]\\(?:[^_\n]*[^_ \t\n]\\)?\\)_\\([^_[:alnum:]]\\|$\\)"
               "\\1/\\2/\\3" s t)))
    (replace-regexp-in-string b "*" s t t)))

(defun opencode-chat-export--org-code (code)
  "Return inline CODE as Org code or verbatim."
  (cond ((not (string-search "~" code)) (concat "~" code "~"))
        ((not (string-search "=" code)) (concat "=" code "="))
        (t code)))

(defun opencode-chat-export--org-inline (line)
  "Convert the inline Markdown of LINE to Org: code, links, emphasis.
Code and links stand aside, as one character each, while the emphasis
around them is converted: **`x`** is bold code, not literal stars."
  (let ((out nil) (start 0) (held nil)
        (re (concat "\\(`+\\)\\(.+?\\)\\1"                          ; 1 2 code
                    "\\|!\\[\\([^]\n]*\\)\\](\\([^) \n]+\\)[^)\n]*)" ; 3 4 image
                    "\\|\\[\\([^]\n]+\\)\\](\\([^) \n]+\\)[^)\n]*)"  ; 5 6 link
                    "\\|<\\(https?://[^> \n]+\\)>")))                ; 7 autolink
    (while (string-match re line start)
      (push (substring line start (match-beginning 0)) out)
      (push (cond
             ((match-beginning 2)
              (opencode-chat-export--org-code (string-trim (match-string 2 line))))
             ((match-beginning 4)
              (let ((url (match-string 4 line)))
                (if (string-prefix-p "data:" url)
                    (format "[image: %s]" (match-string 3 line))
                  (format "[[%s]]" url))))
             ((match-beginning 6)
              (let ((text (match-string 5 line)) (url (match-string 6 line)))
                (if (equal text url) (format "[[%s]]" url)
                  (format "[[%s][%s]]" url (opencode-chat-export--org-emphasis text)))))
             (t (format "[[%s]]" (match-string 7 line))))
            held)
      ;; A character of the Private Use Area stands for it meanwhile.
      (push (string (+ #xE100 (1- (length held)))) out)
      (setq start (match-end 0)))
    (push (substring line start) out)
    (let ((s (opencode-chat-export--org-emphasis (apply #'concat (nreverse out))))
          (held (vconcat (nreverse held))))
      (replace-regexp-in-string
       "[\uE100-\uF8FF]"
       (lambda (c)
         (let ((i (- (aref c 0) #xE100)))
           (if (< i (length held)) (aref held i) c)))
       s t t))))

(defun opencode-chat-export--org-escape (code)
  "Escape CODE for an Org block: a comma before lines starting with * or #+."
  (replace-regexp-in-string "^[ \t]*\\(,*\\(?:\\*\\|#\\+\\)\\)" ",\\1" code t nil 1))

(defun opencode-chat-export--org-block (code lang)
  "Return CODE as an Org source block in LANG, or an example block."
  (let ((code (opencode-chat-export--org-escape (string-trim-right code "\n+"))))
    (if (opencode-chat-export--string lang)
        (format "#+begin_src %s\n%s\n#+end_src" lang code)
      (format "#+begin_example\n%s\n#+end_example" code))))

(defun opencode-chat-export--org-table-rule (line)
  "Return the Org rule for Markdown table separator LINE, or nil."
  (when (string-match "\\`[ \t]*|\\(\\(?:[ \t]*:?-+:?[ \t]*|\\)+\\)[ \t]*\\'" line)
    (concat "|" (mapconcat (lambda (cell) (make-string (max 1 (length cell)) ?-))
                           (split-string (match-string 1 line) "|" t)
                           "+")
            "|")))

(defun opencode-chat-export--top-heading (text)
  "Return the level of the highest Markdown heading of TEXT, or nil.
Lines in fenced code blocks are not headings."
  (let ((top nil) (fence nil))
    (dolist (line (split-string text "\n"))
      (cond
       (fence (when (string-match-p (format "\\` \\{0,3\\}%s%s*[ \t]*\\'" (regexp-quote fence)
                                            (regexp-quote (substring fence 0 1)))
                                    line)
                (setq fence nil)))
       ((string-match "\\` \\{0,3\\}\\(`\\{3,\\}\\|~\\{3,\\}\\)" line)
        (setq fence (match-string 1 line)))
       ((string-match "\\` \\{0,3\\}\\(#\\{1,6\\}\\)[ \t]" line)
        (setq top (min (or top 6) (length (match-string 1 line)))))))
    top))

(defun opencode-chat-export-markdown-to-org (text level &optional quoted)
  "Return Markdown TEXT in Org syntax, under a heading of LEVEL.
Fenced code becomes source blocks, headings are demoted below LEVEL
\(the highest one to LEVEL + 1; or bold lines when QUOTED, inside a
quote), block quotes become quote blocks, bullets and table rules Org's,
and the inline markup Org's."
  (let* ((lines (split-string text "\n"))
         (shift (- level (1- (or (opencode-chat-export--top-heading text) 1))))
         (out nil))
    (while lines
      (let ((line (pop lines)))
        (cond
         ;; A fenced code block, to its closing fence.
         ((string-match "\\`\\( \\{0,3\\}\\)\\(`\\{3,\\}\\|~\\{3,\\}\\)[ \t]*\\([^`\n]*\\)\\'" line)
          (let* ((fence (match-string 2 line))
                 (lang (car (split-string (match-string 3 line))))
                 (close (format "\\` \\{0,3\\}%s%s*[ \t]*\\'" (regexp-quote fence)
                                (regexp-quote (substring fence 0 1))))
                 (code nil))
            (while (and lines (not (string-match-p close (car lines))))
              (push (pop lines) code))
            (pop lines)
            (push (opencode-chat-export--org-block (string-join (nreverse code) "\n") lang) out)))
         ;; A block quote, with its following quoted lines.
         ((string-match "\\` \\{0,3\\}> ?\\(.*\\)\\'" line)
          (let ((quoted-lines (list (match-string 1 line))))
            (while (and lines (string-match "\\` \\{0,3\\}> ?\\(.*\\)\\'" (car lines)))
              (push (match-string 1 (car lines)) quoted-lines)
              (pop lines))
            (push (concat "#+begin_quote\n"
                          (opencode-chat-export-markdown-to-org
                           (string-join (nreverse quoted-lines) "\n") level t)
                          "\n#+end_quote")
                  out)))
         ;; A heading.
         ((string-match "\\` \\{0,3\\}\\(#\\{1,6\\}\\)[ \t]+\\(.*?\\)\\(?:[ \t]+#+\\)?[ \t]*\\'" line)
          (let ((title (opencode-chat-export--org-inline (match-string 2 line))))
            (push (if quoted (concat "*" title "*")
                    (concat (make-string (+ shift (length (match-string 1 line))) ?*) " " title))
                  out)))
         ;; A rule.
         ((string-match-p "\\` \\{0,3\\}\\([-*_]\\)\\(?:[ \t]*\\1\\)\\{2,\\}[ \t]*\\'" line)
          (push "-----" out))
         ;; A table's separator.
         ((opencode-chat-export--org-table-rule line)
          (push (opencode-chat-export--org-table-rule line) out))
         ;; A bullet: * at the start of a line would be a heading in Org.
         ((string-match "\\`\\([ \t]*\\)[*+][ \t]+\\(.*\\)\\'" line)
          (push (concat (match-string 1 line) "- "
                        (opencode-chat-export--org-inline (match-string 2 line)))
                out))
         (t (push (opencode-chat-export--org-inline line) out)))))
    (string-trim-right (string-join (nreverse out) "\n") "\n+")))

(defun opencode-chat-export--org-escape-heading (text)
  "Return TEXT on one line, fit for an Org heading."
  (string-trim (replace-regexp-in-string "[\n\r]+" " " text)))

(defun opencode-chat-export--org-drawer (name summary blocks)
  "Return SUMMARY over a drawer NAME holding BLOCKS, folded when Org opens it."
  (concat summary "\n:" name ":\n" (string-join blocks "\n") "\n:END:"))

(defun opencode-chat-export-part-org (part level)
  "Return PART as Org text inside a heading of LEVEL, or nil.
Tools and context the server added are drawers, folded when the file
is opened; reasoning is a quote block."
  (pcase (plist-get part :type)
    ("text"
     (let ((text (or (plist-get part :text) "")))
       (if (eq (plist-get part :synthetic) t)
           ;; A heading of its own, folded when the file opens.
           (pcase-let ((`(,summary ,lang ,body) (opencode-chat-export--context part)))
             (concat (make-string (1+ level) ?*) " "
                     (opencode-chat-export--org-escape-heading summary)
                     (if body
                         (concat "\n:PROPERTIES:\n:VISIBILITY: folded\n:END:\n"
                                 (opencode-chat-export--org-block body lang))
                       "")))
         (opencode-chat-export-markdown-to-org text level))))
    ("reasoning"
     (concat "#+begin_quote\n/Thinking/\n\n"
             (opencode-chat-export-markdown-to-org
              (string-trim (or (plist-get part :text) "")) level t)
             "\n#+end_quote"))
    ("tool"
     (opencode-chat-export--org-drawer
      "TOOL"
      (format "*Tool %s*: %s" (plist-get part :tool)
              (opencode-chat-export--org-code (opencode-chat-export--tool-heading part)))
      (mapcar (lambda (sec)
                (pcase sec
                  (`(:items ,items)
                   (mapconcat (lambda (kv)
                                (format "- %s: %s" (car kv)
                                        (replace-regexp-in-string "\n" " " (cdr kv))))
                              items "\n"))
                  (`(:block ,label ,lang ,text)
                   (concat label ":\n" (opencode-chat-export--org-block text lang)))
                  (`(:lines ,text) (opencode-chat-export--org-block text nil))))
              (opencode-chat-export--tool-sections part))))
    ("file"
     (let ((label (opencode-chat-export--file-label part))
           (target (opencode-chat-export--file-target part))
           (mime (opencode-chat-export--string (plist-get part :mime))))
       (concat "*File* "
               (cond ((null target) (opencode-chat-export--org-code label))
                     ((string-match-p "\\`[a-z]+://" target) (format "[[%s][%s]]" target label))
                     (t (format "[[file:%s][%s]]" target label)))
               (if mime (format " (%s)" mime) ""))))
    ("patch"
     (let ((files (append (plist-get part :files) nil)))
       (concat (format "*Patch*: %s" (opencode--plural (length files) "file"))
               (mapconcat (lambda (f) (format "\n- [[file:%s][%s]]" f f)) files ""))))
    ("subtask"
     (concat (format "*Subtask* (%s): %s" (plist-get part :agent)
                     (or (plist-get part :description) ""))
             (if (opencode-chat-export--string (plist-get part :prompt))
                 (concat "\n#+begin_quote\n"
                         (opencode-chat-export--org-escape (plist-get part :prompt))
                         "\n#+end_quote")
               "")))
    ("compaction" "-----\n/Context compacted: earlier messages were summarised./")
    (_ (let ((md (opencode-chat-export-part-markdown part)))
         (and md (opencode-chat-export-markdown-to-org md level))))))

(defun opencode-chat-export-org (messages &optional session)
  "Return MESSAGES of SESSION (a session plist) as an Org document.
MESSAGES are as `opencode-chat-messages' returns them.  Each prompt
and each reply (all its steps, as in the chat) is a heading with its
role, model and time; context the server added to a prompt goes last,
under headings of its own that start folded."
  (concat
   (format "#+title: %s\n" (or (plist-get session :title) (plist-get session :id) "OpenCode session"))
   (format "#+date: %s\n" (format-time-string "[%F %a %R]"))
   ;; showall: everything shows, but drawers (tools) and folded
   ;; headings (context) stay folded.
   "#+startup: showall\n"
   (format "# OpenCode session %s\n\n" (or (plist-get session :id) "?"))
   (mapconcat
    (lambda (m)
      (let* ((info (plist-get m :info))
             (time (opencode-chat-export--time (plist-get (plist-get info :time) :created)
                                               "[%F %a %R]"))
             (parts (plist-get m :parts))
             (context (cl-remove-if-not #'opencode-parts-synthetic-p parts)))
        (opencode-chat-export--join
         (append
          (list (concat "* " (opencode-chat-export--message-title info)
                        (if time (concat " " time) "")))
          (mapcar (lambda (err) (concat "*Error:* " err)) (plist-get m :errors))
          (mapcar (lambda (p) (opencode-chat-export-part-org p 1))
                  (cl-remove-if #'opencode-parts-synthetic-p parts))
          (list (and (plist-get m :aborted) "/Aborted./"))
          (mapcar (lambda (p) (opencode-chat-export-part-org p 1)) context)))))
    (opencode-chat-export--replies messages) "\n\n")
   "\n"))

(provide 'opencode-chat-export-formats)
;;; opencode-chat-export-formats.el ends here

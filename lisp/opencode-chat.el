;;; opencode-chat.el --- A session's timeline and its prompt  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; One chat buffer per session shows its messages: each message is a
;; header line and its parts.  Every part owns a region of the buffer
;; (two markers), followed by a newline that belongs to no part, so a
;; part can be redrawn, grown by a streamed delta or removed without
;; touching its neighbours.  Reasoning and tool parts start folded
;; (TAB toggles one, S-TAB cycles the buffer); folding is an overlay
;; whose state survives redraws.
;;
;; The prompt is a buffer of its own below the chat: C-c C-c sends it
;; (the text is cleared only once the server has accepted it), C-c C-k
;; aborts the running reply, M-p / M-n walk the history.

;;; Code:

(require 'json)
(require 'diff-mode)
(require 'mailcap)
(require 'text-property-search)
(require 'opencode)
(require 'opencode-api)
(require 'opencode-complete)

;;;; Options and faces

(defcustom opencode-chat-fold-reasoning t
  "Whether reasoning parts start folded."
  :type 'boolean
  :group 'opencode)

(defcustom opencode-chat-fold-tools t
  "Whether tool parts start folded."
  :type 'boolean
  :group 'opencode)

(defcustom opencode-chat-message-limit 400
  "How many of the newest messages a chat buffer loads when it opens."
  :type 'integer
  :group 'opencode)

(defcustom opencode-chat-fontify-max 60000
  "Largest text part, in characters, whose Markdown is fontified.
Larger parts are shown as plain text (all of it), so huge outputs stay fast."
  :type 'integer
  :group 'opencode)

(defcustom opencode-chat-tool-output-max 20000
  "Characters of a tool's output shown before a \"show all\" button.
nil shows every output whole.  The whole text is always one key away."
  :type '(choice (const :tag "No limit" nil) integer)
  :group 'opencode)

(defcustom opencode-chat-fontify-max-blocks 30
  "Fenced code blocks of one text part fontified in their language's mode.
Later blocks keep the plain code face, to keep long answers fast."
  :type 'integer
  :group 'opencode)

(defcustom opencode-chat-display 'default
  "Where a chat buffer is shown when it opens.
`default' lets `display-buffer' decide (see `display-buffer-alist');
`same-window' replaces the selected window's buffer; `split' splits
the frame; `side' uses a side window on the right
\(`opencode-chat-side-window-width' wide); `full-frame' takes the whole
frame; `frame' opens a frame of its own."
  :type '(choice (const :tag "As display-buffer decides" default)
                 (const :tag "The selected window" same-window)
                 (const :tag "A split of the frame" split)
                 (const :tag "A side window on the right" side)
                 (const :tag "The whole frame" full-frame)
                 (const :tag "A frame of its own" frame))
  :group 'opencode)

(defcustom opencode-chat-side-window-width 80
  "Width of the side window of `opencode-chat-display' `side'."
  :type 'integer
  :group 'opencode)

(defcustom opencode-chat-render-batch 40
  "How many messages are drawn at a time when a chat is (re)drawn.
The newest ones show at once; older ones are drawn above them, this
many at a time, while Emacs stays responsive."
  :type 'integer
  :group 'opencode)

(defcustom opencode-chat-fontify-delay 0.1
  "Seconds a streaming text part may stay unfontified.
Text arriving in deltas is shown at once; its Markdown faces follow
within this delay, for all the deltas of the meantime."
  :type 'number
  :group 'opencode)

(defcustom opencode-chat-code-modes
  '(("elisp" . emacs-lisp-mode) ("emacs-lisp" . emacs-lisp-mode) ("lisp" . lisp-mode)
    ("sh" . sh-mode) ("bash" . sh-mode) ("shell" . sh-mode) ("zsh" . sh-mode)
    ("py" . python-mode) ("python" . python-mode) ("js" . js-mode)
    ("javascript" . js-mode) ("ts" . js-mode) ("typescript" . js-mode)
    ("json" . js-json-mode) ("c" . c-mode) ("cpp" . c++-mode) ("c++" . c++-mode)
    ("rust" . rust-mode) ("go" . go-mode) ("diff" . diff-mode) ("patch" . diff-mode))
  "Major modes that fontify fenced code blocks, by the block's language.
A language not listed here uses LANGUAGE-mode when that exists."
  :type '(alist :key-type string :value-type function)
  :group 'opencode)

(defcustom opencode-abort-on-switch nil
  "What killing the chat of a busy session does to its running reply.
nil keeps it running (the session list shows it busy), `ask' asks,
`abort' aborts it."
  :type '(choice (const :tag "Keep running" nil) (const :tag "Ask" ask)
                 (const :tag "Abort" abort))
  :group 'opencode)

(defcustom opencode-revert-edited-files t
  "Whether buffers of files the agent edits are reverted from disk.
Only buffers without unsaved changes are reverted."
  :type 'boolean
  :group 'opencode)

(defcustom opencode-chat-prompt-height 6
  "Height, in lines, of the prompt window below a chat."
  :type 'integer
  :group 'opencode)

(defface opencode-chat-user '((t :inherit font-lock-keyword-face :weight bold))
  "Face of user message headers."
  :group 'opencode)

(defface opencode-chat-assistant '((t :inherit font-lock-function-name-face :weight bold))
  "Face of assistant message headers."
  :group 'opencode)

(defface opencode-chat-heading '((t :inherit font-lock-type-face))
  "Face of part headings (reasoning, tools, files...)."
  :group 'opencode)

(defface opencode-chat-dim '((t :inherit shadow))
  "Face of secondary information: steps, tokens, costs."
  :group 'opencode)

(defface opencode-chat-reasoning '((t :inherit shadow :slant italic))
  "Face of reasoning text."
  :group 'opencode)

(defface opencode-chat-error '((t :inherit error))
  "Face of errors in the timeline."
  :group 'opencode)

(defface opencode-chat-markdown-heading '((t :inherit outline-1 :weight bold))
  "Face of Markdown headings in text parts."
  :group 'opencode)

(defface opencode-chat-markdown-code '((t :inherit font-lock-constant-face))
  "Face of inline code in text parts."
  :group 'opencode)

(defface opencode-chat-needs-user '((t :inherit highlight :weight bold))
  "Face of a permission or question waiting for the user."
  :group 'opencode)

;;;; Buffer state

(defvar-local opencode-chat--conn nil "The connection of this chat.")
(defvar-local opencode-chat--session nil "The session plist of this chat.")
(defvar-local opencode-chat--messages nil
  "Hash table: message id -> (:info INFO :beg MARKER :end MARKER :parts IDS).")
(defvar-local opencode-chat--parts nil
  "Hash table: part id -> (:part PART :beg MARKER :end MARKER :body MARKER).")
(defvar-local opencode-chat--folded nil
  "Hash table: part id -> `folded' or `open', the user's choice.")
(defvar-local opencode-chat--status nil "The session's status plist.")
(defvar-local opencode-chat--error nil "The session's last error, or nil.")
(defvar-local opencode-chat--fold-cycle nil "Where S-TAB is in its cycle.")
(defvar-local opencode-chat--requests nil
  "Pending permission and question requests of the session, oldest first.
Each is (KIND . PROPS) with KIND `permission' or `question'.")
(defvar-local opencode-chat--todos nil "The session's todo list, a vector.")
(defvar-local opencode-chat--branch nil "The project's VCS branch, or nil.")
(defvar-local opencode-chat--diff-summary nil
  "What the session changed on disk: (FILES ADDITIONS DELETIONS), or nil.")
(defvar-local opencode-chat--revert-overlay nil "Overlay over the reverted messages.")
(defvar-local opencode-chat--more nil
  "The server's cursor to the messages older than those shown, or nil.")

(defvar-local opencode-chat--agent nil "The agent for this chat's prompts, or nil (default).")
(defvar-local opencode-chat--model nil
  "The model for this chat's prompts, (PROVIDER-ID . MODEL-ID), or nil.")

(defvar-local opencode-chat--backlog nil
  "Older messages not drawn yet, oldest first, as (:info :parts).")

(defvar-local opencode-chat--backlog-timer nil
  "Timer that draws `opencode-chat--backlog'.")

(defvar opencode-chat--insert-at nil
  "Where a message is inserted: a marker, or nil for the end.")

(defun opencode-chat--session-id ()
  "Return the id of this buffer's session."
  (plist-get opencode-chat--session :id))

;;;; Markdown

(defun opencode-chat--code-mode (lang)
  "Return the major mode for code in language LANG, or nil."
  (let* ((lang (downcase (string-trim (or lang ""))))
         (mode (or (cdr (assoc lang opencode-chat-code-modes))
                   (and (not (string-empty-p lang)) (intern (concat lang "-mode"))))))
    (and mode (fboundp mode) mode)))

(defun opencode-chat--fontify-buffer (mode)
  "Return the hidden buffer, in MODE, where code is fontified.
One per mode, kept: setting a major mode up is what costs, not the
fontification of a short block."
  (let ((buf (get-buffer-create (format " *opencode-fontify %s*" mode))))
    (with-current-buffer buf
      (unless (eq major-mode mode)
        (delay-mode-hooks (funcall mode))
        (font-lock-set-defaults)))
    buf))

(defun opencode-chat--fontify-code (beg end mode)
  "Give the text from BEG to END the faces MODE's font-lock gives it."
  (let ((code (buffer-substring-no-properties beg end))
        (faces nil))
    (with-current-buffer (opencode-chat--fontify-buffer mode)
      (erase-buffer)
      (insert code)
      (ignore-errors (font-lock-fontify-region (point-min) (point-max)))
      (let ((pos (point-min)))
        (while (< pos (point-max))
          (let ((next (next-single-property-change pos 'face nil (point-max)))
                (face (get-text-property pos 'face)))
            (when face (push (list (1- pos) (1- next) face) faces))
            (setq pos next)))))
    (dolist (f faces)
      (put-text-property (+ beg (nth 0 f)) (+ beg (nth 1 f)) 'face (nth 2 f)))))

(defun opencode-chat--fontify-markdown (beg end)
  "Fontify the Markdown text between BEG and END.
Headings, emphasis, inline code, links, and fenced code blocks in their
language's major mode."
  (when (<= (- end beg) opencode-chat-fontify-max)
    (save-excursion
      (save-restriction
        (narrow-to-region beg end)
        (remove-list-of-text-properties beg end '(face button category action help-echo))
        (goto-char beg)
        (let ((code-blocks nil))
          ;; Fenced code first: nothing else applies inside.
          (while (re-search-forward "^```\\([^`\n]*\\)\n" nil t)
            (let ((lang (match-string 1))
                  (code-beg (point))
                  (fence-beg (match-beginning 0)))
              (put-text-property fence-beg code-beg 'face 'opencode-chat-dim)
              (if (re-search-forward "^```[ \t]*$" nil t)
                  (let ((code-end (match-beginning 0))
                        (fence-end (match-end 0)))
                    (put-text-property code-end fence-end 'face 'opencode-chat-dim)
                    (let ((mode (and (< (length code-blocks) opencode-chat-fontify-max-blocks)
                                     (opencode-chat--code-mode lang))))
                      (if mode (opencode-chat--fontify-code code-beg code-end mode)
                        (put-text-property code-beg code-end 'face 'opencode-chat-markdown-code)))
                    (push (cons fence-beg fence-end) code-blocks)
                    (goto-char fence-end))
                ;; Still streaming: the block runs to the end for now.
                (push (cons fence-beg (point-max)) code-blocks)
                (goto-char (point-max)))))
          (cl-flet ((in-code (pos) (cl-some (lambda (b) (and (>= pos (car b)) (< pos (cdr b))))
                                            code-blocks)))
            (dolist (rule '(("^#\\{1,6\\} .*$" 0 opencode-chat-markdown-heading)
                            ("\\*\\*\\([^*\n]+\\)\\*\\*" 0 bold)
                            ("\\(?:^\\|[^*]\\)\\(\\*\\([^* \n][^*\n]*\\)\\*\\)" 1 italic)
                            ("`\\([^`\n]+\\)`" 0 opencode-chat-markdown-code)))
              (goto-char (point-min))
              (while (re-search-forward (nth 0 rule) nil t)
                (unless (in-code (match-beginning 0))
                  (add-face-text-property (match-beginning (nth 1 rule)) (match-end (nth 1 rule))
                                          (nth 2 rule)))))
            (goto-char (point-min))
            (while (re-search-forward "\\[\\([^]\n]+\\)\\](\\([^)\n ]+\\))" nil t)
              (unless (in-code (match-beginning 0))
                (let ((url (match-string-no-properties 2)))
                  (make-text-button (match-beginning 1) (match-end 1)
                                    'action (lambda (_) (browse-url url))
                                    'help-echo url 'follow-link t))))))))))

;;;; Rendering parts

(defun opencode-chat--synthetic-p (part)
  "Return non-nil if PART is text the server added, not the user or model.
The server adds such text for attached files (their contents) and other
context; it is shown folded, under a heading."
  (and (equal (plist-get part :type) "text") (eq (plist-get part :synthetic) t)))

(defun opencode-chat--foldable-p (part)
  "Return non-nil if PART has a heading and a body that can fold."
  (or (opencode-chat--synthetic-p part)
      (not (member (plist-get part :type) '("text" "step-start" "compaction")))))

(defun opencode-chat--default-folded-p (part)
  "Return non-nil if PART starts folded."
  (pcase (plist-get part :type)
    ("reasoning" opencode-chat-fold-reasoning)
    ("tool" opencode-chat-fold-tools)
    ((or "step-finish" "snapshot" "patch" "text") t)
    (_ nil)))

(defun opencode-chat--tool-input-summary (input)
  "Return a one-line summary of tool INPUT, a plist."
  (let ((v (or (plist-get input :command) (plist-get input :filePath)
               (plist-get input :pattern) (plist-get input :url)
               (plist-get input :description) (plist-get input :path))))
    (if (stringp v) (opencode--first-line v)
      (opencode--first-line
       (ignore-errors (json-serialize input :null-object :null :false-object :false))))))

(defun opencode-chat--duration (time)
  "Return a duration string from TIME's :start and :end (ms), or nil."
  (let ((s (plist-get time :start)) (e (plist-get time :end)))
    (and (numberp s) (numberp e) (format "%.1fs" (/ (- e s) 1000.0)))))

(defvar opencode-chat-tool-renderers nil
  "How tool parts are shown, an alist of (TOOL . RENDERER).
TOOL is a tool's name (\"bash\", \"edit\", …).  RENDERER is called
with the tool PART, a plist (:tool, :state with :status, :input,
:output, :error, :metadata, :title, :time) and returns a plist with
:heading (one line) and :body (any text); a key left out keeps the
package's default.  The package keeps the layout: it draws the heading,
folds the body, limits its size and redraws when the part changes.
See `opencode-chat-define-tool-renderer'.")

(defun opencode-chat-define-tool-renderer (tool renderer)
  "Show parts of TOOL (a tool name) with RENDERER, or the default if nil.
See `opencode-chat-tool-renderers' for what RENDERER gets and returns."
  (setf (alist-get tool opencode-chat-tool-renderers nil (null renderer) #'equal)
        renderer))

(defun opencode-chat--rendered (part)
  "Return what the renderer of tool PART makes of it, (:heading :body), or nil.
Values that are not strings are dropped; a renderer that fails shows
its error as heading and body."
  (let ((renderer (and (equal (plist-get part :type) "tool")
                       (cdr (assoc (plist-get part :tool) opencode-chat-tool-renderers)))))
    (when renderer
      (condition-case err
          (let ((r (funcall renderer part)))
            (cl-loop for key in '(:heading :body)
                     for v = (plist-get r key)
                     when (stringp v) append (list key v)))
        (error (let ((msg (format "[renderer of %s failed: %s]" (plist-get part :tool)
                                  (error-message-string err))))
                 (list :heading msg :body msg)))))))

(defun opencode-chat--render-bash (part)
  "Show a bash tool PART as a command line and its output."
  (let* ((state (plist-get part :state))
         (input (plist-get state :input))
         (output (plist-get state :output)))
    (list :heading (format "$ %s  [%s]%s"
                           (opencode--first-line (or (plist-get input :command) ""))
                           (plist-get state :status)
                           (let ((d (opencode-chat--duration (plist-get state :time))))
                             (if d (concat " " d) "")))
          :body (concat (if (stringp (plist-get input :description))
                            (concat "# " (plist-get input :description) "\n")
                          "")
                        (if (stringp output) output "")
                        (if (stringp (plist-get state :error))
                            (propertize (concat "Error: " (plist-get state :error))
                                        'face 'opencode-chat-error)
                          "")))))

(defun opencode-chat--render-edit (part)
  "Show an edit tool PART as the diff it made, when the server gave one."
  (let* ((state (plist-get part :state))
         (diff (plist-get (plist-get state :metadata) :diff)))
    (when (stringp diff)
      (list :body (with-temp-buffer
                    (insert diff)
                    (delay-mode-hooks (diff-mode))
                    (font-lock-ensure)
                    (buffer-string))))))

(opencode-chat-define-tool-renderer "bash" #'opencode-chat--render-bash)
(opencode-chat-define-tool-renderer "edit" #'opencode-chat--render-edit)

(defvar-local opencode-chat--expanded nil
  "Ids of parts whose long output is shown whole.")

(defun opencode-chat--limit-output (part text)
  "Return TEXT of PART cut to `opencode-chat-tool-output-max' characters.
The cut ends in a button that shows the whole text; nothing is lost."
  (if (or (null opencode-chat-tool-output-max)
          (<= (length text) opencode-chat-tool-output-max)
          (member (plist-get part :id) opencode-chat--expanded))
      text
    (concat (substring text 0 opencode-chat-tool-output-max)
            "\n"
            (opencode--link
             (format "[… %d more characters: RET shows all]"
                     (- (length text) opencode-chat-tool-output-max))
             #'opencode-chat-expand-part
             'opencode-expand (plist-get part :id)))))

(defun opencode-chat-expand-part ()
  "Show the whole output of the part at point, past the size limit."
  (interactive)
  (let* ((id (or (get-text-property (point) 'opencode-expand)
                 (opencode-chat--part-at (point))
                 (user-error "No part at point")))
         (entry (gethash id opencode-chat--parts)))
    (push id opencode-chat--expanded)
    (puthash id (opencode-chat--render-part (opencode-chat--entry-part entry) entry)
             opencode-chat--parts)))

(defun opencode-chat--heading (part &optional rendered)
  "Return the heading line of foldable PART (without newline).
RENDERED is what its tool renderer made of it, if it has one."
  (pcase (plist-get part :type)
    ((guard (plist-get rendered :heading)) (plist-get rendered :heading))
    ("reasoning" "Thinking")
    ("text" (format "Context added by the server: %s"
                    (opencode--first-line (plist-get part :text) 60)))
    ("tool"
     (let* ((state (plist-get part :state))
            (status (plist-get state :status)))
       (concat (format "Tool %s [%s]" (plist-get part :tool) status)
               (let ((d (opencode-chat--duration (plist-get state :time))))
                 (if d (concat " " d) ""))
               (let ((s (opencode-chat--tool-input-summary (plist-get state :input))))
                 (if (and s (not (string-empty-p s))) (concat ": " s) "")))))
    ("step-finish"
     (let ((tokens (plist-get part :tokens)))
       (format "Step done (%s): %s in, %s out, cost %s" (plist-get part :reason)
               (plist-get tokens :input) (plist-get tokens :output)
               (plist-get part :cost))))
    ("file" (format "File %s" (or (plist-get part :filename) (plist-get part :url))))
    ("patch" (format "Patch: %d files" (length (plist-get part :files))))
    ("snapshot" "Snapshot")
    ("agent" (format "Agent %s" (plist-get part :name)))
    ("subtask" (format "Subtask (%s): %s" (plist-get part :agent)
                       (opencode--first-line (plist-get part :description))))
    ("retry" (format "Retry %s" (plist-get part :attempt)))
    (type (format "Part %s" type))))

(defun opencode-chat--pretty-json (value)
  "Return VALUE (a plist or vector) as indented JSON text."
  (with-temp-buffer
    (insert (json-serialize value :null-object :null :false-object :false))
    (ignore-errors (json-pretty-print-buffer))
    (buffer-string)))

(defun opencode-chat--body (part &optional rendered)
  "Return the body text of PART.
RENDERED is what its tool renderer made of it, if it has one."
  (pcase (plist-get part :type)
    ((guard (plist-get rendered :body))
     (opencode-chat--limit-output part (plist-get rendered :body)))
    ((or "text" "reasoning") (or (plist-get part :text) ""))
    ("tool"
     (let* ((state (plist-get part :state))
            (input (plist-get state :input))
            (output (plist-get state :output))
            (err (plist-get state :error)))
       (concat (let ((child (plist-get (plist-get state :metadata) :sessionId)))
                 (if (stringp child) (concat (opencode-chat--session-button child) "\n") ""))
               (if input (concat "Input:\n" (opencode-chat--pretty-json input) "\n") "")
               (if (stringp output)
                   (concat "Output:\n" (opencode-chat--limit-output part output))
                 "")
               (if (stringp err) (propertize (concat "Error: " err) 'face 'opencode-chat-error) ""))))
    ("patch" (mapconcat #'opencode-chat--file-button (plist-get part :files) "\n"))
    ("snapshot" (or (plist-get part :snapshot) ""))
    ("step-finish" "")
    ("file" (let ((url (or (plist-get part :url) "")))
              (if (string-prefix-p "file://" url)
                  (opencode-chat--file-button (substring url 7))
                url)))
    ("subtask" (or (plist-get part :prompt) ""))
    ("retry" (let ((e (plist-get part :error)))
               (or (plist-get (plist-get e :data) :message) (format "%S" e))))
    ("agent" "")
    (_ (opencode-chat--pretty-json part))))

(defun opencode-chat--inside-project-p (file)
  "Return non-nil if FILE lies inside this chat's project directory."
  (let ((root (file-name-as-directory (opencode-connection-directory opencode-chat--conn))))
    (string-prefix-p root (expand-file-name file root))))

(defun opencode-chat-visit-file (file)
  "Visit FILE from a part, only when it lies inside the project."
  (if (opencode-chat--inside-project-p file)
      (find-file-other-window (expand-file-name file (opencode-connection-directory opencode-chat--conn)))
    (user-error "Not opening %s: it is outside the project" file)))

(defun opencode-chat--file-button (file)
  "Return FILE as text that visits it (inside the project) on RET or click."
  (opencode--link file #'opencode-chat-visit-file-at-point
                       'help-echo "RET: visit this file" 'opencode-file file))

(defun opencode-chat-visit-file-at-point ()
  "Visit the file named at point."
  (interactive)
  (let ((file (get-text-property (point) 'opencode-file)))
    (if file (opencode-chat-visit-file file) (user-error "No file at point"))))

(defun opencode-chat--session-button (id)
  "Return text that opens the chat of child session ID on RET or click."
  (opencode--link (format "Sub-agent session %s (RET to open)" id)
                       #'opencode-chat-open-linked-session 'opencode-session-link id))

(defun opencode-chat-open-linked-session ()
  "Open the chat of the sub-agent session linked at point."
  (interactive)
  (let ((id (get-text-property (point) 'opencode-session-link)))
    (unless id (user-error "No session link at point"))
    (opencode-chat-open opencode-chat--conn
                        (or (ignore-errors
                              (opencode-request-sync opencode-chat--conn "GET"
                                                     (opencode--path "session" id)))
                            (list :id id)))))

(defun opencode-chat--insert-part (part)
  "Insert PART at point; return (BEG END BODY) positions."
  (let ((beg (point)) body)
    (pcase (plist-get part :type)
      ("step-start" (setq body (point)))
      ("compaction"
       (insert (propertize "──── context compacted: earlier messages were summarised ────"
                           'face 'opencode-chat-dim))
       (setq body (point)))
      ((and "text" (guard (not (opencode-chat--synthetic-p part))))
       (setq body (point))
       (insert (opencode-chat--body part)))
      (_
       (let ((folded (opencode-chat--part-folded-p part))
             (rendered (opencode-chat--rendered part)))
         (insert (propertize (concat (if folded "▸ " "▾ ") (opencode-chat--heading part rendered))
                             'face (if (equal (plist-get part :type) "step-finish")
                                       'opencode-chat-dim
                                     'opencode-chat-heading)))
         (setq body (point))
         (let ((text (opencode-chat--body part rendered)))
           (unless (string-empty-p text)
             (insert "\n"
                     (if (equal (plist-get part :type) "reasoning")
                         (propertize text 'face 'opencode-chat-reasoning)
                       text)))))))
    (list beg (point) body)))

(defun opencode-chat--entry-part (entry)
  "Return the part of ENTRY, with text streamed since its last draw.
Streamed text is kept as a list of chunks and joined only when the
part is read, so a long reply costs linear time, not quadratic."
  (let ((chunks (plist-get entry :chunks))
        (part (plist-get entry :part)))
    (when chunks
      (let ((old (plist-get part :text)))
        (setq part (plist-put part :text
                              (apply #'concat (if (stringp old) old "")
                                     (nreverse chunks))))
        (plist-put entry :part part)
        (plist-put entry :chunks nil)))
    part))

(defun opencode-chat--part-folded-p (part)
  "Return non-nil if PART is folded now."
  (pcase (gethash (plist-get part :id) opencode-chat--folded)
    ('folded t)
    ('open nil)
    (_ (opencode-chat--default-folded-p part))))

(defun opencode-chat--apply-fold (entry)
  "Hide or show the body of part ENTRY as its fold state says."
  (let* ((part (opencode-chat--entry-part entry))
         (body (plist-get entry :body))
         (end (plist-get entry :end)))
    ;; A text property, not an overlay: overlays cost time linear in
    ;; their number on every change (before Emacs 29), text does not.
    (when (< body end)
      (with-silent-modifications
        (put-text-property body end 'invisible
                           (and (opencode-chat--foldable-p part)
                                (opencode-chat--part-folded-p part)
                                'opencode-fold))))))

(defun opencode-chat--render-part (part entry)
  "Draw PART in the region of ENTRY (a plist with :beg and :end markers)."
  (let ((inhibit-read-only t)
        (beg (plist-get entry :beg))
        (end (plist-get entry :end)))
    (save-excursion
      (delete-region beg end)
      (goto-char beg)
      (pcase-let ((`(,_b ,_e ,body) (opencode-chat--insert-part part)))
        (set-marker end (point))
        (let ((bm (or (plist-get entry :body) (make-marker))))
          (set-marker bm body)
          (setq entry (plist-put entry :body bm)))
        (setq entry (plist-put entry :part part))
        (setq entry (plist-put entry :chunks nil))
        (put-text-property beg end 'opencode-part (plist-get part :id))
        (when (and (equal (plist-get part :type) "text")
                   (not (opencode-chat--synthetic-p part)))
          (opencode-chat--fontify-markdown beg end))
        ;; An empty part (a step start) takes no line: hide its separator.
        (when (< end (point-max))
          (put-text-property end (1+ end) 'invisible (and (= beg end) 'opencode-empty)))
        (opencode-chat--apply-fold entry)
        entry))))

;;;; Messages

(defun opencode-chat--message-header (info)
  "Return the header line of message INFO."
  (let ((time (plist-get (plist-get info :time) :created)))
    (if (equal (plist-get info :role) "user")
        (concat (propertize "You" 'face 'opencode-chat-user)
                (propertize (if (numberp time)
                                (format-time-string "  %F %T" (/ time 1000.0))
                              "")
                            'face 'opencode-chat-dim))
      (concat (propertize "Assistant" 'face 'opencode-chat-assistant)
              (propertize
               (concat
                (format "  %s/%s" (or (plist-get info :providerID) "?")
                        (or (plist-get info :modelID) "?"))
                (if (stringp (plist-get info :agent)) (format "  agent %s" (plist-get info :agent)) "")
                (let ((tokens (plist-get info :tokens)))
                  (if tokens (format "  tokens %s/%s" (plist-get tokens :input)
                                     (plist-get tokens :output))
                    ""))
                (if (numberp (plist-get info :cost)) (format "  $%.4f" (plist-get info :cost)) "")
                (if (numberp time) (format-time-string "  %F %T" (/ time 1000.0)) ""))
               'face 'opencode-chat-dim)
              (let ((err (plist-get info :error)))
                (if err
                    (concat "\n" (propertize (format "Error: %s" (opencode-api-error-text err))
                                             'face 'opencode-chat-error))
                  ""))))))

(defun opencode-chat--insert-message (info)
  "Insert message INFO at the end of the buffer, with no parts yet."
  (let ((inhibit-read-only t)
        (id (plist-get info :id)))
    (save-excursion
      (goto-char (or opencode-chat--insert-at (point-max)))
      (let ((beg (copy-marker (point)))
            header-end)
        (insert (propertize (opencode-chat--message-header info) 'opencode-header t))
        (setq header-end (copy-marker (point)))
        ;; The header's newline, then the newline that separates this
        ;; message from the next; parts go between the two.
        (insert "\n\n")
        (let ((end (copy-marker (1- (point)) t)))
          (put-text-property beg end 'opencode-message id)
          (puthash id (list :info info :beg beg :header-end header-end :end end :parts nil)
                   opencode-chat--messages))))))

(defun opencode-chat--older-than-shown-p (message-id)
  "Return non-nil if MESSAGE-ID is older than every message shown.
Such a message belongs to a page not loaded; its events are ignored.
Ids are time-ordered, so comparing them compares creation times."
  (let ((oldest nil))
    (maphash (lambda (id _) (when (or (null oldest) (string< id oldest)) (setq oldest id)))
             opencode-chat--messages)
    (and oldest (or opencode-chat--more opencode-chat--backlog)
         (string< message-id oldest))))

(defun opencode-chat--update-message (info)
  "Add message INFO, or redraw the header of a known one."
  (let ((entry (gethash (plist-get info :id) opencode-chat--messages)))
    (cond
     ((and (not entry) (opencode-chat--older-than-shown-p (plist-get info :id))))
     ((not entry)
      (opencode-chat--insert-message info))
     (t
      (let ((inhibit-read-only t))
        (save-excursion
          (delete-region (plist-get entry :beg) (plist-get entry :header-end))
          (goto-char (plist-get entry :beg))
          (insert (propertize (opencode-chat--message-header info) 'opencode-header t))
          (set-marker (plist-get entry :header-end) (point))
          (put-text-property (plist-get entry :beg) (point) 'opencode-message
                             (plist-get info :id))))
      (puthash (plist-get info :id) (plist-put entry :info info) opencode-chat--messages)))))

(defun opencode-chat--update-part (part)
  "Add PART to its message, or redraw it if known.
A part of a message older than the page shown is ignored."
  (let* ((id (plist-get part :id))
         (mid (plist-get part :messageID))
         (entry (gethash id opencode-chat--parts))
         (msg (gethash mid opencode-chat--messages)))
    (cond
     (entry (puthash id (opencode-chat--render-part part entry) opencode-chat--parts))
     ((and (not msg) (opencode-chat--older-than-shown-p mid)))
     (t
      (unless msg
        ;; A part before its message: make a placeholder message.
        (opencode-chat--insert-message
         (list :id mid :role "assistant" :sessionID (plist-get part :sessionID)))
        (setq msg (gethash mid opencode-chat--messages)))
      (let ((inhibit-read-only t))
        (save-excursion
          (goto-char (plist-get msg :end))
          (let* ((beg (copy-marker (point)))
                 (end (copy-marker (point) t))
                 (new (list :beg beg :end end)))
            ;; The separator after the part, owned by no part.
            (insert "\n")
            (set-marker end (1- (point)))
            (set-marker beg (1- (point)))
            (setq new (opencode-chat--render-part part new))
            (puthash id new opencode-chat--parts)
            (puthash mid (plist-put msg :parts (append (plist-get msg :parts) (list id)))
                     opencode-chat--messages))))))))

(defun opencode-chat--remove-part (id)
  "Remove part ID from the buffer."
  (when-let ((entry (gethash id opencode-chat--parts)))
    (let ((inhibit-read-only t))
      (delete-region (plist-get entry :beg) (1+ (plist-get entry :end))))
    (remhash id opencode-chat--parts)))

(defun opencode-chat--remove-message (id)
  "Remove message ID and its parts from the buffer."
  (when-let ((entry (gethash id opencode-chat--messages)))
    (dolist (p (plist-get entry :parts)) (remhash p opencode-chat--parts))
    (let ((inhibit-read-only t))
      (delete-region (plist-get entry :beg) (1+ (plist-get entry :end))))
    (remhash id opencode-chat--messages)))

(defun opencode-chat--append-delta (part-id field text)
  "Append TEXT to FIELD of part PART-ID where it is shown."
  (let ((entry (gethash part-id opencode-chat--parts)))
    (when entry
      (let* ((part (plist-get entry :part))
             (type (plist-get part :type)))
        (if (and (equal field "text")
                 (member type '("text" "reasoning"))
                 (or (plist-get entry :chunks)
                     (> (length (plist-get part :text)) 0)))
            ;; Append in place: no redraw of what is already there, and
            ;; the text joins the part's only when it is read.
            (let ((inhibit-read-only t))
              (plist-put entry :chunks (cons text (plist-get entry :chunks)))
              (save-excursion
                (goto-char (plist-get entry :end))
                (insert (propertize text
                                    'face (and (equal type "reasoning")
                                               'opencode-chat-reasoning)
                                    'opencode-part part-id
                                    ;; Folded, it stays folded.
                                    'invisible (and (opencode-chat--foldable-p part)
                                                    (opencode-chat--part-folded-p part)
                                                    'opencode-fold))))
              (when (equal type "text")
                (opencode-chat--fontify-later part-id)))
          (let* ((part (opencode-chat--entry-part entry))
                 (key (intern (concat ":" field)))
                 (old (plist-get part key)))
            (setq part (plist-put part key (concat (if (stringp old) old "") text)))
            (puthash part-id (opencode-chat--render-part part entry)
                     opencode-chat--parts)))))))

(defvar-local opencode-chat--unfontified nil
  "Ids of text parts streamed into since they were last fontified.")

(defvar-local opencode-chat--fontify-timer nil
  "Timer that fontifies `opencode-chat--unfontified' parts.")

(defun opencode-chat--fontify-later (part-id)
  "Fontify part PART-ID soon, once for all the deltas until then.
Fontifying a growing reply on every delta would cost time quadratic
in its length; `opencode-chat-fontify-delay' bounds how stale it gets."
  (unless (member part-id opencode-chat--unfontified)
    (push part-id opencode-chat--unfontified))
  (unless opencode-chat--fontify-timer
    (setq opencode-chat--fontify-timer
          (run-with-timer opencode-chat-fontify-delay nil
                          #'opencode-chat--fontify-pending (current-buffer)))))

(defun opencode-chat--fontify-pending (buffer)
  "Fontify the text parts of BUFFER streamed into since last time."
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (setq opencode-chat--fontify-timer nil)
      (let ((inhibit-read-only t))
        (dolist (id (prog1 opencode-chat--unfontified
                      (setq opencode-chat--unfontified nil)))
          (when-let ((entry (gethash id opencode-chat--parts)))
            (opencode-chat--fontify-markdown (plist-get entry :beg)
                                             (plist-get entry :end))))))))

(defmacro opencode-chat--following (&rest body)
  "Run BODY; windows whose point was at the end of the buffer follow it."
  (declare (indent 0) (debug t))
  `(let ((at-end (cl-remove-if-not (lambda (w) (= (window-point w) (point-max)))
                                   (get-buffer-window-list (current-buffer) nil t)))
         (was-at-end (= (point) (point-max))))
     (prog1 (progn ,@body)
       (when was-at-end (goto-char (point-max)))
       (dolist (w at-end) (set-window-point w (point-max))))))

;;;; Loading

(defun opencode-chat--draw-message (m)
  "Insert message M, a plist (:info :parts), with its parts."
  (opencode-chat--insert-message (plist-get m :info))
  (seq-doseq (p (plist-get m :parts))
    (opencode-chat--update-part p)))

(defun opencode-chat--render-all (messages)
  "Erase the buffer and draw MESSAGES, a vector of (:info :parts).
The newest `opencode-chat-render-batch' messages are drawn at once;
older ones are drawn above them in batches, from a timer, so a long
session shows its end at once and Emacs stays responsive."
  (let* ((inhibit-read-only t)
         (all (append messages nil))
         (now (nthcdr (max 0 (- (length all) opencode-chat-render-batch)) all)))
    (opencode-chat--stop-backlog)
    (erase-buffer)
    (clrhash opencode-chat--messages)
    (clrhash opencode-chat--parts)
    (setq opencode-chat--backlog (butlast all (length now)))
    (opencode--with-gc-room
      (mapc #'opencode-chat--draw-message now))
    (when opencode-chat--backlog
      (setq opencode-chat--backlog-timer
            (run-with-timer 0.01 nil #'opencode-chat--draw-backlog (current-buffer))))))

(defun opencode-chat--stop-backlog ()
  "Forget the messages not drawn yet and stop drawing them."
  (when opencode-chat--backlog-timer
    (cancel-timer opencode-chat--backlog-timer))
  (setq opencode-chat--backlog-timer nil
        opencode-chat--backlog nil))

(defun opencode-chat--draw-backlog (buffer)
  "Draw the newest batch of BUFFER's undrawn messages above the others."
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (setq opencode-chat--backlog-timer nil)
      (let* ((n (length opencode-chat--backlog))
             (batch (nthcdr (max 0 (- n opencode-chat-render-batch)) opencode-chat--backlog))
             (first (gethash (get-text-property (point-min) 'opencode-message)
                             opencode-chat--messages))
             (windows (mapcar (lambda (w) (cons w (copy-marker (window-start w) t)))
                              (get-buffer-window-list nil nil t)))
             (opencode-chat--insert-at (copy-marker (point-min) t))
             (inhibit-read-only t))
        (setq opencode-chat--backlog (butlast opencode-chat--backlog (length batch)))
        ;; The first message shown must start after what goes above it.
        (when first (set-marker-insertion-type (plist-get first :beg) t))
        (unwind-protect
            (opencode--with-gc-room
              (dolist (m batch)
                (unless (gethash (plist-get (plist-get m :info) :id) opencode-chat--messages)
                  (opencode-chat--draw-message m))))
          (when first (set-marker-insertion-type (plist-get first :beg) nil))
          (set-marker opencode-chat--insert-at nil)
          ;; Windows keep showing what they showed.
          (pcase-dolist (`(,w . ,m) windows)
            (set-window-start w m t)
            (set-marker m nil)))
        (if opencode-chat--backlog
            (setq opencode-chat--backlog-timer
                  (run-with-timer 0.01 nil #'opencode-chat--draw-backlog buffer))
          (opencode-chat--show-revert))))))

(defun opencode-chat-loaded-p ()
  "Return non-nil if every fetched message of this chat is drawn."
  (null opencode-chat--backlog))

(defun opencode-chat--shown-messages ()
  "Return the messages shown, oldest first, as (:info INFO :parts PARTS).
Messages fetched but not drawn yet come first."
  (let (entries)
    (maphash (lambda (_ e) (push e entries)) opencode-chat--messages)
    (setq entries (sort entries (lambda (a b) (< (plist-get a :beg) (plist-get b :beg)))))
    (append
     opencode-chat--backlog
     (mapcar (lambda (e)
              (list :info (plist-get e :info)
                    :parts (mapcar (lambda (id) (opencode-chat--entry-part (gethash id opencode-chat--parts)))
                                   (cl-remove-if-not (lambda (id) (gethash id opencode-chat--parts))
                                                     (plist-get e :parts)))))
             entries))))

(defun opencode-chat-load-older ()
  "Load the page of messages before the oldest one shown, keeping point."
  (interactive)
  (let* ((shown (opencode-chat--shown-messages))
         (oldest (plist-get (plist-get (car shown) :info) :id))
         (buf (current-buffer)))
    (unless (and oldest opencode-chat--more) (user-error "Every message is shown"))
    (opencode-api-session-messages
     opencode-chat--conn (opencode-chat--session-id)
     :limit opencode-chat-message-limit :before opencode-chat--more :full t
     :callback
     (lambda (reply)
       (when (buffer-live-p buf)
         (with-current-buffer buf
           (let ((part (opencode-chat--part-at (point)))
                 (older (opencode-reply-data reply)))
             (setq opencode-chat--more (opencode-reply-header reply "x-next-cursor"))
             (opencode-chat--render-all (vconcat older (opencode-chat--shown-messages)))
             (if (and part (gethash part opencode-chat--parts))
                 (goto-char (plist-get (gethash part opencode-chat--parts) :beg))
               (goto-char (point-min)))
             (message "%d older messages loaded%s" (length older)
                      (if opencode-chat--more "; o for more" "")))))))))

(defun opencode-chat-reload ()
  "Fetch the session's messages again and redraw the buffer."
  (interactive)
  (let ((buf (current-buffer)))
    (opencode-api-session-messages
     opencode-chat--conn (opencode-chat--session-id)
     :limit opencode-chat-message-limit :full t
     :callback (lambda (reply)
                 (when (buffer-live-p buf)
                   (with-current-buffer buf
                     (let ((pos (point)))
                       (setq opencode-chat--more (opencode-reply-header reply "x-next-cursor"))
                       (opencode-chat--render-all (opencode-reply-data reply))
                       (opencode-chat--show-revert)
                       (goto-char (min pos (point-max))))))))
    (opencode-api-vcs
     opencode-chat--conn
     :errback #'ignore
     :callback (lambda (vcs)
                 (when (buffer-live-p buf)
                   (with-current-buffer buf
                     (setq opencode-chat--branch (plist-get vcs :branch))
                     (force-mode-line-update)))))
    (opencode-chat--load-requests buf)
    (opencode-api-session-todo
     opencode-chat--conn (opencode-chat--session-id)
     :callback (lambda (todos)
                 (when (buffer-live-p buf)
                   (with-current-buffer buf
                     (setq opencode-chat--todos todos)
                     (opencode-chat--refresh-todos)))))
    (opencode-api-session-status
     opencode-chat--conn
     :callback (lambda (all)
                 (when (buffer-live-p buf)
                   (with-current-buffer buf
                     (setq opencode-chat--status
                           (plist-get all (intern (concat ":" (opencode-chat--session-id)))))
                     (force-mode-line-update)))))))

;;;; Events

(defun opencode-chat--registry (conn)
  "Return CONN's table of chat buffers, session id -> buffer.
Events find their buffer here in constant time, however many buffers
Emacs has."
  (opencode-connection-table conn :chats))

(defun opencode-chat--attach (conn session)
  "Make the current buffer the chat of SESSION (a plist) on CONN."
  (setq opencode-chat--conn conn
        opencode-chat--session session)
  (puthash (plist-get session :id) (current-buffer) (opencode-chat--registry conn))
  (add-hook 'kill-buffer-hook #'opencode-chat--detach nil t))

(defun opencode-chat--detach ()
  "Forget the current chat buffer in its connection's registry."
  (when opencode-chat--conn
    (let ((table (opencode-chat--registry opencode-chat--conn))
          (id (opencode-chat--session-id)))
      (when (eq (gethash id table) (current-buffer))
        (remhash id table)))))

(defun opencode-chat--buffer (conn session-id)
  "Return the live chat buffer of SESSION-ID on CONN, or nil."
  (let* ((table (opencode-chat--registry conn))
         (buf (gethash session-id table)))
    (cond ((buffer-live-p buf) buf)
          (buf (remhash session-id table) nil))))

(defun opencode-chat--buffers (conn)
  "Return CONN's live chat buffers."
  (let (bufs)
    (maphash (lambda (_ b) (when (buffer-live-p b) (push b bufs)))
             (opencode-chat--registry conn))
    bufs))

(defun opencode-chat--on-event (conn type props)
  "Update the chat of the session named in event TYPE with PROPS on CONN."
  (let* ((sid (or (plist-get props :sessionID)
                  (plist-get (plist-get props :info) :sessionID)
                  (plist-get (plist-get props :part) :sessionID)))
         (buf (and (stringp sid) (opencode-chat--buffer conn sid))))
    (when buf
      (with-current-buffer buf
        (opencode-chat--following
          (pcase type
            ("message.updated" (opencode-chat--update-message (plist-get props :info)))
            ("message.removed" (opencode-chat--remove-message (plist-get props :messageID)))
            ("message.part.updated" (opencode-chat--update-part (plist-get props :part)))
            ("message.part.removed" (opencode-chat--remove-part (plist-get props :partID)))
            ("message.part.delta"
             (opencode-chat--append-delta (plist-get props :partID) (plist-get props :field)
                                          (plist-get props :delta)))
            ("session.updated"
             (setq opencode-chat--session (plist-get props :info))
             (rename-buffer (opencode-chat--buffer-name opencode-chat--session) t)
             (opencode-chat--show-revert))
            ("session.idle" nil)        ; session.status says it all
            ("session.diff"
             (let ((diff (plist-get props :diff)))
               (setq opencode-chat--diff-summary
                     (and (> (length diff) 0)
                          (list (length diff)
                                (cl-loop for d across diff sum (or (plist-get d :additions) 0))
                                (cl-loop for d across diff sum (or (plist-get d :deletions) 0)))))))
            ("session.status"
             (setq opencode-chat--status (plist-get props :status))
             (opencode-chat--countdown)
             (when (member (plist-get opencode-chat--status :type) '("busy"))
               (setq opencode-chat--error nil)))
            ("session.error" (setq opencode-chat--error (plist-get props :error))
             (message "OpenCode: %s" (opencode-api-error-text opencode-chat--error)))
            ("session.compacted" (opencode-chat-reload))
            ((or "permission.asked" "question.asked")
             (opencode-chat--add-request (if (equal type "permission.asked") 'permission 'question)
                                         props))
            ((or "permission.replied" "question.replied" "question.rejected")
             (opencode-chat--drop-request (plist-get props :requestID)))
            ("todo.updated"
             (setq opencode-chat--todos (plist-get props :todos))
             (opencode-chat--refresh-todos))))
        (run-hook-with-args 'opencode-chat-event-functions type props)
        (force-mode-line-update)))
    (when (and (stringp sid)
               (member type '("permission.asked" "question.asked" "permission.replied"
                              "question.replied" "question.rejected")))
      (opencode-chat--tell-parent conn sid type props))))

(defvar opencode-chat-event-functions nil
  "Abnormal hook run in a chat buffer for each event of its session.
Each function gets the event's TYPE and PROPS (a plist), after the
chat has drawn it.  Add to it buffer-locally, in one chat, with
`add-hook''s LOCAL argument, or globally for every chat.")

(defun opencode-chat--parents (conn)
  "Return CONN's table session id -> parent session id (or nil)."
  (opencode-connection-table conn :parents))

(defun opencode-chat--tell-parent (conn sid type props)
  "Show CONN's sub-agent request event TYPE with PROPS in its parents' chats.
SID is the sub-agent's session; its parent is asked of the server
once and remembered."
  (let* ((table (opencode-chat--parents conn))
         (known (gethash sid table 'unknown))
         (deliver
          (lambda (parent)
            (when (stringp parent)
              (let ((buf (opencode-chat--buffer conn parent)))
                (when buf
                  ;; Its chat knows whether it has a parent in turn.
                  (puthash parent (plist-get (buffer-local-value 'opencode-chat--session buf)
                                             :parentID)
                           table)
                  (with-current-buffer buf
                    (if (member type '("permission.asked" "question.asked"))
                        (opencode-chat--add-request
                         (if (equal type "permission.asked") 'permission 'question) props)
                      (opencode-chat--drop-request (plist-get props :requestID)))
                    (force-mode-line-update))))
              ;; And up the tree.
              (opencode-chat--tell-parent conn parent type props)))))
    (if (not (eq known 'unknown))
        (funcall deliver known)
      (opencode-api-session-get
       conn sid
       :errback #'ignore
       :callback (lambda (s)
                   (puthash sid (plist-get s :parentID) table)
                   (funcall deliver (plist-get s :parentID)))))))

(add-hook 'opencode-event-functions #'opencode-chat--on-event)

(defun opencode-chat--on-project-event (conn type props)
  "Handle CONN's events that concern the project: TYPE with PROPS."
  (pcase type
    ((or "session.created" "session.updated")
     (let ((info (plist-get props :info)))
       (when (stringp (plist-get info :id))
         (puthash (plist-get info :id) (plist-get info :parentID)
                  (opencode-chat--parents conn)))))
    ("vcs.branch.updated"
     (dolist (b (opencode-chat--buffers conn))
       (with-current-buffer b
         (setq opencode-chat--branch (plist-get props :branch))
         (force-mode-line-update))))
    ("file.edited"
     (let* ((file (plist-get props :file))
            (buf (and opencode-revert-edited-files (stringp file) (get-file-buffer file))))
       (when (and buf (not (buffer-modified-p buf)))
         (with-current-buffer buf (revert-buffer t t t)))))
    ("command.executed"
     (opencode--log "%s: command /%s ran in %s" (opencode-connection-directory conn)
                    (plist-get props :name) (plist-get props :sessionID)))
    ("server.instance.disposed"
     (opencode--log "%s: the server disposed of this project's instance; reloading"
                    (opencode-connection-directory conn))
     (dolist (b (opencode-chat--buffers conn))
       (with-current-buffer b (opencode-chat-reload))))))

(add-hook 'opencode-event-functions #'opencode-chat--on-project-event)

(defun opencode-chat--on-state (conn state _detail)
  "Reload CONN's chats when its stream (re)connects (STATE).
Events missed while the stream was down are then not missing."
  (when (eq state 'connected)
    (dolist (b (opencode-chat--buffers conn))
      (with-current-buffer b (opencode-chat-reload)))))

(add-hook 'opencode-connection-state-functions #'opencode-chat--on-state)

;;;; Permissions and questions

(defun opencode-chat--request-summary (request)
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

(defun opencode-chat--add-request (kind props)
  "Record a pending request of KIND with PROPS and tell the user."
  (unless (assoc-default (plist-get props :id)
                         (mapcar (lambda (r) (cons (plist-get (cdr r) :id) r))
                                 opencode-chat--requests))
    (setq opencode-chat--requests (append opencode-chat--requests (list (cons kind props))))
    (message "OpenCode %s: %s (%s to answer)" (plist-get opencode-chat--session :title)
             (opencode-chat--request-summary (cons kind props))
             (substitute-command-keys "\\<opencode-chat-mode-map>\\[opencode-chat-answer]"))))

(defun opencode-chat--drop-request (id)
  "Forget the pending request ID."
  (setq opencode-chat--requests
        (cl-remove-if (lambda (r) (equal (plist-get (cdr r) :id) id)) opencode-chat--requests)))

(defun opencode-chat--load-requests (buf)
  "Fetch the pending permissions and questions of BUF's session."
  (with-current-buffer buf
    (let ((sid (opencode-chat--session-id)))
      (setq opencode-chat--requests nil)
      (dolist (kind '(permission question))
        (funcall
         (if (eq kind 'permission) #'opencode-api-permission-list #'opencode-api-question-list)
         opencode-chat--conn
         :callback (lambda (reqs)
                     (when (buffer-live-p buf)
                       (with-current-buffer buf
                         (seq-doseq (r reqs)
                           (when (equal (plist-get r :sessionID) sid)
                             (opencode-chat--add-request kind r)))
                         (force-mode-line-update)))))))))

(defun opencode-chat-reply-permission (id reply)
  "Answer permission request ID with REPLY: `once', `always' or `reject'."
  (opencode-api-permission-reply opencode-chat--conn id
                                 :body `(:reply ,(symbol-name reply))
                                 :callback (lambda (_) (message "Permission: %s" reply))))

(defun opencode-chat-reply-question (id answers)
  "Answer question request ID with ANSWERS, a list of lists of labels.
With ANSWERS nil, reject the question."
  (if answers
      (opencode-api-question-reply opencode-chat--conn id
                                   :body `(:answers ,(apply #'vector (mapcar (lambda (a) (apply #'vector a))
                                                                 answers)))
                        :callback (lambda (_) (message "Answered")))
    (opencode-api-question-reject opencode-chat--conn id
                                  :callback (lambda (_) (message "Question dismissed")))))

(defun opencode-chat--ask-question (q)
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

(defun opencode-chat-answer ()
  "Answer the oldest pending permission or question of this session."
  (interactive)
  (let ((request (or (car opencode-chat--requests)
                     (user-error "Nothing is waiting for an answer"))))
    (pcase (car request)
      ('permission
       (let* ((props (cdr request))
              (choice (read-multiple-choice
                       (opencode-chat--request-summary request)
                       '((?o "once" "Allow this time")
                         (?a "always" "Allow from now on for these patterns")
                         (?r "reject" "Refuse")))))
         (opencode-chat-reply-permission (plist-get props :id)
                                         (intern (cadr choice)))))
      ('question
       (let* ((props (cdr request))
              (answers (condition-case nil
                           (mapcar #'opencode-chat--ask-question
                                   (append (plist-get props :questions) nil))
                         (quit (if (y-or-n-p "Dismiss the question? ") nil
                                 (signal 'quit nil))))))
         (opencode-chat-reply-question (plist-get props :id) answers))))))

;;;; Todos and the diff

(defun opencode-chat--todos-buffer-name ()
  "Return the name of this chat's todo buffer."
  (format "*opencode-todos: %s*" (or (plist-get opencode-chat--session :title) "")))

(defun opencode-chat--refresh-todos ()
  "Redraw this chat's todo buffer, if it exists."
  (let ((todos opencode-chat--todos)
        (buf (get-buffer (opencode-chat--todos-buffer-name))))
    (when buf
      (with-current-buffer buf
        (let ((inhibit-read-only t))
          (erase-buffer)
          (if (zerop (length todos))
              (insert (propertize "No todos." 'face 'opencode-chat-dim))
            (seq-doseq (td todos)
              (let ((status (plist-get td :status)))
                (insert (pcase status
                          ("completed" "[x] ") ("in_progress" "[>] ")
                          ("cancelled" "[-] ") (_ "[ ] "))
                        (propertize (or (plist-get td :content) "")
                                    'face (pcase status
                                            ("completed" 'opencode-chat-dim)
                                            ("cancelled" '(:strike-through t))
                                            ("in_progress" 'bold)
                                            (_ 'default)))
                        (if (stringp (plist-get td :priority))
                            (propertize (format "  (%s)" (plist-get td :priority))
                                        'face 'opencode-chat-dim)
                          "")
                        "\n")))))))))

(defun opencode-chat-todos ()
  "Show the session's todo list in a side window; it follows todo.updated."
  (interactive)
  (let ((buf (get-buffer-create (opencode-chat--todos-buffer-name))))
    (with-current-buffer buf
      (unless (derived-mode-p 'special-mode) (special-mode)))
    (opencode-chat--refresh-todos)
    (display-buffer buf '(display-buffer-in-side-window (side . right) (window-width . 45)))
    buf))

(defun opencode-chat-diff (&optional message-id)
  "Show what the session changed on disk, as a `diff-mode' buffer.
With a prefix argument, only what MESSAGE-ID (the message at point)
changed."
  (interactive (list (and current-prefix-arg (opencode-chat--message-at-point))))
  (let ((title (plist-get opencode-chat--session :title))
        (dir default-directory))
    (opencode-api-session-diff
     opencode-chat--conn (opencode-chat--session-id)
     :query `(("messageID" . ,message-id))
     :callback
     (lambda (diffs)
       (display-buffer (opencode-chat--show-diffs (format "*opencode-diff: %s*" title)
                                                  diffs dir))))))

(defun opencode-chat--diff-file (diff)
  "Return the file DIFF, a file diff from the server, is about."
  (or (plist-get diff :file) (plist-get diff :path) "?"))

(defun opencode-chat--show-diffs (name diffs directory)
  "Show DIFFS, file diffs from the server, in `diff-mode' buffer NAME.
DIRECTORY is where their file names are relative to.  Return the buffer."
  (let ((buf (get-buffer-create name))
        (adds 0) (dels 0))
    (with-current-buffer buf
      (let ((inhibit-read-only t))
        (erase-buffer)
        (seq-doseq (d diffs)
          (cl-incf adds (or (plist-get d :additions) 0))
          (cl-incf dels (or (plist-get d :deletions) 0))
          (let ((patch (plist-get d :patch))
                (file (opencode-chat--diff-file d)))
            (insert (if (stringp patch) patch (format "--- a/%s\n+++ b/%s\n" file file)))
            (unless (bolp) (insert "\n"))))
        (when (zerop (length diffs)) (insert "No changes.\n")))
      (diff-mode)
      (setq default-directory (file-name-as-directory directory))
      (setq buffer-read-only t)
      (setq header-line-format (format " %d files  +%d −%d" (length diffs) adds dels))
      (goto-char (point-min)))
    buf))

;;;; Session operations at point

(defun opencode-chat--message-at-point ()
  "Return the id of the message at point, or signal a `user-error'."
  (or (cl-some (lambda (pos)
                 (and (>= pos (point-min))
                      (or (get-text-property pos 'opencode-message)
                          (let ((pid (opencode-chat--part-at pos)))
                            (and pid (plist-get (opencode-chat--entry-part (gethash pid opencode-chat--parts))
                                                :messageID))))))
               ;; Point just after a part's text counts as on it.
               (list (point) (1- (point))))
      (user-error "No message at point")))

(defun opencode-chat--show-revert ()
  "Dim the messages a revert undid, from the revert point on."
  (when opencode-chat--revert-overlay
    (delete-overlay opencode-chat--revert-overlay)
    (setq opencode-chat--revert-overlay nil))
  (let* ((rev (plist-get opencode-chat--session :revert))
         (entry (and rev (gethash (plist-get rev :messageID) opencode-chat--messages))))
    (when entry
      (let ((ov (make-overlay (plist-get entry :beg) (point-max) nil nil t)))
        (overlay-put ov 'face 'shadow)
        (overlay-put ov 'before-string
                     (propertize (substitute-command-keys
                                  "──── reverted from here: \\<opencode-chat-mode-map>\\[opencode-chat-unrevert] restores, \\[opencode-chat-revert-diff] shows what changed on disk ────\n")
                                 'face 'warning))
        (setq opencode-chat--revert-overlay ov)))))

(defun opencode-chat--session-callback (done)
  "Return a callback that shows the session it gets in this chat, then DONE."
  (let ((buf (current-buffer)))
    (lambda (session)
      (when (buffer-live-p buf)
        (with-current-buffer buf
          (setq opencode-chat--session session)
          (opencode-chat--show-revert)))
      (message "%s" done))))

(defun opencode-chat--revert-to (message-id done)
  "Revert the session to before MESSAGE-ID; say DONE when it is."
  (opencode-api-session-revert opencode-chat--conn (opencode-chat--session-id)
                               :body `(:messageID ,message-id)
                               :callback (opencode-chat--session-callback done)))

(defun opencode-chat-revert (message-id)
  "Revert the session to before MESSAGE-ID (default: the message at point).
The agent's changes to files from there on are undone on disk."
  (interactive (list (opencode-chat--message-at-point)))
  (when (yes-or-no-p "Revert the session (and its file changes) to before this message? ")
    (opencode-chat--revert-to message-id "Reverted")))

(defun opencode-chat-unrevert ()
  "Undo the session's revert: restore the messages and file changes."
  (interactive)
  (unless (plist-get opencode-chat--session :revert) (user-error "Nothing is reverted"))
  (opencode-api-session-unrevert opencode-chat--conn (opencode-chat--session-id)
                                 :callback (opencode-chat--session-callback "Restored")))

(defun opencode-chat-revert-diff ()
  "Show what the session's revert changed on disk."
  (interactive)
  (let ((diff (plist-get (plist-get opencode-chat--session :revert) :diff)))
    (unless (stringp diff) (user-error "No revert diff"))
    (with-current-buffer (get-buffer-create "*opencode-revert-diff*")
      (let ((inhibit-read-only t)) (erase-buffer) (insert diff))
      (diff-mode)
      (setq buffer-read-only t)
      (display-buffer (current-buffer)))))

(defun opencode-chat-fork (message-id)
  "Fork the session at MESSAGE-ID (default: the message at point); open the fork."
  (interactive (list (opencode-chat--message-at-point)))
  (let ((conn opencode-chat--conn))
    (opencode-api-session-fork conn (opencode-chat--session-id)
                               :body `(:messageID ,message-id)
                               :callback (lambda (s) (opencode-chat-open conn s)))))

(defun opencode-chat-fork-session ()
  "Fork the whole session; open the fork."
  (interactive)
  (let ((conn opencode-chat--conn))
    (opencode-api-session-fork conn (opencode-chat--session-id)
                               :body (make-hash-table)
                               :callback (lambda (s) (opencode-chat-open conn s)))))

(defun opencode-chat-compact ()
  "Compact the session: replace its history by a summary, with its model."
  (interactive)
  (let ((conn opencode-chat--conn) (sid (opencode-chat--session-id)))
    (opencode-api-session-model
     conn opencode-chat--session
     (lambda (model)
       (message "Compacting with %s/%s..." (car model) (cdr model))
       (opencode-api-session-summarize conn sid model
                                       :callback (lambda (_) (message "Compacted")))))))

(defun opencode-chat-rename (title)
  "Rename the session to TITLE."
  (interactive (list (read-string "New title: " (plist-get opencode-chat--session :title))))
  (when (string-empty-p (string-trim title)) (user-error "A title cannot be empty"))
  (opencode-api-session-update opencode-chat--conn (opencode-chat--session-id) :title title))

(defun opencode-chat-share ()
  "Share the session and copy its URL."
  (interactive)
  (opencode-api-session-share
   opencode-chat--conn (opencode-chat--session-id)
   :callback (lambda (s)
               (let ((url (plist-get (plist-get s :share) :url)))
                 (if (not (stringp url))
                     (message "The server did not share the session")
                   (kill-new url)
                   (message "Shared: %s (copied)" url))))))

(defun opencode-chat-unshare ()
  "Stop sharing the session."
  (interactive)
  (opencode-api-session-unshare opencode-chat--conn (opencode-chat--session-id)
                                :callback (lambda (_) (message "Unshared"))))

(defun opencode-chat--last-user-message ()
  "Return the id of the newest user message not reverted, or nil."
  (let ((revert (plist-get (plist-get opencode-chat--session :revert) :messageID))
        (best nil))
    (maphash (lambda (id e)
               (when (and (equal (plist-get (plist-get e :info) :role) "user")
                          (or (null revert) (string< id revert))
                          (or (null best) (string< best id)))
                 (setq best id)))
             opencode-chat--messages)
    best))

(defun opencode-chat-undo ()
  "Revert the last prompt and what it changed on disk (see `opencode-chat-redo')."
  (interactive)
  (opencode-chat--revert-to (or (opencode-chat--last-user-message)
                                (user-error "No prompt to undo"))
                            "Undone; /redo restores"))

(defun opencode-chat-redo ()
  "Restore what `opencode-chat-undo' or a revert took back."
  (interactive)
  (opencode-chat-unrevert))

(defun opencode-chat--own-command (name args)
  "Run the package's slash command NAME with ARGS (a string)."
  (pcase name
    ("compact" (opencode-chat-compact))
    ("rename" (if (string-empty-p (string-trim args))
                  (call-interactively #'opencode-chat-rename)
                (opencode-chat-rename (string-trim args))))
    ("fork" (opencode-chat-fork-session))
    ("share" (opencode-chat-share))
    ("unshare" (opencode-chat-unshare))
    ("undo" (opencode-chat-undo))
    ("redo" (opencode-chat-redo))
    (_ (user-error "Unknown command /%s" name))))

(defun opencode-chat-goto-parent ()
  "Open the chat of the session this sub-agent session belongs to."
  (interactive)
  (let ((parent (or (plist-get opencode-chat--session :parentID)
                    (user-error "This session has no parent"))))
    (opencode-chat-open opencode-chat--conn
                        (opencode-request-sync opencode-chat--conn "GET"
                                               (opencode--path "session" parent)))))

(defun opencode-chat-delete-message (message-id)
  "Delete MESSAGE-ID (default: the message at point) from the session."
  (interactive (list (opencode-chat--message-at-point)))
  (when (yes-or-no-p "Delete this message from the session? ")
    (opencode-api-session-delete-message opencode-chat--conn (opencode-chat--session-id) message-id
                                         :callback (lambda (_) (message "Message deleted")))))

(defun opencode-chat-delete-part ()
  "Delete the part at point from its message."
  (interactive)
  (let* ((pid (or (opencode-chat--part-at (point)) (user-error "No part at point")))
         (part (opencode-chat--entry-part (gethash pid opencode-chat--parts))))
    (when (yes-or-no-p (format "Delete this %s part? " (plist-get part :type)))
      (opencode-api-part-delete opencode-chat--conn (opencode-chat--session-id)
                                (plist-get part :messageID) pid
                                :callback (lambda (_) (message "Part deleted"))))))

(defvar-local opencode-chat--edit-target nil
  "In a part edit buffer: (CHAT-BUFFER . PART).")

(defvar opencode-chat-edit-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "C-c C-c") #'opencode-chat-edit-finish)
    (define-key map (kbd "C-c C-k") #'opencode-chat-edit-cancel)
    map)
  "Keymap of `opencode-chat-edit-mode'.")

(define-derived-mode opencode-chat-edit-mode text-mode "OpenCode-Edit"
  "Edit the text of a part; \\<opencode-chat-edit-mode-map>\\[opencode-chat-edit-finish] saves, \\[opencode-chat-edit-cancel] cancels.")

(defun opencode-chat-edit-part ()
  "Edit the text of the text part at point in a buffer of its own."
  (interactive)
  (let* ((pid (or (opencode-chat--part-at (point)) (user-error "No part at point")))
         (part (opencode-chat--entry-part (gethash pid opencode-chat--parts)))
         (chat (current-buffer)))
    (unless (member (plist-get part :type) '("text" "reasoning"))
      (user-error "Only text can be edited"))
    (with-current-buffer (get-buffer-create "*opencode-edit-part*")
      (opencode-chat-edit-mode)
      (erase-buffer)
      (insert (or (plist-get part :text) ""))
      (goto-char (point-min))
      (setq opencode-chat--edit-target (cons chat part))
      (setq header-line-format
            (substitute-command-keys
             "\\<opencode-chat-edit-mode-map>\\[opencode-chat-edit-finish] save  \\[opencode-chat-edit-cancel] cancel"))
      (pop-to-buffer (current-buffer)))))

(defun opencode-chat-edit-finish ()
  "Save the edited text to the server; the buffer goes once it is saved."
  (interactive)
  (let* ((target opencode-chat--edit-target)
         (edit (current-buffer))
         (part (plist-put (copy-sequence (cdr target)) :text (buffer-string))))
    (with-current-buffer (car target)
      (opencode-api-part-update opencode-chat--conn (opencode-chat--session-id)
                                (plist-get part :messageID) (plist-get part :id)
                                :body part
                                :callback (lambda (_)
                                            (when (buffer-live-p edit) (kill-buffer edit))
                                            (message "Part saved"))))))

(defun opencode-chat-edit-cancel ()
  "Drop the edit."
  (interactive)
  (kill-buffer (current-buffer)))

(defun opencode-chat--maybe-abort ()
  "Follow `opencode-abort-on-switch' when a busy session's chat is killed."
  (when (and opencode-abort-on-switch opencode-chat--conn
             (equal (plist-get opencode-chat--status :type) "busy")
             (or (eq opencode-abort-on-switch 'abort)
                 (y-or-n-p "The session is busy: abort its reply? ")))
    (opencode-api-session-abort opencode-chat--conn (opencode-chat--session-id))))

;;;; Folding and moving

(defun opencode-chat--part-at (pos)
  "Return the id of the part at POS, or nil."
  (get-text-property pos 'opencode-part))

(defun opencode-chat-toggle-fold ()
  "Fold or unfold the part at point."
  (interactive)
  (let* ((id (or (opencode-chat--part-at (point)) (user-error "No part at point")))
         (entry (gethash id opencode-chat--parts))
         (part (opencode-chat--entry-part entry)))
    (unless (opencode-chat--foldable-p part) (user-error "This part does not fold"))
    (puthash id (if (opencode-chat--part-folded-p part) 'open 'folded) opencode-chat--folded)
    (puthash id (opencode-chat--render-part part entry) opencode-chat--parts)
    (goto-char (plist-get entry :beg))))

(defun opencode-chat-cycle-folds ()
  "Cycle every part: all folded, then all open, then the defaults."
  (interactive)
  (setq opencode-chat--fold-cycle
        (pcase opencode-chat--fold-cycle ('folded 'open) ('open nil) (_ 'folded)))
  (maphash (lambda (id entry)
             (let ((part (opencode-chat--entry-part entry)))
               (when (opencode-chat--foldable-p part)
                 (if opencode-chat--fold-cycle
                     (puthash id opencode-chat--fold-cycle opencode-chat--folded)
                   (remhash id opencode-chat--folded))
                 (puthash id (opencode-chat--render-part part entry) opencode-chat--parts))))
           opencode-chat--parts)
  (message "Parts: %s" (pcase opencode-chat--fold-cycle
                         ('folded "all folded") ('open "all open") (_ "as they start"))))

(defun opencode-chat-next-message (n)
  "Move to the header of the Nth next message (previous if N < 0)."
  (interactive "p")
  (dotimes (_ (abs n))
    (let ((m (save-excursion
               (if (> n 0)
                   (progn (end-of-line)
                          (text-property-search-forward 'opencode-header t t))
                 (beginning-of-line)
                 (text-property-search-backward 'opencode-header t t)))))
      (if m (goto-char (prop-match-beginning m))
        (user-error (if (> n 0) "No next message" "No previous message"))))))

(defun opencode-chat-previous-message (n)
  "Move to the start of the Nth previous message."
  (interactive "p")
  (opencode-chat-next-message (- n)))

(defun opencode-chat-next-part (n)
  "Move to the start of the Nth next part (previous if N < 0)."
  (interactive "p")
  (dotimes (_ (abs n))
    (let ((pos (point)) (here (opencode-chat--part-at (point))) found)
      (while (and (not found)
                  (setq pos (if (> n 0)
                                (next-single-property-change pos 'opencode-part)
                              (previous-single-property-change pos 'opencode-part))))
        (let ((id (opencode-chat--part-at (if (> n 0) pos (max (point-min) (1- pos))))))
          (when (and id (not (equal id here)))
            (setq found (plist-get (gethash id opencode-chat--parts) :beg)))))
      (if found (goto-char found)
        (user-error (if (> n 0) "No next part" "No previous part"))))))

(defun opencode-chat-previous-part (n)
  "Move to the start of the Nth previous part."
  (interactive "p")
  (opencode-chat-next-part (- n)))

(defun opencode-chat--imenu-index ()
  "Return an imenu index of the user's prompts."
  (let (index)
    (dolist (m (opencode-chat--shown-messages))
      (when (equal (plist-get (plist-get m :info) :role) "user")
        (let* ((text (cl-some (lambda (p) (and (equal (plist-get p :type) "text")
                                                (plist-get p :text)))
                              (plist-get m :parts)))
               (entry (gethash (plist-get (plist-get m :info) :id) opencode-chat--messages)))
          (push (cons (opencode--first-line (or text "(prompt)") 70)
                      (marker-position (plist-get entry :beg)))
                index))))
    (nreverse index)))

(defun opencode-chat-bookmark-make-record ()
  "Return a bookmark record for this chat."
  `(,(format "OpenCode: %s" (plist-get opencode-chat--session :title))
    (session . ,(opencode-chat--session-id))
    (title . ,(plist-get opencode-chat--session :title))
    (directory . ,(opencode-connection-directory opencode-chat--conn))
    (handler . opencode-chat-bookmark-jump)))

(declare-function bookmark-prop-get "bookmark" (bookmark prop))

;;;###autoload
(defun opencode-chat-bookmark-jump (bookmark)
  "Open the chat that BOOKMARK names."
  (require 'bookmark)
  (let ((conn (opencode-connect (bookmark-prop-get bookmark 'directory))))
    (opencode-chat-open conn (list :id (bookmark-prop-get bookmark 'session)
                                   :title (bookmark-prop-get bookmark 'title)))))

;;;; The header line

(defvar-local opencode-chat--countdown-timer nil
  "Timer redrawing the header line each second while a retry counts down.")

(defun opencode-chat--countdown ()
  "Run or stop the retry countdown of the header line."
  (let ((buf (current-buffer)))
    (if (equal (plist-get opencode-chat--status :type) "retry")
        (unless opencode-chat--countdown-timer
          (setq opencode-chat--countdown-timer
                (run-with-timer 1 1 (lambda ()
                                      (when (buffer-live-p buf)
                                        (with-current-buffer buf
                                          (force-mode-line-update)
                                          (opencode-chat--countdown)))))))
      (opencode-chat--stop-countdown))))

(defun opencode-chat--stop-countdown ()
  "Stop the retry countdown of this chat, if it runs."
  (when opencode-chat--countdown-timer
    (cancel-timer opencode-chat--countdown-timer)
    (setq opencode-chat--countdown-timer nil)))

(defun opencode-chat--model-limit (conn provider model)
  "Return the context window of PROVIDER's MODEL on CONN, or nil.
The providers are fetched once per connection (GET /config/providers);
until they arrive, nil."
  (let ((providers (plist-get (opencode-connection-plist conn) :providers)))
    (if (eq providers 'pending) nil
      (unless providers
        (setf (opencode-connection-plist conn)
              (plist-put (opencode-connection-plist conn) :providers 'pending))
        (opencode-api-providers
         conn
         :errback (lambda (_) (setf (opencode-connection-plist conn)
                                    (plist-put (opencode-connection-plist conn) :providers nil)))
         :callback (lambda (res)
                     (setf (opencode-connection-plist conn)
                           (plist-put (opencode-connection-plist conn) :providers
                                      (plist-get res :providers)))
                     (force-mode-line-update t))))
      (when (vectorp providers)
        (let* ((p (seq-find (lambda (p) (equal (plist-get p :id) provider)) providers))
               (m (and p (plist-get (plist-get p :models) (intern (concat ":" model))))))
          (plist-get (plist-get m :limit) :context))))))

(defun opencode-chat-context ()
  "Return what this chat's context looks like, as a plist.
:model \"PROVIDER/MODEL\", :agent, :input, :output, :reasoning,
:cache-read, :cache-write (tokens of the last reply), :used (tokens
in the context: input and cache), :limit (the model's context window,
or nil), :cost (the whole session's) and :status."
  (let ((last nil) (cost 0))
    (maphash (lambda (id e)
               (let ((info (plist-get e :info)))
                 (when (equal (plist-get info :role) "assistant")
                   (when (numberp (plist-get info :cost)) (cl-incf cost (plist-get info :cost)))
                   (when (and (plist-get info :tokens)
                              (or (null last) (string< (plist-get last :id) id)))
                     (setq last info)))))
             opencode-chat--messages)
    (let* ((tokens (plist-get last :tokens))
           (cache (plist-get tokens :cache))
           (num (lambda (v) (if (numberp v) v 0)))
           (provider (or (car opencode-chat--model) (plist-get last :providerID)))
           (model (or (cdr opencode-chat--model) (plist-get last :modelID)))
           (used (+ (funcall num (plist-get tokens :input))
                    (funcall num (plist-get cache :read))
                    (funcall num (plist-get cache :write)))))
      (list :model (and provider model (format "%s/%s" provider model))
            :agent (or opencode-chat--agent (plist-get last :agent) (plist-get last :mode))
            :input (funcall num (plist-get tokens :input))
            :output (funcall num (plist-get tokens :output))
            :reasoning (funcall num (plist-get tokens :reasoning))
            :cache-read (funcall num (plist-get cache :read))
            :cache-write (funcall num (plist-get cache :write))
            :used used
            :limit (and provider model opencode-chat--conn
                        (opencode-chat--model-limit opencode-chat--conn provider model))
            :cost cost
            :status (or (plist-get opencode-chat--status :type) "idle")))))

(defun opencode-chat--tokens (n)
  "Return N tokens briefly: 950, 12.3k, 1.2M."
  (cond ((< n 1000) (number-to-string n))
        ((< n 1000000) (format "%.1fk" (/ n 1000.0)))
        (t (format "%.1fM" (/ n 1000000.0)))))

(defun opencode-chat-context-line ()
  "Return the chat's context at a glance: model, agent, tokens, window, cost."
  (let* ((c (opencode-chat-context))
         (limit (plist-get c :limit))
         (used (plist-get c :used)))
    (concat
     (or (plist-get c :agent) "default") " · " (or (plist-get c :model) "default model")
     (if (and (numberp limit) (> limit 0))
         (let* ((ratio (min 1.0 (/ used (float limit))))
                (cells (round (* 10 ratio))))
           (format " · %s/%s %s %d%%" (opencode-chat--tokens used) (opencode-chat--tokens limit)
                   (propertize (concat (make-string cells ?█) (make-string (- 10 cells) ?░))
                               'face (if (> ratio 0.8) 'warning 'opencode-chat-dim))
                   (round (* 100 ratio))))
       (format " · %s in context" (opencode-chat--tokens used)))
     (format " · in %s out %s cache %s/%s"
             (opencode-chat--tokens (plist-get c :input)) (opencode-chat--tokens (plist-get c :output))
             (opencode-chat--tokens (plist-get c :cache-read))
             (opencode-chat--tokens (plist-get c :cache-write)))
     (format " · $%.4f · %s" (plist-get c :cost) (plist-get c :status)))))

(defun opencode-chat--header-line ()
  "Return the header line of the chat: title, status, branch of work."
  (let ((st (plist-get opencode-chat--status :type)))
    (concat " " (or (plist-get opencode-chat--session :title) "")
            (if opencode-chat--branch (propertize (format "  [%s]" opencode-chat--branch)
                                                  'face 'opencode-chat-dim)
              "")
            (pcase opencode-chat--diff-summary
              (`(,files ,adds ,dels) (format "  +%d −%d (%d files)" adds dels files))
              (_ ""))
            (if (plist-get opencode-chat--session :revert)
                (propertize (substitute-command-keys
                             "  reverted (\\<opencode-chat-mode-map>\\[opencode-chat-unrevert] restores)")
                            'face 'warning)
              "")
            "  " (pcase st
                   ("busy" (propertize "busy" 'face 'warning))
                   ("retry"
                    (let ((next (plist-get opencode-chat--status :next)))
                      (propertize (format "retry %s%s: %s" (plist-get opencode-chat--status :attempt)
                                          (if (numberp next)
                                              (format " in %ds" (max 0 (ceiling (- (/ next 1000.0)
                                                                                  (float-time)))))
                                            "")
                                          (plist-get opencode-chat--status :message))
                                  'face 'error)))
                   (_ (propertize "idle" 'face 'shadow)))
            (if opencode-chat--error
                (propertize (concat "  " (opencode-api-error-text opencode-chat--error))
                            'face 'opencode-chat-error)
              "")
            (if opencode-chat--requests
                (propertize (concat "  " (opencode-chat--request-summary (car opencode-chat--requests))
                                    (substitute-command-keys
                                     "  \\<opencode-chat-mode-map>\\[opencode-chat-answer] to answer"))
                            'face 'opencode-chat-needs-user)
              ""))))

;;;; Prompt

(defvar-local opencode-prompt--chat nil "The chat buffer this prompt sends to.")
(defvar opencode-prompt-history nil "Prompts sent, newest first.")
(defvar-local opencode-prompt--history-index -1 "Position in the history.")
(defvar-local opencode-prompt--files nil "Files attached to the next prompt.")

(defun opencode-prompt--file-part (file)
  "Return a file part (FilePartInput) for FILE, a file or folder name.
An image pasted from the clipboard is (:image MIME . BYTES) instead."
  (if (eq (car-safe file) :image)
      `(:type "file" :mime ,(cadr file) :filename "clipboard.png"
              :url ,(concat "data:" (cadr file) ";base64,"
                            (base64-encode-string (cddr file) t)))
    (let ((mime (cond ((directory-name-p file) "application/x-directory")
                      ((and (fboundp 'mailcap-file-name-to-mime-type)
                            (mailcap-file-name-to-mime-type file)))
                      (t "text/plain"))))
      `(:type "file" :mime ,mime
              :filename ,(file-name-nondirectory (directory-file-name file))
              :url ,(concat "file://" (expand-file-name file))))))

(defun opencode-prompt--attachment-name (file)
  "Return how the prompt's header line names attachment FILE."
  (if (eq (car-safe file) :image) "clipboard image"
    (file-name-nondirectory (directory-file-name file))))

(defvar opencode-message-sent-functions nil
  "Abnormal hook run when the server accepted a prompt.
Each function gets the chat buffer and the text sent.")

(defun opencode-prompt--commands (conn callback)
  "Call CALLBACK with the names of CONN's slash commands.
They are asked once per connection (see `opencode-complete--cache-commands')."
  (let ((names (lambda (cmds) (mapcar (lambda (c) (plist-get c :name)) cmds)))
        (cached (plist-get (opencode-connection-plist conn) :commands)))
    (if cached (funcall callback (funcall names cached))
      (opencode-api-commands
       conn
       :callback (lambda (cmds)
                   (opencode-complete--cache-commands conn cmds)
                   (funcall callback (funcall names cmds)))))))

(defun opencode-prompt--sent (prompt text)
  "Clear PROMPT after TEXT was accepted, and remember TEXT."
  (push text opencode-prompt-history)
  (when (buffer-live-p prompt)
    (let ((chat (buffer-local-value 'opencode-prompt--chat prompt)))
      (when (buffer-live-p chat)
        (run-hook-with-args 'opencode-message-sent-functions chat text)))
    (with-current-buffer prompt
      (when (equal (string-trim (buffer-string)) text)
        (erase-buffer))
      (setq opencode-prompt--files nil
            opencode-prompt--history-index -1))))

(defun opencode-prompt--failed (err)
  "Report that a prompt was not sent because of ERR."
  (message "OpenCode: not sent (your text is kept): %s" (error-message-string err)))

(defun opencode-prompt-send ()
  "Send the prompt's text to the session; keep it if sending fails.
Text starting with ! runs as a shell command; /NAME ARGS runs the
server's slash command NAME when there is one.  Attached files go along."
  (interactive)
  (let* ((text (string-trim (buffer-string)))
         (prompt (current-buffer))
         (files opencode-prompt--files)
         (chat opencode-prompt--chat))
    (when (string-empty-p text) (user-error "Nothing to send"))
    (unless (buffer-live-p chat) (user-error "The chat of this prompt is gone"))
    (with-current-buffer chat
      (let ((conn opencode-chat--conn)
            (sid (opencode-chat--session-id))
            (agent opencode-chat--agent)
            (model opencode-chat--model)
            (done (lambda (_) (opencode-prompt--sent prompt text))))
        ;; @mentions of project files and folders go along as file parts.
        (dolist (f (opencode-complete-mentions text (opencode-connection-directory conn)))
          (unless (member f files) (setq files (append files (list f)))))
        (cond
         ((and (string-match "\\`/\\([^ \t\n]+\\)[ \t\n]*\\(\\(?:.\\|\n\\)*\\)\\'" text)
               (assoc (match-string 1 text) opencode-prompt-own-commands))
          (opencode-chat--own-command (match-string 1 text) (match-string 2 text))
          (opencode-prompt--sent prompt text))
         ((string-prefix-p "!" text)
          (opencode-api-session-shell conn sid
                            :body `(:agent ,(or agent "build") :command ,(substring text 1)
                                           ,@(and model `(:model (:providerID ,(car model)
                                                                  :modelID ,(cdr model)))))
                            ;; The reply comes when the command is done; the
                            ;; chat shows it running meanwhile.
                            :timeout 600 :callback done :errback #'opencode-prompt--failed))
         ((string-match "\\`/\\([^ \t\n]+\\)[ \t\n]*\\(\\(?:.\\|\n\\)*\\)\\'" text)
          (let ((name (match-string 1 text)) (args (match-string 2 text)))
            (opencode-prompt--commands
             conn
             (lambda (names)
               (if (not (member name names))
                   (opencode-prompt--send-text conn sid text files agent model prompt)
                 (opencode-api-session-command
                  conn sid
                  :body `(:command ,name :arguments ,args
                                   ,@(and agent `(:agent ,agent))
                                   ,@(and model `(:model ,(format "%s/%s" (car model) (cdr model))))
                                   ,@(and files `(:parts ,(apply #'vector (mapcar #'opencode-prompt--file-part files)))))
                  :timeout 600 :callback done :errback #'opencode-prompt--failed))))))
         (t (opencode-prompt--send-text conn sid text files agent model prompt)))))))

(defun opencode-prompt--send-text (conn sid text files agent model prompt)
  "Send TEXT with FILES, AGENT and MODEL to session SID on CONN.
PROMPT is cleared once the server accepted it."
  (opencode-api-session-prompt-async
   conn sid text
   :parts (mapcar #'opencode-prompt--file-part files) :agent agent :model model
   :callback (lambda (_) (opencode-prompt--sent prompt text))
   :errback #'opencode-prompt--failed))

(defun opencode-prompt-abort ()
  "Abort the reply running in this prompt's session."
  (interactive)
  (with-current-buffer (or opencode-prompt--chat (current-buffer))
    (opencode-api-session-abort opencode-chat--conn (opencode-chat--session-id)
                                :callback (lambda (_) (message "Aborted")))))

(defun opencode-prompt-history-previous (n)
  "Replace the prompt with the Nth previous prompt from the history."
  (interactive "p")
  (let ((i (+ opencode-prompt--history-index n)))
    (cond ((>= i (length opencode-prompt-history)) (user-error "No older prompt"))
          ((< i -1) (user-error "No newer prompt")))
    (setq opencode-prompt--history-index i)
    (erase-buffer)
    (when (>= i 0) (insert (nth i opencode-prompt-history)))))

(defun opencode-prompt-history-next (n)
  "Replace the prompt with the Nth next prompt from the history."
  (interactive "p")
  (opencode-prompt-history-previous (- n)))

(defun opencode-prompt-attach-file (file)
  "Attach FILE to the next prompt; with a prefix argument, drop all."
  (interactive (list (unless current-prefix-arg (read-file-name "Attach file: " nil nil t))))
  (if (null file)
      (progn (setq opencode-prompt--files nil) (message "No attachments"))
    (setq opencode-prompt--files (append opencode-prompt--files (list (expand-file-name file))))
    (message "Attached: %s" (mapconcat #'file-name-nondirectory opencode-prompt--files ", "))))

(defun opencode-chat--in-chat (fn)
  "Call FN in the chat buffer of the current prompt or chat."
  (with-current-buffer (if (derived-mode-p 'opencode-prompt-mode) opencode-prompt--chat
                         (current-buffer))
    (funcall fn)))

(defun opencode-chat--primary-agents ()
  "Return the names of the agents a prompt can go to, in the server's order."
  (delq nil (mapcar (lambda (a) (and (not (equal (plist-get a :mode) "subagent"))
                                     (not (eq (plist-get a :hidden) t))
                                     (plist-get a :name)))
                    (opencode-request-sync opencode-chat--conn "GET" "/agent"))))

(defun opencode-chat-set-agent ()
  "Choose the agent that answers this chat's prompts (GET /agent)."
  (interactive)
  (opencode-chat--in-chat
   (lambda ()
     (let ((choice (completing-read "Agent: " (opencode-chat--primary-agents)
                                    nil t nil nil opencode-chat--agent)))
       (setq opencode-chat--agent choice)
       (message "Agent: %s" choice)))))

(defun opencode-chat-cycle-agent ()
  "Switch this chat's prompts to the next agent (build, plan, ...)."
  (interactive)
  (opencode-chat--in-chat
   (lambda ()
     (let* ((names (or (opencode-chat--primary-agents) (user-error "No agents")))
            (next (or (cadr (member (or opencode-chat--agent (car names)) names))
                      (car names))))
       (setq opencode-chat--agent next)
       (force-mode-line-update t)
       (message "Agent: %s" next)))))

(defun opencode-prompt--clipboard-image ()
  "Return (MIME . BYTES) of an image on the clipboard, or nil.
Asks the window system, else wl-paste or xclip when installed."
  (or (and (display-graphic-p)
           (cl-loop for type in '(image/png image/jpeg)
                    for data = (ignore-errors (gui-get-selection 'CLIPBOARD type))
                    when (and (stringp data) (> (length data) 0))
                    return (cons (symbol-name type) (string-to-unibyte data))))
      (cl-loop for (prog . args) in '(("wl-paste" "--type" "image/png")
                                      ("xclip" "-selection" "clipboard" "-t" "image/png" "-o"))
               when (executable-find prog)
               do (let ((bytes (with-temp-buffer
                                 (set-buffer-multibyte nil)
                                 (and (eq 0 (apply #'call-process prog nil '(t nil) nil args))
                                      (> (buffer-size) 0)
                                      (buffer-string)))))
                    (when (and bytes (string-prefix-p "\x89PNG" bytes))
                      (cl-return (cons "image/png" bytes)))))))

(defun opencode-prompt-paste-image ()
  "Attach the image on the clipboard to the next prompt."
  (interactive)
  (let ((image (or (opencode-prompt--clipboard-image)
                   (user-error "No image on the clipboard"))))
    (setq opencode-prompt--files
          (append opencode-prompt--files (list (cons :image image))))
    (force-mode-line-update)
    (message "Image attached (%s, %d bytes)" (car image) (length (cdr image)))))

(defun opencode-chat-set-model ()
  "Choose the model of this chat's prompts (GET /config/providers)."
  (interactive)
  (opencode-chat--in-chat
   (lambda ()
     (let* ((res (opencode-request-sync opencode-chat--conn "GET" "/config/providers"))
            (names nil))
       (seq-doseq (p (plist-get res :providers))
         (let ((models (plist-get p :models)))
           (cl-loop for (k _v) on models by #'cddr
                    do (push (format "%s/%s" (plist-get p :id) (substring (symbol-name k) 1))
                             names))))
       (let ((choice (completing-read "Model: " (nreverse names) nil t)))
         (setq opencode-chat--model (opencode--parse-model choice))
         (message "Model: %s" choice))))))

(defvar opencode-prompt-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "C-c C-c") #'opencode-prompt-send)
    (define-key map (kbd "C-c C-k") #'opencode-prompt-abort)
    (define-key map (kbd "C-c C-f") #'opencode-prompt-attach-file)
    (define-key map (kbd "C-c C-a") #'opencode-chat-set-agent)
    (define-key map (kbd "C-c C-m") #'opencode-chat-set-model)
    (define-key map (kbd "C-c C-t") #'opencode-chat-cycle-agent)
    (define-key map (kbd "C-c C-v") #'opencode-prompt-paste-image)
    (define-key map (kbd "TAB") #'completion-at-point)
    (define-key map (kbd "M-p") #'opencode-prompt-history-previous)
    (define-key map (kbd "M-n") #'opencode-prompt-history-next)
    map)
  "Keymap of `opencode-prompt-mode'.")

(define-derived-mode opencode-prompt-mode text-mode "OpenCode-Prompt"
  "Major mode of the prompt under an OpenCode chat.
Text starting with ! runs as a shell command in the project; /NAME
ARGS runs the server's command NAME.
\\{opencode-prompt-mode-map}")

(defun opencode-prompt--header-line ()
  "Return the prompt's header line: keys, agent, model, attachments."
  (concat
   (substitute-command-keys
    "\\<opencode-prompt-mode-map>\\[opencode-prompt-send] send  \\[opencode-prompt-abort] abort  \\[opencode-prompt-attach-file] attach  ")
   (let ((chat opencode-prompt--chat))
     (if (buffer-live-p chat)
         (with-current-buffer chat (opencode-chat-context-line))
       ""))
   (if opencode-prompt--files
       (concat "  + " (mapconcat #'opencode-prompt--attachment-name opencode-prompt--files ", "))
     "")))

(defun opencode-chat-prompt ()
  "Show this chat's prompt below it and select it."
  (interactive)
  (let* ((chat (current-buffer))
         (buf (get-buffer-create (concat (buffer-name chat) " prompt"))))
    (with-current-buffer buf
      (unless (derived-mode-p 'opencode-prompt-mode) (opencode-prompt-mode))
      (setq opencode-prompt--chat chat)
      (setq-local completion-at-point-functions
                  (list (opencode-complete-at-point-function
                         (buffer-local-value 'opencode-chat--conn chat))))
      (setq header-line-format '(:eval (opencode-prompt--header-line))))
    (select-window
     (display-buffer buf `(display-buffer-below-selected
                           (window-height . ,opencode-chat-prompt-height))))
    buf))

;;;; Mode and entry point

(defun opencode-chat-abort ()
  "Abort the running reply of this chat's session."
  (interactive)
  (opencode-api-session-abort opencode-chat--conn (opencode-chat--session-id)
                              :callback (lambda (_) (message "Aborted"))))

(defvar opencode-chat-mode-map
  (let ((map (make-sparse-keymap)))
    (set-keymap-parent map special-mode-map)
    (define-key map (kbd "TAB") #'opencode-chat-toggle-fold)
    (define-key map (kbd "<backtab>") #'opencode-chat-cycle-folds)
    (define-key map "n" #'opencode-chat-next-message)
    (define-key map "p" #'opencode-chat-previous-message)
    (define-key map "g" #'opencode-chat-reload)
    (define-key map "i" #'opencode-chat-prompt)
    (define-key map (kbd "RET") #'opencode-chat-prompt)
    (define-key map (kbd "C-c C-k") #'opencode-chat-abort)
    (define-key map "a" #'opencode-chat-answer)
    (define-key map (kbd "C-c C-r") #'opencode-chat-answer)
    (define-key map "t" #'opencode-chat-todos)
    (define-key map "R" #'opencode-chat-revert)
    (define-key map "U" #'opencode-chat-unrevert)
    (define-key map "=" #'opencode-chat-revert-diff)
    (define-key map "F" #'opencode-chat-fork)
    (define-key map "D" #'opencode-chat-delete-message)
    (define-key map "x" #'opencode-chat-delete-part)
    (define-key map "e" #'opencode-chat-edit-part)
    (define-key map "o" #'opencode-chat-load-older)
    (define-key map (kbd "M-n") #'opencode-chat-next-part)
    (define-key map (kbd "M-p") #'opencode-chat-previous-part)
    (define-key map "d" #'opencode-chat-diff)
    (define-key map "^" #'opencode-chat-goto-parent)
    (define-key map "C" #'opencode-chat-compact)
    (define-key map "r" #'opencode-chat-rename)
    (define-key map "f" #'opencode-chat-fork-session)
    (define-key map "s" #'opencode-chat-share)
    (define-key map "S" #'opencode-chat-unshare)
    (define-key map "u" #'opencode-chat-undo)
    (define-key map (kbd "C-c C-t") #'opencode-chat-cycle-agent)
    map)
  "Keymap of `opencode-chat-mode'.")

(define-derived-mode opencode-chat-mode special-mode "OpenCode-Chat"
  "Major mode of an OpenCode session's timeline.
\\{opencode-chat-mode-map}"
  (setq opencode-chat--messages (make-hash-table :test 'equal)
        opencode-chat--parts (make-hash-table :test 'equal)
        opencode-chat--folded (make-hash-table :test 'equal))
  (setq buffer-invisibility-spec '((opencode-fold . t) opencode-empty))
  (setq truncate-lines nil)
  ;; Faces come from the renderer, not from font-lock.
  (font-lock-mode -1)
  (visual-line-mode 1)
  (setq header-line-format '(:eval (opencode-chat--header-line)))
  (setq-local imenu-create-index-function #'opencode-chat--imenu-index)
  (setq-local bookmark-make-record-function #'opencode-chat-bookmark-make-record)
  (setq-local desktop-save-buffer #'opencode-chat--desktop-save)
  (add-hook 'kill-buffer-hook #'opencode-chat--stop-countdown nil t)
  (add-hook 'kill-buffer-hook #'opencode-chat--stop-backlog nil t)
  (add-hook 'kill-buffer-hook #'opencode-chat--maybe-abort nil t))

(defun opencode-chat--buffer-name (session)
  "Return the chat buffer name of SESSION."
  (format "*opencode: %s*" (or (plist-get session :title) (plist-get session :id))))

(defun opencode-chat-open (conn session)
  "Show the chat of SESSION (a plist with :id) on CONN; return its buffer."
  (let ((buf (or (opencode-chat--buffer conn (plist-get session :id))
                 (generate-new-buffer (opencode-chat--buffer-name session)))))
    (with-current-buffer buf
      (unless (derived-mode-p 'opencode-chat-mode)
        (opencode-chat-mode)
        (opencode-chat--attach conn session)
        (setq default-directory (file-name-as-directory (opencode-connection-directory conn)))
        ;; Still connecting: `opencode-chat--on-state' loads it once connected.
        (when (eq (opencode-connection-state conn) 'connected)
          (opencode-chat-reload))))
    (opencode-chat--display buf)
    buf))

(defun opencode-chat--display (buffer)
  "Show chat BUFFER as `opencode-chat-display' says, and select it."
  (pcase opencode-chat-display
    ('same-window (pop-to-buffer-same-window buffer))
    ('split (pop-to-buffer buffer '((display-buffer-reuse-window
                                     display-buffer-pop-up-window)
                                    (inhibit-same-window . t))))
    ('side (select-window
            (display-buffer-in-side-window
             buffer `((side . right) (slot . 0)
                      (window-width . ,opencode-chat-side-window-width)
                      (window-parameters (no-delete-other-windows . t))))))
    ('full-frame
     (when (window-parameter nil 'window-side) (select-window (window-main-window)))
     (pop-to-buffer-same-window buffer)
     (delete-other-windows))
    ('frame (select-frame-set-input-focus
             (window-frame (display-buffer buffer '(display-buffer-pop-up-frame))))
            (select-window (get-buffer-window buffer)))
    (_ (pop-to-buffer buffer))))

;;;; Desktop

(defun opencode-chat--desktop-save (_directory)
  "Return what `desktop-save-mode' needs to reopen this chat."
  (list :directory (opencode-connection-directory opencode-chat--conn)
        :session (opencode-chat--session-id)
        :title (plist-get opencode-chat--session :title)))

;;;###autoload
(defun opencode-chat-desktop-restore (_file _name misc)
  "Reopen a chat saved by `desktop-save-mode'; MISC says which.
Return the chat buffer, or nil when it cannot be reopened."
  (condition-case err
      (save-window-excursion
        (opencode-chat-open (opencode-connect (plist-get misc :directory))
                            (list :id (plist-get misc :session)
                                  :title (plist-get misc :title))))
    (error (message "OpenCode: chat %s not restored: %s" (plist-get misc :title)
                    (error-message-string err))
           nil)))

;;;; Menus

(require 'transient)

(transient-define-prefix opencode-chat-menu ()
  "The commands of an OpenCode chat."
  [["Prompt"
    ("i" "write a prompt" opencode-chat-prompt)
    ("a" "answer permission/question" opencode-chat-answer)
    ("C-c C-k" "abort the reply" opencode-chat-abort)
    ("C-c C-t" "next agent" opencode-chat-cycle-agent)]
   ["Session"
    ("r" "rename" opencode-chat-rename)
    ("C" "compact" opencode-chat-compact)
    ("f" "fork whole session" opencode-chat-fork-session)
    ("F" "fork at message" opencode-chat-fork)
    ("s" "share" opencode-chat-share)
    ("S" "unshare" opencode-chat-unshare)
    ("^" "parent session" opencode-chat-goto-parent)]
   ["Undo"
    ("u" "undo last prompt" opencode-chat-undo)
    ("R" "revert to message" opencode-chat-revert)
    ("U" "unrevert (redo)" opencode-chat-unrevert)
    ("=" "revert's disk diff" opencode-chat-revert-diff)]]
  [["Show"
    ("t" "todos" opencode-chat-todos)
    ("d" "session diff" opencode-chat-diff)
    ("o" "older messages" opencode-chat-load-older)
    ("g" "reload" opencode-chat-reload)]
   ["Parts"
    ("TAB" "fold part" opencode-chat-toggle-fold)
    ("<backtab>" "cycle all folds" opencode-chat-cycle-folds)
    ("e" "edit text part" opencode-chat-edit-part)
    ("x" "delete part" opencode-chat-delete-part)
    ("D" "delete message" opencode-chat-delete-message)]
   ["Move"
    ("n" "next message" opencode-chat-next-message)
    ("p" "previous message" opencode-chat-previous-message)
    ("M-n" "next part" opencode-chat-next-part)
    ("M-p" "previous part" opencode-chat-previous-part)
    ("q" "quit" quit-window)]])

(transient-define-prefix opencode-prompt-menu ()
  "The commands of an OpenCode prompt."
  [["Send"
    ("C-c C-c" "send" opencode-prompt-send)
    ("C-c C-k" "abort the reply" opencode-prompt-abort)]
   ["Attach"
    ("C-c C-f" "a file" opencode-prompt-attach-file)
    ("C-c C-v" "clipboard image" opencode-prompt-paste-image)
    ("TAB" "complete @file or /command" completion-at-point)]
   ["Choose"
    ("C-c C-a" "agent" opencode-chat-set-agent)
    ("C-c C-t" "next agent" opencode-chat-cycle-agent)
    ("C-c C-m" "model" opencode-chat-set-model)]
   ["History"
    ("M-p" "previous prompt" opencode-prompt-history-previous)
    ("M-n" "next prompt" opencode-prompt-history-next)]])

(define-key opencode-chat-mode-map "?" #'opencode-chat-menu)
(define-key opencode-chat-mode-map "h" #'describe-mode)
(define-key opencode-prompt-mode-map (kbd "C-c ?") #'opencode-prompt-menu)

(provide 'opencode-chat)
;;; opencode-chat.el ends here

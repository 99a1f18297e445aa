;;; opencode-parts.el --- How a message and its parts are shown  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; A message is drawn as a header line (`opencode-parts-message-header')
;; over its parts.  A part is drawn as its text, or as a heading (one line) over a body
;; that folds: reasoning, tools, files, patches, steps...  Tools are
;; shown by the renderer registered for them in
;; `opencode-chat-tool-renderers' (bash and edit have one here), else
;; by default as their input and output; long output is cut behind a
;; button.  `opencode-parts-insert' inserts a part; the chat owns the
;; region it goes in, and its folding.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'json)
(require 'diff-mode)
(require 'opencode-lib)
(require 'opencode-api)

(declare-function opencode-chat-connection "opencode-chat" (&optional buffer))
(declare-function opencode-chat-open "opencode-chat" (conn session))
(declare-function opencode-chat-expand-part "opencode-chat" ())

;;;; Options and faces

(defcustom opencode-chat-fold-reasoning t
  "Whether reasoning parts start folded."
  :type 'boolean
  :group 'opencode)

(defcustom opencode-chat-fold-tools t
  "Whether tool parts start folded."
  :type 'boolean
  :group 'opencode)

(defcustom opencode-chat-tool-output-max 20000
  "Characters of a tool's output shown before a \"show all\" button.
nil shows every output whole.  The whole text is always one key away."
  :type '(choice (const :tag "No limit" nil) integer)
  :group 'opencode)

(defface opencode-chat-heading '((t :inherit font-lock-type-face))
  "Face of part headings (reasoning, tools, files...)."
  :group 'opencode)

(defface opencode-chat-reasoning '((t :inherit shadow :slant italic))
  "Face of reasoning text."
  :group 'opencode)

(defface opencode-chat-user '((t :inherit font-lock-keyword-face :weight bold))
  "Face of user message headers."
  :group 'opencode)

(defface opencode-chat-assistant '((t :inherit font-lock-function-name-face :weight bold))
  "Face of assistant message headers."
  :group 'opencode)

;;;; What a part is

(defun opencode-parts-synthetic-p (part)
  "Return non-nil if PART is text the server added, not the user or model.
The server adds such text for attached files (their contents) and other
context; it is shown folded, under a heading."
  (and (equal (plist-get part :type) "text") (eq (plist-get part :synthetic) t)))

(defun opencode-parts-foldable-p (part)
  "Return non-nil if PART has a heading and a body that can fold."
  (or (opencode-parts-synthetic-p part)
      (not (member (plist-get part :type) '("text" "step-start" "compaction")))))

(defun opencode-parts-default-folded-p (part)
  "Return non-nil if PART starts folded."
  (pcase (plist-get part :type)
    ("reasoning" opencode-chat-fold-reasoning)
    ("tool" opencode-chat-fold-tools)
    ((or "step-finish" "snapshot" "patch" "text") t)
    (_ nil)))

(defun opencode-parts--tool-input-summary (input)
  "Return a one-line summary of tool INPUT, a plist."
  (let ((v (or (plist-get input :command) (plist-get input :filePath)
               (plist-get input :pattern) (plist-get input :url)
               (plist-get input :description) (plist-get input :path))))
    (if (stringp v) (opencode--first-line v)
      (opencode--first-line
       (ignore-errors (json-serialize input :null-object :null :false-object :false))))))

(defun opencode-parts--duration (time)
  "Return a duration string from TIME's :start and :end (ms), or nil."
  (let ((s (plist-get time :start)) (e (plist-get time :end)))
    (and (numberp s) (numberp e) (format "%.1fs" (/ (- e s) 1000.0)))))

;;;; Tool renderers

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

(defun opencode-parts--rendered (part)
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

(defun opencode-parts--render-bash (part)
  "Show a bash tool PART as a command line and its output."
  (let* ((state (plist-get part :state))
         (input (plist-get state :input))
         (output (plist-get state :output)))
    (list :heading (format "$ %s  [%s]%s"
                           (opencode--first-line (or (plist-get input :command) ""))
                           (plist-get state :status)
                           (let ((d (opencode-parts--duration (plist-get state :time))))
                             (if d (concat " " d) "")))
          :body (concat (if (stringp (plist-get input :description))
                            (concat "# " (plist-get input :description) "\n")
                          "")
                        (if (stringp output) output "")
                        (if (stringp (plist-get state :error))
                            (propertize (concat "Error: " (plist-get state :error))
                                        'face 'opencode-chat-error)
                          "")))))

(defun opencode-parts--render-edit (part)
  "Show an edit tool PART as the diff it made, when the server gave one."
  (let* ((state (plist-get part :state))
         (diff (plist-get (plist-get state :metadata) :diff)))
    (when (stringp diff)
      (list :body (with-temp-buffer
                    (insert diff)
                    (delay-mode-hooks (diff-mode))
                    (font-lock-ensure)
                    (buffer-string))))))

(opencode-chat-define-tool-renderer "bash" #'opencode-parts--render-bash)
(opencode-chat-define-tool-renderer "edit" #'opencode-parts--render-edit)

;;;; Headings and bodies

(defvar-local opencode-parts--expanded nil
  "Ids of parts whose long output is shown whole.")

(defun opencode-parts-expand (id)
  "Show the output of part ID whole, past the size limit, from its next draw."
  (push id opencode-parts--expanded))

(defun opencode-parts--limit-output (part text)
  "Return TEXT of PART cut to `opencode-chat-tool-output-max' characters.
The cut ends in a button that shows the whole text; nothing is lost."
  (if (or (null opencode-chat-tool-output-max)
          (<= (length text) opencode-chat-tool-output-max)
          (member (plist-get part :id) opencode-parts--expanded))
      text
    (concat (substring text 0 opencode-chat-tool-output-max)
            "\n"
            (opencode--link
             (format "[… %d more characters: RET shows all]"
                     (- (length text) opencode-chat-tool-output-max))
             #'opencode-chat-expand-part
             'opencode-expand (plist-get part :id)))))

(defun opencode-parts--heading (part &optional rendered)
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
               (let ((d (opencode-parts--duration (plist-get state :time))))
                 (if d (concat " " d) ""))
               (let ((s (opencode-parts--tool-input-summary (plist-get state :input))))
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

(defun opencode-parts--pretty-json (value)
  "Return VALUE (a plist or vector) as indented JSON text."
  (with-temp-buffer
    (insert (json-serialize value :null-object :null :false-object :false))
    (ignore-errors (json-pretty-print-buffer))
    (buffer-string)))

(defun opencode-parts--body (part &optional rendered)
  "Return the body text of PART.
RENDERED is what its tool renderer made of it, if it has one."
  (pcase (plist-get part :type)
    ((guard (plist-get rendered :body))
     (opencode-parts--limit-output part (plist-get rendered :body)))
    ((or "text" "reasoning") (or (plist-get part :text) ""))
    ("tool"
     (let* ((state (plist-get part :state))
            (input (plist-get state :input))
            (output (plist-get state :output))
            (err (plist-get state :error)))
       (concat (let ((child (plist-get (plist-get state :metadata) :sessionId)))
                 (if (stringp child) (concat (opencode-parts--session-button child) "\n") ""))
               (if input (concat "Input:\n" (opencode-parts--pretty-json input) "\n") "")
               (if (stringp output)
                   (concat "Output:\n" (opencode-parts--limit-output part output))
                 "")
               (if (stringp err) (propertize (concat "Error: " err) 'face 'opencode-chat-error) ""))))
    ("patch" (mapconcat #'opencode-parts--file-button (plist-get part :files) "\n"))
    ("snapshot" (or (plist-get part :snapshot) ""))
    ("step-finish" "")
    ("file" (let ((url (or (plist-get part :url) "")))
              (if (string-prefix-p "file://" url)
                  (opencode-parts--file-button (substring url 7))
                url)))
    ("subtask" (or (plist-get part :prompt) ""))
    ("retry" (let ((e (plist-get part :error)))
               (or (plist-get (plist-get e :data) :message) (format "%S" e))))
    ("agent" "")
    (_ (opencode-parts--pretty-json part))))

;;;; Files and sessions

(defun opencode-parts--inside-project-p (file)
  "Return non-nil if FILE lies inside this chat's project directory."
  (let ((root (file-name-as-directory (opencode-connection-directory (opencode-chat-connection)))))
    (string-prefix-p root (expand-file-name file root))))

(defun opencode-chat-visit-file (file)
  "Visit FILE from a part, only when it lies inside the project."
  (if (opencode-parts--inside-project-p file)
      (find-file-other-window (expand-file-name file (opencode-connection-directory (opencode-chat-connection))))
    (user-error "Not opening %s: it is outside the project" file)))

(defun opencode-parts--file-button (file)
  "Return FILE as text that visits it (inside the project) on RET or click."
  (opencode--link file #'opencode-chat-visit-file-at-point
                  'help-echo "RET: visit this file" 'opencode-file file))

(defun opencode-chat-visit-file-at-point ()
  "Visit the file named at point."
  (interactive)
  (let ((file (get-text-property (point) 'opencode-file)))
    (if file (opencode-chat-visit-file file) (user-error "No file at point"))))

(defun opencode-parts--session-button (id)
  "Return text that opens the chat of child session ID on RET or click."
  (opencode--link (format "Sub-agent session %s (RET to open)" id)
                  #'opencode-chat-open-linked-session 'opencode-session-link id))

(defun opencode-chat-open-linked-session ()
  "Open the chat of the sub-agent session linked at point."
  (interactive)
  (let ((id (get-text-property (point) 'opencode-session-link)))
    (unless id (user-error "No session link at point"))
    (opencode-chat-open (opencode-chat-connection)
                        (or (ignore-errors
                              (opencode-api-session-get (opencode-chat-connection) id :sync t))
                            (list :id id)))))

;;;; Inserting a part

(defun opencode-parts-message-header (info)
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

(defun opencode-parts-insert (part folded)
  "Insert PART at point; return (BEG END BODY) positions.
FOLDED says whether a foldable part is folded now (its heading shows it)."
  (let ((beg (point)) body)
    (pcase (plist-get part :type)
      ("step-start" (setq body (point)))
      ("compaction"
       (insert (propertize "──── context compacted: earlier messages were summarised ────"
                           'face 'opencode-chat-dim))
       (setq body (point)))
      ((and "text" (guard (not (opencode-parts-synthetic-p part))))
       (setq body (point))
       (insert (opencode-parts--body part)))
      (_
       (let ((rendered (opencode-parts--rendered part)))
         (insert (propertize (concat (if folded "▸ " "▾ ") (opencode-parts--heading part rendered))
                             'face (if (equal (plist-get part :type) "step-finish")
                                       'opencode-chat-dim
                                     'opencode-chat-heading)))
         (setq body (point))
         (let ((text (opencode-parts--body part rendered)))
           (unless (string-empty-p text)
             (insert "\n"
                     (if (equal (plist-get part :type) "reasoning")
                         (propertize text 'face 'opencode-chat-reasoning)
                       text)))))))
    (list beg (point) body)))

(provide 'opencode-parts)
;;; opencode-parts.el ends here

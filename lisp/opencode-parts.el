;;; opencode-parts.el --- How a message and its parts are shown  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; A message is drawn as a header line (`opencode-parts-message-header')
;; over its parts.  A part is drawn as its text, or as a heading (one line) over a body
;; that folds: reasoning, tools, files, patches...  Tools are shown
;; by the renderer registered for them in `opencode-chat-tool-renderers'
;; (opencode-tools.el has one for each built-in tool), else by default
;; as their input and output; long output is cut behind a button.  Files
;; show their name, path and type, images themselves (or their size in
;; a terminal), never a data URL.  Steps are hidden unless
;; `opencode-chat-show-steps'; a reply's header has its tokens and cost.
;; `opencode-parts-insert' inserts a part; the chat owns the region it
;; goes in, and its folding.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'json)
(require 'url-util)
(require 'diff-mode)
(require 'opencode-lib)
(require 'opencode-api)
(require 'opencode-tools)
(require 'opencode-remote)

(declare-function opencode-diff-patch-file "opencode-diff" (file message-id))

(declare-function opencode-chat-connection "opencode-chat" (&optional buffer))
(declare-function opencode-chat-open "opencode-chat" (conn session))
(declare-function opencode-chat-expand-part "opencode-chat-nav" ())

;;;; Options and faces

(defcustom opencode-chat-fold-reasoning t
  "Whether reasoning parts start folded."
  :type 'boolean
  :group 'opencode)

(defcustom opencode-chat-fold-tools t
  "Whether tool parts start folded.
A tool that failed starts open, so that its error shows."
  :type 'boolean
  :group 'opencode)

(defcustom opencode-chat-tool-output-max 20000
  "Characters of a tool's output shown before a \"show all\" button.
nil shows every output whole.  The whole text is always one key away.
A shell command's output shows its end instead of its start (see
`opencode-chat-bash-tail-lines')."
  :type '(choice (const :tag "No limit" nil) integer)
  :group 'opencode)

(defcustom opencode-chat-show-steps nil
  "Whether each step of a reply shows a line with its tokens and cost.
The server ends each call of the model with a step; its tokens and cost
are on the reply's header whether or not the steps are shown.  A
change shows in a chat once it is redrawn (\\[opencode-chat-reload])."
  :type 'boolean
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
      (not (member (plist-get part :type) '("text" "step-start" "step-finish" "compaction")))))

(defun opencode-parts-default-folded-p (part)
  "Return non-nil if PART starts folded."
  (pcase (plist-get part :type)
    ("reasoning" opencode-chat-fold-reasoning)
    ;; A failed tool starts open: its error shows.
    ("tool" (and opencode-chat-fold-tools
                 (not (equal (plist-get (plist-get part :state) :status) "error"))))
    ((or "step-finish" "snapshot" "patch" "text" "file") t)
    (_ nil)))

(defun opencode-parts--usage (tokens cost)
  "Return TOKENS (:input :output :cache) and COST briefly, or nil if all zero.
As \"1.2k in · 340 out · 500 cached · $0.0123\"; zero figures are left out."
  (let* ((num (lambda (v) (if (numberp v) v 0)))
         (in (funcall num (plist-get tokens :input)))
         (out (funcall num (plist-get tokens :output)))
         (cached (funcall num (plist-get (plist-get tokens :cache) :read)))
         (items (delq nil (list (and (> (+ in out) 0) (format "%s in" (opencode--token-count in)))
                                (and (> (+ in out) 0) (format "%s out" (opencode--token-count out)))
                                (and (> cached 0) (format "%s cached" (opencode--token-count cached)))
                                (and (numberp cost) (> cost 0) (format "$%.4f" cost))))))
    (and items (string-join items " · "))))

;;;; Tools

(defvar-local opencode-parts--expanded nil
  "Ids of parts whose long output is shown whole.")

(defun opencode-parts-expand (id)
  "Show the output of part ID whole, past the size limit, from its next draw."
  (push id opencode-parts--expanded))

(defun opencode-parts-expanded-p (id)
  "Return non-nil if part ID is to be shown whole."
  (member id opencode-parts--expanded))

(defun opencode-parts-rendered (part)
  "Return how tool PART is shown, (:heading H :body B), or nil if not a tool.
Its renderer (see `opencode-chat-tool-renderer') says; what it leaves out,
or a tool with none, is shown by `opencode-tools-default'.  Values that
are not strings are dropped; a renderer that fails shows its error."
  (when (equal (plist-get part :type) "tool")
    (let* ((renderer (opencode-chat-tool-renderer (plist-get part :tool)))
           (r (and renderer
                   (condition-case err
                       (funcall renderer part)
                     (error (let ((msg (format "[renderer of %s failed: %s]" (plist-get part :tool)
                                               (opencode-error-text err))))
                              (list :heading msg :body msg))))))
           (heading (plist-get r :heading))
           (body (plist-get r :body)))
      (unless (and (stringp heading) (stringp body))
        (let ((d (opencode-tools-default part)))
          (unless (stringp heading) (setq heading (plist-get d :heading)))
          (unless (stringp body) (setq body (plist-get d :body)))))
      (list :heading (car (split-string heading "\n")) :body body))))

;;;; Headings and bodies

(defun opencode-parts--limit-output (part text)
  "Return TEXT of PART cut to `opencode-chat-tool-output-max' characters.
The cut ends in a button that shows the whole text; nothing is lost."
  (if (or (null opencode-chat-tool-output-max)
          (<= (length text) opencode-chat-tool-output-max)
          (opencode-parts-expanded-p (plist-get part :id)))
      text
    (concat (substring text 0 opencode-chat-tool-output-max)
            "\n"
            (opencode--link
             (format "[… %d more characters: RET shows all]"
                     (- (length text) opencode-chat-tool-output-max))
             #'opencode-chat-expand-part
             'opencode-expand (plist-get part :id)))))

(defun opencode-parts-unjson (text)
  "Return TEXT with a trailing JSON object shown as `key: value' pairs.
The server writes \"Called the Read tool with the following input: {…}\":
that becomes \"Read tool: FILE\"."
  (if (string-match "\\`\\(.*?\\)\\s-*\\({.*}\\)\\s-*\\'" text)
      (let ((input (ignore-errors
                     (json-parse-string (match-string 2 text) :object-type 'plist
                                        :null-object :null :false-object :false)))
            (lead (string-remove-suffix ":" (match-string 1 text))))
        (cond ((null input) text)
              ((string-match "\\`Called the \\(.*\\) tool with the following input\\'" lead)
               (format "%s tool: %s" (match-string 1 lead)
                       (opencode-tools-relative (opencode-tools-summary input))))
              (t (concat lead ": " (opencode-tools-summary input)))))
    text))

(defun opencode-parts--range (&optional first last)
  "Return the lines FIRST to LAST as a file name's suffix: \":4-9\", \":4\"."
  (cond ((not (numberp first)) "")
        ((or (not (numberp last)) (= first last)) (format ":%d" first))
        (t (format ":%d-%d" first last))))

(defun opencode-parts--read-name (read)
  "Return the name of what READ holds, with its lines.
READ is from `opencode-tools-parse-read'.  Relative to the project:
\"src/calc.py:4-9\", a folder \"src/\"."
  (concat (opencode-tools-relative (plist-get read :path))
          (if (equal (plist-get read :type) "directory") ""
            (opencode-parts--range (plist-get read :first) (plist-get read :last)))))

(defun opencode-parts-synthetic-heading (text)
  "Return the heading of synthetic TEXT the server added.
It always says something: what the server read, or the text's first line."
  (let* ((read (opencode-tools-parse-read text))
         (title (if read (opencode-parts--read-name read)
                  (opencode--first-line (opencode-parts-unjson (or text "")) 60))))
    (concat "Context added by the server: "
            (if (string-empty-p (string-trim title)) "(nothing)" title))))

(defun opencode-parts--read-body (read)
  "Return the text of READ (`opencode-tools-parse-read'), with its note, dimly."
  (concat (if (equal (plist-get read :type) "directory")
              ;; The blank line before a folder's count is the wrapper's.
              (string-trim-right (plist-get read :text) "\n+")
            (plist-get read :text))
          (if (plist-get read :note)
              (concat "\n" (propertize (format "(%s)" (plist-get read :note))
                                       'face 'opencode-chat-dim))
            "")))

(defun opencode-parts--synthetic-body (text)
  "Return the body of synthetic TEXT the server added, unwrapped."
  (let ((read (opencode-tools-parse-read text)))
    (if read
        (concat (opencode-parts-file-button (plist-get read :path) (plist-get read :first)
                                            (opencode-parts--read-name read))
                "\n" (opencode-parts--read-body read))
      (opencode-parts-unjson (or text "")))))

;;;; What the server added for an attached file

(defun opencode-parts--read-call-path (part)
  "Return the file synthetic PART says the server read for an attachment, or nil.
The server adds \"Called the Read tool with the following input:
{\"filePath\":…}\" before what it read."
  (let ((text (plist-get part :text)))
    (and (opencode-parts-synthetic-p part) (stringp text)
         (string-match "\\`Called the Read tool with the following input: *\\({.*}\\)[ \t\n]*\\'"
                       text)
         (let ((path (plist-get (ignore-errors
                                  (json-parse-string (match-string 1 text) :object-type 'plist))
                                :filePath)))
           (and (stringp path) path)))))

(defun opencode-parts--file-url-path (part)
  "Return the file or folder file PART's file: URL names, or nil.
Without its query (a line range)."
  (let ((url (plist-get part :url)))
    (and (stringp url) (string-prefix-p "file://" url)
         (url-unhex-string (replace-regexp-in-string "[?#].*\\'" "" (substring url 7))))))

(defun opencode-parts--same-file-p (a b)
  "Return non-nil if file names A and B name the same file or folder."
  (and (stringp a) (stringp b)
       (equal (directory-file-name a) (directory-file-name b))))

(defun opencode-parts--attachment-of (path files)
  "Return the file part among FILES that attached PATH, or nil.
PATH is what the server read: a file: URL's file, or the name of a
data: URL's file."
  (cl-find-if (lambda (f)
                (or (opencode-parts--same-file-p path (opencode-parts--file-url-path f))
                    (and (string-prefix-p "data:" (or (plist-get f :url) ""))
                         (equal path (plist-get f :filename)))))
              files))

(defun opencode-parts-attachment-context (parts)
  "Return which synthetic parts of PARTS the server added for attachments.
PARTS are a message's parts, in order.  For each file attached, the
server adds the call of its Read tool, then what it read (or why it
could not); the value is an alist, synthetic part id -> the file part
it belongs to.  Those parts say nothing the file part does not show."
  (let ((files (cl-remove-if-not (lambda (p) (equal (plist-get p :type) "file")) parts))
        (after-call nil) (result nil))
    (dolist (p parts)
      (let ((call (opencode-parts--read-call-path p))
            (read (and (opencode-parts-synthetic-p p)
                       (opencode-tools-parse-read (plist-get p :text)))))
        (cond
         (call
          (let ((owner (opencode-parts--attachment-of call files)))
            (when owner (push (cons (plist-get p :id) owner) result))
            (setq after-call owner)))
         ((not (opencode-parts-synthetic-p p)) (setq after-call nil))
         (t
          ;; What was read names its file; the rest (a data: URL's text,
          ;; a failure) follows the call it answers.
          (let ((owner (if read (opencode-parts--attachment-of (plist-get read :path) files)
                         after-call)))
            (when owner (push (cons (plist-get p :id) owner) result))
            (setq after-call nil))))))
    (nreverse result)))

(defun opencode-parts--heading (part &optional rendered)
  "Return the heading line of foldable PART (without newline).
RENDERED is how it is shown if it is a tool (`opencode-parts-rendered')."
  (pcase (plist-get part :type)
    ((guard (plist-get rendered :heading)) (plist-get rendered :heading))
    ("reasoning" "Thinking")
    ("text" (opencode-parts-synthetic-heading (plist-get part :text)))
    ("file" (opencode-parts--file-heading part))
    ("patch" (format "Patch: %s" (opencode--plural (length (plist-get part :files)) "file")))
    ("snapshot" "Snapshot")
    ("agent" (format "Agent %s" (plist-get part :name)))
    ("subtask" (format "Subtask (%s): %s" (plist-get part :agent)
                       (opencode--first-line (plist-get part :description))))
    ("retry" (format "Retry %s" (plist-get part :attempt)))
    (type (format "Part %s" type))))

(defun opencode-parts--body (part &optional rendered)
  "Return the body text of PART.
RENDERED is how it is shown if it is a tool (`opencode-parts-rendered')."
  (pcase (plist-get part :type)
    ((guard (plist-get rendered :body))
     (opencode-parts--limit-output part (plist-get rendered :body)))
    ((and "text" (guard (opencode-parts-synthetic-p part)))
     (opencode-parts--limit-output part (opencode-parts--synthetic-body (plist-get part :text))))
    ((or "text" "reasoning") (or (plist-get part :text) ""))
    ("patch" (mapconcat (lambda (f) (opencode-parts-patch-file-button f (plist-get part :messageID)))
                        (plist-get part :files) "\n"))
    ("snapshot" (or (plist-get part :snapshot) ""))
    ("file" (opencode-parts--file-body part))
    ("subtask" (or (plist-get part :prompt) ""))
    ("retry" (let* ((e (plist-get part :error))
                    (msg (and (consp e) (plist-get (plist-get e :data) :message))))
               ;; The provider's words; its error's name only without them.
               (cond ((and (stringp msg) (not (string-empty-p msg))) msg)
                     ((and (consp e) (stringp (plist-get e :name))) (plist-get e :name))
                     (t "the model's request failed"))))
    ("agent" "")
    (_ (opencode-tools-key-values
        (cl-loop for (k v) on part by #'cddr
                 unless (memq k '(:id :sessionID :messageID)) append (list k v))))))

;;;; Files and images

(defun opencode-parts--data-url (url)
  "Return (MIME . BYTES) of data URL URL in base64, or nil."
  (when (and (stringp url)
             (string-match "\\`data:\\([^;,]*\\)\\(?:;[^;,]*\\)*;base64," url))
    (let ((mime (match-string 1 url)))
      (ignore-errors (cons mime (base64-decode-string (substring url (match-end 0))))))))

(defun opencode-parts--u16 (bytes i &optional little)
  "Return the 16-bit number at I in BYTES, big-endian unless LITTLE."
  (if little (logior (aref bytes i) (ash (aref bytes (1+ i)) 8))
    (logior (ash (aref bytes i) 8) (aref bytes (1+ i)))))

(defun opencode-parts--u32 (bytes i)
  "Return the big-endian 32-bit number at I in BYTES."
  (logior (ash (opencode-parts--u16 bytes i) 16) (opencode-parts--u16 bytes (+ i 2))))

(defun opencode-parts-image-size (bytes)
  "Return (TYPE WIDTH HEIGHT) of image BYTES (a unibyte string), or nil.
TYPE is \"PNG\", \"GIF\", \"JPEG\" or \"WebP\"; read from the header,
with no image library: a terminal Emacs can say it too."
  (ignore-errors
    (let ((n (length bytes)))
      (cond
       ((and (>= n 24) (string-prefix-p "\211PNG\r\n\032\n" bytes)
             (equal (substring bytes 12 16) "IHDR"))
        (list "PNG" (opencode-parts--u32 bytes 16) (opencode-parts--u32 bytes 20)))
       ((and (>= n 10) (string-prefix-p "GIF8" bytes))
        (list "GIF" (opencode-parts--u16 bytes 6 t) (opencode-parts--u16 bytes 8 t)))
       ((and (>= n 4) (string-prefix-p "\377\330" bytes))
        ;; Walk the segments to a start of frame (SOF0-15 but DHT, JPG, DAC).
        (let ((i 2) found)
          (while (and (not found) (< (+ i 9) n) (= (aref bytes i) #xff))
            (let ((marker (aref bytes (1+ i))))
              (cond ((= marker #xff) (setq i (1+ i)))
                    ((and (<= #xc0 marker #xcf) (not (memq marker '(#xc4 #xc8 #xcc))))
                     (setq found (list "JPEG" (opencode-parts--u16 bytes (+ i 7))
                                       (opencode-parts--u16 bytes (+ i 5)))))
                    (t (setq i (+ i 2 (opencode-parts--u16 bytes (+ i 2))))))))
          (or found (list "JPEG" nil nil))))
       ((and (>= n 30) (string-prefix-p "RIFF" bytes) (equal (substring bytes 8 12) "WEBP"))
        (pcase (substring bytes 12 16)
          ("VP8 " (list "WebP" (logand (opencode-parts--u16 bytes 26 t) #x3fff)
                        (logand (opencode-parts--u16 bytes 28 t) #x3fff)))
          ("VP8L" (let ((b1 (aref bytes 22)) (b2 (aref bytes 23)) (b3 (aref bytes 24)))
                    (list "WebP" (1+ (logior (aref bytes 21) (ash (logand b1 #x3f) 8)))
                          (1+ (logior (ash b1 -6) (ash b2 2) (ash (logand b3 #xf) 10))))))
          ("VP8X" (list "WebP"
                        (1+ (logior (aref bytes 24) (ash (aref bytes 25) 8) (ash (aref bytes 26) 16)))
                        (1+ (logior (aref bytes 27) (ash (aref bytes 28) 8) (ash (aref bytes 29) 16)))))
          (_ (list "WebP" nil nil))))))))

(defun opencode-parts--image-text (mime bytes)
  "Return \"[image PNG 640×480]\" for image BYTES of type MIME."
  (let ((size (opencode-parts-image-size bytes)))
    (format "[image %s%s]"
            (or (car size) (upcase (replace-regexp-in-string "\\`image/" "" (or mime "?"))))
            (if (and (numberp (nth 1 size)) (numberp (nth 2 size)))
                (format " %d×%d" (nth 1 size) (nth 2 size))
              ""))))

(defun opencode-parts--image (mime bytes)
  "Return image BYTES of type MIME as text: the image in a graphical frame.
Elsewhere, or if Emacs cannot show it, its type and size in words."
  (let ((text (opencode-parts--image-text mime bytes))
        (image (and (display-graphic-p)
                    (ignore-errors (create-image bytes nil t :max-width 480 :max-height 360)))))
    (if image (propertize text 'display image) text)))

(defun opencode-parts--file-lines (part)
  "Return the first and last line of file PART's range, from its URL, or nil."
  (let ((url (or (plist-get part :url) "")))
    (and (string-prefix-p "file://" url)
         (string-match "[?&]start=\\([0-9]+\\)" url)
         (let ((first (string-to-number (match-string 1 url))))
           (list first (and (string-match "[?&]end=\\([0-9]+\\)" url)
                            (string-to-number (match-string 1 url))))))))

(defun opencode-parts--file-name (part)
  "Return the name of what file PART attaches, as the chat says it.
A file or folder relative to the project, with its line range
\(\"src/calc.py:4-9\", \"src/\"); else the part's file name."
  (let* ((path (opencode-parts--file-url-path part))
         (source (plist-get (plist-get part :source) :path))
         (name (cond (path (opencode-tools-relative path))
                     ((stringp source) source)
                     ((stringp (plist-get part :filename)) (plist-get part :filename))
                     (t "")))
         (folder (equal (plist-get part :mime) "application/x-directory")))
    (concat (if (and folder (not (string-suffix-p "/" name))) (concat name "/") name)
            (apply #'opencode-parts--range (opencode-parts--file-lines part)))))

(defun opencode-parts--file-heading (part)
  "Return the heading of file PART: one line, what it is and its name.
A file or folder attached is named relative to the project, with its
line range; an image or data sent whole says its size."
  (let* ((mime (plist-get part :mime))
         (data (opencode-parts--data-url (plist-get part :url)))
         (image (and (stringp mime) (string-prefix-p "image/" mime)))
         (size (and image data (opencode-parts-image-size (cdr data)))))
    (concat (cond (image "Image ")
                  ((equal mime "application/x-directory") "Folder ")
                  (t "File "))
            (opencode-parts--file-name part)
            (cond ((and image data)
                   (format "  (%s%s)" (or (car size) mime)
                           (if (and (numberp (nth 1 size)) (numberp (nth 2 size)))
                               (format " %d×%d" (nth 1 size) (nth 2 size))
                             "")))
                  (data (format "  (%s)" (opencode--plural (length (cdr data)) "byte")))
                  ((and (stringp mime) (not (string-prefix-p "text/" mime))
                        (not (equal mime "application/x-directory")))
                   (format "  (%s)" mime))
                  (t "")))))

(defun opencode-parts--file-body (part)
  "Return the body of file PART: its file as a button and what the server read.
The image it holds, or the text of a data: URL; no other data is shown.
What the server read comes with PART as :opencode-context, the
synthetic parts it added for it (`opencode-parts-attachment-context')."
  (let* ((url (or (plist-get part :url) ""))
         (data (opencode-parts--data-url url))
         (path (opencode-parts--file-url-path part))
         (context (delq nil (mapcar (lambda (p)
                                      (and (not (opencode-parts--read-call-path p))
                                           (plist-get p :text)))
                                    (plist-get part :opencode-context))))
         (text (cond ((and data (string-prefix-p "image/" (or (car data) "")))
                      (opencode-parts--image (car data) (cdr data)))
                     ((and data (string-prefix-p "text/" (or (car data) "")))
                      (string-trim-right (decode-coding-string (cdr data) 'utf-8) "\n+"))
                     (data (propertize "(not shown)" 'face 'opencode-chat-dim))
                     ((string-prefix-p "data:" url) (propertize "(not shown)" 'face 'opencode-chat-dim))
                     (context
                      (mapconcat (lambda (c)
                                   (let ((read (opencode-tools-parse-read c)))
                                     (if read (opencode-parts--read-body read) c)))
                                 context "\n"))
                     ((or path (string-empty-p url)) nil)
                     (t url))))
    (opencode-parts--limit-output
     part
     (string-join (delq nil (list (and path (opencode-parts-file-button
                                             path (car (opencode-parts--file-lines part))
                                             (opencode-parts--file-name part)))
                                  text))
                  "\n"))))

;;;; Files and sessions

(defun opencode-parts--inside-project-p (file)
  "Return non-nil if FILE lies inside this chat's project directory."
  (let ((root (file-name-as-directory (opencode-connection-directory (opencode-chat-connection)))))
    (string-prefix-p root (expand-file-name file root))))

(defun opencode-chat-visit-file (file &optional line)
  "Visit FILE from a part, at LINE if given, only when it lies inside the project.
FILE is as the server names it: in a remote project, a path on its
host, visited through TRAMP."
  (setq file (opencode-remote-local-name
              file (opencode-connection-directory (opencode-chat-connection))))
  (if (opencode-parts--inside-project-p file)
      (progn
        (find-file-other-window (expand-file-name file (opencode-connection-directory (opencode-chat-connection))))
        (when (and (integerp line) (> line 0))
          (goto-char (point-min))
          (forward-line (1- line))))
    (user-error "Not opening %s: it is outside the project" file)))

(defun opencode-parts-file-button (file &optional line label)
  "Return LABEL (default FILE) as text that visits FILE on RET or click.
With LINE, at that line.  Only files inside the project open."
  (opencode--link (or label file) #'opencode-chat-visit-file-at-point
                  'help-echo (if line (format "RET: visit %s at line %d" file line)
                               (format "RET: visit %s" file))
                  'opencode-file file 'opencode-line line))

(defun opencode-parts-patch-file-button (file message-id)
  "Return FILE as text that shows its diff on RET or click.
The diff is what the prompt of MESSAGE-ID (the patch part's reply) changed."
  (opencode--link file #'opencode-chat-patch-file-at-point
                  'help-echo (format "RET: show the diff of %s" file)
                  'opencode-file file 'opencode-patch-message message-id))

(defun opencode-chat-patch-file-at-point ()
  "Show the diff of the file of the patch part at point."
  (interactive)
  (let ((file (get-text-property (point) 'opencode-file)))
    (unless file (user-error "No file at point"))
    (opencode-diff-patch-file file (get-text-property (point) 'opencode-patch-message))))

(defun opencode-chat-visit-file-at-point ()
  "Visit the file named at point, at its line if it names one."
  (interactive)
  (let ((file (get-text-property (point) 'opencode-file)))
    (if file (opencode-chat-visit-file file (get-text-property (point) 'opencode-line))
      (user-error "No file at point"))))

(defun opencode-parts-session-button (id)
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
  "Return the header line of message INFO.
A reply's tokens and cost are its steps' (the server sums them on the
message); a reply the user stopped says so, dimly, not as an error:
one with the server's abort error, or that the chat marked
:opencode-aborted (a step of it was stopped)."
  (let ((time (plist-get (plist-get info :time) :created))
        (err (plist-get info :error)))
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
                (let ((usage (opencode-parts--usage (plist-get info :tokens) (plist-get info :cost))))
                  (if usage (concat "  " usage) ""))
                (if (numberp time) (format-time-string "  %F %T" (/ time 1000.0)) "")
                (if (or (opencode-api-aborted-p err) (plist-get info :opencode-aborted))
                    "  Aborted"
                  ""))
               'face 'opencode-chat-dim)
              (if (and err (not (opencode-api-aborted-p err)))
                  (concat "\n" (propertize (format "Error: %s" (opencode-api-error-text err))
                                           'face 'opencode-chat-error))
                "")))))

(defun opencode-parts--step-line (part)
  "Return the line of step-finish PART: why it ended, its tokens and cost."
  (let ((usage (opencode-parts--usage (plist-get part :tokens) (plist-get part :cost))))
    (propertize (format "Step done (%s)%s" (or (plist-get part :reason) "?")
                        (if usage (concat ": " usage) ""))
                'face 'opencode-chat-dim)))

(defun opencode-parts-insert (part folded)
  "Insert PART at point; return (BEG END BODY) positions.
FOLDED says whether a foldable part is folded now (its heading shows it)."
  (let ((beg (point)) body)
    (pcase (plist-get part :type)
      ("step-start" (setq body (point)))
      ("step-finish"
       (when opencode-chat-show-steps (insert (opencode-parts--step-line part)))
       (setq body (point)))
      ("compaction"
       (insert (propertize "──── context compacted: earlier messages were summarised ────"
                           'face 'opencode-chat-dim))
       (setq body (point)))
      ((and "text" (guard (not (opencode-parts-synthetic-p part))))
       (setq body (point))
       (insert (opencode-parts--body part)))
      (_
       (let ((rendered (opencode-parts-rendered part)))
         (let ((heading (concat (if folded "▸ " "▾ ") (opencode-parts--heading part rendered))))
           ;; Under the faces of its own (a link to a diff...).
           (add-face-text-property 0 (length heading) 'opencode-chat-heading t heading)
           (insert heading))
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

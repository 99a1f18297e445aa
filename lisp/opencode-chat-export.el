;;; opencode-chat-export.el --- Copy a chat's parts, export its session  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; `opencode-chat-copy' puts the part (or message) at point on the kill
;; ring as Markdown, `opencode-chat-copy-code-block' the code of the
;; fenced block at point, and `opencode-chat-export' writes the whole
;; session as a Markdown or an Org file and opens it.
;;
;; Everything here is made from the parts the server sent, as the
;; session's timeline holds them (opencode-timeline.el: the plists of
;; `opencode-chat-messages'), never from the chat's displayed text, so
;; a session exports with no chat open (`opencode-chat-export' given a
;; connection and a session id loads its timeline).  How they are
;; written, as Markdown or Org, is in opencode-chat-export-formats.el.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'json)
(require 'opencode-lib)
(require 'opencode-api)
(require 'opencode-connection)
(require 'opencode-chat)
(require 'opencode-timeline)
(require 'opencode-chat-export-formats)

(declare-function markdown-mode "ext:markdown-mode" ())

;;;; Options

(defcustom opencode-chat-export-format 'markdown
  "The format `opencode-chat-export' proposes: `markdown' or `org'."
  :type '(choice (const :tag "Markdown" markdown) (const :tag "Org" org))
  :group 'opencode)

(defcustom opencode-chat-export-directory nil
  "Directory `opencode-chat-export' proposes for its files.
nil proposes \"opencode/exports/\" in `user-emacs-directory', outside
every project: an export in the project would show in its version
control and to the agent.  `project' proposes the session's project
directory."
  :type '(choice (const :tag "opencode/exports/ in user-emacs-directory" nil)
                 (const :tag "The project's directory" project)
                 directory)
  :group 'opencode)

;;;; Code blocks

(defun opencode-chat-export--code-blocks (text)
  "Return the fenced code blocks of Markdown TEXT, in order.
Each is a plist (:lang LANG :code CODE :beg BEG :end END): BEG and END
delimit the block with its fences in TEXT, CODE is what lies between
the fences.  A block not closed yet runs to the end of TEXT."
  (let ((blocks nil) (start 0))
    (while (and (< start (length text))
                (string-match "^ \\{0,3\\}\\(`\\{3,\\}\\|~\\{3,\\}\\)[ \t]*\\([^`\n]*\\)$" text start))
      (let* ((beg (match-beginning 0))
             (code-beg (min (length text) (1+ (match-end 0))))
             (fence (match-string 1 text))
             (lang (car (split-string (match-string 2 text))))
             (close (format "^ \\{0,3\\}%s%s*[ \t]*$" (regexp-quote fence)
                            (regexp-quote (substring fence 0 1))))
             (closed (string-match close text code-beg))
             (code-end (if closed (match-beginning 0) (length text)))
             (end (if closed (match-end 0) (length text))))
        (push (list :lang (or lang "") :code (substring text code-beg code-end)
                    :beg beg :end end)
              blocks)
        (setq start (if closed (max end (1+ beg)) (length text)))))
    (nreverse blocks)))

(defun opencode-chat-export--part-region (pos)
  "Return (BEG . END), the region of the part shown at POS, or nil."
  (let ((id (get-text-property pos 'opencode-part)))
    (when id
      (let ((beg pos) (end pos))
        (while (and (> beg (point-min))
                    (equal (get-text-property (1- beg) 'opencode-part) id))
          (setq beg (previous-single-property-change beg 'opencode-part nil (point-min))))
        (while (and (< end (point-max))
                    (equal (get-text-property end 'opencode-part) id))
          (setq end (next-single-property-change end 'opencode-part nil (point-max))))
        (cons beg end)))))

(defun opencode-chat-export--code-block-at (pos)
  "Return the code block of the text part at POS, a plist as `--code-blocks'.
The part's text is its source; where it is shown says which block is
meant: the one around POS, else the part's only block."
  (let* ((part (opencode-chat-part-at pos))
         (text (plist-get part :text))
         (blocks (and (stringp text) (opencode-chat-export--code-blocks text)))
         (region (and blocks (opencode-chat-export--part-region pos))))
    (when region
      (let* ((shown (buffer-substring-no-properties (car region) (cdr region)))
             (text-beg (- (cdr region) (length text)))
             (offset (- pos text-beg)))
        (or
         ;; The source is shown as it is (after a heading, if any).
         (and (>= text-beg (car region))
              (string= (substring shown (- text-beg (car region))) text)
              (cl-find-if (lambda (b) (and (>= offset (plist-get b :beg))
                                           (< offset (max (1+ (plist-get b :beg)) (plist-get b :end)))))
                          blocks))
         ;; Shown otherwise: the block shown around POS, by its rank.
         (let* ((shown-blocks (opencode-chat-export--code-blocks shown))
                (rel (- pos (car region)))
                (n (cl-position-if (lambda (b) (and (>= rel (plist-get b :beg))
                                                    (< rel (max (1+ (plist-get b :beg))
                                                                (plist-get b :end)))))
                                   shown-blocks)))
           (and n (= (length shown-blocks) (length blocks)) (nth n blocks)))
         (and (= (length blocks) 1) (car blocks)))))))

;;;; Commands

(defun opencode-chat-export--check-chat ()
  "Signal a user error unless the current buffer is a chat."
  (unless (derived-mode-p 'opencode-chat-mode)
    (user-error "Not in an OpenCode chat")))

(defun opencode-chat-export--session ()
  "Return the session plist of this chat, with its :id."
  (let ((session (opencode-chat-session)))
    (if (plist-get session :id) session
      (append (list :id (opencode-chat-session-id)) session))))

(defun opencode-chat-export--source (conn session-id)
  "Return (SESSION . MESSAGES) of SESSION-ID on CONN, to export.
SESSION is its plist, MESSAGES as `opencode-chat-messages' returns
them: from its chat's timeline when a chat is open, else from a
timeline loaded from the server now (`opencode-timeline-load')."
  (let ((chat (opencode-chat-buffer conn session-id)))
    (if chat
        (with-current-buffer chat
          (cons (opencode-chat-export--session) (opencode-chat-messages)))
      (let* ((known (opencode-store-session conn session-id))
             (session (if known (opencode-session-data known)
                        (opencode-api-session-get conn session-id :sync t))))
        (cons (if (plist-get session :id) session (append (list :id session-id) session))
              (opencode-timeline-plists (opencode-timeline-load conn session-id)))))))

(defun opencode-chat-export--kill (text what)
  "Put TEXT on the kill ring without properties, and say it was WHAT."
  (kill-new (substring-no-properties text))
  (message "Copied %s (%s)" what (opencode--plural (length text) "character")))

;;;###autoload
(defun opencode-chat-copy (&optional whole-message)
  "Copy the part at point as Markdown, or the message when on its header.
With a prefix argument WHOLE-MESSAGE, copy the whole message at point.
Text is copied as its Markdown source, reasoning as a block quote, a
tool as a heading line over its fenced input and output."
  (interactive "P")
  (opencode-chat-export--check-chat)
  (let* ((part (and (not whole-message) (opencode-chat-part-at)))
         (text (and part (opencode-chat-export-part-markdown part))))
    (if (and text (not (string-empty-p text)))
        (opencode-chat-export--kill text (format "the %s part" (plist-get part :type)))
      (let ((msg (opencode-chat-message-at)))
        (unless msg (user-error "No message at point"))
        (opencode-chat-export--kill (opencode-chat-export-message-markdown msg)
                                    "the message")))))

;;;###autoload
(defun opencode-chat-copy-code-block ()
  "Copy the code of the fenced code block at point, without its fences."
  (interactive)
  (opencode-chat-export--check-chat)
  (let ((block (opencode-chat-export--code-block-at (point))))
    (unless block (user-error "No code block at point"))
    (opencode-chat-export--kill (plist-get block :code)
                                (let ((lang (plist-get block :lang)))
                                  (if (string-empty-p lang) "the code block"
                                    (format "the %s code block" lang))))))

(defun opencode-chat-export--default-file (session format)
  "Return the file name proposed for exporting SESSION as FORMAT."
  (let* ((title (or (plist-get session :title) ""))
         (slug (string-trim (replace-regexp-in-string "[^[:alnum:]]+" "-" (downcase title)) "-+" "-+"))
         (slug (if (string-empty-p slug) (or (plist-get session :id) "session")
                 (substring slug 0 (min 60 (length slug))))))
    (concat slug (if (eq format 'org) ".org" ".md"))))

(defun opencode-chat-export--directory (&optional conn)
  "Return the directory proposed for exports of this chat, or of CONN's sessions.
See `opencode-chat-export-directory'."
  (pcase opencode-chat-export-directory
    ('nil (locate-user-emacs-file "opencode/exports/"))
    ('project (or (ignore-errors (opencode-connection-directory
                                  (or conn (opencode-chat-connection))))
                  default-directory))
    (dir dir)))

(defun opencode-chat-export--set-mode (format)
  "Put the current buffer in the major mode of FORMAT, unless it is in it."
  (pcase format
    ('org (unless (derived-mode-p 'org-mode) (org-mode)))
    (_ (cond ((fboundp 'markdown-mode)
              (unless (derived-mode-p 'markdown-mode) (markdown-mode)))
             ((not (derived-mode-p 'text-mode)) (text-mode))))))

(defun opencode-chat-export--read-args ()
  "Read the arguments of `opencode-chat-export'."
  (opencode-chat-export--check-chat)
  (let* ((default (symbol-name opencode-chat-export-format))
         (format (intern (completing-read (format-prompt "Export as" default)
                                          '("markdown" "org") nil t nil nil default)))
         (name (opencode-chat-export--default-file (opencode-chat-export--session) format)))
    (list format
          (unless current-prefix-arg
            (make-directory (opencode-chat-export--directory) t)
            (let ((file (read-file-name (format-prompt "Export to" name)
                                        (file-name-as-directory (opencode-chat-export--directory))
                                        nil nil name)))
              (when (directory-name-p file) (setq file (expand-file-name name file)))
              (when (and (file-exists-p file)
                         (not (y-or-n-p (format "%s exists; overwrite it? "
                                                (abbreviate-file-name file)))))
                (user-error "Not exported"))
              file)))))

;;;###autoload
(defun opencode-chat-export (format &optional file conn session-id)
  "Export this chat's session as FORMAT, `markdown' or `org', to FILE; open it.
Interactively, ask for the format and the file, proposing a name made
of the session's title in \"opencode/exports/\" of
`user-emacs-directory', outside the project, made if missing (see
`opencode-chat-export-directory').  With a prefix argument, or FILE
nil, export to a buffer that visits no file.  Return that buffer.

\\<opencode-chat-mode-map>Every message the chat holds is exported; \\[opencode-chat-load-older]
loads older ones first.  Markdown keeps the text as the model wrote it;
Org gets a heading per prompt and per reply (its steps merged, as in
the chat) and the Markdown turned into Org, with tools in drawers that
start folded.

From Lisp, with CONN and SESSION-ID, export that session of CONN
instead, whether or not a chat shows it: with none, its messages are
loaded from the server first, every one of them."
  (interactive (opencode-chat-export--read-args))
  (unless (and conn session-id) (opencode-chat-export--check-chat))
  (let* ((source (if (and conn session-id)
                     (opencode-chat-export--source conn session-id)
                   (cons (opencode-chat-export--session) (opencode-chat-messages))))
         (session (car source))
         (messages (cdr source))
         (text (if (eq format 'org)
                   (opencode-chat-export-org messages session)
                 (opencode-chat-export-markdown messages session)))
         buf)
    (if file
        (let* ((file (expand-file-name file))
               (visiting (get-file-buffer file)))
          (when (and visiting (buffer-modified-p visiting))
            (user-error "%s has unsaved changes: save or kill its buffer first"
                        (abbreviate-file-name file)))
          (make-directory (file-name-directory file) t)
          (let ((coding-system-for-write 'utf-8-unix))
            (write-region text nil file nil 'silent))
          (if visiting
              (with-current-buffer visiting (revert-buffer t t t))
            (setq visiting (find-file-noselect file)))
          (setq buf visiting)
          (message "Exported %s to %s" (opencode--plural (length messages) "message")
                   (abbreviate-file-name file)))
      (setq buf (generate-new-buffer
                 (format "*opencode export: %s*"
                         (or (plist-get session :title) (plist-get session :id)))))
      (with-current-buffer buf (insert text) (goto-char (point-min))))
    (with-current-buffer buf
      (opencode-chat-export--set-mode format)
      (goto-char (point-min)))
    (when (called-interactively-p 'any) (pop-to-buffer buf))
    buf))

(provide 'opencode-chat-export)
;;; opencode-chat-export.el ends here

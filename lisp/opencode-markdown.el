;;; opencode-markdown.el --- Markdown faces for text parts  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; `opencode-markdown-fontify' gives the Markdown of a region its faces:
;; headings, emphasis, inline code, links as buttons, and fenced code
;; blocks fontified by their language's major mode (in a hidden buffer
;; kept per mode).  The chat calls it on text parts.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'opencode-lib)

;;;; Options and faces

(defcustom opencode-chat-fontify-max 60000
  "Largest text part, in characters, whose Markdown is fontified.
Larger parts are shown as plain text (all of it), so huge outputs stay fast."
  :type 'integer
  :group 'opencode)

(defcustom opencode-chat-fontify-max-blocks 30
  "Fenced code blocks of one text part fontified in their language's mode.
Later blocks keep the plain code face, to keep long answers fast."
  :type 'integer
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

(defface opencode-chat-markdown-heading '((t :inherit outline-1 :weight bold))
  "Face of Markdown headings in text parts."
  :group 'opencode)

(defface opencode-chat-markdown-code '((t :inherit font-lock-constant-face))
  "Face of inline code in text parts."
  :group 'opencode)

;;;; Fontifying

(defun opencode-markdown--code-mode (lang)
  "Return the major mode for code in language LANG, or nil."
  (let* ((lang (downcase (string-trim (or lang ""))))
         (mode (or (cdr (assoc lang opencode-chat-code-modes))
                   (and (not (string-empty-p lang)) (intern (concat lang "-mode"))))))
    (and mode (fboundp mode) mode)))

(defun opencode-markdown--fontify-buffer (mode)
  "Return the hidden buffer, in MODE, where code is fontified.
One per mode, kept: setting a major mode up is what costs, not the
fontification of a short block."
  (let ((buf (get-buffer-create (format " *opencode-fontify %s*" mode))))
    (with-current-buffer buf
      (unless (eq major-mode mode)
        (delay-mode-hooks (funcall mode))
        (font-lock-set-defaults)))
    buf))

(defun opencode-markdown--fontify-code (beg end mode)
  "Give the text from BEG to END the faces MODE's font-lock gives it."
  (let ((code (buffer-substring-no-properties beg end))
        (faces nil))
    (with-current-buffer (opencode-markdown--fontify-buffer mode)
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

(defun opencode-markdown-fontify (beg end)
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
                                     (opencode-markdown--code-mode lang))))
                      (if mode (opencode-markdown--fontify-code code-beg code-end mode)
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

(provide 'opencode-markdown)
;;; opencode-markdown.el ends here

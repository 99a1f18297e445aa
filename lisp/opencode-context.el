;;; opencode-context.el --- What a prompt's @mentions bring from Emacs  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; Context providers: @buffer, @region, @diagnostics and @diff in a
;; prompt are replaced, when it is sent, by what they name in the
;; buffer the user was working in (the most recently selected buffer
;; that is not one of the package's).  `opencode-context-providers' is
;; the registry; users add their own with `opencode-context-define'.
;; A provider returns text to put in the prompt and files to send
;; along, as the prompt takes them (a file name, or (FILE START END)
;; for a line range).

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'opencode-lib)

(declare-function flymake-diagnostics "flymake" (&optional beg end))
(declare-function flymake-diagnostic-beg "flymake" (diag))
(declare-function flymake-diagnostic-type "flymake" (diag))
(declare-function flymake-diagnostic-text "flymake" (diag))
(declare-function flycheck-error-line "ext:flycheck" (err))
(declare-function flycheck-error-level "ext:flycheck" (err))
(declare-function flycheck-error-message "ext:flycheck" (err))
(defvar flycheck-current-errors)
(defvar flymake-mode)

(defcustom opencode-context-max-chars 40000
  "Most characters of a buffer or a diff a context provider puts in a prompt.
Longer text is cut, and says so."
  :type 'integer
  :group 'opencode)

(defvar opencode-context-providers nil
  "The context providers, an alist (NAME . FUNCTION).
@NAME in a prompt is replaced, when it is sent, by what FUNCTION makes
of the buffer the user was working in.  FUNCTION is called in that
buffer with no argument, and returns a plist: :text, the text to put
in the prompt instead of @NAME, and :files, files to send along (file
names, or (FILE START END) for a line range).  It returns nil, or
signals a `user-error', when it has nothing to give.")

(defun opencode-context-define (name function)
  "Make @NAME in a prompt call FUNCTION; see `opencode-context-providers'.
A FUNCTION of nil removes the provider."
  (setf (alist-get name opencode-context-providers nil (null function) #'equal) function))

(defun opencode-context-origin ()
  "Return the buffer the user was working in: the most recent one not ours.
Minibuffers, hidden buffers and the package's own buffers do not count."
  (cl-find-if (lambda (b)
                (and (not (string-prefix-p " " (buffer-name b)))
                     (not (minibufferp b))
                     (not (string-prefix-p "opencode-"
                                           (symbol-name (buffer-local-value 'major-mode b))))))
              (buffer-list)))

(defun opencode-context-relative (file directory)
  "Return FILE relative to DIRECTORY when it lies inside, else nil."
  (let ((root (file-name-as-directory (expand-file-name directory)))
        (file (expand-file-name file)))
    (and (string-prefix-p root file) (file-relative-name file root))))

(defun opencode-context-fence (text &optional mode)
  "Return TEXT in a Markdown code fence, labelled by major MODE's language."
  (let* ((lang (and mode (string-remove-suffix "-mode" (symbol-name mode))))
         (lang (pcase lang ("emacs-lisp" "elisp") ("fundamental" "") ("text" "") (_ lang)))
         (fence (if (string-match-p "^```" text) "````" "```")))
    (concat fence (or lang "") "\n" text (if (string-suffix-p "\n" text) "" "\n") fence)))

(defun opencode-context--cut (text)
  "Return TEXT cut to `opencode-context-max-chars', saying so."
  (if (<= (length text) opencode-context-max-chars) text
    (concat (substring text 0 opencode-context-max-chars)
            (format "\n[… %d more characters not sent]"
                    (- (length text) opencode-context-max-chars)))))

;;;; The providers

(defun opencode-context-region-spec (beg end)
  "Return what the region from BEG to END is, to send.
A region of a saved file is (FILE START-LINE END-LINE); otherwise
the plist (:text FENCED-TEXT)."
  (let ((file (buffer-file-name)))
    (if (and file (not (buffer-modified-p)))
        (list file (line-number-at-pos beg)
              (line-number-at-pos (if (and (> end beg) (eq (char-before end) ?\n)) (1- end) end)))
      (list :text (opencode-context-fence
                   (opencode-context--cut (buffer-substring-no-properties beg end))
                   major-mode)))))

(defun opencode-context--region ()
  "The region of the buffer the user works in."
  (unless (use-region-p) (user-error "No region is active in %s, for @region" (buffer-name)))
  (pcase (opencode-context-region-spec (region-beginning) (region-end))
    (`(:text ,text) (list :text (concat "this code from " (buffer-name) ":\n" text)))
    (`(,file ,start ,end)
     (list :text (format "lines %d-%d of %s" start end (file-name-nondirectory file))
           :files (list (list file start end))))))

(defun opencode-context--buffer ()
  "The buffer the user works in: its file, or its text when unsaved."
  (if (and (buffer-file-name) (not (buffer-modified-p)))
      (list :text (file-name-nondirectory (buffer-file-name))
            :files (list (buffer-file-name)))
    (list :text (concat (if (buffer-file-name)
                            (format "%s as it is in my editor (not saved):\n"
                                    (file-name-nondirectory (buffer-file-name)))
                          (format "the buffer %s:\n" (buffer-name)))
                        (opencode-context-fence
                         (opencode-context--cut (buffer-substring-no-properties
                                                 (point-min) (point-max)))
                         major-mode)))))

(defun opencode-context-diagnostics (&optional beg end)
  "Return the diagnostics of the current buffer, or of BEG to END, as lines.
Each line is FILE:LINE: LEVEL: MESSAGE, from flycheck or flymake."
  (let ((name (if (buffer-file-name) (file-name-nondirectory (buffer-file-name)) (buffer-name))))
    (cond
     ((and (boundp 'flycheck-current-errors) flycheck-current-errors)
      (cl-loop for e in flycheck-current-errors
               for line = (flycheck-error-line e)
               when (or (null beg)
                        (<= (line-number-at-pos beg) line (line-number-at-pos end)))
               collect (format "%s:%d: %s: %s" name line (flycheck-error-level e)
                               (flycheck-error-message e))))
     ((and (bound-and-true-p flymake-mode) (fboundp 'flymake-diagnostics))
      (mapcar (lambda (d)
                (format "%s:%d: %s: %s" name (line-number-at-pos (flymake-diagnostic-beg d))
                        (flymake-diagnostic-type d) (flymake-diagnostic-text d)))
              (flymake-diagnostics beg end))))))

(defun opencode-context--diagnostics ()
  "The diagnostics of the buffer the user works in."
  (let ((lines (opencode-context-diagnostics)))
    (unless lines (user-error "No diagnostics (flymake or flycheck) in %s, for @diagnostics"
                              (buffer-name)))
    (list :text (concat "these diagnostics:\n" (opencode-context-fence (string-join lines "\n")))
          :files (and (buffer-file-name) (not (buffer-modified-p)) (list (buffer-file-name))))))

(defun opencode-context--diff ()
  "The uncommitted changes of the project of the buffer the user works in."
  (let ((diff (with-temp-buffer
                (and (eq 0 (call-process "git" nil t nil "--no-pager" "diff" "HEAD"))
                     (buffer-string)))))
    (when (or (null diff) (string-empty-p diff))
      (user-error "No uncommitted change in %s, for @diff" default-directory))
    (list :text (concat "my uncommitted changes:\n"
                        (opencode-context-fence (opencode-context--cut diff) 'diff-mode)))))

(opencode-context-define "region" #'opencode-context--region)
(opencode-context-define "buffer" #'opencode-context--buffer)
(opencode-context-define "diagnostics" #'opencode-context--diagnostics)
(opencode-context-define "diff" #'opencode-context--diff)

;;;; Expanding a prompt

(defun opencode-context--name-ends-p (text pos)
  "Return non-nil if a provider's name in TEXT may end at POS.
That is at the end of TEXT, or before whitespace, or before closing
punctuation followed by whitespace or the end: \"@buffer.\" and
\"(@diff)\" name providers, \"@buffer.el\" and \"@diff/x\" do not."
  (eq (string-match "[].,;:!?)}'\"]*\\(?:[ \t\n]\\|\\'\\)" text pos) pos))

(defun opencode-context-expand (text)
  "Replace the @NAME of context providers in TEXT by what they give.
Return (TEXT . FILES).  Providers run in `opencode-context-origin'.
@NAME counts only as a word of its own: after whitespace or an opening
parenthesis, before whitespace, closing punctuation or the end."
  (let ((files nil) (out nil) (start 0)
        (origin (opencode-context-origin)))
    (while (string-match "\\(?:^\\|[ \t\n(]\\)@\\([a-z][a-z0-9-]*\\)" text start)
      (let* ((at (1- (match-beginning 1)))
             (stop (match-end 1))
             (fn (cdr (assoc (match-string 1 text) opencode-context-providers))))
        (push (substring text start at) out)
        (if (not (and fn origin (opencode-context--name-ends-p text stop)))
            (push (substring text at stop) out)
          (let ((r (with-current-buffer origin (funcall fn))))
            (setq files (append files (plist-get r :files)))
            (push (or (plist-get r :text) "") out)))
        (setq start stop)))
    (push (substring text start) out)
    (cons (apply #'concat (nreverse out)) files)))

(provide 'opencode-context)
;;; opencode-context.el ends here

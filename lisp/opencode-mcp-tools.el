;;; opencode-mcp-tools.el --- The tools Emacs offers the agent  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The tools of the Emacs MCP server (opencode-mcp.el), each limited to
;; the project of the connection that called it:
;;
;;   diagnostics       flymake's or flycheck's diagnostics, of a file or
;;                     of every project buffer
;;   xref_definitions  definitions of a symbol, from the file's xref
;;   xref_references   backend (eglot, lsp-mode, etags, elisp…)
;;   imenu             the outline of a file
;;   read_buffer       a file's text as Emacs has it, unsaved changes in
;;   selection         the user's region and point
;;   project_files     the project's files (project.el)
;;   open_file         opens a file at a line for the user (opt-in)
;;   propose_change    shows a change as a diff and waits for the user
;;                     to accept or reject it (opt-in)
;;
;; A path given by the agent is relative to the project or absolute;
;; after symlinks are resolved it must lie inside the project.
;; propose_change, with its buffers and its mode, is in
;; opencode-mcp-tools-proposal.el.  Chat parts of these tools are drawn
;; by `opencode-mcp-render', in opencode-mcp-views.el, which is found
;; for them by name.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'project)
(require 'xref)
(require 'imenu)
(require 'flymake)
(require 'opencode-lib)
(require 'opencode-mcp)
(require 'opencode-mcp-tools-proposal)

(declare-function flycheck-error-line "ext:flycheck" (err))
(declare-function flycheck-error-column "ext:flycheck" (err))
(declare-function flycheck-error-level "ext:flycheck" (err))
(declare-function flycheck-error-message "ext:flycheck" (err))
(declare-function flycheck-error-checker "ext:flycheck" (err))
(defvar flycheck-current-errors)
(defvar flycheck-mode)

(defcustom opencode-mcp-tools-max-lines 2000
  "Lines of a buffer `read_buffer' returns at most per call."
  :type 'integer
  :group 'opencode)

(defcustom opencode-mcp-tools-max-results 200
  "Locations, files or diagnostics a tool returns at most."
  :type 'integer
  :group 'opencode)

;;;; Arguments and paths

(defun opencode-mcp-tools--arg (args name &optional type required)
  "Return argument NAME of ARGS, checked to be of TYPE (`string' or `integer').
With REQUIRED, fail the call when it is missing."
  (let ((v (gethash name args)))
    (when (eq v :null) (setq v nil))
    (cond ((null v) (when required (opencode-mcp-tool-error "Missing argument: %s" name)))
          ((and (eq type 'string) (not (stringp v)))
           (opencode-mcp-tool-error "Argument %s must be a string" name))
          ((and (eq type 'integer) (not (natnump v)))
           (opencode-mcp-tool-error "Argument %s must be a non-negative integer" name)))
    v))

(defun opencode-mcp-tools--root (context)
  "Return the true name of CONTEXT's project directory, with a final slash."
  (let ((file-name-handler-alist nil))
    (file-name-as-directory (file-truename (plist-get context :root)))))

(defun opencode-mcp-tools-file (context path)
  "Return the true absolute name of PATH in CONTEXT's project, or fail the call.
PATH is relative to the project or absolute.  Symbolic links are
resolved first; what then lies outside the project is refused, as are
remote names, `~' and environment variables (none is expanded)."
  (when (or (not (stringp path)) (string-empty-p path) (string-search "\0" path))
    (opencode-mcp-tool-error "Not a file name: %S" path))
  (let* ((file-name-handler-alist nil)  ; No remote file access, no decompression.
         (root (opencode-mcp-tools--root context))
         (abs (if (file-name-absolute-p path)
                  (if (string-prefix-p "~" path)
                      (opencode-mcp-tool-error "%s is outside the project %s" path root)
                    (expand-file-name path))
                (expand-file-name path root)))
         (true (file-truename abs)))
    (unless (or (string-prefix-p root true)
                (equal (file-name-as-directory true) root))
      (opencode-mcp-tool-error "%s is outside the project %s" path root))
    true))

(defun opencode-mcp-tools--relative (context file)
  "Return FILE relative to CONTEXT's project."
  (let ((file-name-handler-alist nil))
    (file-relative-name (file-truename file) (opencode-mcp-tools--root context))))

(defun opencode-mcp-tools--inside-p (context file)
  "Return non-nil if FILE, a string, lies inside CONTEXT's project."
  (and (stringp file) (file-name-absolute-p file)
       (let ((file-name-handler-alist nil))
         (string-prefix-p (opencode-mcp-tools--root context) (file-truename file)))))

(defun opencode-mcp-tools--existing (context path)
  "Return the true name of the existing file PATH in CONTEXT's project, or fail."
  (let ((file (opencode-mcp-tools-file context path)))
    (unless (file-regular-p file)
      (opencode-mcp-tool-error "No such file: %s" path))
    file))

(defun opencode-mcp-tools--file-buffers ()
  "Return the live buffers that visit a file."
  (cl-remove-if-not #'buffer-file-name (buffer-list)))

(defmacro opencode-mcp-tools--as-agent (&rest body)
  "Run BODY with files visited as for the agent: nothing in them runs.
No file or directory local variables, no size question, no
`find-file-hook', mode hooks delayed, no messages."
  (declare (indent 0) (debug t))
  `(let ((enable-local-variables nil)
         (local-enable-local-variables nil)
         (enable-dir-local-variables nil)
         (large-file-warning-threshold nil)
         (find-file-hook nil)
         (delay-mode-hooks t)
         (inhibit-message t))
     ,@body))

(defun opencode-mcp-tools--for-agent (function)
  "Call FUNCTION, visiting files for the agent, and return its value.
A file visited then runs nothing its text or directory asks for: no
local variables (so no `eval:'), no .dir-locals.el, no -*- mode:
cookie, no question about its size.  Its major mode, picked by name,
interpreter or magic, runs but its hooks wait (they never run): they
are where a user starts eglot, lsp-mode or flycheck, which a buffer
read once for the agent does not need.  What the major mode itself
sets up stays, and that is what the tools use: imenu's index
functions and expressions, the mode's xref backend (elisp, etags).
Nor is `find-file-hook' run (recentf, vc).  The buffers FUNCTION
visited, and the user did not have, are killed after: they do not
pile up in the user's buffer list."
  (let ((before (opencode-mcp-tools--file-buffers)))
    (unwind-protect
        ;; In a fresh buffer no mode has made `delay-mode-hooks' local, so
        ;; this binds its global value, which new buffers see.
        (with-temp-buffer
          (opencode-mcp-tools--as-agent (funcall function)))
      (dolist (b (opencode-mcp-tools--file-buffers))
        (unless (or (memq b before) (buffer-modified-p b))
          (kill-buffer b))))))

(defmacro opencode-mcp-tools--with-agent-visits (&rest body)
  "Run BODY as `opencode-mcp-tools--for-agent' says, and return its value."
  (declare (indent 0) (debug t))
  `(opencode-mcp-tools--for-agent (lambda () ,@body)))

(defun opencode-mcp-tools--visit (file)
  "Return a buffer visiting FILE, visited for the agent if the user has none.
See `opencode-mcp-tools--for-agent' for how; the buffer is not killed
here."
  (or (find-buffer-visiting file)
      (with-temp-buffer
        (opencode-mcp-tools--as-agent (find-file-noselect file)))))

(defun opencode-mcp-tools--buffer (context path)
  "Return a buffer visiting PATH in CONTEXT's project, visiting it if need be.
A file the user does not have open is visited for the agent (see
`opencode-mcp-tools--for-agent'); call this inside
`opencode-mcp-tools--with-agent-visits', which kills it after."
  (opencode-mcp-tools--visit (opencode-mcp-tools--existing context path)))

(defun opencode-mcp-tools--visit-for-user (file)
  "Return a buffer visiting FILE, which the agent shows the user.
The buffer is the user's from now on: its mode and hooks run as when
the user visits a file, but no file-local or directory-local variable
is applied (the agent may have written the file); \[normal-mode]
applies them."
  (or (find-buffer-visiting file)
      (let ((enable-local-variables nil)
            (local-enable-local-variables nil)
            (enable-dir-local-variables nil)
            (inhibit-message t))
        (find-file-noselect file))))

(defun opencode-mcp-tools--project-buffers (context)
  "Return the live buffers that visit files of CONTEXT's project."
  (cl-remove-if-not (lambda (b)
                      (opencode-mcp-tools--inside-p context (buffer-file-name b)))
                    (buffer-list)))

(defun opencode-mcp-tools--line-col (pos)
  "Return \"LINE:COLUMN\" of POS in the current buffer (both from 1)."
  (save-excursion
    (goto-char pos)
    (format "%d:%d" (line-number-at-pos) (1+ (current-column)))))

;;;; Projects

(defmacro opencode-mcp-tools--in-project (root &rest body)
  "Run BODY with project.el finding the project at ROOT, and remembering none.
A directory that is no project of project.el's is one of its own
\(transient) project, so nothing asks the user which project it is; and
the agent's calls add nothing to the user's list of known projects."
  (declare (indent 1) (debug t))
  `(let ((project-find-functions
          (append project-find-functions
                  (let ((root ,root)) (list (lambda (_dir) (cons 'transient root)))))))
     (cl-letf (((symbol-function 'project-remember-project) #'ignore))
       ,@body)))

;;;; diagnostics

(defun opencode-mcp-tools--severity (type)
  "Return flymake diagnostic TYPE as a word: error, warning or note."
  (let ((cat (or (and (symbolp type) (get type 'flymake-category)) type)))
    (pcase cat
      ((or :error 'flymake-error) "error")
      ((or :warning 'flymake-warning) "warning")
      ((or :note 'flymake-note) "note")
      (_ (string-remove-prefix "flymake-" (string-remove-prefix ":" (format "%s" cat)))))))

(defun opencode-mcp-tools--buffer-diagnostics (context buffer)
  "Return (CHECKER LINES) for BUFFER: CONTEXT's diagnostics there, or nil.
CHECKER says which checker gave them and how far it has come."
  (with-current-buffer buffer
    (let ((name (opencode-mcp-tools--relative context buffer-file-name)))
      (cond
       ((bound-and-true-p flycheck-mode)
        (list "flycheck"
              (mapcar (lambda (e)
                        (format "%s:%s:%s: %s: %s [%s]" name (flycheck-error-line e)
                                (or (flycheck-error-column e) 1) (flycheck-error-level e)
                                (flycheck-error-message e) (flycheck-error-checker e)))
                      flycheck-current-errors)))
       ((bound-and-true-p flymake-mode)
        (let ((running (cl-set-difference (flymake-running-backends)
                                          (flymake-reporting-backends))))
          (list (if running
                    (format "flymake (still running: %s)"
                            (mapconcat (lambda (b) (format "%s" b)) running ", "))
                  "flymake")
                (mapcar (lambda (d)
                          (format "%s:%s: %s: %s [%s]" name
                                  (opencode-mcp-tools--line-col (flymake-diagnostic-beg d))
                                  (opencode-mcp-tools--severity (flymake-diagnostic-type d))
                                  (flymake-diagnostic-text d)
                                  (let ((b (flymake-diagnostic-backend d)))
                                    (if (symbolp b) b "flymake"))))
                        (sort (flymake-diagnostics)
                              (lambda (a b) (< (flymake-diagnostic-beg a)
                                               (flymake-diagnostic-beg b))))))))))))

(defun opencode-mcp-tools-diagnostics (args context)
  "The diagnostics tool: ARGS has an optional path; CONTEXT is the call's."
  (let* ((path (opencode-mcp-tools--arg args "path" 'string))
         (buffers (if path
                      (let ((file (opencode-mcp-tools--existing context path)))
                        (or (list (find-buffer-visiting file))
                            nil))
                    (opencode-mcp-tools--project-buffers context)))
         (results (delq nil (mapcar (lambda (b) (and b (opencode-mcp-tools--buffer-diagnostics
                                                         context b)))
                                    buffers)))
         (lines (apply #'append (mapcar #'cadr results))))
    (cond
     ((and path (null (car buffers)))
      (format "%s is not open in Emacs, so Emacs knows no diagnostics of it." path))
     ((null results)
      (if path
          (format "No checker (flymake or flycheck) runs on %s in Emacs." path)
        "No buffer of this project has a checker (flymake or flycheck) on in Emacs."))
     (t
      (concat (format "%s from %s.\n"
                      (opencode--plural (length lines) "diagnostic")
                      (string-join (delete-dups (mapcar #'car results)) ", "))
              (mapconcat #'identity (seq-take lines opencode-mcp-tools-max-results) "\n")
              (if (> (length lines) opencode-mcp-tools-max-results)
                  (format "\n… %d more" (- (length lines) opencode-mcp-tools-max-results))
                ""))))))

;;;; xref

(defun opencode-mcp-tools--xref (args context kind)
  "Find KIND (`definitions' or `references') of ARGS's symbol for CONTEXT."
  (let* ((symbol (opencode-mcp-tools--arg args "symbol" 'string t))
         (line (opencode-mcp-tools--arg args "line" 'integer))
         (column (opencode-mcp-tools--arg args "column" 'integer))
         (buffer (opencode-mcp-tools--buffer context (opencode-mcp-tools--arg args "path" 'string t)))
         items)
    (with-current-buffer buffer
      (save-excursion
        (save-restriction
          (widen)
          (let* ((backend (or (xref-find-backend)
                              (opencode-mcp-tool-error "No xref backend in %s" (buffer-name))))
                 (id symbol))
            (when line
              (goto-char (point-min))
              (forward-line (1- line))
              (if column
                  (move-to-column (max 0 (1- column)))
                (search-forward symbol (line-end-position) t)
                (goto-char (or (match-beginning 0) (point))))
              ;; The identifier at point carries what a backend (LSP) needs.
              (let ((at (xref-backend-identifier-at-point backend)))
                (when (and (stringp at) (equal (substring-no-properties at) symbol))
                  (setq id at))))
            ;; References search the project, not the libraries it uses.
            (let ((project-vc-external-roots-function #'ignore)
                  (inhibit-message t))
              (opencode-mcp-tools--in-project (opencode-mcp-tools--root context)
                (setq items (if (eq kind 'definitions)
                                (xref-backend-definitions backend id)
                              (xref-backend-references backend id)))))
            (setq kind (format "%s (xref backend %s)" kind backend))))))
    (let ((inside nil) (outside 0))
      (dolist (item items)
        (let* ((loc (xref-item-location item))
               (group (xref-location-group loc)))
          (if (not (opencode-mcp-tools--inside-p context group))
              (cl-incf outside)
            (let ((line (or (xref-location-line loc)
                            (let ((m (xref-location-marker loc)))
                              (with-current-buffer (marker-buffer m)
                                (line-number-at-pos m))))))
              (push (format "%s:%s: %s" (opencode-mcp-tools--relative context group) line
                            (string-trim (substring-no-properties (xref-item-summary item))))
                    inside)))))
      (setq inside (nreverse inside))
      (concat (format "%s of %s, %s:\n" (opencode--plural (length inside) "location")
                      symbol kind)
              (mapconcat #'identity (seq-take inside opencode-mcp-tools-max-results) "\n")
              (if (> outside 0) (format "\n(%d outside the project left out)" outside) "")))))

(defun opencode-mcp-tools-xref-definitions (args context)
  "The xref_definitions tool: ARGS as in its schema; CONTEXT is the call's."
  (opencode-mcp-tools--with-agent-visits
    (opencode-mcp-tools--xref args context 'definitions)))

(defun opencode-mcp-tools-xref-references (args context)
  "The xref_references tool: ARGS as in its schema; CONTEXT is the call's."
  (opencode-mcp-tools--with-agent-visits
    (opencode-mcp-tools--xref args context 'references)))

;;;; imenu

(defun opencode-mcp-tools--imenu-lines (index depth)
  "Return the lines of imenu INDEX at DEPTH, in the current buffer."
  (cl-loop for entry in index
           for name = (car entry)
           unless (equal entry imenu--rescan-item)
           append (let ((v (cdr entry)))
                    (if (imenu--subalist-p entry)
                        (cons (format "%s%s" (make-string (* 2 depth) ?\s) name)
                              (opencode-mcp-tools--imenu-lines v (1+ depth)))
                      (let ((pos (cond ((markerp v) (marker-position v))
                                       ((overlayp v) (overlay-start v))
                                       ((numberp v) v)
                                       ((consp v) (car v)))))
                        (list (format "%s%s  (line %s)" (make-string (* 2 depth) ?\s) name
                                      (if (and (integerp pos) (<= (point-min) pos (point-max)))
                                          (line-number-at-pos pos) "?"))))))))

(defun opencode-mcp-tools-imenu (args context)
  "The imenu tool: ARGS has the path; CONTEXT is the call's."
  (let ((path (opencode-mcp-tools--arg args "path" 'string t)))
    (opencode-mcp-tools--with-agent-visits
      (with-current-buffer (opencode-mcp-tools--buffer context path)
        (save-excursion
          (save-restriction
            (widen)
            (let* ((index (condition-case err (imenu--make-index-alist t)
                          (error (opencode-mcp-tool-error "No outline of %s: %s" path
                                                          (error-message-string err)))))
                 (lines (opencode-mcp-tools--imenu-lines index 0)))
              (if lines
                  (format "Outline of %s (%s):\n%s" path major-mode (string-join lines "\n"))
                (format "%s has no outline in Emacs (%s)." path major-mode)))))))))

;;;; read_buffer

(defun opencode-mcp-tools-read-buffer (args context)
  "The read_buffer tool: ARGS has the path and a line range; CONTEXT is the call's."
  (let* ((path (opencode-mcp-tools--arg args "path" 'string t))
         (file (opencode-mcp-tools--existing context path))
         (start (max 1 (or (opencode-mcp-tools--arg args "start_line" 'integer) 1)))
         (end (opencode-mcp-tools--arg args "end_line" 'integer))
         (buffer (find-buffer-visiting file)))
    (with-temp-buffer
      (if buffer
          (insert-buffer-substring (with-current-buffer buffer
                                     (save-restriction (widen) (current-buffer))))
        (let ((file-name-handler-alist nil))
          (insert-file-contents file)))
      (let* ((total (count-lines (point-min) (point-max)))
             (end (min total (or end total) (+ start opencode-mcp-tools-max-lines -1)))
             (out nil))
        (goto-char (point-min))
        (forward-line (1- start))
        (cl-loop for n from start to end
                 do (push (format "%6d\t%s" n
                                  (truncate-string-to-width
                                   (buffer-substring-no-properties (point) (line-end-position))
                                   2000 nil nil "…"))
                          out)
                 (forward-line 1))
        (concat (format "%s, lines %d-%d of %d%s\n" path start end total
                        (cond ((null buffer) " (not open in Emacs: the file on disk)")
                              ((buffer-modified-p buffer) " (open in Emacs, with unsaved changes)")
                              (t " (open in Emacs, saved)")))
                (string-join (nreverse out) "\n"))))))

;;;; selection

(defun opencode-mcp-tools--selected-buffer (context)
  "Return the buffer the user works in, if it visits a file of CONTEXT's project.
The selected window's buffer, or else the project's file buffer the
user saw last.  Return (BUFFER . WINDOW-OR-NIL)."
  (let ((win (selected-window)))
    (if (opencode-mcp-tools--inside-p context (buffer-file-name (window-buffer win)))
        (cons (window-buffer win) win)
      (when-let ((b (car (opencode-mcp-tools--project-buffers context))))
        (cons b (get-buffer-window b))))))

(defun opencode-mcp-tools-selection (_args context)
  "The selection tool: where point is and what region the user marked.
CONTEXT is the call's."
  (let ((found (opencode-mcp-tools--selected-buffer context)))
    (if (null found)
        "The user has no file of this project open in Emacs."
      (pcase-let ((`(,buffer . ,win) found))
        (with-current-buffer buffer
          (let* ((pt (if win (window-point win) (point)))
                 (name (opencode-mcp-tools--relative context buffer-file-name)))
            (concat
             (format "File: %s%s\n" name
                     (if (eq win (selected-window)) " (in the selected window)"
                       " (the project file the user was last in)"))
             (format "Point: line %s (%s)\n"
                     (opencode-mcp-tools--line-col pt)
                     (string-trim (save-excursion (goto-char pt)
                                                  (buffer-substring-no-properties
                                                   (line-beginning-position)
                                                   (line-end-position)))))
             (if (and mark-active (mark t))
                 (let ((beg (min pt (mark t))) (end (max pt (mark t))))
                   (format "Region: %s to %s, %d characters:\n%s"
                           (opencode-mcp-tools--line-col beg) (opencode-mcp-tools--line-col end)
                           (- end beg)
                           (truncate-string-to-width (buffer-substring-no-properties beg end)
                                                     20000 nil nil "…")))
               "Region: none (no active mark)"))))))))

;;;; project_files

(defun opencode-mcp-tools--all-files (root)
  "Return the files under ROOT, absolute, as project.el lists them.
ROOT may be a directory inside a larger project (a subdirectory of a
git repository): only the files under it are listed."
  (opencode-mcp-tools--in-project root
    (cl-remove-if-not (lambda (f) (string-prefix-p root f))
                      (mapcar (lambda (f) (expand-file-name f root))
                              (project-files (project-current nil root) (list root))))))

(defun opencode-mcp-tools-project-files (args context)
  "The project_files tool: ARGS has a pattern and a limit; CONTEXT is the call's."
  (let* ((pattern (opencode-mcp-tools--arg args "pattern" 'string))
         (limit (min 2000 (or (opencode-mcp-tools--arg args "limit" 'integer)
                              opencode-mcp-tools-max-results)))
         (root (opencode-mcp-tools--root context))
         (files (mapcar (lambda (f) (file-relative-name f root))
                        (opencode-mcp-tools--all-files root)))
         (re (and pattern (if (string-match-p "[*?[]" pattern)
                              (wildcard-to-regexp pattern)
                            (regexp-quote pattern))))
         (matching (sort (if re
                             (cl-remove-if-not
                              (lambda (f) (or (string-match-p re f)
                                              (string-match-p re (file-name-nondirectory f))))
                              files)
                           files)
                         #'string<)))
    (concat (format "%s%s in the project%s:\n"
                    (opencode--plural (length matching) "file")
                    (if pattern (format " matching %s" pattern) "")
                    (if (> (length matching) limit) (format ", the first %d" limit) ""))
            (string-join (seq-take matching limit) "\n"))))

;;;; open_file

(defun opencode-mcp-tools-open-file (args context)
  "The open_file tool: show ARGS's file at a line to the user.
CONTEXT is the call's."
  (let* ((path (opencode-mcp-tools--arg args "path" 'string t))
         (line (opencode-mcp-tools--arg args "line" 'integer))
         (column (opencode-mcp-tools--arg args "column" 'integer))
         (buffer (opencode-mcp-tools--visit-for-user (opencode-mcp-tools--existing context path)))
         (win (display-buffer buffer '(nil (inhibit-same-window . t)))))
    (with-current-buffer buffer
      (when line
        (goto-char (point-min))
        (forward-line (1- line))
        (when column (move-to-column (max 0 (1- column))))
        (when win (set-window-point win (point)))
        (when (fboundp 'pulse-momentary-highlight-one-line)
          (pulse-momentary-highlight-one-line (point)))))
    (format "Opened %s%s in the user's Emacs." path
            (if line (format " at line %d" line) ""))))

;;;; The table

(defconst opencode-mcp-tools--path-schema
  '(:type "string" :description "A file of the project: relative to the project's root, or absolute inside it.")
  "The schema of a path argument.")

(defun opencode-mcp-tools--summary-path (args)
  "Return ARGS's path, with its line if any, for a log line."
  (let ((path (gethash "path" args)) (line (gethash "line" args)))
    (concat (or (and (stringp path) path) "")
            (if (natnump line) (format ":%d" line) ""))))

(opencode-mcp-define-tool
 "diagnostics"
 :title "Diagnostics from Emacs"
 :read-only t
 :description "Errors, warnings and notes that the user's Emacs shows for a file (flymake or flycheck, fed by the language server or linters the user runs), as lines FILE:LINE:COLUMN: SEVERITY: MESSAGE [CHECKER]. Without a path, those of every project file open in Emacs. Reflects unsaved edits in the editor. Use it after changing code to see what the editor reports."
 :schema `(:type "object"
                 :properties (:path ,opencode-mcp-tools--path-schema))
 :summary #'opencode-mcp-tools--summary-path
 :function #'opencode-mcp-tools-diagnostics)

(defconst opencode-mcp-tools--symbol-schema
  `(:type "object"
          :properties (:symbol (:type "string" :description "The identifier, as written in the code.")
                               :path ,opencode-mcp-tools--path-schema
                               :line (:type "integer" :minimum 1 :description "A line where the symbol appears, from 1.")
                               :column (:type "integer" :minimum 1 :description "Its column on that line, from 1."))
          :required ["symbol" "path"])
  "The input of the xref tools: a symbol where it appears.")

(defun opencode-mcp-tools--summary-symbol (args)
  "Return the symbol and file of xref tool ARGS, for the log and the status."
  (format "%s in %s" (gethash "symbol" args) (opencode-mcp-tools--summary-path args)))

(opencode-mcp-define-tool
 "xref_definitions"
 :title "Find definitions (Emacs xref)"
 :read-only t
 :description "Where a symbol is defined, as the user's editor finds it (its xref backend for the file: a language server through eglot or lsp-mode, tags, Emacs Lisp...). Give the file where the symbol is used; give its line (and column) too when you can: language servers resolve the symbol at that position. Returns FILE:LINE: SUMMARY lines, inside the project only."
 :schema opencode-mcp-tools--symbol-schema
 :summary #'opencode-mcp-tools--summary-symbol
 :function #'opencode-mcp-tools-xref-definitions)

(opencode-mcp-define-tool
 "xref_references"
 :title "Find references (Emacs xref)"
 :read-only t
 :description "Where a symbol is used in the project, as the user's editor finds it (the xref backend of the given file: a language server, or a search of the project). Give the file where the symbol appears, and its line and column when you can. Returns FILE:LINE: SUMMARY lines."
 :schema opencode-mcp-tools--symbol-schema
 :summary #'opencode-mcp-tools--summary-symbol
 :function #'opencode-mcp-tools-xref-references)

(opencode-mcp-define-tool
 "imenu"
 :title "Outline of a file (Emacs imenu)"
 :read-only t
 :description "The outline of a file as the editor's major mode sees it: functions, classes, sections, headings..., nested, each with its line. A quick map of a large file before reading parts of it."
 :schema `(:type "object" :properties (:path ,opencode-mcp-tools--path-schema)
                 :required ["path"])
 :summary #'opencode-mcp-tools--summary-path
 :function #'opencode-mcp-tools-imenu)

(opencode-mcp-define-tool
 "read_buffer"
 :title "Read a file as the editor has it"
 :read-only t
 :description "The text of a file as it is in the user's editor, including changes the user has not saved yet (the file on disk when it is not open). Lines are numbered from 1; give start_line and end_line for a part (at most 2000 lines per call). The first line says whether the buffer has unsaved changes."
 :schema `(:type "object"
                 :properties (:path ,opencode-mcp-tools--path-schema
                                    :start_line (:type "integer" :minimum 1 :description "First line to return, from 1.")
                                    :end_line (:type "integer" :minimum 1 :description "Last line to return."))
                 :required ["path"])
 :summary (lambda (args) (format "%s %s-%s" (gethash "path" args)
                                 (gethash "start_line" args 1) (gethash "end_line" args "")))
 :function #'opencode-mcp-tools-read-buffer)

(opencode-mcp-define-tool
 "selection"
 :title "The user's selection in the editor"
 :read-only t
 :description "What the user is looking at in the editor: the project file, the line and column of the cursor, and the region (selected text) if one is active, with its text. Use it when the user says \"this\", \"here\" or \"the selected code\"."
 :schema '(:type "object" :properties #s(hash-table test equal data ()))
 :summary #'ignore
 :function #'opencode-mcp-tools-selection)

(opencode-mcp-define-tool
 "project_files"
 :title "The project's files"
 :read-only t
 :description "Files of the project as the editor's project.el lists them (version-controlled and untracked, not ignored ones), relative to the project's root. pattern filters them: a glob such as *.py or src/*.c, or else a part of the name."
 :schema '(:type "object"
                 :properties (:pattern (:type "string" :description "A glob (*.el) or a part of the file name.")
                                       :limit (:type "integer" :minimum 1 :description "Most names to return (default 200).")))
 :summary (lambda (args) (or (gethash "pattern" args) "all"))
 :function #'opencode-mcp-tools-project-files)

(opencode-mcp-define-tool
 "open_file"
 :title "Open a file for the user"
 :description "Show a file of the project to the user in their editor, at a line (and column). Use it to point the user at something; it does not return the text."
 :schema `(:type "object"
                 :properties (:path ,opencode-mcp-tools--path-schema
                                    :line (:type "integer" :minimum 1 :description "The line to show, from 1.")
                                    :column (:type "integer" :minimum 1 :description "The column, from 1."))
                 :required ["path"])
 :summary #'opencode-mcp-tools--summary-path
 :function #'opencode-mcp-tools-open-file)

(opencode-mcp-define-tool
 "propose_change"
 :title "Propose a change for the user to accept"
 :waits t
 :description "Show the user a change to one file as a diff in their editor and wait for their decision: accepted (the file is then changed and saved, maybe with the user's own edits) or rejected (with their reason, if any). Give new_content (the whole new text), or old_string (exact text that occurs once in the file) and new_string. The answer comes when the user has decided."
 :schema `(:type "object"
                 :properties (:path ,opencode-mcp-tools--path-schema
                                    :description (:type "string" :description "What the change does and why, shown above the diff.")
                                    :new_content (:type "string" :description "The file's whole new text.")
                                    :old_string (:type "string" :description "Exact text to replace, found once in the file.")
                                    :new_string (:type "string" :description "The text to put in its place."))
                 :required ["path"])
 :summary #'opencode-mcp-tools--summary-path
 :function #'opencode-mcp-tools-propose-change)

(provide 'opencode-mcp-tools)
;;; opencode-mcp-tools.el ends here

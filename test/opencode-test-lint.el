;;; opencode-test-lint.el --- checkdoc and package-lint over the package  -*- lexical-binding: t; -*-

;;; Commentary:

;; Run as: emacs -Q --batch -L lisp -l test/opencode-test-lint.el FILES...
;; Exits non-zero when checkdoc or package-lint (when installed, as
;; Debian's elpa-package-lint or from Cask) finds anything, when a
;; file uses another area's private names: `opencode-AREA--NAME' belongs
;; to AREA's files, opencode-AREA.el and opencode-AREA-*.el
;; (`opencode--NAME' is the package's, usable everywhere), or when a
;; file is missing from opencode.el's file list or README.md's layout.

;;; Code:

(require 'checkdoc)
(require 'package)

(defvar opencode-test-lint--problems 0
  "Problems found so far.")

(let ((elpa "/usr/share/emacs/site-lisp/elpa"))
  (when (file-directory-p elpa)
    (dolist (d (directory-files elpa t "\\`\\(package-lint\\|let-alist\\)-[0-9]"))
      (add-to-list 'load-path d))))

(setq checkdoc-spellcheck-documentation-flag nil
      checkdoc-arguments-in-order-flag nil
      checkdoc-verb-check-experimental-flag nil)

(dolist (file command-line-args-left)
  (with-current-buffer (find-file-noselect file)
    (let ((checkdoc-diagnostic-buffer "*checkdoc*"))
      (when (get-buffer "*checkdoc*")
        (with-current-buffer "*checkdoc*" (let ((inhibit-read-only t)) (erase-buffer))))
      (checkdoc-current-buffer t)
      (with-current-buffer (get-buffer-create "*checkdoc*")
        (goto-char (point-min))
        (while (re-search-forward "^.*:[0-9]+: .*$" nil t)
          (message "checkdoc: %s" (match-string 0))
          (cl-incf opencode-test-lint--problems))))))

;; Every file is named in the file list of opencode.el's Commentary and
;; in the layout table of README.md.
(defun opencode-test-lint--unlisted (files)
  "Return the FILES that opencode.el's file list or README.md leaves out.
Each is (FILE . WHERE).  Nothing is checked unless opencode.el is
among FILES."
  (when-let ((main (seq-find (lambda (f) (equal (file-name-nondirectory f) "opencode.el"))
                             files)))
    (let ((list (with-temp-buffer
                  (insert-file-contents main)
                  (buffer-substring (progn (re-search-forward "^;;; Commentary:") (point))
                                    (progn (re-search-forward "^;;; Code:") (point)))))
          (readme (let ((f (expand-file-name "../README.md" (file-name-directory main))))
                    (if (file-readable-p f)
                        (with-temp-buffer (insert-file-contents f) (buffer-string))
                      "")))
          (found nil))
      (dolist (file files)
        (let ((name (regexp-quote (file-name-nondirectory file))))
          (unless (string-match-p (concat "\\(?:^\\|[^a-z-]\\)" name) list)
            (push (cons file "lisp/opencode.el's file list") found))
          (unless (string-match-p (concat "`lisp/" name "`") readme)
            (push (cons file "README.md's layout") found))))
      (nreverse found))))

(pcase-dolist (`(,file . ,where) (opencode-test-lint--unlisted command-line-args-left))
  (message "files: %s is not in %s" file where)
  (cl-incf opencode-test-lint--problems))

;; Private names stay in their area.
(defun opencode-test-lint--foreign-privates (file)
  "Return the `opencode-AREA--' names FILE uses outside AREA, as (LINE . NAME)."
  (let ((base (file-name-base file))
        (found nil))
    (with-temp-buffer
      (insert-file-contents file)
      (goto-char (point-min))
      (while (re-search-forward
              "\\_<opencode-\\([a-z0-9]+\\(?:-[a-z0-9]+\\)*\\)--[a-z0-9-]*" nil t)
        (let ((owner (concat "opencode-" (match-string 1))))
          (unless (or (equal base owner) (string-prefix-p (concat owner "-") base))
            (push (cons (line-number-at-pos (match-beginning 0)) (match-string 0))
                  found)))))
    (nreverse found)))

(dolist (file command-line-args-left)
  (pcase-dolist (`(,line . ,name) (opencode-test-lint--foreign-privates file))
    (message "names: %s:%d: %s is private to another area" file line name)
    (cl-incf opencode-test-lint--problems)))

(if (not (require 'package-lint nil t))
    (message "package-lint is not installed: skipped (apt-get install elpa-package-lint)")
  (progn
    (defvar package-lint-main-file)
    (declare-function package-lint-buffer "package-lint" (&optional buffer))
    (setq package-lint-main-file
          (expand-file-name
           (car (seq-filter (lambda (f) (string-suffix-p "/opencode.el" f))
                           command-line-args-left))))
    (dolist (file command-line-args-left)
      (with-current-buffer (find-file-noselect file)
        (progn
          (dolist (p (package-lint-buffer))
            ;; The module's functions come from a .so it cannot see, and
            ;; Debian's package-lint 0.16 predates Emacs 28's release.
            (unless (or (string-match-p "opencode--module-" (nth 3 p))
                        (string-match-p "uninstallable in all released Emacs" (nth 3 p)))
              (message "package-lint: %s:%d:%d: %s: %s" file (nth 0 p) (nth 1 p)
                       (nth 2 p) (nth 3 p))
              (cl-incf opencode-test-lint--problems))))))))

(setq command-line-args-left nil)
(message "lint: %d problem(s)" opencode-test-lint--problems)
(kill-emacs (if (zerop opencode-test-lint--problems) 0 1))

;;; opencode-test-lint.el ends here

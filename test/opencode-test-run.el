;;; opencode-test-run.el --- Run every ERT test, print the totals  -*- lexical-binding: t; -*-

;;; Commentary:

;; Loads test/opencode-*-test.el, or only the files named in
;; $OPENCODE_TEST_FILES (separated by spaces), and runs them in batch.
;; Prints "N passed, N failed" last, appends "N M" to $RESULTS when
;; set, and exits non-zero on any unexpected result.  A test selector
;; can be given in $OPENCODE_TEST_SELECTOR (a regexp).  `make test-ert'
;; runs one of these per file, several at once (test/run-ert.sh).

;;; Code:

(require 'ert)
(let ((dir (file-name-directory (or load-file-name buffer-file-name)))
      (only (split-string (or (getenv "OPENCODE_TEST_FILES") ""))))
  (dolist (f (if only
                 (mapcar (lambda (f) (expand-file-name (file-name-nondirectory f) dir)) only)
               (directory-files dir t "\\`opencode-.*-test\\.el\\'")))
    (load f nil t)))

(let* ((selector (or (getenv "OPENCODE_TEST_SELECTOR") t))
       (stats (ert-run-tests-batch selector))
       (passed (ert-stats-completed-expected stats))
       (failed (ert-stats-completed-unexpected stats))
       (results (getenv "RESULTS")))
  (when (and results (not (string-empty-p results)))
    (write-region (format "%d %d\n" passed failed) nil results t 'silent))
  (princ (format "ERT tests: %d passed, %d failed\n" passed failed))
  (kill-emacs (if (zerop failed) 0 1)))

;;; opencode-test-run.el ends here

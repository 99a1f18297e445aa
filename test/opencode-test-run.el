;;; opencode-test-run.el --- Run every ERT test, print the totals  -*- lexical-binding: t; -*-

;;; Commentary:

;; Loads test/opencode-*-test.el, or only the files named in
;; $OPENCODE_TEST_FILES (separated by spaces), and runs them in batch.
;; With $OPENCODE_TEST_PART set to K/N, runs only the K-th of N parts
;; of those tests (every Nth, by name, from the Kth).  Prints
;; "N passed, N failed" last, appends "N M" to $RESULTS when set, and
;; exits non-zero on any unexpected result.  A test selector can be
;; given in $OPENCODE_TEST_SELECTOR (a regexp).  `make test-ert' runs
;; one of these per file or part of a file, several at once
;; (test/run-ert.sh).

;;; Code:

(require 'ert)
(let ((dir (file-name-directory (or load-file-name buffer-file-name)))
      (only (split-string (or (getenv "OPENCODE_TEST_FILES") ""))))
  (dolist (f (if only
                 (mapcar (lambda (f) (expand-file-name (file-name-nondirectory f) dir)) only)
               (directory-files dir t "\\`opencode-.*-test\\.el\\'")))
    (load f nil t)))

(let* ((part (getenv "OPENCODE_TEST_PART"))
       (selector (or (getenv "OPENCODE_TEST_SELECTOR") t))
       (selector
        (if (not (and part (string-match "\\`\\([0-9]+\\)/\\([0-9]+\\)\\'" part)))
            selector
          (let ((k (1- (string-to-number (match-string 1 part))))
                (n (string-to-number (match-string 2 part)))
                (i -1))
            ;; `member' first: it ignores what the selectors before
            ;; it kept, the others narrow it.
            `(and (member ,@(seq-filter
                             (lambda (_) (= (% (cl-incf i) n) k))
                             (sort (mapcar #'ert-test-name (ert-select-tests t t))
                                   #'string<)))
                  ,selector))))
       (stats (ert-run-tests-batch selector))
       (passed (ert-stats-completed-expected stats))
       (failed (ert-stats-completed-unexpected stats))
       (results (getenv "RESULTS")))
  (when (and results (not (string-empty-p results)))
    (write-region (format "%d %d\n" passed failed) nil results t 'silent))
  (princ (format "ERT tests: %d passed, %d failed\n" passed failed))
  (kill-emacs (if (zerop failed) 0 1)))

;;; opencode-test-run.el ends here

;;; opencode-complete-test.el --- @ completion from any part of a name  -*- lexical-binding: t; -*-

;;; Commentary:

;; The server's file finder matches @calc with src/calc.py: TAB in the
;; prompt must complete it, with Emacs's default completion styles, with
;; flex, with an orderless-like style as its users set it up
;; (`completion-category-defaults' nil), and through what corfu, company
;; and vertico call (`completion-all-completions' on the capf's table).
;; When nothing matches, TAB says so.  Against the real server.

;;; Code:

(require 'ert)
(require 'opencode-test-helpers)
(require 'opencode-chat)

;;;; An orderless-like style, as the orderless package works

(defun opencode-complete-test--orderless-matches (string table pred)
  "Return TABLE's candidates that match STRING's words, as orderless does.
Words match anywhere, in any order.  Like orderless, ask TABLE for
every candidate (the text before the field's boundary, here \"\") with
the words as `completion-regexp-list'.  PRED is the predicate."
  (let ((completion-regexp-list (mapcar #'regexp-quote (split-string string " " t))))
    (all-completions "" table pred)))

(defun opencode-complete-test--orderless-all (string table pred _point)
  "Return what orderless shows for STRING: TABLE's matches, base size 0.
PRED is the predicate."
  (let ((all (opencode-complete-test--orderless-matches string table pred)))
    (and all (nconc all 0))))

(defun opencode-complete-test--orderless-try (string table pred point)
  "Complete STRING to the one candidate orderless finds, else leave it.
TABLE, PRED and POINT are as for a completion style."
  (let ((all (opencode-complete-test--orderless-matches string table pred)))
    (cond ((null all) nil)
          ((null (cdr all)) (cons (car all) (length (car all))))
          (t (cons string point)))))

(add-to-list 'completion-styles-alist
             '(opencode-complete-test-orderless opencode-complete-test--orderless-try
                                                opencode-complete-test--orderless-all
                                                "Orderless-like, for the tests."))

;;;; Helpers

(defun opencode-complete-test--tab (prompt text)
  "Erase PROMPT, type TEXT, press TAB; return the prompt's text."
  (with-current-buffer prompt
    (erase-buffer)
    (insert text)
    (call-interactively (key-binding (kbd "TAB")))
    (buffer-substring-no-properties (point-min) (point-max))))

(defun opencode-complete-test--last-message ()
  "Return the last line of *Messages*."
  (with-current-buffer (messages-buffer)
    (goto-char (point-max))
    (skip-chars-backward "\n")
    (buffer-substring-no-properties (line-beginning-position) (point))))

(defun opencode-complete-test--project ()
  "Add src/calc.py, src/small.py and twelve notes to the test's project.
With `opencode-complete-file-limit' at 5, the server's answer to an
empty query is five of the notes: a table asked with \"\" would not
see src/calc.py."
  (make-directory "src" t)
  (dolist (f '("src/calc.py" "src/small.py"))
    (with-temp-file f (insert "x = 1\n")))
  (dotimes (i 12)
    (with-temp-file (format "note%d.txt" (1+ i)) (insert "a note\n"))))

;;;; Tests

(ert-deftest opencode-complete/at-matches-any-part-of-a-name ()
  "@calc, @small and @sm TAB complete with the default styles and with flex.
Orderless as its users set it up, and what corfu, company and vertico
call, find them too; a name that matches nothing says so."
  (opencode-test-with-chat-on-real-server nil
    (opencode-complete-test--project)
    (let ((prompt (save-window-excursion (opencode-chat-prompt)))
          (opencode-complete-file-limit 5))
      (unwind-protect
          (progn
            ;; The server's first search builds its index.
            (should (opencode-test-wait
                     (lambda ()
                       (equal (opencode-request-sync
                               conn "GET" "/find/file"
                               :query '(("query" . "calc") ("dirs" . "true")))
                              ["src/calc.py" "src/small.py"]))
                     60))
            ;; The default styles, and the default category settings.
            (should (equal (opencode-complete-test--tab prompt "see @calc") "see @src/calc.py"))
            (should (equal (opencode-complete-test--tab prompt "see @small") "see @src/small.py"))
            (should (equal (opencode-complete-test--tab prompt "see @sm") "see @src/small.py"))
            (should (equal (opencode-complete-test--tab prompt "see @src/ca") "see @src/calc.py"))
            ;; Several: the list shows them, the text stays.
            (should (equal (opencode-complete-test--tab prompt "see @note1") "see @note1"))
            (with-current-buffer "*Completions*"
              (should (string-match-p "note12\\.txt" (buffer-string)))
              (should (string-match-p "note10\\.txt" (buffer-string))))
            ;; Nothing: said so.
            (should (equal (opencode-complete-test--tab prompt "see @zzzq") "see @zzzq"))
            (should (equal (opencode-complete-test--last-message) "No match"))
            ;; `completion-try-completion' on the table does not fail.
            (with-current-buffer prompt
              (erase-buffer)
              (insert "@calc")
              (pcase-let ((`(,beg ,end ,table . ,plist)
                           (run-hook-with-args-until-success 'completion-at-point-functions)))
                (let* ((string (buffer-substring-no-properties beg end))
                       (md (completion-metadata string table nil)))
                  (should (completion-try-completion string table nil (length string) md))
                  ;; corfu and company: the capf is kept (corfu checks a
                  ;; non-exclusive one with the styles, Emacs with a
                  ;; prefix), and `completion-all-completions' finds it.
                  (should-not (eq (plist-get plist :exclusive) 'no))
                  (should (member "src/calc.py"
                                  (completion-all-completions string table nil
                                                              (length string) md)))
                  ;; vertico (consult-completion-in-region): the same
                  ;; table, from the minibuffer.
                  (with-temp-buffer
                    (should (member "src/calc.py"
                                    (completion-all-completions string table nil
                                                                (length string) md)))))))
            ;; flex, as a user sets it.
            (let ((completion-styles '(flex))
                  (completion-category-defaults nil))
              (should (equal (opencode-complete-test--tab prompt "see @calc") "see @src/calc.py"))
              (should (equal (opencode-complete-test--tab prompt "see @sm") "see @src/small.py")))
            ;; orderless, as its README sets it up.
            (let ((completion-styles '(opencode-complete-test-orderless basic))
                  (completion-category-defaults nil)
                  (completion-category-overrides '((file (styles partial-completion)))))
              (should (equal (opencode-complete-test--tab prompt "see @calc") "see @src/calc.py"))
              (should (equal (opencode-complete-test--tab prompt "see @small") "see @src/small.py"))))
        (kill-buffer prompt)))))

(provide 'opencode-complete-test)
;;; opencode-complete-test.el ends here

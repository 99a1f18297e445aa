;;; opencode-markdown-test.el --- Tests of the Markdown rendering  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;;; Commentary:

;; `opencode-markdown-fontify' on a sample with every construct it
;; renders: the visible text, faces, buttons, table alignment, the
;; source left unchanged, quiet code modes, and incremental rendering
;; (from a stable boundary, and fed in chunks like a stream) equal to
;; one whole pass.

;;; Code:

(require 'opencode-test-helpers)
(require 'opencode-markdown)

(defconst opencode-markdown-test--sample
  "# Title one

Intro with **bold**, *italic*, ***both***, __under bold__, _under it_, `inline **code**`,
~~struck~~ and a [link text](https://example.com/a_b_c \"T\") and a bare https://gnu.org/software/emacs/.
Escaped \\*stars\\* and snake_case_name stay.

## Second level

### Third level `code`

#### Fourth

> A quote with **bold**
> > nested quote

- item one
- item two with `code`
  - nested a
  - nested b
    - deeper
* star item
+ plus item
- [ ] open task
- [x] done task
1. first
2. second
   - sub of second

---

| Name | Qty | Note |
|:-----|----:|:----:|
| apple | 3 | **fresh** |
| 日本語テキスト | 12 | 漢字 |
| emoji 😀🎉 | 7 | `x|y` |
| [doc](https://d.example) | 1 | ok |

```python
def f(x):
    return x ** 2  # **not bold**
```

```elisp
(defun g () \"str `x`\" (message \"hi\"))
```

```sh
echo \"hello\" | grep h  # [not](link)

echo after-blank
```

```
plain block
```

Final paragraph with *emphasis*.
"
  "Markdown with every construct the chat renders.")

(defmacro opencode-markdown-test--with (text &rest body)
  "Run BODY in a temporary buffer holding TEXT, set up as the chat is."
  (declare (indent 1) (debug t))
  `(with-temp-buffer
     (add-to-invisibility-spec 'opencode-markup)
     (insert ,text)
     ,@body))

(defun opencode-markdown-test--face-at (string &optional offset)
  "Return the faces at STRING (plus OFFSET) in the buffer, as a list."
  (save-excursion
    (goto-char (point-min))
    (search-forward string)
    (ensure-list (get-text-property (+ (match-beginning 0) (or offset 0)) 'face))))

(defun opencode-markdown-test--rendering ()
  "Return the rendering of the buffer: each character's properties, printed."
  (let ((props '(face invisible display button category action help-echo follow-link
                      opencode-markdown-url line-prefix wrap-prefix)))
    (cl-loop for pos from (point-min) below (point-max)
             collect (format "%S" (cl-loop for p in props
                                           collect (get-text-property pos p))))))

(defun opencode-markdown-test--visible-lines ()
  "Return the visible text of the buffer, as lines."
  (split-string (opencode-test--visible-text) "\n"))

(ert-deftest opencode-markdown/visible-text ()
  "What shows has no Markdown marks; bullets, boxes, quotes and rules are drawn."
  (opencode-markdown-test--with opencode-markdown-test--sample
    (opencode-markdown-fontify (point-min) (point-max))
    (let* ((text (opencode-test--visible-text))
           ;; Before the code blocks, but for the Markdown in inline code.
           (prose (replace-regexp-in-string
                   "inline \\*\\*code\\*\\*" "" (substring text 0 (string-search "\npython\n" text)))))
      (dolist (gone '("\\*\\*" "`" "~~" "#" "\\[link text\\]" "](https" "__" "\\\\\\*"
                      "^ *[-*+] " "\\[[ x]\\]" "^>" "---" "^|" ":-"))
        (should-not (string-match-p gone prose)))
      (dolist (gone '("```" "~~~"))
        (should-not (string-match-p (regexp-quote gone) text)))
      (dolist (shown '("Title one\n" "Intro with bold, italic, both, under bold, under it, inline **code**,"
                       "struck and a link text and a bare https://gnu.org/software/emacs/."
                       "Escaped *stars* and snake_case_name stay."
                       "\nSecond level\n" "\nThird level code\n" "\nFourth\n"
                       "▎ A quote with bold" "▎ ▎ nested quote"
                       "• item one" "  ◦ nested a" "    • deeper" "• star item" "• plus item"
                       "☐ open task" "☑ done task" "1. first" "   ◦ sub of second"
                       "────────────"
                       "python\ndef f(x):\n    return x ** 2  # **not bold**\n\n"
                       "elisp\n(defun g () \"str `x`\" (message \"hi\"))\n\n"
                       "sh\necho \"hello\" | grep h  # [not](link)\n\necho after-blank\n\n"
                       "\nplain block\n\nFinal paragraph with emphasis."))
        (should (string-match-p (regexp-quote shown) text))))))

(ert-deftest opencode-markdown/faces ()
  "Headings have a face per level; emphasis, code, quotes and code blocks theirs."
  (opencode-markdown-test--with opencode-markdown-test--sample
    (opencode-markdown-fontify (point-min) (point-max))
    (cl-flet ((face-at (s &optional offset) (opencode-markdown-test--face-at s offset)))
      (should (memq 'opencode-chat-markdown-heading-1 (face-at "Title one")))
      (should (memq 'opencode-chat-markdown-heading-2 (face-at "Second level")))
      (should (memq 'opencode-chat-markdown-heading-3 (face-at "Third level")))
      (should (memq 'opencode-chat-markdown-heading-3 (face-at "Fourth")))
      (should (memq 'opencode-chat-markdown-code (face-at "code`\n\n####")))
      (should (memq 'bold (face-at "bold**,")))
      (should (memq 'italic (face-at "italic*")))
      (should (equal '(bold italic) (face-at "both")))
      (should (memq 'bold (face-at "under bold")))
      (should (memq 'italic (face-at "under it")))
      (should (memq 'opencode-chat-markdown-strike (face-at "struck")))
      (should (memq 'opencode-chat-markdown-quote (face-at "A quote")))
      (should (memq 'bold (face-at "bold**\n> >")))
      (should (memq 'opencode-chat-markdown-code (face-at "inline **code")))
      ;; Code in its language's faces; Markdown marks in it left alone.
      (should (memq 'font-lock-keyword-face (face-at "def f")))
      (should (memq 'font-lock-keyword-face (face-at "defun g")))
      (should (memq 'font-lock-string-face (face-at "\"hello\"")))
      (should-not (memq 'bold (face-at "not bold**" 0)))
      (should-not (get-text-property (save-excursion (goto-char (point-min))
                                                     (search-forward "**not bold")
                                                     (match-beginning 0))
                                     'invisible))
      (should (memq 'opencode-chat-markdown-code (face-at "plain block")))
      (should-not (face-at "snake_case_name"))
      (should-not (face-at "Final paragraph")))))

(ert-deftest opencode-markdown/links-and-urls ()
  "Links show their text only, as a button; bare URLs are buttons too."
  (opencode-markdown-test--with opencode-markdown-test--sample
    (opencode-markdown-fontify (point-min) (point-max))
    (let ((browsed nil))
      (cl-letf (((symbol-function 'browse-url) (lambda (url &rest _) (push url browsed))))
        (dolist (case '(("link text" . "https://example.com/a_b_c")
                        ("https://gnu.org" . "https://gnu.org/software/emacs/")
                        ("[doc](" . nil)))
          (goto-char (point-min))
          (search-forward (car case))
          (let ((button (button-at (match-beginning 0))))
            (if (null (cdr case))
                ;; In a table the row is a drawn string: no button there.
                (should-not button)
              (should button)
              (should (equal (button-get button 'help-echo) (cdr case)))
              (should (memq 'opencode-chat-markdown-link
                            (ensure-list (get-text-property (match-beginning 0) 'face))))
              (button-activate button)
              (should (equal (car browsed) (cdr case)))))))
      ;; The URL of a link and Markdown in code are not links.
      (goto-char (point-min))
      (search-forward "(https://example.com")
      (should-not (button-at (match-beginning 0)))
      (search-forward "[not](link)")
      (should-not (button-at (match-beginning 0))))))

(ert-deftest opencode-markdown/table-alignment ()
  "Table rows have one display width, CJK and emoji rows too; the rule is a line."
  (opencode-markdown-test--with opencode-markdown-test--sample
    (opencode-markdown-fontify (point-min) (point-max))
    (let* ((lines (opencode-markdown-test--visible-lines))
           (rows (cl-remove-if-not (lambda (l) (string-match-p "│\\|┼" l)) lines)))
      (should (= (length rows) 6))
      (should (cl-some (lambda (l) (string-match-p "日本語テキスト" l)) rows))
      (should (cl-some (lambda (l) (string-match-p "😀" l)) rows))
      (should (string-match-p "\\`─+┼─+┼─+\\'" (nth 1 rows)))
      (should (= 1 (length (delete-dups (mapcar #'string-width rows)))))
      ;; Cell markup rendered, alignment kept (right, centred).
      (should (string-match-p "\\`apple +│ +3 │ fresh\\'" (nth 2 rows)))
      (should (string-match-p "│ +x|y +\\'" (nth 4 rows)))
      (should (string-match-p "\\`doc +│" (nth 5 rows))))))

(ert-deftest opencode-markdown/source-unchanged ()
  "The buffer text stays the Markdown: copying gives it back."
  (opencode-markdown-test--with opencode-markdown-test--sample
    (opencode-markdown-fontify (point-min) (point-max))
    (opencode-markdown-fontify (point-min) (point-max))
    (should (equal (buffer-substring-no-properties (point-min) (point-max))
                   opencode-markdown-test--sample))))

(ert-deftest opencode-markdown/quiet-code-modes ()
  "Setting up a code block's mode shows nothing in the echo area or *Messages*."
  (dolist (mode '(python-mode sh-mode emacs-lisp-mode))
    (when-let ((buf (get-buffer (format " *opencode-fontify %s*" mode))))
      (kill-buffer buf)))
  (let* ((shown nil)
         (before (with-current-buffer (messages-buffer) (buffer-size)))
         (spy (lambda (&rest args) (unless inhibit-message (push args shown)))))
    (advice-add 'message :before spy)
    (unwind-protect
        (opencode-markdown-test--with opencode-markdown-test--sample
          (opencode-markdown-fontify (point-min) (point-max)))
      (advice-remove 'message spy))
    (should-not shown)
    (should (= before (with-current-buffer (messages-buffer) (buffer-size))))))

(ert-deftest opencode-markdown/code-and-open-fence ()
  "Inside code nothing else applies; an unclosed fence runs to the end."
  (opencode-markdown-test--with "Before **b**.\n```python\nx = 1  # **no** [a](b) https://x.y\n`"
    (opencode-markdown-fontify (point-min) (point-max))
    (should (equal (opencode-test--visible-text)
                   "Before b.\npython\nx = 1  # **no** [a](b) https://x.y\n`"))
    (goto-char (point-min))
    (search-forward "https")
    (should-not (button-at (match-beginning 0)))
    ;; The fence closes as the text streams on.
    (goto-char (point-max))
    (insert "``\nAfter **c**.")
    (opencode-markdown-fontify (point-min) (point-max))
    (should (equal (opencode-test--visible-text)
                   "Before b.\npython\nx = 1  # **no** [a](b) https://x.y\nAfter c."))))

(ert-deftest opencode-markdown/two-spans-on-a-line ()
  "Each pair of marks is one span: the first closing mark closes it.
Two bold words on a line, or bold inside a word, left marks showing."
  (opencode-markdown-test--with
      "**one** and **two**; Say**b** word, __u__ or __v__, ***x*** then ***y***, **a *b* c**."
    (opencode-markdown-fontify (point-min) (point-max))
    (should (equal (opencode-test--visible-text)
                   "one and two; Sayb word, u or v, x then y, a b c."))
    (should-not (memq 'bold (opencode-markdown-test--face-at " and ")))
    (should (memq 'bold (opencode-markdown-test--face-at "two")))
    (should (memq 'italic (opencode-markdown-test--face-at "b* c")))
    (should (memq 'bold (opencode-markdown-test--face-at " c**")))))

(ert-deftest opencode-markdown/too-large ()
  "A part past `opencode-chat-fontify-max' shows as plain text, markup and all."
  (opencode-markdown-test--with opencode-markdown-test--sample
    (opencode-markdown-fontify (point-min) (point-max))
    (let ((opencode-chat-fontify-max 10))
      (opencode-markdown-fontify (point-min) (point-max)))
    (should (equal (opencode-test--visible-text) opencode-markdown-test--sample))
    (should-not (next-single-property-change (point-min) 'face))))

(ert-deftest opencode-markdown/stable-boundary ()
  "The boundary is after the last blank line outside fenced code."
  (cl-flet ((boundary (text &optional from)
              (with-temp-buffer
                (insert text)
                (opencode-markdown-stable-boundary (or from (point-min)) (point-max)))))
    (should (= (boundary "no blank line yet") 1))
    (should (= (boundary "a\n\nb\n\nc") 7))
    (should (= (boundary "a\n\nb\n\n") 7))
    (should (= (boundary "a\n  \nb") 6))
    ;; A blank line in a fenced block is no boundary, closed or not.
    (should (= (boundary "a\n\n```\nx\n\ny\n") 4))
    (should (= (boundary "a\n\n```\nx\n\ny\n```\n\nz") 18))
    (should (= (boundary "a\n\n~~~~\n```\n\n~~~~\n\nz") 20))
    ;; From an earlier boundary.
    (should (= (boundary "a\n\nb\n\nc" 4) 7))))

(ert-deftest opencode-markdown/incremental-equals-whole ()
  "Rendering again from a stable boundary gives what a whole pass gives."
  (let (whole)
    (opencode-markdown-test--with opencode-markdown-test--sample
      (opencode-markdown-fontify (point-min) (point-max))
      (setq whole (opencode-markdown-test--rendering)))
    (opencode-markdown-test--with opencode-markdown-test--sample
      (opencode-markdown-fontify (point-min) (point-max))
      (let ((from (opencode-markdown-stable-boundary (point-min) (point-max))))
        (should (> from (/ (point-max) 2)))
        (opencode-markdown-fontify (point-min) (point-max) from)
        (should (equal (opencode-markdown-test--rendering) whole))
        ;; Even from every boundary there is.
        (let ((pos (point-min)) next)
          (while (> (setq next (save-excursion
                                 (goto-char pos)
                                 (if (re-search-forward "^\n" nil t)
                                     (opencode-markdown-stable-boundary pos (point))
                                   pos)))
                    pos)
            (opencode-markdown-fontify (point-min) (point-max) next)
            (should (equal (opencode-markdown-test--rendering) whole))
            (setq pos next)))))))

(ert-deftest opencode-markdown/streamed-in-chunks ()
  "Fed in chunks, a pass after each, the end result is one whole pass's."
  (let ((sample opencode-markdown-test--sample) whole whole-text)
    (opencode-markdown-test--with sample
      (opencode-markdown-fontify (point-min) (point-max))
      (setq whole (opencode-markdown-test--rendering)
            whole-text (opencode-test--visible-text)))
    (dolist (size '(1 7 64 500))
      (dolist (incremental (if (memq size '(7 500)) '(t nil) '(t)))
        (opencode-markdown-test--with ""
          (let ((from (point-min)))
            (cl-loop for i from 0 below (length sample) by size
                     do (goto-char (point-max))
                     (insert (substring sample i (min (length sample) (+ i size))))
                     (if incremental
                         (progn (opencode-markdown-fontify (point-min) (point-max) from)
                                (setq from (opencode-markdown-stable-boundary
                                            from (point-max))))
                       (opencode-markdown-fontify (point-min) (point-max)))))
          (should (equal (opencode-test--visible-text) whole-text))
          (should (equal (opencode-markdown-test--rendering) whole)))))
    ;; The blocks past `opencode-chat-fontify-max-blocks' are counted
    ;; across passes too.
    (let ((opencode-chat-fontify-max-blocks 2))
      (opencode-markdown-test--with sample
        (opencode-markdown-fontify (point-min) (point-max))
        (setq whole (opencode-markdown-test--rendering)))
      (should-not (memq 'font-lock-string-face
                        (opencode-markdown-test--with sample
                          (opencode-markdown-fontify (point-min) (point-max))
                          (opencode-markdown-test--face-at "\"hello\""))))
      (opencode-markdown-test--with ""
        (let ((from (point-min)))
          (cl-loop for i from 0 below (length sample) by 40
                   do (goto-char (point-max))
                   (insert (substring sample i (min (length sample) (+ i 40))))
                   (opencode-markdown-fontify (point-min) (point-max) from)
                   (setq from (opencode-markdown-stable-boundary from (point-max)))))
        (should (equal (opencode-markdown-test--rendering) whole))))))

(provide 'opencode-markdown-test)
;;; opencode-markdown-test.el ends here

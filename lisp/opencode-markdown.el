;;; opencode-markdown.el --- Markdown rendering for text parts  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; `opencode-markdown-fontify' renders the Markdown of a region in
;; place: emphasis, inline code, headings by level, links and bare URLs
;; as buttons, strike-through, block quotes, lists and task boxes,
;; rules, tables aligned by display width, and fenced code blocks
;; fontified by their language's major mode (in a hidden buffer kept
;; per mode).  The chat calls it on text parts.
;;
;; The buffer text stays the Markdown source: no character is inserted
;; or deleted.  Markup is hidden with an `invisible' property whose
;; value is `opencode-markup' (the buffer shows it or not by its
;; `buffer-invisibility-spec'), replaced with `display' strings (a
;; bullet, a table row, a rule), and given faces and buttons.  Copying
;; the text gives the Markdown back.
;;
;; A reply that streams in is rendered again and again.  Everything
;; before a blank line outside a fenced block renders the same whatever
;; comes after it, so `opencode-markdown-stable-boundary' returns the
;; position after the last such line, and `opencode-markdown-fontify'
;; re-renders from there only when given it: the cost of a pass is that
;; of the last block, not of the whole reply.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'button)
(require 'opencode-lib)

(defvar python-indent-guess-indent-offset)

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

(defface opencode-chat-markdown-heading '((t :weight bold))
  "Face of Markdown headings in text parts; the level faces inherit it."
  :group 'opencode)

(defface opencode-chat-markdown-heading-1
  '((t :inherit (opencode-chat-markdown-heading font-lock-function-name-face)
        :underline t :height 1.3))
  "Face of level 1 Markdown headings (# Title) in text parts."
  :group 'opencode)

(defface opencode-chat-markdown-heading-2
  '((t :inherit (opencode-chat-markdown-heading font-lock-variable-name-face)
        :height 1.15))
  "Face of level 2 Markdown headings (## Title) in text parts."
  :group 'opencode)

(defface opencode-chat-markdown-heading-3
  '((t :inherit (opencode-chat-markdown-heading font-lock-keyword-face)))
  "Face of Markdown headings of level 3 and deeper in text parts."
  :group 'opencode)

(defface opencode-chat-markdown-code '((t :inherit font-lock-constant-face))
  "Face of inline code in text parts."
  :group 'opencode)

(defface opencode-chat-markdown-link '((t :inherit link))
  "Face of links and bare URLs in text parts."
  :group 'opencode)

(defface opencode-chat-markdown-strike
  '((((supports :strike-through t)) :strike-through t) (t :inherit shadow))
  "Face of ~~struck through~~ text in text parts."
  :group 'opencode)

(defface opencode-chat-markdown-quote '((t :inherit font-lock-doc-face))
  "Face of block quotes in text parts."
  :group 'opencode)

(defface opencode-chat-markdown-bullet '((t :inherit font-lock-builtin-face))
  "Face of list bullets, numbers and task boxes in text parts."
  :group 'opencode)

(defface opencode-chat-markdown-table-header '((t :weight bold))
  "Face of the header row of tables in text parts."
  :group 'opencode)

;;;; Code blocks

(defun opencode-markdown--code-mode (lang)
  "Return the major mode for code in language LANG, or nil."
  (let* ((lang (downcase (string-trim (or lang ""))))
         (mode (or (cdr (assoc lang opencode-chat-code-modes))
                   (and (not (string-empty-p lang)) (intern (concat lang "-mode"))))))
    (and mode (fboundp mode) mode)))

(defmacro opencode-markdown--quietly (&rest body)
  "Run BODY with its messages neither shown nor logged.
Major modes talk as they start (python-mode guesses its indentation,
sh-mode sets up its shell); in a hidden buffer that is noise."
  (declare (indent 0) (debug t))
  `(let ((inhibit-message t)
         (message-log-max nil)
         (python-indent-guess-indent-offset nil))
     ,@body))

(defun opencode-markdown--fontify-buffer (mode)
  "Return the hidden buffer, in MODE, where code is fontified.
One per mode, kept: setting a major mode up is what costs, not the
fontification of a short block.  The mode's hooks do not run."
  (let ((buf (get-buffer-create (format " *opencode-fontify %s*" mode))))
    (with-current-buffer buf
      (unless (eq major-mode mode)
        (opencode-markdown--quietly
          (delay-mode-hooks (funcall mode))
          (font-lock-set-defaults))))
    buf))

(defun opencode-markdown--fontify-code (beg end mode)
  "Give the text from BEG to END the faces MODE's font-lock gives it."
  (let ((code (buffer-substring-no-properties beg end))
        (faces nil))
    (with-current-buffer (opencode-markdown--fontify-buffer mode)
      (erase-buffer)
      (insert code)
      (opencode-markdown--quietly
        (ignore-errors (font-lock-fontify-region (point-min) (point-max))))
      (let ((pos (point-min)))
        (while (< pos (point-max))
          (let ((next (next-single-property-change pos 'face nil (point-max)))
                (face (get-text-property pos 'face)))
            (when face (push (list (1- pos) (1- next) face) faces))
            (setq pos next)))))
    (put-text-property beg end 'face nil)
    (dolist (f faces)
      (put-text-property (+ beg (nth 0 f)) (+ beg (nth 1 f)) 'face (nth 2 f)))))

;;;; Helpers

(defconst opencode-markdown--properties
  '(face button category action help-echo follow-link opencode-markdown-url
         display line-prefix wrap-prefix opencode-markdown-verbatim
         opencode-markdown-blocks)
  "Text properties the rendering sets (besides `invisible').")

(defconst opencode-markdown--fence-re
  "^[ \t]*\\(`\\{3,\\}\\|~\\{3,\\}\\)[ \t]*\\([^ \t\n`]*\\)[^\n]*$"
  "An opening fence; group 1 is the fence, group 2 the language.")

(defun opencode-markdown--clear (beg end)
  "Remove what rendering set between BEG and END."
  (remove-list-of-text-properties beg end opencode-markdown--properties)
  (let ((pos beg))
    (while (< pos end)
      (let ((next (next-single-property-change pos 'invisible nil end)))
        (when (eq (get-text-property pos 'invisible) 'opencode-markup)
          (remove-list-of-text-properties pos next '(invisible)))
        (setq pos next)))))

(defun opencode-markdown--hide (beg end)
  "Hide the markup between BEG and END."
  (when (< beg end)
    (put-text-property beg end 'invisible 'opencode-markup)))

(defun opencode-markdown--show-as (beg end string &optional face)
  "Show the text between BEG and END as STRING, in FACE."
  (put-text-property beg end 'display (if face (propertize string 'face face) string)))

(defun opencode-markdown--free-p (beg end)
  "Return non-nil if nothing between BEG and END is code, hidden or replaced."
  (cl-loop for prop in '(opencode-markdown-verbatim invisible display)
           always (and (null (get-text-property beg prop))
                       (>= (next-single-property-change beg prop nil end) end))))

(defun opencode-markdown--close-fence (fence)
  "Find the fence closing FENCE from point; return (BEG . END) of its line, or nil."
  (when (re-search-forward
         (format "^[ \t]*%s\\{%d,\\}[ \t]*$"
                 (regexp-quote (substring fence 0 1)) (length fence))
         nil t)
    (cons (match-beginning 0) (match-end 0))))

(defun opencode-markdown--browse (button)
  "Browse the URL of link BUTTON."
  (browse-url (button-get button 'opencode-markdown-url)))

(defun opencode-markdown--link (beg end url)
  "Make the text from BEG to END a button that browses URL."
  (make-text-button beg end 'action #'opencode-markdown--browse
                    'opencode-markdown-url url 'help-echo url 'follow-link t)
  (add-face-text-property beg end 'opencode-chat-markdown-link))

;;;; Inline markup

(defconst opencode-markdown--emphasis
  '(("\\(\\*\\*\\*\\)\\([^* \n]\\(?:[^\n]*?[^* \n]\\)??\\)\\(\\*\\*\\*\\)" (bold italic))
    ("\\(\\*\\*\\)\\([^* \n]\\(?:[^\n]*?[^ \n]\\)??\\)\\(\\*\\*\\)" bold)
    ("\\(?:^\\|[^[:alnum:]_\\]\\)\\(__\\)\\([^_ \n]\\(?:[^\n]*?[^ \n]\\)??\\)\\(__\\)\\(?:[^[:alnum:]_]\\|$\\)"
     bold)
    ("\\(\\*\\)\\([^* \n]\\(?:[^*\n]*?[^* \n]\\)?\\)\\(\\*\\)" italic)
    ("\\(?:^\\|[^[:alnum:]_\\]\\)\\(_\\)\\([^_ \n]\\(?:[^_\n]*?[^_ \n]\\)?\\)\\(_\\)\\(?:[^[:alnum:]_]\\|$\\)"
     italic)
    ("\\(~~\\)\\([^~ \n]\\(?:[^~\n]*?[^~ \n]\\)?\\)\\(~~\\)" opencode-chat-markdown-strike))
  "Emphasis marks, each a regexp and the face of the text it marks.
The regexp's groups are the opening mark, the text and the closing
mark.  Tried in this order.")

(defconst opencode-markdown--url-re
  "\\(<\\)?\\(https?://[^][ \t\n<>\"'`(){}]*[^][ \t\n<>\"'`(){}.,;:!?*_~]\\)\\(>\\)?"
  "A bare URL, perhaps in angle brackets.")

(defun opencode-markdown--code-spans (beg end)
  "Render the inline code between BEG and END."
  (goto-char beg)
  (while (re-search-forward "`+" end t)
    (let* ((open-beg (match-beginning 0))
           (open-end (match-end 0))
           (marks (- open-end open-beg)))
      (if (and (not (get-text-property open-beg 'opencode-markdown-verbatim))
               ;; The closing run has as many backticks.
               (cl-loop while (re-search-forward "`+" end t)
                        thereis (= (- (match-end 0) (match-beginning 0)) marks)))
          (let ((close-beg (match-beginning 0))
                (close-end (match-end 0)))
            (opencode-markdown--hide open-beg open-end)
            (opencode-markdown--hide close-beg close-end)
            (add-face-text-property open-end close-beg 'opencode-chat-markdown-code)
            (put-text-property open-beg close-end 'opencode-markdown-verbatim t)
            (goto-char close-end))
        (goto-char open-end)))))

(defun opencode-markdown--inline (beg end)
  "Render the inline markup between BEG and END (one line or less)."
  (save-excursion
    (opencode-markdown--code-spans beg end)
    ;; Backslash escapes: the mark shows as itself.
    (goto-char beg)
    (while (re-search-forward "\\\\[][!\"#$%&'()*+,./:;<=>?@\\^_`{|}~-]" end t)
      (when (opencode-markdown--free-p (match-beginning 0) (match-end 0))
        (opencode-markdown--hide (match-beginning 0) (1+ (match-beginning 0)))
        (put-text-property (1+ (match-beginning 0)) (match-end 0)
                           'opencode-markdown-verbatim t)))
    ;; Links and images: the text only, as a button.
    (goto-char beg)
    (while (re-search-forward
            "\\(!?\\[\\)\\([^]\n]*\\)\\](<?\\([^)> \n]*\\)>?\\(?:[ \t]+\"[^\"\n]*\"\\)?)" end t)
      (let ((mb (match-beginning 0)) (me (match-end 0))
            (text-beg (match-beginning 2)) (text-end (match-end 2))
            (url (match-string-no-properties 3)))
        (if (not (and (opencode-markdown--free-p mb text-beg)
                      (opencode-markdown--free-p text-end me)))
            (goto-char (1+ mb))
          (opencode-markdown--hide mb text-beg)
          (opencode-markdown--hide text-end me)
          (put-text-property text-end me 'opencode-markdown-verbatim t)
          (when (< text-beg text-end)
            (opencode-markdown--link text-beg text-end url)))))
    ;; Bare URLs.
    (goto-char beg)
    (while (re-search-forward opencode-markdown--url-re end t)
      (let ((mb (match-beginning 0)) (me (match-end 0))
            (url-beg (match-beginning 2)) (url-end (match-end 2)))
        (when (and (opencode-markdown--free-p mb me)
                   (not (get-text-property url-beg 'button)))
          (when (and (match-beginning 1) (match-beginning 3))
            (opencode-markdown--hide mb url-beg)
            (opencode-markdown--hide url-end me))
          (opencode-markdown--link url-beg url-end (match-string-no-properties 2))
          (put-text-property mb me 'opencode-markdown-verbatim t))))
    ;; Emphasis.
    (pcase-dolist (`(,re ,face) opencode-markdown--emphasis)
      (goto-char (max (point-min) (1- beg)))
      (while (re-search-forward re end t)
        (let ((open-beg (match-beginning 1)) (open-end (match-end 1))
              (close-beg (match-beginning 3)) (close-end (match-end 3)))
          (if (not (and (>= open-beg beg)
                        (opencode-markdown--free-p open-beg open-end)
                        (opencode-markdown--free-p close-beg close-end)))
              (goto-char (1+ open-beg))
            (opencode-markdown--hide open-beg open-end)
            (opencode-markdown--hide close-beg close-end)
            (add-face-text-property open-end close-beg face)
            (goto-char close-end)))))))

;;;; Blocks

(defun opencode-markdown--fence (count)
  "Render the fenced code block at point; COUNT blocks came before it.
Return the number of blocks now.  An unclosed block (still streaming)
runs to the end."
  (let* ((fence-beg (match-beginning 0))
         (fence-end (match-end 0))
         (fence (match-string 1))
         (lang (match-string-no-properties 2))
         (code-beg (min (1+ (match-end 0)) (point-max)))
         (close (progn (goto-char code-beg) (opencode-markdown--close-fence fence)))
         (code-end (if close (car close) (point-max)))
         (block-end (if close (min (1+ (cdr close)) (point-max)) (point-max)))
         (mode (and (< count opencode-chat-fontify-max-blocks)
                    (opencode-markdown--code-mode lang))))
    ;; The opening fence: a dim label with the language, or nothing.
    (if (string-empty-p lang)
        (opencode-markdown--hide fence-beg code-beg)
      (opencode-markdown--show-as fence-beg fence-end lang 'opencode-chat-dim))
    (when close (opencode-markdown--hide (car close) block-end))
    (if mode
        (opencode-markdown--fontify-code code-beg code-end mode)
      (put-text-property code-beg code-end 'face 'opencode-chat-markdown-code))
    (add-text-properties fence-beg code-end (quote (line-prefix "  " wrap-prefix "  ")))
    (put-text-property fence-beg block-end 'opencode-markdown-verbatim t)
    (goto-char block-end)
    (1+ count)))

(defun opencode-markdown--count-blocks (beg end)
  "Return the number of fenced code blocks that start between BEG and END."
  (save-excursion
    (goto-char beg)
    (let ((count 0))
      (while (re-search-forward opencode-markdown--fence-re end t)
        (setq count (1+ count))
        (unless (opencode-markdown--close-fence (match-string 1))
          (goto-char end)))
      count)))

(defun opencode-markdown--list-depth (indent stack)
  "Return (DEPTH . STACK) for a list item indented by INDENT columns.
STACK holds (INDENT . DEPTH) of the open list levels, innermost first."
  (while (and stack (> (caar stack) indent))
    (pop stack))
  (cond ((and stack (= (caar stack) indent)) (cons (cdar stack) stack))
        (stack (let ((depth (1+ (cdar stack))))
                 (cons depth (cons (cons indent depth) stack))))
        (t (let ((depth (if (>= indent 2) 1 0)))
             (cons depth (list (cons indent depth)))))))

(defun opencode-markdown--line (end stack)
  "Render the line at point, up to END; STACK is the open list levels.
Return the list levels open after it."
  (let ((quote-beg nil))
    ;; Block quotes: each `>' a bar.
    (while (looking-at " \\{0,3\\}> ?")
      (setq quote-beg (or quote-beg (match-beginning 0)))
      (opencode-markdown--show-as (match-beginning 0) (match-end 0) "▎ " 'opencode-chat-dim)
      (goto-char (match-end 0)))
    (let ((beg (point)))
      (prog1
          (cond
           ;; Headings: the marks hidden, a face per level.
           ((looking-at " \\{0,3\\}\\(#\\{1,6\\}\\)\\(?:[ \t]+\\|$\\)")
            (let ((face (pcase (- (match-end 1) (match-beginning 1))
                          (1 'opencode-chat-markdown-heading-1)
                          (2 'opencode-chat-markdown-heading-2)
                          (_ 'opencode-chat-markdown-heading-3)))
                  (text-beg (match-end 0))
                  (text-end end))
              (opencode-markdown--hide beg text-beg)
              (save-excursion
                (goto-char end)
                (when (re-search-backward "[ \t]+#+[ \t]*\\=" text-beg t)
                  (setq text-end (match-beginning 0))
                  (opencode-markdown--hide text-end end)))
              (add-face-text-property text-beg text-end face)
              (opencode-markdown--inline text-beg text-end)
              nil))
           ;; Rules.
           ((looking-at " \\{0,3\\}\\([-*_]\\)\\(?:[ \t]*\\1\\)\\{2,\\}[ \t]*$")
            (opencode-markdown--show-as beg end (make-string 40 ?─) 'opencode-chat-dim)
            nil)
           ;; List items: bullets by depth, task boxes, numbers kept.
           ((looking-at "\\([ \t]*\\)\\([-*+]\\|[0-9]\\{1,9\\}[.)]\\)\\([ \t]+\\|$\\)")
            (let* ((indent (string-width (replace-regexp-in-string
                                          "\t" "    " (match-string 1))))
                   (mark-beg (match-beginning 2))
                   (mark-end (match-end 2))
                   (bullet (memq (char-after mark-beg) '(?- ?* ?+)))
                   (depth+stack (opencode-markdown--list-depth indent stack))
                   (text-beg (match-end 0)))
              (goto-char text-beg)
              (cond ((and bullet (looking-at "\\[\\([ xX]\\)\\]\\(?:[ \t]\\|$\\)"))
                     (opencode-markdown--show-as
                      mark-beg (1+ (match-end 1)) (if (equal (match-string 1) " ") "☐" "☑")
                      'opencode-chat-markdown-bullet)
                     (setq text-beg (match-end 0)))
                    (bullet
                     (opencode-markdown--show-as
                      mark-beg mark-end (if (cl-evenp (car depth+stack)) "•" "◦")
                      'opencode-chat-markdown-bullet))
                    (t (add-face-text-property mark-beg mark-end
                                               'opencode-chat-markdown-bullet)))
              (opencode-markdown--inline text-beg end)
              (cdr depth+stack)))
           (t
            (opencode-markdown--inline beg end)
            ;; An indented line continues the list it is in.
            (and (looking-at "[ \t]") stack)))
        (when quote-beg
          (add-face-text-property beg end 'opencode-chat-markdown-quote t))))))

;;;; Tables

(defconst opencode-markdown--table-rule-re
  "[ \t]*|?[ \t]*:?-+:?[ \t]*\\(?:|[ \t]*:?-+:?[ \t]*\\)*|?[ \t]*$"
  "The row under a table's header: dashes between pipes.")

(defun opencode-markdown--table-p ()
  "Return non-nil if a table starts at point."
  (and (looking-at "[ \t]*|")
       (save-excursion
         (and (zerop (forward-line 1))
              (looking-at opencode-markdown--table-rule-re)
              (string-match-p "|" (match-string 0))))))

(defun opencode-markdown--table-cells (beg end)
  "Return the cells of the table row from BEG to END, as (BEG . END) pairs.
A pipe in inline code or after a backslash does not end a cell."
  (save-excursion
    (goto-char beg)
    (skip-chars-forward " \t" end)
    (when (eq (char-after) ?|) (forward-char 1))
    (let ((cells nil) (cell-beg (point)) (in-code nil))
      (while (< (point) end)
        (pcase (char-after)
          (?\\ (forward-char 1))
          (?` (setq in-code (not in-code)))
          (?| (unless in-code
                (push (cons cell-beg (point)) cells)
                (setq cell-beg (1+ (point))))))
        (forward-char 1))
      (when (string-match-p "[^ \t]" (buffer-substring-no-properties (min cell-beg end) end))
        (push (cons cell-beg end) cells))
      (mapcar (lambda (cell)
                (goto-char (car cell))
                (skip-chars-forward " \t" (cdr cell))
                (let ((b (point)))
                  (goto-char (cdr cell))
                  (skip-chars-backward " \t" b)
                  (cons b (point))))
              (nreverse cells)))))

(defun opencode-markdown--rendered (beg end)
  "Return the text from BEG to END as it shows, with its faces."
  (let ((out nil) (pos beg))
    (while (< pos end)
      (let ((next (next-char-property-change pos end))
            (display (get-text-property pos 'display)))
        (cond ((eq (get-text-property pos 'invisible) 'opencode-markup))
              ((stringp display)
               (push display out)
               (setq next (next-single-property-change pos 'display nil end)))
              (t (push (propertize (buffer-substring-no-properties pos next)
                                   'face (get-text-property pos 'face))
                       out)))
        (setq pos next)))
    (apply #'concat (nreverse out))))

(defun opencode-markdown--pad (string width align)
  "Pad STRING with spaces to WIDTH columns, as ALIGN says (left, right, center)."
  (let* ((room (max 0 (- width (string-width string))))
         (left (pcase align ('right room) ('center (/ room 2)) (_ 0))))
    (concat (make-string left ?\s) string (make-string (- room left) ?\s))))

(defun opencode-markdown--table ()
  "Render the table at point, rows aligned by display width; move past it."
  (let ((rows nil) (rule nil) (aligns nil))
    (while (and (not (eobp)) (looking-at "[ \t]*|"))
      (let* ((beg (point)) (end (line-end-position))
             (cells (opencode-markdown--table-cells beg end)))
        (if (and (= (length rows) 1) (not rule))
            (setq rule (cons beg end)
                  aligns (mapcar (lambda (cell)
                                   (let ((text (buffer-substring-no-properties
                                                (car cell) (cdr cell))))
                                     (cond ((string-match-p "\\`:.*:\\'" text) 'center)
                                           ((string-match-p ":\\'" text) 'right)
                                           (t 'left))))
                                 cells))
          (push (cons beg
                      (cons end
                            (mapcar (lambda (cell)
                                      (opencode-markdown--inline (car cell) (cdr cell))
                                      (opencode-markdown--rendered (car cell) (cdr cell)))
                                    cells)))
                rows))
        (forward-line 1)))
    (setq rows (nreverse rows))
    (let* ((columns (apply #'max (mapcar (lambda (row) (length (cddr row))) rows)))
           (widths (cl-loop for i below columns
                            collect (apply #'max 3 (mapcar (lambda (row)
                                                             (string-width
                                                              (or (nth i (cddr row)) "")))
                                                           rows))))
           (bar (propertize " │ " 'face 'opencode-chat-dim)))
      (cl-loop for (beg end . cells) in rows
               for header = t then nil
               do (opencode-markdown--clear beg end)
               (opencode-markdown--show-as
                beg end
                (mapconcat #'identity
                           (cl-loop for width in widths
                                    for i from 0
                                    for cell = (or (nth i cells) "")
                                    collect (progn
                                              (when header
                                                (add-face-text-property
                                                 0 (length cell)
                                                 'opencode-chat-markdown-table-header
                                                 nil cell))
                                              (opencode-markdown--pad
                                               cell width (nth i aligns))))
                           bar)))
      (opencode-markdown--show-as
       (car rule) (cdr rule)
       (mapconcat (lambda (width) (make-string width ?─)) widths "─┼─")
       'opencode-chat-dim)
      (put-text-property (caar rows) (point) 'opencode-markdown-verbatim t))))

;;;; Entry points

(defun opencode-markdown-stable-boundary (beg end)
  "Return the position after the last stable block boundary in BEG..END.
A boundary is a blank line outside any fenced code block: the
rendering of what comes before it does not change when text is
appended after END.  BEG must be outside fenced code too: the start
of the text, or a position this function returned before (which
keeps the scan short).  Return BEG when there is no boundary."
  (save-excursion
    (save-restriction
      (narrow-to-region beg end)
      (goto-char beg)
      (let ((found beg))
        (while (re-search-forward
                "^\\(?:[ \t]*\\(`\\{3,\\}\\|~\\{3,\\}\\)\\|[ \t]*\n\\)" nil t)
          (if (not (match-beginning 1))
              (setq found (point))
            (unless (opencode-markdown--close-fence (match-string 1))
              (goto-char (point-max)))))
        found))))

(defun opencode-markdown-fontify (beg end &optional from)
  "Render the Markdown text between BEG and END in place.
Emphasis, inline code, headings, links and bare URLs, strike-through,
block quotes, lists, task boxes, rules, tables and fenced code blocks
in their language's major mode.  Markup is hidden with the `invisible'
property `opencode-markup', replaced by `display' strings or given
faces; the text itself does not change.

What an earlier call set in the region is removed first.  With FROM, a
position returned by `opencode-markdown-stable-boundary' for the same
BEG (or an earlier one), only FROM..END is rendered again: the text
before FROM keeps its rendering."
  (save-excursion
    (save-restriction
      (widen)
      (narrow-to-region beg end)
      (with-silent-modifications
        (if (> (- end beg) opencode-chat-fontify-max)
            (opencode-markdown--clear beg end)
          (let ((from (if from (max beg (min from end)) beg))
                (count 0)
                (stack nil))
            (opencode-markdown--clear from end)
            (unless (= from beg)
              ;; A pass leaves on each blank line the number of code
              ;; blocks before it.
              (setq count (or (get-text-property (1- from) 'opencode-markdown-blocks)
                              (opencode-markdown--count-blocks beg from))))
            (goto-char from)
            (while (< (point) (point-max))
              (cond
               ((looking-at opencode-markdown--fence-re)
                (setq count (opencode-markdown--fence count)
                      stack nil))
               ((looking-at "[ \t]*$")
                (setq stack nil)
                (put-text-property (point) (min (1+ (match-end 0)) (point-max))
                                   'opencode-markdown-blocks count)
                (forward-line 1))
               ((opencode-markdown--table-p)
                (opencode-markdown--table)
                (setq stack nil))
               (t
                (setq stack (opencode-markdown--line (line-end-position) stack))
                (forward-line 1))))))))))

(provide 'opencode-markdown)
;;; opencode-markdown.el ends here

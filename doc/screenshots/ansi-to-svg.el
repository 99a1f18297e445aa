;;; ansi-to-svg.el --- A terminal capture (ANSI colors) as an SVG image  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;;; Commentary:

;; doc/screenshots/take.sh captures a real `emacs -nw' running in tmux
;; with `tmux capture-pane -e' (text with ANSI color escapes); this turns
;; such a capture into an SVG that shows what the terminal showed (on a
;; light background: Emacs in tmux picks colors for one):
;;
;;   emacs -Q --batch -l doc/screenshots/ansi-to-svg.el \
;;         -f opencode-ansi-to-svg IN.ansi OUT.svg

;;; Code:

(require 'cl-lib)
(require 'subr-x)

(defconst opencode-svg--cell-width 8.4 "Width of a character cell, in pixels.")
(defconst opencode-svg--cell-height 17 "Height of a line, in pixels.")

(defconst opencode-svg--base16
  ["#1a1a1a" "#c0392b" "#2e7d32" "#b58900" "#1f5fbf" "#8e44ad" "#00838f" "#e0e0e0"
   "#767676" "#e74c3c" "#43a047" "#d4a017" "#3b82f6" "#a855f7" "#06b6d4" "#ffffff"]
  "The 16 basic terminal colors, for a light background.")

(defun opencode-svg--256 (n)
  "Return xterm color N (0-255) as #RRGGBB."
  (cond ((< n 16) (aref opencode-svg--base16 n))
        ((< n 232) (let* ((n (- n 16))
                          (lv (lambda (v) (if (zerop v) 0 (+ 55 (* 40 v))))))
                     (format "#%02x%02x%02x" (funcall lv (/ n 36))
                             (funcall lv (% (/ n 6) 6)) (funcall lv (% n 6)))))
        (t (let ((g (+ 8 (* 10 (- n 232))))) (format "#%02x%02x%02x" g g g)))))

(defun opencode-svg--sgr (codes state)
  "Apply SGR CODES (a list of numbers) to STATE, a plist; return it."
  (while codes
    (let ((c (pop codes)))
      (cond
       ((= c 0) (setq state nil))
       ((= c 1) (setq state (plist-put state :bold t)))
       ((= c 22) (setq state (plist-put state :bold nil)))
       ((= c 4) (setq state (plist-put state :underline t)))
       ((= c 24) (setq state (plist-put state :underline nil)))
       ((= c 7) (setq state (plist-put state :inverse t)))
       ((= c 27) (setq state (plist-put state :inverse nil)))
       ((<= 30 c 37) (setq state (plist-put state :fg (aref opencode-svg--base16 (- c 30)))))
       ((<= 90 c 97) (setq state (plist-put state :fg (aref opencode-svg--base16 (- c 82)))))
       ((<= 40 c 47) (setq state (plist-put state :bg (aref opencode-svg--base16 (- c 40)))))
       ((<= 100 c 107) (setq state (plist-put state :bg (aref opencode-svg--base16 (- c 92)))))
       ((= c 39) (setq state (plist-put state :fg nil)))
       ((= c 49) (setq state (plist-put state :bg nil)))
       ((memq c '(38 48))
        (let ((key (if (= c 38) :fg :bg)))
          (pcase (pop codes)
            (5 (setq state (plist-put state key (opencode-svg--256 (or (pop codes) 0)))))
            (2 (setq state (plist-put state key (format "#%02x%02x%02x" (or (pop codes) 0)
                                                        (or (pop codes) 0) (or (pop codes) 0)))))))))))
  state)

(defun opencode-svg--lines (text)
  "Return TEXT with ANSI escapes as lines of runs (STRING STATE)."
  (let ((state nil) (lines nil))
    (dolist (line (split-string text "\n"))
      (let ((runs nil) (pos 0))
        (while (string-match "\e\\[\\([0-9;]*\\)m" line pos)
          (when (> (match-beginning 0) pos)
            (push (list (substring line pos (match-beginning 0)) state) runs))
          (let ((codes (match-string 1 line)))
            (setq pos (match-end 0))
            (setq state (opencode-svg--sgr
                         (mapcar #'string-to-number (or (split-string codes ";" t) '("0")))
                         (copy-sequence state)))))
        (when (< pos (length line))
          (push (list (substring line pos) state) runs))
        (push (nreverse runs) lines)))
    (while (and lines (null (car lines))) (pop lines))
    (nreverse lines)))

(defun opencode-svg--escape (s)
  "Escape S for XML."
  (replace-regexp-in-string
   "[<>&\"]" (lambda (m) (pcase m ("<" "&lt;") (">" "&gt;") ("&" "&amp;") (_ "&quot;")))
   s t t))

(defun opencode-ansi-to-svg ()
  "Convert the file named by the first argument into the SVG of the second."
  (let* ((in (pop command-line-args-left))
         (out (pop command-line-args-left))
         (fg "#1a1a1a") (bg "#fdfdfd")
         lines width)
    (setq lines (opencode-svg--lines
                 (with-temp-buffer
                   (insert-file-contents in)
                   (buffer-string))))
    (setq width (apply #'max 80 (mapcar (lambda (l) (apply #'+ (mapcar (lambda (r) (string-width (car r))) l)))
                                        lines)))
    (with-temp-file out
      (insert (format "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"14\">\n"
                      (ceiling (* width opencode-svg--cell-width))
                      (* (length lines) opencode-svg--cell-height))
              (format "<rect width=\"100%%\" height=\"100%%\" fill=\"%s\"/>\n" bg))
      (cl-loop for line in lines
               for y from 0
               do (let ((x 0))
                    (dolist (run line)
                      (let* ((text (car run)) (face (cadr run))
                             (w (string-width text))
                             (inverse (plist-get face :inverse))
                             (f (or (plist-get face :fg) fg))
                             (b (plist-get face :bg)))
                        (when inverse (setq b (or f fg) f bg))
                        (when b
                          (insert (format "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n"
                                          (* x opencode-svg--cell-width) (* y opencode-svg--cell-height)
                                          (* w opencode-svg--cell-width) opencode-svg--cell-height b)))
                        (unless (string-blank-p text)
                          (insert (format "<text x=\"%.1f\" y=\"%d\" fill=\"%s\"%s%s xml:space=\"preserve\">%s</text>\n"
                                          (* x opencode-svg--cell-width)
                                          (+ (* y opencode-svg--cell-height) 13)
                                          f
                                          (if (plist-get face :bold)
                                              " font-weight=\"bold\"" "")
                                          (if (plist-get face :underline)
                                              " text-decoration=\"underline\"" "")
                                          (opencode-svg--escape text))))
                        (setq x (+ x w))))))
      (insert "</svg>\n"))
    (message "Wrote %s (%d lines)" out (length lines))))

;;; ansi-to-svg.el ends here

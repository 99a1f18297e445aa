;;; ansi-to-svg.el --- A terminal capture (ANSI colors) as an SVG image  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;;; Commentary:

;; doc/screenshots/take.sh captures a real `emacs -nw' running in tmux
;; with `tmux capture-pane -e' (text with ANSI color escapes); this turns
;; such a capture into an SVG that shows what the terminal showed:
;;
;;   emacs -Q --batch -l doc/screenshots/ansi-to-svg.el \
;;         -f opencode-ansi-to-svg IN.ansi OUT.svg

;;; Code:

(require 'ansi-color)
(require 'cl-lib)

(defconst opencode-svg--cell-width 8.4 "Width of a character cell, in pixels.")
(defconst opencode-svg--cell-height 17 "Height of a line, in pixels.")

(defun opencode-svg--color (color fallback)
  "Return COLOR (an Emacs color name or #RGB) as #RRGGBB, else FALLBACK."
  (let ((rgb (and color (color-values color))))
    (if rgb
        (apply #'format "#%02x%02x%02x" (mapcar (lambda (c) (/ c 256)) rgb))
      fallback)))

(defun opencode-svg--face-attr (face attr)
  "Return ATTR of FACE, a face, a face list or a plist, or nil."
  (cond ((null face) nil)
        ((and (consp face) (keywordp (car face))) (plist-get face attr))
        ((consp face) (cl-some (lambda (f) (opencode-svg--face-attr f attr)) face))
        ((facep face) (let ((v (face-attribute face attr nil t)))
                        (and (not (eq v 'unspecified)) v)))))

(defun opencode-svg--escape (s)
  "Escape S for XML."
  (replace-regexp-in-string
   "[<>&\"]" (lambda (m) (pcase m ("<" "&lt;") (">" "&gt;") ("&" "&amp;") (_ "&quot;")))
   s t t))

(defun opencode-ansi-to-svg ()
  "Convert the file named by the first argument into the SVG of the second."
  (let* ((in (pop command-line-args-left))
         (out (pop command-line-args-left))
         (fg "#d0d0d0") (bg "#1c1c1c")
         (ansi-color-names-vector
          ["#1c1c1c" "#e06c75" "#98c379" "#e5c07b" "#61afef" "#c678dd" "#56b6c2" "#d0d0d0"])
         lines width)
    (with-temp-buffer
      (insert-file-contents in)
      (ansi-color-apply-on-region (point-min) (point-max))
      (goto-char (point-max))
      (skip-chars-backward "\n")
      (delete-region (point) (point-max))
      (goto-char (point-min))
      (while (not (eobp))
        (let ((runs nil) (pos (point)) (eol (line-end-position)))
          (while (< pos eol)
            (let* ((next (min eol (next-single-property-change pos 'font-lock-face nil eol)
                              (next-single-property-change pos 'face nil eol)))
                   (face (or (get-text-property pos 'font-lock-face) (get-text-property pos 'face))))
              (push (list (buffer-substring-no-properties pos next) face) runs)
              (setq pos next)))
          (push (nreverse runs) lines))
        (forward-line 1))
      (setq lines (nreverse lines))
      (setq width (apply #'max 80 (mapcar (lambda (l) (apply #'+ (mapcar (lambda (r) (string-width (car r))) l)))
                                          lines))))
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
                             (inverse (opencode-svg--face-attr face :inverse-video))
                             (f (opencode-svg--color (opencode-svg--face-attr face :foreground) fg))
                             (b (opencode-svg--color (opencode-svg--face-attr face :background) nil)))
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
                                          (if (memq (opencode-svg--face-attr face :weight) '(bold semi-bold))
                                              " font-weight=\"bold\"" "")
                                          (if (opencode-svg--face-attr face :underline)
                                              " text-decoration=\"underline\"" "")
                                          (opencode-svg--escape text))))
                        (setq x (+ x w))))))
      (insert "</svg>\n"))
    (message "Wrote %s (%d lines)" out (length lines))))

;;; ansi-to-svg.el ends here

;;; markdown-bench.el --- Cost of a Markdown pass while a reply streams  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;;; Commentary:

;; Not a test.  Run, the Lisp byte-compiled as an installed package is:
;;
;;   emacs -Q --batch -L lisp -f batch-byte-compile lisp/opencode-markdown.el
;;   emacs -Q --batch -L lisp -l test/bench/markdown-bench.el \
;;         -f opencode-markdown-bench-main
;;   rm lisp/*.elc
;;
;; While a reply streams, the chat renders its text part again every
;; `opencode-chat-fontify-delay'.  This measures one such pass on
;; replies of 1,000 and 30,000 characters: the whole part, and from the
;; last stable boundary (`opencode-markdown-stable-boundary', then
;; `opencode-markdown-fontify' with FROM).  Each figure is the mean
;; over cut points near the size (the reply cut mid-block, mid-table,
;; mid-code, as a stream leaves it).  When markdown-mode is installed
;; (Debian's elpa-markdown-mode), the same text is fontified in
;; `gfm-view-mode' with native code blocks, for comparison.

;;; Code:

(require 'cl-lib)
(require 'benchmark)
(require 'opencode-markdown)

(defvar markdown-fontify-code-blocks-natively)
(defvar markdown-hide-markup)
(declare-function gfm-view-mode "ext:markdown-mode" ())

(defconst opencode-markdown-bench--unit
  "## Step %d: what changes

The function **`parse-item`** reads one *item* from the queue; see
[the docs](https://example.com/docs/%d) or https://gnu.org/software/emacs/.
It is ~~slow~~ fast now.

- first point with `code`
  - nested point
- [x] done task
- [ ] open task

> A quoted remark with **emphasis**.

```python
def parse_item(queue, n=%d):
    \"\"\"Take one item.\"\"\"
    return queue.pop(0) * n  # **not bold**
```

| Name | Count | Note |
|------|------:|------|
| apple | %d | **fresh** |
| 日本語 | 12 | 漢字 |

"
  "One block of a generated reply; %d is its number.")

(defvar-local opencode-markdown-bench--from nil
  "The stable boundary of the reply in this buffer, as the chat keeps it.")

(defun opencode-markdown-bench--reply (size)
  "Return a generated Markdown reply of SIZE characters."
  (let ((parts nil) (len 0) (i 0))
    (while (< len size)
      (let ((unit (format opencode-markdown-bench--unit i i i i)))
        (push unit parts)
        (setq len (+ len (length unit)) i (1+ i))))
    (substring (apply #'concat (nreverse parts)) 0 size)))

(defun opencode-markdown-bench--mean-ms (cuts fn)
  "Mean milliseconds of FN over CUTS, each a buffer holding a reply.
FN is called with no argument in each buffer, once to warm up, then timed."
  (let ((total 0.0) (runs 5))
    (dolist (buf cuts)
      (with-current-buffer buf
        (funcall fn)
        (setq total (+ total (car (benchmark-run runs (funcall fn)))))))
    (/ (* 1000 total) (* runs (length cuts)))))

(defun opencode-markdown-bench--buffers (size)
  "Return buffers holding a generated reply cut near SIZE, already rendered once."
  (let ((reply (opencode-markdown-bench--reply (+ size 400))))
    (cl-loop for k below 10
             collect (let ((buf (generate-new-buffer " *md-bench*")))
                       (with-current-buffer buf
                         (add-to-invisibility-spec 'opencode-markup)
                         (insert (substring reply 0 (- size (* k 37))))
                         (opencode-markdown-fontify (point-min) (point-max)))
                       buf))))

(defun opencode-markdown-bench-pass (size)
  "Return the cost of one pass on a reply of SIZE characters.
A list (WHOLE FROM-BOUNDARY TAIL): the mean milliseconds of a pass
over the whole part and of one from the last stable boundary, and the
longest tail the latter rendered, in characters."
  (let* ((opencode-chat-fontify-max most-positive-fixnum)
         (cuts (opencode-markdown-bench--buffers size))
         (whole (opencode-markdown-bench--mean-ms
                 cuts (lambda () (opencode-markdown-fontify (point-min) (point-max)))))
         (tail 0)
         (incremental
          (opencode-markdown-bench--mean-ms
           cuts (lambda ()
                  ;; The boundary kept since the last pass (not timed
                  ;; here: the chat has it).
                  (let ((from (or opencode-markdown-bench--from
                                  (setq-local opencode-markdown-bench--from
                                              (opencode-markdown-stable-boundary
                                               (point-min) (point-max))))))
                    (setq tail (max tail (- (point-max) from)))
                    (opencode-markdown-fontify (point-min) (point-max) from)
                    ;; What the chat calls after the pass, for the next one.
                    (opencode-markdown-stable-boundary from (point-max)))))))
    (mapc #'kill-buffer cuts)
    (list whole incremental tail)))

(defun opencode-markdown-bench--stream (size chunk)
  "Stream a reply of SIZE characters in CHUNK-character deltas.
A pass after each delta, from the stable boundary, as the chat does.
Return the mean and the longest pass in milliseconds, garbage
collections included, then the same without them."
  (let ((reply (opencode-markdown-bench--reply size))
        (total 0.0) (longest 0.0) (total-nogc 0.0) (longest-nogc 0.0) (passes 0))
    (with-temp-buffer
      (add-to-invisibility-spec 'opencode-markup)
      (let ((from (point-min)))
        (cl-loop for i from 0 below size by chunk
                 do (goto-char (point-max))
                 (insert (substring reply i (min size (+ i chunk))))
                 (pcase-let ((`(,time ,_gcs ,gc-time)
                              (benchmark-run 1
                                (opencode-markdown-fontify (point-min) (point-max) from)
                                (setq from (opencode-markdown-stable-boundary
                                            from (point-max))))))
                   (setq total (+ total time) longest (max longest time)
                         total-nogc (+ total-nogc (- time gc-time))
                         longest-nogc (max longest-nogc (- time gc-time))
                         passes (1+ passes))))))
    (mapcar (lambda (ms) (* 1000 ms))
            (list (/ total passes) longest (/ total-nogc passes) longest-nogc))))

(defun opencode-markdown-bench-main ()
  "Print the cost of a pass, whole and incremental, at 1,000 and 30,000 characters."
  (let ((md (let ((dir (car (file-expand-wildcards
                             "/usr/share/emacs/site-lisp/elpa/markdown-mode-*"))))
              (when dir (add-to-list 'load-path dir))
              (require 'markdown-mode nil t)))
        (opencode-chat-fontify-max most-positive-fixnum))
    (princ (format "Emacs %s, opencode-markdown %s\n"
                   emacs-version
                   (if (byte-code-function-p (symbol-function 'opencode-markdown-fontify))
                       "byte-compiled" "interpreted")))
    (princ "| reply | whole pass | from the stable boundary | markdown-mode (gfm-view-mode) whole |\n")
    (princ "|---:|---:|---:|---:|\n")
    (dolist (size '(1000 30000))
      (pcase-let* ((`(,whole ,incremental ,tail) (opencode-markdown-bench-pass size))
                   (cuts (and md (opencode-markdown-bench--buffers size)))
                   (mm (and md
                            (opencode-markdown-bench--mean-ms
                             cuts (lambda ()
                                    (unless (eq major-mode 'gfm-view-mode)
                                      (let ((markdown-fontify-code-blocks-natively t)
                                            (inhibit-message t))
                                        (gfm-view-mode)
                                        (setq-local markdown-fontify-code-blocks-natively t)))
                                    (let ((inhibit-message t))
                                      (font-lock-fontify-region (point-min) (point-max))))))))
        (princ (format "| %d chars | %.2f ms | %.2f ms (tail up to %d chars) | %s |\n"
                       size whole incremental tail
                       (if mm (format "%.2f ms" mm) "not installed")))
        (mapc #'kill-buffer cuts)))
    (princ "\nStreamed in 50-character deltas, a pass from the stable boundary after each:\n")
    (dolist (size '(1000 30000))
      (pcase-let ((`(,mean ,longest ,mean-nogc ,longest-nogc)
                   (opencode-markdown-bench--stream size 50)))
        (princ (format "%d chars: mean pass %.2f ms, longest %.2f ms; without GC %.2f ms, %.2f ms\n"
                       size mean longest mean-nogc longest-nogc))))))

(provide 'markdown-bench)
;;; markdown-bench.el ends here

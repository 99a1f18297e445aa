;;; opencode-mcp-tools-proposal.el --- A change the agent proposes, for the user to take  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The propose_change tool of the Emacs tool server
;; (opencode-mcp-tools.el): the agent's change to a file of the
;; project, given whole or as one replaced string, is shown as a diff in
;; a buffer of its own, in `opencode-mcp-tools-proposal-mode'.  The call
;; waits for the user: accept (the file is changed and saved, with any
;; edits made in ediff), reject (with a reason for the agent), or
;; nothing until the server cancels the call, which takes the buffers
;; back.  The proposed text gets the major mode its file's name calls
;; for, and nothing of what the text itself says.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'diff)
(require 'opencode-lib)
(require 'opencode-mcp)

(declare-function opencode-mcp-tools--arg "opencode-mcp-tools"
                  (args name &optional type required))
(declare-function opencode-mcp-tools-file "opencode-mcp-tools" (context path))
(declare-function opencode-mcp-tools--visit "opencode-mcp-tools" (file))
(declare-function ediff-buffers "ediff" (buffer-a buffer-b &optional startup-hooks job-name))

(defvar-local opencode-mcp-tools--proposal nil
  "The change this buffer proposes, a plist.
See `opencode-mcp-tools-propose-change'.")

(defun opencode-mcp-tools--new-text (args context file)
  "Return (OLD . NEW), the text of FILE now and as ARGS would make it.
CONTEXT is the call's.  ARGS has new_content, or old_string and new_string."
  (let* ((content (opencode-mcp-tools--arg args "new_content" 'string))
         (old-string (opencode-mcp-tools--arg args "old_string" 'string))
         (new-string (opencode-mcp-tools--arg args "new_string" 'string))
         (buffer (and (file-exists-p file) (find-buffer-visiting file)))
         (old (cond (buffer (with-current-buffer buffer
                              (save-restriction (widen) (buffer-substring-no-properties
                                                         (point-min) (point-max)))))
                    ((file-exists-p file)
                     (with-temp-buffer
                       (let ((file-name-handler-alist nil)) (insert-file-contents file))
                       (buffer-string)))
                    (t ""))))
    (ignore context)
    (cond
     (content (cons old content))
     ((and old-string new-string)
      (let ((at (string-search old-string old)))
        (cond ((or (string-empty-p old-string) (null at))
               (opencode-mcp-tool-error "The old_string is not in %s" (file-name-nondirectory file)))
              ((string-search old-string old (1+ at))
               (opencode-mcp-tool-error "The old_string is in %s more than once; give more context"
                                        (file-name-nondirectory file)))
              (t (cons old (concat (substring old 0 at) new-string
                                   (substring old (+ at (length old-string)))))))))
     (t (opencode-mcp-tool-error "Give new_content, or old_string and new_string")))))

(defun opencode-mcp-tools--mode-by-name (file)
  "Return the major mode `auto-mode-alist' gives FILE's name, or nil.
Only the name counts, as `set-auto-mode' reads it (versions and
suffixes such as .gz stripped): not the text, so neither a -*- line,
nor local variables, nor `magic-mode-alist' or an interpreter line."
  (let ((name (file-name-sans-versions file))
        (mode nil))
    (while name
      (let* ((entry (or (let ((case-fold-search nil))
                          (assoc-default name auto-mode-alist #'string-match))
                        (and auto-mode-case-fold
                             (let ((case-fold-search t))
                               (assoc-default name auto-mode-alist #'string-match)))))
             (strip (and (consp entry) (nth 1 entry) (match-beginning 0))))
        (when entry
          (setq mode (or (if (consp entry) (car entry) entry) mode)))
        ;; (REGEXP FUNCTION t): FUNCTION, or what the name without the match gets.
        (setq name (and strip (> strip 0) (< strip (length name))
                        (substring name 0 strip)))))
    (and mode (symbolp mode) (functionp mode) mode)))

(defvar opencode-mcp-tools-proposal-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "C-c C-c") #'opencode-mcp-tools-accept)
    (define-key map (kbd "C-c C-k") #'opencode-mcp-tools-reject)
    (define-key map (kbd "C-c C-e") #'opencode-mcp-tools-ediff)
    map)
  "Keymap of `opencode-mcp-tools-proposal-mode'.")

(define-minor-mode opencode-mcp-tools-proposal-mode
  "A change the agent proposes, shown as a diff.
\\<opencode-mcp-tools-proposal-mode-map>
\\[opencode-mcp-tools-accept] accepts it: the file is changed and saved.
\\[opencode-mcp-tools-reject] rejects it.
\\[opencode-mcp-tools-ediff] compares in ediff, where the new text can be
edited before accepting."
  :lighter " Proposal"
  :keymap opencode-mcp-tools-proposal-mode-map)

(defun opencode-mcp-tools-propose-change (args context done)
  "The propose_change tool: show ARGS's change to the user.
Call DONE with the user's answer.  CONTEXT is the call's."
  (let* ((path (opencode-mcp-tools--arg args "path" 'string t))
         (file (opencode-mcp-tools-file context path))
         (texts (opencode-mcp-tools--new-text args context file))
         (why (opencode-mcp-tools--arg args "description" 'string))
         (old-buf (generate-new-buffer (format " *opencode-old %s*" path)))
         (new-buf (generate-new-buffer (format "*opencode-proposed %s*" path)))
         (buf (generate-new-buffer (format "*opencode-proposal %s*" path))))
    (with-current-buffer old-buf (insert (car texts)))
    (with-current-buffer new-buf
      (insert (cdr texts))
      ;; The agent's text gets the mode of the file's name, for ediff, and
      ;; nothing of what the text says (no -*- line, no local variables).
      ;; The mode's hooks wait, and never run: they could start a language
      ;; server on this scratch buffer.  Font lock is turned on by hand.
      (when-let ((mode (opencode-mcp-tools--mode-by-name file)))
        (let ((enable-local-variables nil))
          (ignore-errors
            (delay-mode-hooks (funcall mode))
            (font-lock-mode 1)))))
    (diff-no-select old-buf new-buf "-u" t buf)
    (with-current-buffer buf
      (let ((inhibit-read-only t))
        (goto-char (point-min))
        ;; diff's first and last lines name temporary buffers: say what it is instead.
        (delete-region (point) (progn (forward-line 1) (point)))
        (insert (format "The agent proposes a change to %s%s\n" path
                        (if why (concat ":\n  " why) ""))
                (substitute-command-keys
                 "\\<opencode-mcp-tools-proposal-mode-map>\\[opencode-mcp-tools-accept] accept, \
\\[opencode-mcp-tools-reject] reject, \\[opencode-mcp-tools-ediff] ediff\n\n"))
        (goto-char (point-max))
        (when (re-search-backward "^Diff finished.*\n?" nil t)
          (replace-match "")))
      (opencode-mcp-tools-proposal-mode 1)
      (setq opencode-mcp-tools--proposal
            (list :file file :path path :old (car texts) :proposed (cdr texts)
                  :old-buffer old-buf :new-buffer new-buf :done done))
      (goto-char (point-min)))
    (opencode-mcp-on-cancel context
                            (lambda ()
                              (when (buffer-live-p buf)
                                (with-current-buffer buf
                                  (setq opencode-mcp-tools--proposal nil))
                                (opencode-mcp-tools--close buf)
                                (message "OpenCode: the agent withdrew its change to %s" path))))
    (pop-to-buffer buf)
    (message "%s" (substitute-command-keys
                   (format "The agent proposes a change to %s: \\<opencode-mcp-tools-proposal-mode-map>\\[opencode-mcp-tools-accept] accept, \\[opencode-mcp-tools-reject] reject"
                           path)))))

(defun opencode-mcp-tools--proposal-here ()
  "Return this buffer's proposal, or signal."
  (or opencode-mcp-tools--proposal
      (user-error "No change waits for an answer here")))

(defun opencode-mcp-tools--close (buf)
  "Kill proposal buffer BUF and its text buffers."
  (with-current-buffer buf
    (dolist (b (list (plist-get opencode-mcp-tools--proposal :old-buffer)
                     (plist-get opencode-mcp-tools--proposal :new-buffer)))
      (when (buffer-live-p b) (kill-buffer b))))
  (let ((win (get-buffer-window buf)))
    (if win (quit-window t win) (kill-buffer buf))))

(defun opencode-mcp-tools-accept ()
  "Accept the change this buffer proposes: change the file and save it.
What the proposed text's buffer holds is written, with any edits made
to it in ediff."
  (interactive)
  (let* ((p (opencode-mcp-tools--proposal-here))
         (file (plist-get p :file))
         (new (with-current-buffer (plist-get p :new-buffer)
                (buffer-substring-no-properties (point-min) (point-max))))
         (open (find-buffer-visiting file))
         (target (or open (opencode-mcp-tools--visit file)))
         (now (with-current-buffer target
                (save-restriction (widen)
                                  (buffer-substring-no-properties (point-min) (point-max))))))
    (if (not (equal now (plist-get p :old)))
        (progn
          (setq opencode-mcp-tools--proposal nil)
          (funcall (plist-get p :done)
                   (format "%s changed while the user looked at the change; nothing was applied. Read it again and propose again."
                           (plist-get p :path))
                   t)
          (message "OpenCode: %s changed meanwhile; the change was not applied"
                   (plist-get p :path)))
      (with-current-buffer target
        (save-restriction
          (widen)
          (let ((source (plist-get p :new-buffer)))
            (replace-buffer-contents source)))
        (let ((inhibit-message t)) (save-buffer)))
      (setq opencode-mcp-tools--proposal nil)
      (funcall (plist-get p :done)
               (format "The user accepted the change%s; %s is changed and saved."
                       (if (equal new (plist-get p :proposed)) "" " with edits of their own")
                       (plist-get p :path))))
    ;; Visited only to be read or changed: not the user's buffer.
    (unless (or open (buffer-modified-p target)) (kill-buffer target))
    (opencode-mcp-tools--close (current-buffer))))

(defun opencode-mcp-tools-reject (reason)
  "Reject the change this buffer proposes, saying REASON to the agent."
  (interactive (progn (opencode-mcp-tools--proposal-here)
                      (list (read-string "Why (optional, for the agent): "))))
  (let ((p (opencode-mcp-tools--proposal-here)))
    (setq opencode-mcp-tools--proposal nil)
    (funcall (plist-get p :done)
             (format "The user rejected the change to %s; the file is unchanged.%s"
                     (plist-get p :path)
                     (if (string-empty-p (or reason "")) "" (concat " Their reason: " reason))))
    (opencode-mcp-tools--close (current-buffer))))

(defun opencode-mcp-tools-ediff ()
  "Compare the file with the proposed text in ediff.
The proposed text can be edited there; \\[opencode-mcp-tools-accept] in
the proposal buffer then accepts it as edited."
  (interactive)
  (let ((p (opencode-mcp-tools--proposal-here)))
    (require 'ediff)
    (ediff-buffers (plist-get p :old-buffer) (plist-get p :new-buffer))))

(provide 'opencode-mcp-tools-proposal)
;;; opencode-mcp-tools-proposal.el ends here

;;; opencode-chat-nav.el --- Folding and moving in a chat  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; Folding a part (TAB), cycling every part's fold (S-TAB), showing a
;; long output whole, moving by message and by part, the imenu index of
;; the prompts, and bookmarks of a chat.

;;; Code:

(require 'cl-lib)
(require 'text-property-search)
(require 'opencode-lib)
(require 'opencode-parts)

(defvar opencode-chat--conn)
(defvar opencode-chat--parts)
(defvar opencode-chat--messages)
(defvar opencode-chat--folded)
(defvar opencode-chat--fold-cycle)
(declare-function opencode-chat-session-id "opencode-chat" (&optional buffer))
(declare-function opencode-chat-session "opencode-chat" (&optional buffer))
(declare-function opencode-chat-open "opencode-chat" (conn session))
(declare-function opencode-chat--part-at "opencode-chat" (pos))
(declare-function opencode-chat--entry-part "opencode-chat" (entry))
(declare-function opencode-chat--render-part "opencode-chat" (part entry))
(declare-function opencode-chat--part-folded-p "opencode-chat" (part))
(declare-function opencode-chat--shown-messages "opencode-chat" ())
(declare-function opencode-connect "opencode" (&optional directory))
(declare-function opencode-connection-directory "opencode-connection" (conn))

(defun opencode-chat-expand-part ()
  "Show the whole output of the part at point, past the size limit."
  (interactive)
  (let* ((id (or (get-text-property (point) 'opencode-expand)
                 (opencode-chat--part-at (point))
                 (user-error "No part at point")))
         (entry (gethash id opencode-chat--parts)))
    (opencode-parts-expand id)
    (puthash id (opencode-chat--render-part (opencode-chat--entry-part entry) entry)
             opencode-chat--parts)))

(defun opencode-chat-toggle-fold ()
  "Fold or unfold the part at point."
  (interactive)
  (let* ((id (or (opencode-chat--part-at (point)) (user-error "No part at point")))
         (entry (gethash id opencode-chat--parts))
         (part (opencode-chat--entry-part entry)))
    (unless (opencode-parts-foldable-p part) (user-error "This part does not fold"))
    (puthash id (if (opencode-chat--part-folded-p part) 'open 'folded) opencode-chat--folded)
    (puthash id (opencode-chat--render-part part entry) opencode-chat--parts)
    (goto-char (plist-get entry :beg))))

(defun opencode-chat-cycle-folds ()
  "Cycle every part: all folded, then all open, then the defaults."
  (interactive)
  (setq opencode-chat--fold-cycle
        (pcase opencode-chat--fold-cycle ('folded 'open) ('open nil) (_ 'folded)))
  (maphash (lambda (id entry)
             (let ((part (opencode-chat--entry-part entry)))
               (when (opencode-parts-foldable-p part)
                 (if opencode-chat--fold-cycle
                     (puthash id opencode-chat--fold-cycle opencode-chat--folded)
                   (remhash id opencode-chat--folded))
                 (puthash id (opencode-chat--render-part part entry) opencode-chat--parts))))
           opencode-chat--parts)
  (message "Parts: %s" (pcase opencode-chat--fold-cycle
                         ('folded "all folded") ('open "all open") (_ "as they start"))))

(defun opencode-chat-next-message (n)
  "Move to the header of the Nth next message (previous if N < 0)."
  (interactive "p")
  (dotimes (_ (abs n))
    (let ((m (save-excursion
               (if (> n 0)
                   (progn (end-of-line)
                          (text-property-search-forward 'opencode-header t t))
                 (beginning-of-line)
                 (text-property-search-backward 'opencode-header t t)))))
      (if m (goto-char (prop-match-beginning m))
        (user-error (if (> n 0) "No next message" "No previous message"))))))

(defun opencode-chat-previous-message (n)
  "Move to the start of the Nth previous message."
  (interactive "p")
  (opencode-chat-next-message (- n)))

(defun opencode-chat-next-part (n)
  "Move to the start of the Nth next part (previous if N < 0)."
  (interactive "p")
  (dotimes (_ (abs n))
    (let ((pos (point)) (here (opencode-chat--part-at (point))) found)
      (while (and (not found)
                  (setq pos (if (> n 0)
                                (next-single-property-change pos 'opencode-part)
                              (previous-single-property-change pos 'opencode-part))))
        (let ((id (opencode-chat--part-at (if (> n 0) pos (max (point-min) (1- pos))))))
          (when (and id (not (equal id here)))
            (setq found (plist-get (gethash id opencode-chat--parts) :beg)))))
      (if found (goto-char found)
        (user-error (if (> n 0) "No next part" "No previous part"))))))

(defun opencode-chat-previous-part (n)
  "Move to the start of the Nth previous part."
  (interactive "p")
  (opencode-chat-next-part (- n)))

(defun opencode-chat--imenu-index ()
  "Return an imenu index of the user's prompts."
  (let (index)
    (dolist (m (opencode-chat--shown-messages))
      (when (equal (plist-get (plist-get m :info) :role) "user")
        (let* ((text (cl-some (lambda (p) (and (equal (plist-get p :type) "text")
                                                (plist-get p :text)))
                              (plist-get m :parts)))
               (entry (gethash (plist-get (plist-get m :info) :id) opencode-chat--messages)))
          (push (cons (opencode--first-line (or text "(prompt)") 70)
                      (marker-position (plist-get entry :beg)))
                index))))
    (nreverse index)))

(defun opencode-chat-bookmark-make-record ()
  "Return a bookmark record for this chat."
  `(,(format "OpenCode: %s" (plist-get (opencode-chat-session) :title))
    (session . ,(opencode-chat-session-id))
    (title . ,(plist-get (opencode-chat-session) :title))
    (directory . ,(opencode-connection-directory opencode-chat--conn))
    (handler . opencode-chat-bookmark-jump)))

(declare-function bookmark-prop-get "bookmark" (bookmark prop))

;;;###autoload
(defun opencode-chat-bookmark-jump (bookmark)
  "Open the chat that BOOKMARK names."
  (require 'bookmark)
  (require 'opencode-chat)
  (let ((conn (opencode-connect (bookmark-prop-get bookmark 'directory))))
    (opencode-chat-open conn (list :id (bookmark-prop-get bookmark 'session)
                                   :title (bookmark-prop-get bookmark 'title)))))

(provide 'opencode-chat-nav)
;;; opencode-chat-nav.el ends here

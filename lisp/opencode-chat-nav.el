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
(require 'opencode-timeline)
(require 'opencode-chat-section)
(require 'opencode-chat-part)

(defvar opencode-chat--fold-cycle)
(defvar opencode-chat--footer)
(declare-function opencode-chat-session "opencode-chat" (&optional buffer))
(declare-function opencode-chat-open "opencode-chat" (conn session))
(declare-function opencode-connect "opencode" (&optional directory))

(defun opencode-chat-expand-part ()
  "Show the whole output of the part at point, past the size limit."
  (interactive)
  (let* ((id (or (get-text-property (point) 'opencode-expand)
                 (opencode-chat--part-at (point))
                 (user-error "No part at point")))
         (section (opencode-chat--section id)))
    (opencode-parts-expand id)
    (when section (opencode-chat--render-part section))))

(defvar-local opencode-chat--thread-folds nil
  "Prompts whose replies are folded: an alist, message id -> overlay.")

(defun opencode-chat--message-near (pos)
  "Return the id of the message POS is in: header, parts or separators."
  (or (get-text-property pos 'opencode-message)
      (let ((s (opencode-chat--section (opencode-chat--part-at pos))))
        (and s (opencode-chat-part-section-message s)))
      (cl-loop for s in (opencode-chat--message-sections)
               when (and (>= pos (opencode-chat-section-beg s))
                         (<= pos (opencode-chat-section-end s)))
               return (opencode-chat-section-id s))))

(defun opencode-chat--user-p (id)
  "Return non-nil if message ID is the user's."
  (and (opencode-chat--section id)
       (equal (plist-get (opencode-chat--info id) :role) "user")))

(defun opencode-chat--thread-region (id)
  "Return (BEG . END) of the replies to prompt ID, or nil if it has none.
They run from after the prompt to the next prompt (or the footer)."
  (let* ((section (opencode-chat--section id))
         (beg (and section (1+ (opencode-chat-section-end section))))
         (end (and beg
                   (let ((pos beg) (stop nil))
                     (while (and (not stop) pos (< pos (point-max)))
                       (let ((m (get-text-property pos 'opencode-header)))
                         (if (and m (opencode-chat--user-p (get-text-property pos 'opencode-message)))
                             (setq stop pos)
                           (setq pos (next-single-property-change pos 'opencode-header)))))
                     (or stop (if opencode-chat--footer (marker-position opencode-chat--footer)
                                (point-max)))))))
    (and beg (< beg end) (cons beg end))))

(defun opencode-chat--thread-summary (beg end)
  "Return what a folded thread from BEG to END shows: how much it hides."
  (let ((replies 0) (tools 0) (pos beg))
    (while (and pos (< pos end))
      (when (get-text-property pos 'opencode-header) (cl-incf replies))
      (setq pos (next-single-property-change pos 'opencode-header nil end)))
    (maphash (lambda (id s)
               (when (and (opencode-chat-part-section-p s)
                          (>= (opencode-chat-section-beg s) beg)
                          (< (opencode-chat-section-beg s) end)
                          (equal (opencode-part-type (opencode-chat--part id)) "tool"))
                 (cl-incf tools)))
             opencode-chat--sections)
    (propertize (format "  ▸ %s%s folded (TAB shows)\n"
                        (opencode--plural replies "reply" "replies")
                        (if (> tools 0) (format ", %s" (opencode--plural tools "tool call")) ""))
                'face 'opencode-chat-dim)))

(defun opencode-chat--fold-thread (id fold)
  "Fold the replies to prompt ID if FOLD, else show them."
  (let ((old (alist-get id opencode-chat--thread-folds nil nil #'equal)))
    (when old (delete-overlay old))
    (setq opencode-chat--thread-folds (assoc-delete-all id opencode-chat--thread-folds))
    (when fold
      (pcase (opencode-chat--thread-region id)
        (`(,beg . ,end)
         (let ((ov (make-overlay beg end nil t nil)))
           (overlay-put ov 'invisible 'opencode-thread)
           (overlay-put ov 'before-string (opencode-chat--thread-summary beg end))
           (overlay-put ov 'opencode-thread id)
           (push (cons id ov) opencode-chat--thread-folds)))))))

(defun opencode-chat--refold-threads ()
  "Fold again the threads folded, over what they hold now."
  (dolist (f opencode-chat--thread-folds)
    (opencode-chat--fold-thread (car f) t)))

(defun opencode-chat--toggle-message (id)
  "Fold or unfold message ID: a prompt's replies, or a reply's parts."
  (if (opencode-chat--user-p id)
      (let ((folded (assoc id opencode-chat--thread-folds)))
        (unless (or folded (opencode-chat--thread-region id))
          (user-error "This prompt has no reply yet"))
        (opencode-chat--fold-thread id (not folded))
        (message (if folded "Replies shown" "Replies folded")))
    (let* ((parts (cl-remove-if-not (lambda (p) (opencode-parts-foldable-p (opencode-part-data p)))
                                    (opencode-chat--drawn-parts id)))
           (fold (not (cl-every #'opencode-chat--part-folded-p parts))))
      (unless parts (user-error "Nothing in this reply folds"))
      (dolist (p parts)
        (opencode-chat-set-fold (opencode-part-id p) (if fold 'folded 'open))))))

(defun opencode-chat-toggle-fold ()
  "Fold or unfold what is at point, as TAB does in Org.
On a part that folds (reasoning, a tool, a file...), that part; on a
prompt's header, the replies to it; on a reply's header or its text,
every part of that reply that folds."
  (interactive)
  (let* ((pos (point))
         (id (or (opencode-chat--part-at pos)
                 (and (> pos (point-min)) (not (get-text-property pos 'opencode-header))
                      (opencode-chat--part-at (1- pos)))))
         (section (opencode-chat--section id))
         (part (and section (opencode-chat--part id))))
    (cond
     ((and part (opencode-parts-foldable-p (opencode-part-data part)))
      (opencode-chat-set-fold id (if (opencode-chat--part-folded-p part) 'open 'folded))
      (goto-char (opencode-chat-section-beg section)))
     ((get-char-property pos 'opencode-thread)
      (opencode-chat--fold-thread (get-char-property pos 'opencode-thread) nil))
     ((opencode-chat--message-near pos)
      (opencode-chat--toggle-message (opencode-chat--message-near pos)))
     (t (user-error "Nothing to fold here")))))

(defun opencode-chat-cycle-folds ()
  "Cycle every part: all folded, then all open, then the defaults."
  (interactive)
  (setq opencode-chat--fold-cycle
        (pcase opencode-chat--fold-cycle ('folded 'open) ('open nil) (_ 'folded)))
  (let (ids)
    (maphash (lambda (id s)
               (let ((part (and (opencode-chat-part-section-p s) (opencode-chat--part id))))
                 (when (and part (opencode-parts-foldable-p (opencode-part-data part)))
                   (push id ids))))
             opencode-chat--sections)
    (dolist (id ids) (opencode-chat-set-fold id opencode-chat--fold-cycle)))
  (message "Parts: %s" (pcase opencode-chat--fold-cycle
                         ('folded "all folded") ('open "all open") (_ "as they start"))))

(defun opencode-chat--next-header (n prompts-only)
  "Move to the header of the Nth next message (previous if N < 0).
With PROMPTS-ONLY, count only the user's prompts."
  (dotimes (_ (abs n))
    (let ((m (save-excursion
               (let (found)
                 (while (and (not found)
                             (setq found
                                   (if (> n 0)
                                       (progn (end-of-line)
                                              (text-property-search-forward 'opencode-header t t))
                                     (beginning-of-line)
                                     (text-property-search-backward 'opencode-header t t))))
                   (goto-char (prop-match-beginning found))
                   (when (and prompts-only
                              (not (opencode-chat--user-p
                                    (get-text-property (point) 'opencode-message))))
                     (setq found nil)
                     (when (if (> n 0) (eobp) (bobp)) (setq found 'none))))
                 (and (not (eq found 'none)) found)))))
      (if m (goto-char (prop-match-beginning m))
        (user-error (if (> n 0) "No next %s" "No previous %s")
                    (if prompts-only "prompt" "message")))))
  (opencode-chat--show-section (point) (opencode-chat--section-end (point) prompts-only)))

(defun opencode-chat--section-end (pos prompts-only)
  "Return where the message whose header is at POS ends, as read.
That is before the next header, or the end of the messages; with
PROMPTS-ONLY, before the next prompt's: a prompt and its replies."
  (save-excursion
    (goto-char pos)
    (end-of-line)
    (let ((end nil) m)
      (while (and (not end) (setq m (text-property-search-forward 'opencode-header t t)))
        (when (or (not prompts-only)
                  (opencode-chat--user-p
                   (get-text-property (prop-match-beginning m) 'opencode-message)))
          (setq end (prop-match-beginning m))))
      (max pos (1- (min (or end (point-max))
                        (if opencode-chat--footer (marker-position opencode-chat--footer)
                          (point-max))))))))

(defun opencode-chat--show-section (beg end)
  "Show the text from BEG to END in the selected window, as magit-section does.
When it is not all in view, the window starts at BEG, its header: the
line a move lands on is at the top, its text under it, not at the
bottom of the window with its text out of sight."
  (let ((w (selected-window)))
    (when (and (eq (window-buffer w) (current-buffer))
               (not (and (pos-visible-in-window-p beg w)
                         (pos-visible-in-window-p end w))))
      (set-window-start w (save-excursion (goto-char beg) (line-beginning-position))))))

(defun opencode-chat-next-message (n)
  "Move to the Nth next prompt: a prompt and its replies move as one.
With N < 0, to the previous ones.  Unless the prompt and its replies
are all in view, the window then starts at the prompt's header."
  (interactive "p")
  (opencode-chat--next-header n t))

(defun opencode-chat-previous-message (n)
  "Move to the Nth previous prompt."
  (interactive "p")
  (opencode-chat--next-header (- n) t))

(defun opencode-chat-next-reply (n)
  "Move to the header of the Nth next message, prompt or reply.
Unless the message is all in view, the window then starts at its header."
  (interactive "p")
  (opencode-chat--next-header n nil))

(defun opencode-chat-previous-reply (n)
  "Move to the header of the Nth previous message, prompt or reply."
  (interactive "p")
  (opencode-chat--next-header (- n) nil))

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
            (setq found (opencode-chat-section-beg (opencode-chat--section id))))))
      (if found (goto-char found)
        (user-error (if (> n 0) "No next part" "No previous part")))
      ;; Past the blank line that sets text off (`opencode-chat--gap-before-p').
      (when (get-text-property (point) 'opencode-gap) (forward-char 1)))))

(defun opencode-chat-previous-part (n)
  "Move to the start of the Nth previous part."
  (interactive "p")
  (opencode-chat-next-part (- n)))

(defun opencode-chat--imenu-index ()
  "Return an imenu index of the user's prompts."
  (let (index)
    (dolist (m (opencode-timeline-message-list (opencode-chat-timeline)))
      (let* ((section (opencode-chat--section (opencode-message-id m)))
             (text (cl-some (lambda (p) (and (equal (opencode-part-type p) "text")
                                             (opencode-part-text p)))
                            (opencode-message-parts m))))
        ;; Drawn prompts only: the others are not yet in the buffer.
        (when (and section (equal (opencode-message-role m) "user"))
          (push (cons (opencode--first-line (or text "(prompt)") 70)
                      (marker-position (opencode-chat-section-beg section)))
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

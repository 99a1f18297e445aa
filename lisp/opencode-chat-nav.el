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
(defvar opencode-chat--footer)
(declare-function opencode-chat-session-id "opencode-chat" (&optional buffer))
(declare-function opencode-chat-session "opencode-chat" (&optional buffer))
(declare-function opencode-chat-open "opencode-chat" (conn session))
(declare-function opencode-chat--part-at "opencode-chat" (pos))
(declare-function opencode-chat--entry-part "opencode-chat" (entry))
(declare-function opencode-chat--render-part "opencode-chat" (part entry))
(declare-function opencode-chat--part-folded-p "opencode-chat" (part))
(declare-function opencode-chat-messages "opencode-chat-load" (&optional buffer))
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

(defvar-local opencode-chat--thread-folds nil
  "Prompts whose replies are folded: an alist, message id -> overlay.")

(defun opencode-chat--message-entry (id)
  "Return the entry of message ID shown in this chat, or nil."
  (and id (gethash id opencode-chat--messages)))

(defun opencode-chat--message-near (pos)
  "Return the id of the message POS is in: header, parts or separators."
  (or (get-text-property pos 'opencode-message)
      (let ((pid (opencode-chat--part-at pos)))
        (and pid (plist-get (plist-get (gethash pid opencode-chat--parts) :part) :messageID)))
      (let ((found nil))
        (maphash (lambda (id e)
                   (when (and (not found) (>= pos (plist-get e :beg)) (<= pos (plist-get e :end)))
                     (setq found id)))
                 opencode-chat--messages)
        found)))

(defun opencode-chat--user-p (id)
  "Return non-nil if message ID is the user's."
  (equal (plist-get (plist-get (opencode-chat--message-entry id) :info) :role) "user"))

(defun opencode-chat--thread-region (id)
  "Return (BEG . END) of the replies to prompt ID, or nil if it has none.
They run from after the prompt to the next prompt (or the footer)."
  (let* ((entry (opencode-chat--message-entry id))
         (beg (and entry (1+ (plist-get entry :end))))
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
    (maphash (lambda (_ e)
               (when (and (>= (plist-get e :beg) beg) (< (plist-get e :beg) end)
                          (equal (plist-get (plist-get e :part) :type) "tool"))
                 (cl-incf tools)))
             opencode-chat--parts)
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
    (let* ((ids (cl-remove-if-not
                 (lambda (pid) (let ((e (gethash pid opencode-chat--parts)))
                                 (and e (opencode-parts-foldable-p (plist-get e :part)))))
                 (plist-get (opencode-chat--message-entry id) :parts)))
           (fold (not (cl-every (lambda (pid)
                                  (opencode-chat--part-folded-p
                                   (plist-get (gethash pid opencode-chat--parts) :part)))
                                ids))))
      (unless ids (user-error "Nothing in this reply folds"))
      (dolist (pid ids)
        (let ((entry (gethash pid opencode-chat--parts)))
          (puthash pid (if fold 'folded 'open) opencode-chat--folded)
          (puthash pid (opencode-chat--render-part (opencode-chat--entry-part entry) entry)
                   opencode-chat--parts))))))

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
         (entry (and id (gethash id opencode-chat--parts)))
         (part (and entry (opencode-chat--entry-part entry))))
    (cond
     ((and part (opencode-parts-foldable-p part))
      (puthash id (if (opencode-chat--part-folded-p part) 'open 'folded) opencode-chat--folded)
      (puthash id (opencode-chat--render-part part entry) opencode-chat--parts)
      (goto-char (plist-get entry :beg)))
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
            (setq found (plist-get (gethash id opencode-chat--parts) :beg)))))
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
    (dolist (m (opencode-chat-messages))
      (let* ((entry (gethash (plist-get (plist-get m :info) :id) opencode-chat--messages))
             (text (cl-some (lambda (p) (and (equal (plist-get p :type) "text")
                                             (plist-get p :text)))
                            (plist-get m :parts))))
        ;; Drawn prompts only: the others are not yet in the buffer.
        (when (and entry (equal (plist-get (plist-get m :info) :role) "user"))
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

;;; opencode-chat-section.el --- A chat's regions, one per message and part  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; What a chat buffer keeps of what it draws, in the manner of
;; magit-section: a section per message and per part, a struct with
;; the markers of its region.  What a section draws (a message's info,
;; a part's text, its fold) is the session's timeline's
;; (opencode-timeline.el), looked up by id: a section holds only where
;; and how it is drawn, so the chat keeps no copy of a part's text.
;;
;; The bottom of the chat's files: each of them finds here a chat's
;; connection, session, timeline and sections.

;;; Code:

(require 'cl-lib)
(require 'seq)
(require 'opencode-lib)
(require 'opencode-connection)
(require 'opencode-model)
(require 'opencode-timeline)

;;;; The regions

(cl-defstruct (opencode-chat-section (:constructor nil)
                                     (:copier nil))
  "A region of a chat buffer that draws one message or part of the timeline."
  (id nil :documentation "The id of what it draws, in the timeline.")
  (beg nil :documentation "Marker where the region starts.")
  (end nil :documentation "Marker where the region ends; the newline after
it belongs to no section, so a region is redrawn, grown or removed
without touching its neighbours."))

(cl-defstruct (opencode-chat-message-section
               (:include opencode-chat-section)
               (:constructor opencode-chat--make-message-section)
               (:copier nil))
  "The region of a message: its header, then the regions of its parts."
  (header-end nil :documentation "Marker where its header ends.")
  (parts nil :documentation "The ids of its parts drawn, in order.")
  (cut-off nil :documentation "Non-nil while its header says the server's
end cut the reply off (`opencode-chat--interrupted-p')."))

(cl-defstruct (opencode-chat-part-section
               (:include opencode-chat-section)
               (:constructor opencode-chat--make-part-section)
               (:copier nil))
  "The region of a part.
Its fold is the timeline part's (`opencode-part-fold'), so it survives
a redraw of the whole chat."
  (message nil :documentation "The id of the message whose region holds it.")
  (body nil :documentation "Marker where its body starts: what a fold hides.")
  (block nil :documentation "Marker where the block of the request its tool
call asked starts (a permission or question that waits), or nil.")
  (request nil :documentation "The id of that request, or nil.")
  (revision nil :documentation "The revision of the part's text drawn
\(`opencode-part-revision'): the same, the region shows its text.")
  (text-p nil :documentation "Non-nil if the region shows some of the part's
text: a delta is then appended in place.")
  (stable nil :documentation "How far into the region the Markdown rendering
of its streamed text stays as it is, or nil until the first pass after
it was drawn."))

;;;; A chat's state

(defvar-local opencode-chat--conn nil "The connection of this chat.")
(defvar-local opencode-chat--session-id nil
  "The id of this chat's session; what it is, the connection's store says.")
(defvar-local opencode-chat--sections nil
  "Hash table: the id of a message or part drawn -> its section.")

(defun opencode-chat-connection (&optional buffer)
  "Return the connection of chat BUFFER (default: the current buffer)."
  (buffer-local-value 'opencode-chat--conn (or buffer (current-buffer))))

(defun opencode-chat-session-id (&optional buffer)
  "Return the id of the session of chat BUFFER (default: the current buffer)."
  (buffer-local-value 'opencode-chat--session-id (or buffer (current-buffer))))

(defun opencode-chat-timeline (&optional buffer)
  "Return the timeline of chat BUFFER (default: the current buffer).
It is the session's `opencode-timeline': its messages and their parts,
the text streamed since included; the chat holds it open.  Nil for a
buffer that is no chat of a connection yet."
  (let* ((buffer (or buffer (current-buffer)))
         (conn (opencode-chat-connection buffer)))
    (and conn (opencode-timeline-open conn (opencode-chat-session-id buffer)))))

;;;; Looking things up

(defun opencode-chat--section (id)
  "Return the section that draws message or part ID, or nil."
  (and id opencode-chat--sections (gethash id opencode-chat--sections)))

(defun opencode-chat--part (id)
  "Return the `opencode-part' ID of this chat's timeline, or nil."
  (and id (opencode-timeline-part (opencode-chat-timeline) id)))

(defun opencode-chat--part-plist (id)
  "Return part ID of this chat's timeline as the server's plist, or nil.
Its text is the whole text, streamed deltas included."
  (let ((part (opencode-chat--part id)))
    (and part (opencode-part-plist part))))

(defun opencode-chat--info (id)
  "Return the info of message ID of this chat's timeline (a plist), or nil."
  (let ((m (and id (opencode-timeline-message (opencode-chat-timeline) id))))
    (and m (opencode-message-data m))))

(defun opencode-chat--part-at (pos)
  "Return the id of the part at POS, or nil."
  (get-text-property pos 'opencode-part))

(defun opencode-chat--shown-p (id)
  "Return non-nil if part ID is drawn and takes room in the buffer."
  (let ((s (opencode-chat--section id)))
    (and s (< (opencode-chat-section-beg s) (opencode-chat-section-end s)))))

(defun opencode-chat--message-sections ()
  "Return the sections of the messages drawn, in no order."
  (let (all)
    (when opencode-chat--sections
      (maphash (lambda (_ s) (when (opencode-chat-message-section-p s) (push s all)))
               opencode-chat--sections))
    all))

(defun opencode-chat--prompt-of (info)
  "Return the id of the prompt message INFO replies to, or nil."
  (let ((p (plist-get info :parentID)))
    (and (equal (plist-get info :role) "assistant") (stringp p) p)))

(defun opencode-chat--replies (prompt-id)
  "Return the ids of the replies to PROMPT-ID drawn, oldest first.
The server makes a reply message per step of the agent; they read as
one reply: the first has the header, with the tokens and cost of all."
  (and prompt-id
       (seq-filter #'opencode-chat--section
                   (opencode-timeline-replies (opencode-chat-timeline) prompt-id))))

(defun opencode-chat--newest-reply ()
  "Return the id of the newest reply step drawn, or nil.
A step not done with a newer one drawn was cut off: a session runs
one step at a time."
  (let ((newest nil))
    (dolist (s (opencode-chat--message-sections))
      (let ((id (opencode-chat-section-id s)))
        (when (and (equal (plist-get (opencode-chat--info id) :role) "assistant")
                   (or (null newest) (string< newest id)))
          (setq newest id))))
    newest))

(provide 'opencode-chat-section)
;;; opencode-chat-section.el ends here

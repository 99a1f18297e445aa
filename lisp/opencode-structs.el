;;; opencode-structs.el --- What the server sends, as structs  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; Structs for the things the server sends (session, message, part, a
;; permission or question request, todo), each with the fields the
;; package reads by name and the server's whole plist in its `data'
;; slot.  The store that holds them, per connection, is in
;; opencode-model.el.

;;; Code:

(require 'cl-lib)

;;;; What the server sends

(cl-defstruct (opencode-session (:constructor opencode-structs--session)
                                (:copier nil))
  "A session, as the server describes it."
  (id nil :documentation "The session id, \"ses_…\".")
  (parent-id nil :documentation "The parent session's id, or nil.")
  (title nil :documentation "The title.")
  (directory nil :documentation "The project directory it runs in.")
  (updated nil :documentation "Time of the last change, ms since the epoch.")
  (archived nil :documentation "Time it was archived (ms), or nil when it is not.
See `opencode-session-archived-p'.")
  (data nil :documentation "The server's plist (a `Session')."))

(defun opencode-session-archived-p (session)
  "Return the time SESSION was archived (ms), or nil if it is not archived.
SESSION is the server's plist (a `Session') or an `opencode-session'.
The server keeps `time.archived' at 0 once a session is unarchived, so
only a positive time means archived."
  (let ((a (if (opencode-session-p session)
               (opencode-session-archived session)
             (plist-get (plist-get session :time) :archived))))
    (and (numberp a) (> a 0) a)))

(defun opencode-session-from-plist (plist)
  "Return an `opencode-session' made from the server's PLIST."
  (let ((time (plist-get plist :time)))
    (opencode-structs--session
     :id (plist-get plist :id)
     :parent-id (and (stringp (plist-get plist :parentID)) (plist-get plist :parentID))
     :title (plist-get plist :title)
     :directory (plist-get plist :directory)
     :updated (plist-get time :updated)
     :archived (opencode-session-archived-p plist)
     :data plist)))

(cl-defstruct (opencode-message (:constructor opencode-structs--message)
                                (:copier nil))
  "A message of a session: the user's prompt or an assistant's reply."
  (id nil :documentation "The message id, \"msg_…\".")
  (session-id nil :documentation "The session it belongs to.")
  (role nil :documentation "\"user\" or \"assistant\".")
  (parent-id nil :documentation "For a reply, the id of the prompt it answers.")
  (error nil :documentation "The error that ended a reply, a plist, or nil.")
  (data nil :documentation "The server's plist (a `Message').")
  (parts nil :documentation "Its `opencode-part's, in the order they came,
in a session's timeline (opencode-timeline.el)."))

(defun opencode-message-from-plist (plist)
  "Return an `opencode-message' made from the server's PLIST."
  (opencode-structs--message
   :id (plist-get plist :id) :session-id (plist-get plist :sessionID)
   :role (plist-get plist :role)
   :parent-id (and (stringp (plist-get plist :parentID)) (plist-get plist :parentID))
   :error (let ((e (plist-get plist :error))) (and (consp e) e))
   :data plist))

(cl-defstruct (opencode-part (:constructor opencode-structs--part)
                             (:copier nil))
  "A part of a message: text, reasoning, a tool call, a file, …"
  (id nil :documentation "The part id, \"prt_…\".")
  (message-id nil :documentation "The message it belongs to.")
  (session-id nil :documentation "The session it belongs to.")
  (type nil :documentation "\"text\", \"reasoning\", \"tool\", \"file\", …")
  (data nil :documentation "The server's plist (a `Part'), a copy of its own.")
  (chunks nil :documentation "Text streamed into it since its :text was last
joined, newest first (see `opencode-part-text').")
  (fresh 0 :documentation "How many of `chunks' came one by one since the
newest were last merged into one (see `opencode-timeline-append').")
  (revision 0 :documentation "A number that changes each time its text is
made or replaced, not grown by a delta: a view that drew it at this
revision shows its text, with the deltas since.")
  (fold nil :documentation "The user's choice of fold in the chat:
`folded', `open', or nil for how its kind starts."))

(defun opencode-part-from-plist (plist)
  "Return an `opencode-part' made from the server's PLIST."
  (opencode-structs--part :id (plist-get plist :id)
                       :message-id (plist-get plist :messageID)
                       :session-id (plist-get plist :sessionID)
                       :type (plist-get plist :type)
                       :data plist))

(cl-defstruct (opencode-user-request (:constructor opencode-structs--user-request)
                                     (:copier nil))
  "A permission or a question the agent waits on the user for."
  (kind nil :documentation "`permission' or `question'.")
  (id nil :documentation "The request id, \"per_…\" or \"que_…\".")
  (session-id nil :documentation "The session that asks.")
  (data nil :documentation "The server's plist (a `PermissionRequest' or
`QuestionRequest')."))

(defun opencode-user-request-from-plist (kind plist)
  "Return an `opencode-user-request' of KIND made from the server's PLIST."
  (opencode-structs--user-request :kind kind :id (plist-get plist :id)
                               :session-id (plist-get plist :sessionID)
                               :data plist))

(cl-defstruct (opencode-todo (:constructor opencode-structs--todo)
                             (:copier nil))
  "One item of a session's todo list."
  (content nil :documentation "What to do.")
  (status nil :documentation "\"pending\", \"in_progress\", \"completed\" or \"cancelled\".")
  (priority nil :documentation "\"high\", \"medium\" or \"low\"."))

(defun opencode-todo-from-plist (plist)
  "Return an `opencode-todo' made from the server's PLIST."
  (opencode-structs--todo :content (plist-get plist :content)
                       :status (plist-get plist :status)
                       :priority (plist-get plist :priority)))

(provide 'opencode-structs)
;;; opencode-structs.el ends here

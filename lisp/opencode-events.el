;;; opencode-events.el --- Route server events to their handlers  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; Routing, not broadcast.  Each piece of code that acts on an event
;; declares its handler next to itself with `opencode-defevent', naming
;; the event types it wants; `opencode-events-route' runs just the
;; handlers of an event's type, in order of their depth: the model
;; (opencode-model.el, depth 0) first, the views after it, so views
;; read a store that already holds the event.  Each handler runs on
;; its own: an error is logged with the event and the others still run.
;;
;; Text deltas, the hot path, are not events here: the module hands
;; them over as (SESSION MESSAGE PART FIELD TEXT) and
;; `opencode-events-route-delta' gives them straight to the handlers
;; declared with `opencode-defdelta', without making a plist.
;;
;; `opencode-event-functions' stays the public hook: it sees every
;; event, deltas as "message.part.delta" plists, after the handlers.
;;
;; The events of a global connection (every project's, from
;; /global/event) go only to the handlers declared `:global t': the
;; store's, and the views of every project.  Chats, notifications and
;; the hook have the project's own connection for that.

;;; Code:

(require 'cl-lib)
(require 'opencode-lib)

(defvar opencode-event-functions nil
  "Abnormal hook run for every event from a server.
Each function gets CONNECTION, TYPE (a string such as
\"session.updated\") and PROPERTIES (a plist).  Consecutive text deltas
of one part arrive merged, as one \"message.part.delta\" event.  An
error in one function is logged and does not stop the others.")

(defvar opencode-events--handlers (make-hash-table :test 'equal)
  "Event type -> list of (DEPTH . FUNCTION), by increasing depth.
The key t holds the handlers of every event, run after those of its type.")

(defvar opencode-events--delta-handlers nil
  "List of (DEPTH . FUNCTION) that take text deltas, by increasing depth.")

(defun opencode-events--insert (entry list)
  "Return LIST of (DEPTH . FUNCTION) with ENTRY in its place.
An entry of the same function is replaced, so reloading a file does not
register a handler twice; among equal depths, the newest runs last."
  (let ((rest (cl-remove (cdr entry) list :key #'cdr)))
    (cl-merge 'list rest (list entry) #'< :key #'car)))

(defun opencode-events-add-handler (type function &optional depth)
  "Run FUNCTION for events of TYPE (a string, or t for all), at DEPTH.
DEPTH defaults to 50.
FUNCTION gets the connection, the event's properties and its type.
Handlers of lower depth run first; the model's run at 0."
  (puthash type (opencode-events--insert (cons (or depth 50) function)
                                         (gethash type opencode-events--handlers))
           opencode-events--handlers))

(defun opencode-events-add-delta-handler (function &optional depth)
  "Run FUNCTION for each text delta, at DEPTH (default 50).
FUNCTION gets the connection, the session, message and part ids, the
field (\"text\") and the text."
  (setq opencode-events--delta-handlers
        (opencode-events--insert (cons (or depth 50) function)
                                 opencode-events--delta-handlers)))

(defun opencode-events--parse-body (body)
  "Split BODY into (DEPTH DOCSTRING FORMS GLOBAL).
BODY is a docstring, then :depth N and :global BOOL, then the forms."
  (let ((doc (and (stringp (car body)) (cdr body) (pop body)))
        (depth 50) (global nil))
    (while (keywordp (car body))
      (pcase (pop body)
        (:depth (setq depth (pop body)))
        (:global (setq global (pop body)))
        (k (error "Unknown keyword %S" k))))
    (list depth doc body global)))

(defmacro opencode-defevent (name types arglist &rest body)
  "Define NAME, a handler of events of TYPES, with ARGLIST and BODY.
TYPES is an event type (a string), a list of them, or t for every
event (run after the handlers of its type).  ARGLIST is
\(CONNECTION PROPERTIES) or (CONNECTION PROPERTIES TYPE).  BODY may
start with a docstring and then `:depth N' (default 50; the model's
handlers run at 0, before the views) and `:global t' (the handler
also gets the events of global connections, see `opencode-events-route')."
  (declare (indent 3) (doc-string 4))
  (pcase-let ((`(,depth ,doc ,forms ,global) (opencode-events--parse-body body))
              (args (if (= (length arglist) 2) (append arglist '(_type)) arglist)))
    `(progn
       (defun ,name ,args
         ,(or doc (format "Handle %s events." types))
         ,@forms)
       (put ',name 'opencode-events-global ,(and global t))
       (dolist (type ',(if (consp types) types (list types)))
         (opencode-events-add-handler type #',name ,depth))
       ',name)))

(defmacro opencode-defdelta (name arglist &rest body)
  "Define NAME, a handler of text deltas, with ARGLIST and BODY.
ARGLIST is (CONNECTION SESSION MESSAGE PART FIELD TEXT).  BODY may start
with a docstring and then `:depth N'."
  (declare (indent 2) (doc-string 3))
  (pcase-let ((`(,depth ,doc ,forms) (opencode-events--parse-body body)))
    `(progn
       (defun ,name ,arglist
         ,(or doc "Handle a text delta.")
         ,@forms)
       (opencode-events-add-delta-handler #',name ,depth)
       ',name)))

(defun opencode-events--summary (props)
  "Return PROPS cut short, to name an event in the log."
  (truncate-string-to-width (format "%S" props) 300 nil nil "…"))

(defun opencode-events-log-error (err function what)
  "Log ERR, signalled by FUNCTION while handling WHAT (a string).
WHAT names an event, a delta or a reply.  The errors of every event
handler and of every request's callback go through here, and the
package's test suite fails a test during which one did."
  (opencode--log "%s in %S for %s" (error-message-string err) function what))

(defun opencode-events--run-hook (conn type props)
  "Run `opencode-event-functions' with CONN, TYPE and PROPS, each on its own."
  (run-hook-wrapped
   'opencode-event-functions
   (lambda (fn)
     (condition-case err
         (funcall fn conn type props)
       (error (opencode-events-log-error
               err fn (format "event %s %s" type (opencode-events--summary props)))))
     nil)))

(defvar opencode-events-tick 0
  "How many events were routed, text deltas aside.
What a view draws from the store changes only with it (or with time),
so a view evaluated on every redisplay, a header line say, can keep
its last result while it stays the same.")

(defun opencode-events-route (conn type props &optional global)
  "Run the handlers of event TYPE with CONN and PROPS, then the hook.
An error in a handler is logged with the event; the others still run.
With GLOBAL non-nil, CONN is a global connection: only the handlers
declared `:global t' run, and not the hook."
  (setq opencode-events-tick (1+ opencode-events-tick))
  (dolist (h (append (gethash type opencode-events--handlers)
                     (gethash t opencode-events--handlers)))
    (when (or (not global) (get (cdr h) 'opencode-events-global))
      (condition-case err
          (funcall (cdr h) conn props type)
        (error (opencode-events-log-error
                err (cdr h) (format "event %s %s" type (opencode-events--summary props)))))))
  (when (and opencode-event-functions (not global))
    (opencode-events--run-hook conn type props)))

(defun opencode-events-route-delta (conn session message part field text)
  "Give a text delta to its handlers, then to `opencode-event-functions'.
CONN is the connection; SESSION, MESSAGE and PART are ids; FIELD is the
part's field (\"text\"); TEXT the text to append."
  (dolist (h opencode-events--delta-handlers)
    (condition-case err
        (funcall (cdr h) conn session message part field text)
      (error (opencode-events-log-error err (cdr h) (format "a delta of part %s" part)))))
  (when opencode-event-functions
    (opencode-events--run-hook conn "message.part.delta"
                               (list :sessionID session :messageID message
                                     :partID part :field field :delta text))))

(provide 'opencode-events)
;;; opencode-events.el ends here

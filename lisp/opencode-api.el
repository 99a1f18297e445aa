;;; opencode-api.el --- One Lisp function per OpenCode route  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; Asynchronous wrappers of the server's REST routes.  Each takes the
;; connection first and the keyword arguments :callback (gets the parsed
;; reply) and :errback (gets an `opencode-error' object), and returns the
;; request id.  Ids in paths are percent-encoded here.

;;; Code:

(require 'opencode-connection)

(cl-defun opencode-api-session-list (conn &key search limit roots start
                                          callback errback)
  "List the sessions of CONN's project (GET /session).
SEARCH filters by title, LIMIT caps the count, ROOTS non-nil leaves out
forks, START is a time (ms) of last update to list from.
CONN is the connection; CALLBACK and ERRBACK are as for
`opencode-request'."
  (opencode-request conn "GET" "/session"
                    :query `(("search" . ,search) ("limit" . ,limit)
                             ("roots" . ,roots) ("start" . ,start))
                    :callback callback :errback errback))

(cl-defun opencode-api-session-status (conn &key callback errback)
  "Get the status of every busy session (GET /session/status).
CONN is the connection; CALLBACK and ERRBACK are as for
`opencode-request'."
  (opencode-request conn "GET" "/session/status"
                    :callback callback :errback errback))

(cl-defun opencode-api-session-get (conn id &key callback errback)
  "Get session ID (GET /session/:id).
CONN is the connection; CALLBACK and ERRBACK are as for
`opencode-request'."
  (opencode-request conn "GET" (opencode--path "session" id)
                    :callback callback :errback errback))

(cl-defun opencode-api-session-create (conn &key title parent callback errback)
  "Create a session (POST /session) with TITLE, a fork of PARENT if given.
CONN is the connection; CALLBACK and ERRBACK are as for
`opencode-request'."
  (opencode-request conn "POST" "/session"
                    :body (let ((h (make-hash-table :test 'equal)))
                            (when title (puthash "title" title h))
                            (when parent (puthash "parentID" parent h))
                            h)
                    :callback callback :errback errback))

(cl-defun opencode-api-session-update (conn id &key title archived
                                            callback errback)
  "Update session ID (PATCH /session/:id): TITLE, or ARCHIVED time (ms).
CONN is the connection; CALLBACK and ERRBACK are as for
`opencode-request'."
  (opencode-request conn "PATCH" (opencode--path "session" id)
                    :body (let ((h (make-hash-table :test 'equal)))
                            (when title (puthash "title" title h))
                            (when archived
                              (puthash "time" `(:archived ,archived) h))
                            h)
                    :callback callback :errback errback))

(cl-defun opencode-api-session-delete (conn id &key callback errback)
  "Delete session ID and its children (DELETE /session/:id).
CONN is the connection; CALLBACK and ERRBACK are as for
`opencode-request'."
  (opencode-request conn "DELETE" (opencode--path "session" id)
                    :callback callback :errback errback))

(cl-defun opencode-api-session-abort (conn id &key callback errback)
  "Abort the running reply of session ID (POST /session/:id/abort).
CONN is the connection; CALLBACK and ERRBACK are as for
`opencode-request'."
  (opencode-request conn "POST" (opencode--path "session" id "abort")
                    :callback callback :errback errback))

(cl-defun opencode-api-session-messages (conn id &key limit before
                                              callback errback)
  "Get messages of session ID (GET /session/:id/message).
LIMIT caps the count; BEFORE is a message id to page backwards from.
CONN is the connection; CALLBACK and ERRBACK are as for
`opencode-request'."
  (opencode-request conn "GET" (opencode--path "session" id "message")
                    :query `(("limit" . ,limit) ("before" . ,before))
                    :callback callback :errback errback))

(cl-defun opencode-api-session-prompt-async (conn id text &key model agent
                                                  callback errback)
  "Send TEXT to session ID without waiting for the reply.
POST /session/:id/prompt_async.  MODEL is (PROVIDER-ID . MODEL-ID);
AGENT an agent name.
CONN is the connection; CALLBACK and ERRBACK are as for
`opencode-request'."
  (opencode-request conn "POST" (opencode--path "session" id "prompt_async")
                    :body `(:parts [(:type "text" :text ,text)]
                                   ,@(and model
                                          `(:model (:providerID ,(car model)
                                                                :modelID ,(cdr model))))
                                   ,@(and agent `(:agent ,agent)))
                    :callback callback :errback errback))

(provide 'opencode-api)
;;; opencode-api.el ends here

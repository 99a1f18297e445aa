;;; opencode-chat-context.el --- A chat's header line and context  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The chat's header line (title, slug, deleted mark, branch, changes,
;; status with a retry countdown, error, pending requests, share URL), and its context at a glance:
;; agent, model, tokens against the model's context window, cost
;; (`opencode-chat-context', `opencode-chat-context-line', which the
;; prompt shows).

;;; Code:

(require 'cl-lib)
(require 'seq)
(require 'subr-x)
(require 'opencode-api)
(require 'opencode-requests)
(require 'opencode-model)
(require 'opencode-cache)
(require 'opencode-timeline)
(require 'opencode-chat-section)

(defvar opencode-chat--deleted)
(defvar opencode-chat--missing)
(declare-function opencode-chat-missing-text "opencode-chat-ops" (&optional buffer))

(declare-function opencode-chat-session "opencode-chat" (&optional buffer))

(defun opencode-chat--session-status ()
  "Return the status plist of this chat's session, from the store."
  (opencode-store-session-status opencode-chat--conn (opencode-chat-session-id)))

(defvar-local opencode-chat-agent nil
  "The agent this chat's prompts go to, or nil for the default.
Local to each chat buffer; `opencode-chat-set-agent' sets it.")

(defvar-local opencode-chat-model nil
  "The model of this chat's prompts, (PROVIDER-ID . MODEL-ID), or nil.
Local to each chat buffer; `opencode-chat-set-model' sets it.")

(defvar-local opencode-chat-variant nil
  "The variant of the model of this chat's prompts (its reasoning effort), or nil.
Local to each chat buffer; `opencode-chat-cycle-variant' sets it.")

(defvar-local opencode-chat--defaults nil
  "What the server answers this chat's prompts with, before any reply:
a plist (:model \"PROVIDER/MODEL\" :agent NAME), once known.")

(defun opencode-chat-learn-defaults ()
  "Learn the model and the agent the server answers this chat with.
The context line of a session with no reply yet shows them: the
session's or the project's model, else the server's default; the
configuration's default agent, else the server's first primary one."
  (let ((buf (current-buffer))
        (conn opencode-chat--conn))
    (cl-flet ((learn (key value)
                (when (buffer-live-p buf)
                  (with-current-buffer buf
                    (setq opencode-chat--defaults (plist-put opencode-chat--defaults key value))
                    (force-mode-line-update t)))))
      (opencode-api-session-model
       conn (opencode-chat-session)
       (lambda (m) (learn :model (format "%s/%s" (car m) (cdr m))))
       'quiet)
      (opencode-api-config
       conn :errback #'ignore
       :callback
       (lambda (config)
         (if (stringp (plist-get config :default_agent))
             (learn :agent (plist-get config :default_agent))
           (opencode-api-agents
            conn :errback #'ignore
            :callback
            (lambda (agents)
              (let ((a (seq-find (lambda (a) (and (not (equal (plist-get a :mode) "subagent"))
                                                  (not (eq (plist-get a :hidden) t))
                                                  (stringp (plist-get a :name))))
                                 agents)))
                (when a (learn :agent (plist-get a :name))))))))))))

(defface opencode-chat-needs-user '((t :inherit highlight :weight bold))
  "Face of a permission or question waiting for the user."
  :group 'opencode)

;;;; The retry countdown

(defvar-local opencode-chat--countdown-timer nil
  "Timer redrawing the header line each second while a retry counts down.")

(defun opencode-chat--countdown ()
  "Run or stop the retry countdown of the header line."
  (let ((buf (current-buffer)))
    (if (equal (plist-get (opencode-chat--session-status) :type) "retry")
        (unless opencode-chat--countdown-timer
          (setq opencode-chat--countdown-timer
                (run-with-timer 1 1 (lambda ()
                                      (when (buffer-live-p buf)
                                        (with-current-buffer buf
                                          (force-mode-line-update)
                                          (opencode-chat--countdown)))))))
      (opencode-chat--stop-countdown))))

(defun opencode-chat--stop-countdown ()
  "Stop the retry countdown of this chat, if it runs."
  (when opencode-chat--countdown-timer
    (cancel-timer opencode-chat--countdown-timer)
    (setq opencode-chat--countdown-timer nil)))

;;;; The context

(defun opencode-chat--model-limit (conn provider model)
  "Return the context window of PROVIDER's MODEL on CONN, or nil.
The providers are fetched once per connection (GET /config/providers);
until they arrive, nil."
  (let ((providers (plist-get (opencode-connection-plist conn) :providers)))
    (if (eq providers 'pending) nil
      (unless providers
        (setf (opencode-connection-plist conn)
              (plist-put (opencode-connection-plist conn) :providers 'pending))
        (opencode-api-providers
         conn
         :errback (lambda (_) (setf (opencode-connection-plist conn)
                                    (plist-put (opencode-connection-plist conn) :providers nil)))
         :callback (lambda (res)
                     (setf (opencode-connection-plist conn)
                           (plist-put (opencode-connection-plist conn) :providers
                                      (plist-get res :providers)))
                     (force-mode-line-update t))))
      (when (vectorp providers)
        (let* ((p (seq-find (lambda (p) (equal (plist-get p :id) provider)) providers))
               (m (and p (plist-get (plist-get p :models) (intern (concat ":" model))))))
          (plist-get (plist-get m :limit) :context))))))

(defun opencode-chat-context ()
  "Return what this chat's context looks like, as a plist.
:model \"PROVIDER/MODEL\", :agent, :input, :output, :reasoning,
:cache-read, :cache-write (tokens of the last reply), :used (tokens
in the context: input and cache), :limit (the model's context window,
or nil), :cost (the whole session's) and :status (the word of
`opencode-store-state': \"idle\", \"busy\", \"error\"..., or while the
connection is down, that it is unknown and why)."
  (let ((last nil) (cost 0))
    (dolist (s (opencode-chat--message-sections))
      (let* ((id (opencode-chat-section-id s))
             (info (opencode-chat--info id)))
        (when (equal (plist-get info :role) "assistant")
          (when (numberp (plist-get info :cost)) (cl-incf cost (plist-get info :cost)))
          (when (and (plist-get info :tokens)
                     (or (null last) (string< (plist-get last :id) id)))
            (setq last info)))))
    (let* ((tokens (plist-get last :tokens))
           (cache (plist-get tokens :cache))
           (num (lambda (v) (if (numberp v) v 0)))
           (provider (or (car opencode-chat-model) (plist-get last :providerID)))
           (model (or (cdr opencode-chat-model) (plist-get last :modelID)))
           (used (+ (funcall num (plist-get tokens :input))
                    (funcall num (plist-get cache :read))
                    (funcall num (plist-get cache :write)))))
      (list :model (and provider model (format "%s/%s" provider model))
            :agent (or opencode-chat-agent (plist-get last :agent) (plist-get last :mode))
            :input (funcall num (plist-get tokens :input))
            :output (funcall num (plist-get tokens :output))
            :reasoning (funcall num (plist-get tokens :reasoning))
            :cache-read (funcall num (plist-get cache :read))
            :cache-write (funcall num (plist-get cache :write))
            :used used
            :limit (and provider model opencode-chat--conn
                        (opencode-chat--model-limit opencode-chat--conn provider model))
            :cost cost
            :status (cond ((null opencode-chat--conn) "idle")
                          ((not (opencode-store-status-known-p opencode-chat--conn))
                           (opencode-store-unknown-status-text opencode-chat--conn))
                          (t (opencode-store-state-word
                              (opencode-store-state opencode-chat--conn
                                                    (opencode-chat-session-id)))))))))

(defun opencode-chat-context-line ()
  "Return the chat's context at a glance: status, agent, model, window, cost.
The most useful comes first, so a narrow window cuts the least."
  (let* ((c (opencode-chat-context))
         (limit (plist-get c :limit))
         (used (plist-get c :used))
         (cost (plist-get c :cost)))
    (concat
     (if opencode-chat--missing
         (propertize (format "not on %s" opencode-chat--missing) 'face 'opencode-chat-error)
       (plist-get c :status))
     " · "
     (let ((agent (or (plist-get c :agent) (plist-get opencode-chat--defaults :agent)))
           (model (or (plist-get c :model) (plist-get opencode-chat--defaults :model))))
       (if (or agent model)
           (string-join (delq nil (list agent model)) " · ")
         "no reply yet"))
     (if opencode-chat-variant (format " (%s)" opencode-chat-variant) "")
     (if (and (numberp limit) (> limit 0))
         (let* ((ratio (min 1.0 (/ used (float limit))))
                (cells (round (* 10 ratio))))
           (format " · %s/%s %s %d%%" (opencode--token-count used) (opencode--token-count limit)
                   (propertize (concat (make-string cells ?█) (make-string (- 10 cells) ?░))
                               'face (if (> ratio 0.8) 'warning 'opencode-chat-dim))
                   (round (* 100 ratio))))
       (format " · %s in context" (opencode--token-count used)))
     (if (and (numberp cost) (> cost 0)) (format " · $%.4f" cost) "")
     (format " · in %s out %s cache %s/%s"
             (opencode--token-count (plist-get c :input)) (opencode--token-count (plist-get c :output))
             (opencode--token-count (plist-get c :cache-read))
             (opencode--token-count (plist-get c :cache-write))))))

;;;; First run with no model

(opencode-defevent opencode-chat--on-retry "session.status" (conn props)
  "Say once per connection what to do when a reply retries with no model set.
With no model in the project's configuration, the server answers with a
default provider's, which needs an account or the network: offline,
the reply retries for good.  PROPS is the event's, on CONN."
  (when (and (equal (plist-get (plist-get props :status) :type) "retry")
             (not (plist-get (opencode-connection-plist conn) :no-model-told)))
    (setf (opencode-connection-plist conn)
          (plist-put (opencode-connection-plist conn) :no-model-told t))
    (opencode-api-config
     conn :errback #'ignore
     :callback (lambda (config)
                 (unless (stringp (plist-get config :model))
                   (message "OpenCode: the reply is retrying (%s); %s"
                            (or (plist-get (plist-get props :status) :message) "no answer")
                            (format opencode-api-no-model-help
                                    (opencode-connection-directory conn))))))))

;;;; The header line

(defvar-local opencode-chat--header-cache nil
  "The header line last made, as (KEY . TEXT); see `opencode-chat--header-line'.")

(defun opencode-chat--header-line ()
  "Return the header line of the chat, made again only when it may differ.
It is evaluated on every redisplay, a streamed reply's included; what
it shows changes with the events routed (`opencode-events-tick'), the
connection's state, the buffer's own marks, or the second (countdowns,
and the few things learned from replies, such as the branch)."
  (let ((key (list opencode-events-tick
                   (and opencode-chat--conn (opencode-connection-state opencode-chat--conn))
                   opencode-chat--deleted opencode-chat--missing opencode-cache-stale
                   (floor (float-time)))))
    (cond
     ;; Not attached yet (a chat being made): nothing to say.
     ((null opencode-chat--conn) "")
     ((equal key (car opencode-chat--header-cache))
      (cdr opencode-chat--header-cache))
     (t
      (cdr (setq opencode-chat--header-cache
                 (cons key (opencode-chat--header-text))))))))

(defun opencode-chat--header-text ()
  "Return the header line of the chat: title, status, branch of work.
All of it comes from the connection and its store."
  (let* ((conn opencode-chat--conn)
         (sid (opencode-chat-session-id))
         (session (opencode-chat-session))
         (status (opencode-chat--session-status))
         (branch (opencode-store-branch (opencode-store conn)))
         (err (opencode-store-session-error conn sid))
         (pending (opencode-requests-pending)))
    (concat " " (or (plist-get session :title) "")
            (if (stringp (plist-get session :slug))
                (propertize (concat " · " (plist-get session :slug)) 'face 'opencode-chat-dim)
              "")
            (if opencode-chat--deleted
                (propertize "  DELETED on the server: read only" 'face 'opencode-chat-error)
              "")
            (if opencode-cache-stale
                (propertize "  cached copy (stale, read-only)" 'face 'warning)
              "")
            (if branch (propertize (format "  [%s]" branch) 'face 'opencode-chat-dim) "")
            (pcase (opencode-store-diff-summary conn sid)
              (`(,files ,adds ,dels) (format "  +%d −%d (%s)" adds dels (opencode--plural files "file")))
              (_ ""))
            (if (plist-get session :revert)
                (propertize (substitute-command-keys
                             "  reverted (\\<opencode-chat-mode-map>\\[opencode-chat-unrevert] restores)")
                            'face 'warning)
              "")
            "  " (cond
                  ((not (opencode-store-status-known-p conn))
                   (propertize (opencode-store-unknown-status-text conn t) 'face 'warning))
                  (opencode-chat--missing
                   (propertize (concat "session " (opencode-chat-missing-text) ": read only")
                               'face 'opencode-chat-error))
                  (t
                   (pcase (opencode-store-state conn sid)
                     ('busy (propertize "busy" 'face 'warning))
                     ('retry
                      (let ((next (plist-get status :next)))
                        (propertize (format "retry %s%s: %s" (plist-get status :attempt)
                                            (if (numberp next)
                                                (format " in %ds" (max 0 (ceiling (- (/ next 1000.0)
                                                                                    (float-time)))))
                                              "")
                                            (plist-get status :message))
                                    'face 'error)))
                     ('error (propertize (opencode-store-state-word 'error) 'face 'opencode-chat-error))
                     ('needs (propertize (opencode-store-state-word 'needs) 'face 'opencode-chat-needs-user))
                     (state (propertize (opencode-store-state-word state) 'face 'shadow)))))
            (if err
                (propertize (concat ": " (opencode-api-error-text err)) 'face 'opencode-chat-error)
              "")
            (if pending
                (propertize (concat "  " (opencode-requests-summary (car pending))
                                    (substitute-command-keys
                                     "  \\<opencode-chat-mode-map>\\[opencode-chat-answer] to answer"))
                            'face 'opencode-chat-needs-user)
              "")
            (let ((url (plist-get (plist-get session :share) :url)))
              (if (stringp url)
                  (propertize (concat "  shared: " url) 'face 'opencode-chat-dim)
                "")))))

(provide 'opencode-chat-context)
;;; opencode-chat-context.el ends here

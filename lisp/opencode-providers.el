;;; opencode-providers.el --- Which providers answer, said before a first prompt  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; With no provider of the user's own (no `opencode auth login', none
;; in opencode.json), the server answers a prompt with a free model of
;; OpenCode Zen, over the network: offline, the reply then waits and
;; retries.  So before a first prompt, the empty session list and the
;; prompt of an empty session say which providers the project has,
;; where prompts go, and how to add a provider
;; (`opencode-providers-text').  Asked of the server (GET /config and
;; GET /config/providers) at most every `opencode-providers-ttl'
;; seconds per connection.

;;; Code:

(require 'cl-lib)
(require 'opencode-connection)
(require 'opencode-api)

(defconst opencode-providers-ttl 30
  "Seconds the providers said for a connection are kept before asked again.")

(defun opencode-providers--fallback-p (provider)
  "Return non-nil if PROVIDER is the server's own fallback, not the user's.
That is OpenCode Zen with its public key: its free models, which the
server offers to everyone."
  (and (equal (plist-get provider :id) "opencode")
       (equal (plist-get (plist-get provider :options) :apiKey) "public")))

(defun opencode-providers-describe (config providers)
  "Return what to say about the providers of a project, in a few words.
CONFIG is its /config reply, PROVIDERS its /config/providers one:
which providers there are, where a prompt goes, how to add a provider."
  (let* ((all (append (plist-get providers :providers) nil))
         (own (cl-remove-if #'opencode-providers--fallback-p all))
         (model (opencode-api-project-model config providers))
         (to (if model (format "%s/%s" (car model) (cdr model)) "no model"))
         (add "To add one: `opencode auth login', or a provider in the project's \
opencode.json; then M-x opencode-server-restart."))
    (cond
     (own
      (format "Providers: %s; prompts go to %s.  %s"
              (mapconcat (lambda (p)
                           (if (opencode-providers--fallback-p p)
                               "OpenCode Zen (its free models)"
                             (or (plist-get p :name) (plist-get p :id))))
                         all ", ")
              to add))
     (all
      (format "No provider of yours is configured: prompts go to %s, a free \
OpenCode Zen model, over the network.  %s" to add))
     (t (format "No provider is configured: a prompt has no model to go to.  %s" add)))))

(defun opencode-providers-text (conn &optional then)
  "Return what to say about CONN's providers, or nil while it is asked.
When it is not known or is older than `opencode-providers-ttl'
seconds, ask the server, and call THEN with no argument once the new
text is there (a view redraws itself with it)."
  (let* ((said (plist-get (opencode-connection-plist conn) :providers-said))
         (fresh (and said (< (- (float-time) (car said)) opencode-providers-ttl))))
    (unless (or fresh (plist-get (opencode-connection-plist conn) :providers-asking))
      (setf (opencode-connection-plist conn)
            (plist-put (opencode-connection-plist conn) :providers-asking t))
      (let ((done (lambda (text)
                    (setf (opencode-connection-plist conn)
                          (plist-put (plist-put (opencode-connection-plist conn)
                                                :providers-asking nil)
                                     :providers-said (and text (cons (float-time) text))))
                    (when (and text then) (funcall then)))))
        (opencode-api-config
         conn :errback (lambda (_) (funcall done nil))
         :callback
         (lambda (config)
           (opencode-api-providers
            conn :errback (lambda (_) (funcall done nil))
            :callback (lambda (providers)
                        (funcall done (opencode-providers-describe config providers))))))))
    (cdr said)))

(defun opencode-providers-fill (text prefix)
  "Return TEXT filled to 72 columns, each line starting with PREFIX."
  (with-temp-buffer
    (insert prefix text)
    (let ((fill-column 72) (fill-prefix prefix))
      (fill-region (point-min) (point-max)))
    (buffer-string)))

(provide 'opencode-providers)
;;; opencode-providers.el ends here

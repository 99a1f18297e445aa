;;; opencode-api.el --- One Lisp function per OpenCode route  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; One function per REST route of the server: the only way the package
;; calls it.  Each takes the connection first and the keyword arguments
;; of `opencode-request': :callback (gets the parsed reply, or with
;; :full the whole `opencode-reply'), :errback (gets an `opencode-error'
;; object), and :sync (wait and return the reply instead of the request
;; id).  Ids in paths are percent-encoded here.

;;; Code:

(require 'opencode-connection)
(require 'opencode-connection-requests)

(cl-defun opencode-api-session-list (conn &key search limit roots start
                                          callback errback sync full)
  "List the sessions of CONN's project (GET /session).
SEARCH filters by title, LIMIT caps the count, ROOTS non-nil leaves out
forks, START is a time (ms) of last update to list from.
CONN is the connection; CALLBACK, ERRBACK, SYNC and FULL are as
for `opencode-request'."
  (opencode-request conn "GET" "/session"
                    :query `(("search" . ,search) ("limit" . ,limit)
                             ("roots" . ,roots) ("start" . ,start))
                    :callback callback :errback errback
                    :sync sync :full full))

(cl-defun opencode-api-session-status (conn &key query callback errback sync full)
  "Get the status of every busy session (GET /session/status).
CONN is the connection; QUERY, CALLBACK, ERRBACK, SYNC and FULL are
as for `opencode-request' (QUERY may name the \"directory\")."
  (opencode-request conn "GET" "/session/status"
                    :query query
                    :callback callback :errback errback
                    :sync sync :full full))

(cl-defun opencode-api-session-get (conn id &key callback errback sync full)
  "Get session ID (GET /session/:id).
CONN is the connection; CALLBACK, ERRBACK, SYNC and FULL are as
for `opencode-request'."
  (opencode-request conn "GET" (opencode--path "session" id)
                    :callback callback :errback errback
                    :sync sync :full full))

(cl-defun opencode-api-session-create (conn &key title parent callback errback sync full)
  "Create a session (POST /session) with TITLE, a fork of PARENT if given.
CONN is the connection; CALLBACK, ERRBACK, SYNC and FULL are as
for `opencode-request'."
  (opencode-request conn "POST" "/session"
                    :body (let ((h (make-hash-table :test 'equal)))
                            (when title (puthash "title" title h))
                            (when parent (puthash "parentID" parent h))
                            h)
                    :callback callback :errback errback
                    :sync sync :full full))

(cl-defun opencode-api-session-update (conn id &key title archived permission
                                            callback errback sync full)
  "Update session ID (PATCH /session/:id): TITLE, or ARCHIVED time (ms).
PERMISSION, a list of rules (plists :permission :pattern :action), is
added after the session's rules: the server keeps every rule it was
given (1.18.33 merges, it does not replace), and the last one that
matches wins.  The reply is the session.
CONN is the connection; CALLBACK, ERRBACK, SYNC and FULL are as
for `opencode-request'."
  (opencode-request conn "PATCH" (opencode--path "session" id)
                    :body (let ((h (make-hash-table :test 'equal)))
                            (when title (puthash "title" title h))
                            (when archived
                              (puthash "time" `(:archived ,archived) h))
                            (when permission
                              (puthash "permission" (apply #'vector permission) h))
                            h)
                    :callback callback :errback errback
                    :sync sync :full full))

(cl-defun opencode-api-session-delete (conn id &key callback errback sync full)
  "Delete session ID and its children (DELETE /session/:id).
CONN is the connection; CALLBACK, ERRBACK, SYNC and FULL are as
for `opencode-request'."
  (opencode-request conn "DELETE" (opencode--path "session" id)
                    :callback callback :errback errback
                    :sync sync :full full))

(cl-defun opencode-api-session-abort (conn id &key callback errback sync full)
  "Abort the running reply of session ID (POST /session/:id/abort).
CONN is the connection; CALLBACK, ERRBACK, SYNC and FULL are as
for `opencode-request'."
  (opencode-request conn "POST" (opencode--path "session" id "abort")
                    :callback callback :errback errback
                    :sync sync :full full))

(cl-defun opencode-api-session-messages (conn id &key limit before
                                              callback errback sync full)
  "Get messages of session ID (GET /session/:id/message).
LIMIT caps the count (the newest ones); BEFORE is the cursor to page
backwards from, which the previous page's reply has in its header
\"x-next-cursor\" (ask for it with FULL, then `opencode-reply-header').
CONN is the connection; CALLBACK, ERRBACK, SYNC and FULL are as
for `opencode-request'."
  (opencode-request conn "GET" (opencode--path "session" id "message")
                    :query `(("limit" . ,limit) ("before" . ,before))
                    :callback callback :errback errback
                    :sync sync :full full))

(cl-defun opencode-api-session-prompt-async (conn id text &key model agent parts variant
                                                  message-id text-id
                                                  callback errback sync full)
  "Send TEXT to session ID without waiting for the reply.
POST /session/:id/prompt_async.  MODEL is (PROVIDER-ID . MODEL-ID);
AGENT an agent name; PARTS more parts to send after the text, such as
file parts; VARIANT the model's variant (its reasoning effort, say),
one of the keys of the model's `variants' in /config/providers.
MESSAGE-ID and TEXT-ID, when given, are the ids the
message and its text part get (the server keeps them), so the prompt
can be shown before the server echoes it.
CONN is the connection; CALLBACK, ERRBACK, SYNC and FULL are as
for `opencode-request'."
  (opencode-request conn "POST" (opencode--path "session" id "prompt_async")
                    :body `(:parts ,(apply #'vector `(,@(and text-id `(:id ,text-id))
                                                      :type "text" :text ,text)
                                           parts)
                                   ,@(and message-id `(:messageID ,message-id))
                                   ,@(and variant `(:variant ,variant))
                                   ,@(and model
                                          `(:model (:providerID ,(car model)
                                                                :modelID ,(cdr model))))
                                   ,@(and agent `(:agent ,agent)))
                    :callback callback :errback errback
                    :sync sync :full full))

;;;; Errors the server reports

(defun opencode-api-aborted-p (err)
  "Return non-nil if ERR, an error plist from the server, says a reply was aborted.
That is what the user asked for, not a failure."
  (equal (plist-get err :name) "MessageAbortedError"))

(defun opencode-api-error-text (err)
  "Return a one-line description of ERR, an error plist from the server.
Such errors come in session.error events and in messages:
\(:name NAME :data (:message MESSAGE ...))."
  (let ((name (plist-get err :name))
        (msg (plist-get (plist-get err :data) :message)))
    (string-join (delq nil (list (and (stringp name) name) (and (stringp msg) msg))) ": ")))

(defun opencode-api-session-not-found-p (err)
  "Return non-nil if ERR, an error object, says the session is not on the server.
That is the server's 404 `NotFoundError' for a session: the session was
deleted, or it lives on another server than the one asked."
  (and (eq (car-safe err) 'opencode-http-error)
       (eql (nth 2 err) 404)
       (let ((msg (plist-get (plist-get (nth 3 err) :data) :message)))
         (and (stringp msg) (string-prefix-p "Session not found" msg)))))

;;;; Ids and models

(defvar opencode--id-last-ms 0 "Milliseconds of the last id made.")
(defvar opencode--id-counter 0 "Ids made within `opencode--id-last-ms'.")

(defun opencode--id-time (id)
  "Return the time part of ID, an ascending id of the server, or 0."
  (or (and (stringp id) (string-match "\\`[a-z]+_\\([0-9a-f]\\{12\\}\\)" id)
           (string-to-number (match-string 1 id) 16))
      0))

(defun opencode--ascending-id (prefix &optional after)
  "Return a new time-ordered id with PREFIX, such as \"msg\".
Made as the server makes them: twelve hex digits of the time in
ms times 4096 plus a counter, then fourteen random base-62 characters.
With AFTER, an id, the new one sorts after it even when the clock that
made AFTER, a server's, is ahead of ours."
  (let* ((ms (truncate (* 1000 (float-time))))
         (alphabet "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
         (time (max (* ms 4096)
                    (1+ (+ (* opencode--id-last-ms 4096) opencode--id-counter))
                    (1+ (opencode--id-time after)))))
    (setq opencode--id-last-ms (/ time 4096) opencode--id-counter (% time 4096))
    (concat prefix "_"
            (format "%012x" (mod time (expt 2 48)))
            (apply #'string (cl-loop repeat 14 collect (aref alphabet (random 62)))))))

(defun opencode--parse-model (string)
  "Return (PROVIDER-ID . MODEL-ID) from STRING \"provider/model\", or nil."
  (when (and (stringp string) (string-match "\\`\\([^/]+\\)/\\(.+\\)\\'" string))
    (cons (match-string 1 string) (match-string 2 string))))

(cl-defun opencode-api-config (conn &key callback errback sync full)
  "Get the project's configuration (GET /config).
CONN is the connection; CALLBACK, ERRBACK, SYNC and FULL are as
for `opencode-request'."
  (opencode-request conn "GET" "/config" :callback callback :errback errback
                    :sync sync :full full))

(defconst opencode-api-no-model-help
  "no model is configured for %s: run `opencode auth login', or name a provider \
and a model in the project's opencode.json (README: \"Configure a model\"); \
`make demo' tries the package offline"
  "What to say when no model can be had; %s is the project directory.")

(defun opencode-api--default-model (providers &optional configured)
  "Return the server's default model in PROVIDERS, the /config/providers reply.
The first provider that has a default model gives it; when CONFIGURED
\(the ids of the providers the configuration declares) is non-nil, the
first of those, as the server picks the model it answers prompts with."
  (let ((defaults (plist-get providers :default)))
    (cl-loop for p across (or (plist-get providers :providers) [])
             for id = (plist-get p :id)
             for model = (and (stringp id) (plist-get defaults (intern (concat ":" id))))
             when (and (stringp model) (or (null configured) (member id configured)))
             return (cons id model))))

(defun opencode-api--configured-providers (config)
  "Return the ids of the providers CONFIG, a /config reply, declares."
  (let ((providers (plist-get config :provider)) ids)
    (while (keywordp (car-safe providers))
      (push (substring (symbol-name (car providers)) 1) ids)
      (setq providers (cddr providers)))
    (nreverse ids)))

(defun opencode-api-project-model (config providers)
  "Return the model a prompt with no model of its own goes to, or nil.
As (PROVIDER-ID . MODEL-ID): the one CONFIG, the /config reply,
names, else the server's default among the providers CONFIG declares,
else its default in PROVIDERS, the /config/providers reply."
  (or (opencode--parse-model (plist-get config :model))
      (opencode-api--default-model providers (opencode-api--configured-providers config))
      (opencode-api--default-model providers)))

(defun opencode-api-session-model (conn session callback &optional quiet)
  "Call CALLBACK with the model of SESSION as (PROVIDER-ID . MODEL-ID).
SESSION's own model when it has one, else the project's configured
model, else the server's default (the one it answers prompts with).
CONN is the connection.  When none is known, say what to do instead;
with QUIET, say nothing, neither then nor when a request fails."
  (let ((m (plist-get session :model))
        (errback (and quiet #'ignore)))
    (if (and (stringp (plist-get m :providerID)) (stringp (plist-get m :id)))
        (funcall callback (cons (plist-get m :providerID) (plist-get m :id)))
      (opencode-api-config
       conn :errback errback :callback
       (lambda (config)
         (let ((model (opencode--parse-model (plist-get config :model))))
           (if model (funcall callback model)
             (opencode-api-providers
              conn :errback errback :callback
              (lambda (providers)
                (let ((default (opencode-api-project-model config providers)))
                  (cond (default (funcall callback default))
                        (quiet)
                        (t (message "OpenCode: %s"
                                    (format opencode-api-no-model-help
                                            (opencode-connection-directory conn)))))))))))))))

(cl-defun opencode-api-session-init (conn id model &key callback errback sync full)
  "Run /init in session ID with MODEL, (PROVIDER-ID . MODEL-ID).
The agent reads the project and writes AGENTS.md
\(POST /session/:id/init).  CONN is the connection; CALLBACK,
ERRBACK, SYNC and FULL are as for `opencode-request'."
  (opencode-request conn "POST" (opencode--path "session" id "init")
                    :body `(:providerID ,(car model) :modelID ,(cdr model)
                                        :messageID ,(opencode--ascending-id "msg"))
                    :timeout 600
                    :callback callback :errback errback
                    :sync sync :full full))

(cl-defun opencode-api-session-summarize (conn id model &key callback errback sync full)
  "Compact session ID: summarize it with MODEL, (PROVIDER-ID . MODEL-ID).
POST /session/:id/summarize.  CONN is the connection; CALLBACK,
ERRBACK, SYNC and FULL are as for `opencode-request'."
  (opencode-request conn "POST" (opencode--path "session" id "summarize")
                    :body `(:providerID ,(car model) :modelID ,(cdr model))
                    :timeout 600
                    :callback callback :errback errback
                    :sync sync :full full))

;;;; Projects and worktrees

(cl-defun opencode-api-project-list (conn &key callback errback sync full)
  "List the projects the server knows (GET /project).
Each is a plist with :id, :worktree (its main directory), :name
\(maybe), :vcs, :time and :sandboxes (the directories of its worktrees).
The server lists a project \"global\", worktree \"/\", for sessions
made outside any git project.  CONN is the connection; CALLBACK,
ERRBACK, SYNC and FULL are as for `opencode-request'."
  (opencode-request conn "GET" "/project"
                    :callback callback :errback errback
                    :sync sync :full full))

(cl-defun opencode-api-worktree-list (conn &key callback errback sync full)
  "List the worktree directories of CONN's project (GET /experimental/worktree).
The reply is a vector of directories, the main one not among them.
CONN is the connection; CALLBACK, ERRBACK, SYNC and FULL are as for
`opencode-request'."
  (opencode-request conn "GET" "/experimental/worktree"
                    :callback callback :errback errback
                    :sync sync :full full))

(cl-defun opencode-api-worktree-create (conn &key name start-command
                                             callback errback sync full)
  "Create a git worktree of CONN's project (POST /experimental/worktree).
NAME is its name (nil: the server makes one up, \"misty-pixel\"), and
the branch is opencode/NAME; START-COMMAND a shell command run in it
after the project's own start command.  The reply is a plist with
:name, :branch and :directory (under the server's data directory).
CONN is the connection; CALLBACK, ERRBACK, SYNC and FULL are as for
`opencode-request'."
  (opencode-request conn "POST" "/experimental/worktree"
                    :body (let ((h (make-hash-table :test 'equal)))
                            (when name (puthash "name" name h))
                            (when start-command (puthash "startCommand" start-command h))
                            h)
                    :timeout 120
                    :callback callback :errback errback
                    :sync sync :full full))

(cl-defun opencode-api-worktree-remove (conn directory &key callback errback sync full)
  "Remove the worktree at DIRECTORY of CONN's project.
DELETE /experimental/worktree: its directory goes, its branch stays;
its sessions stay listed (with a directory that is gone).
CONN is the connection; CALLBACK, ERRBACK, SYNC and FULL are as for
`opencode-request'."
  (opencode-request conn "DELETE" "/experimental/worktree"
                    :body `(:directory ,directory)
                    :timeout 120
                    :callback callback :errback errback
                    :sync sync :full full))

;;;; Every other route

(defmacro opencode-api--define-routes (&rest routes)
  "Define one function per entry of ROUTES.
Each entry is (NAME METHOD PATH DOC): PATH is a list of strings and of
symbols, the symbols becoming the function's leading arguments (ids).
Every function then takes the keywords :query (an alist), :body (a
plist), :callback, :errback, :timeout, :sync and :full of
`opencode-request'."
  `(progn
     ,@(mapcar
        (lambda (r)
          (pcase-let ((`(,name ,method ,path ,doc) r))
            (let ((args (cl-remove-if-not #'symbolp path)))
              `(cl-defun ,(intern (format "opencode-api-%s" name))
                   (conn ,@args &key query body callback errback timeout sync full)
                 ,(format "%s\n%s /%s.\nCONN is the connection; QUERY, BODY, CALLBACK, ERRBACK,\nTIMEOUT, SYNC and FULL are as for `opencode-request'."
                          doc method
                          (mapconcat (lambda (p) (if (symbolp p) (upcase (symbol-name p)) p))
                                     path "/"))
                 (opencode-request conn ,method (opencode--path ,@path)
                                   :query query :body body :callback callback
                                   :errback errback :timeout timeout
                                   :sync sync :full full)))))
        routes)))

(opencode-api--define-routes
 (session-list-paged "GET" ("experimental" "session") "List sessions a page at a time (query limit, cursor, search, archived).\nOn a global connection (no directory), every project's, each with\n:project (:id :worktree).")
 (session-children "GET" ("session" id "children") "List the child sessions of session ID.")
 (session-todo "GET" ("session" id "todo") "Get the todo list of session ID.")
 (session-diff "GET" ("session" id "diff") "Get what session ID changed on disk (query messageID: one message).")
 (session-message "GET" ("session" id "message" message) "Get MESSAGE of session ID.")
 (session-prompt "POST" ("session" id "message") "Send a prompt to session ID and wait for the reply.")
 (session-delete-message "DELETE" ("session" id "message" message) "Delete MESSAGE from session ID.")
 (session-fork "POST" ("session" id "fork") "Fork session ID (body messageID: where).")
 (session-share "POST" ("session" id "share") "Share session ID.")
 (session-unshare "DELETE" ("session" id "share") "Unshare session ID.")
 (session-revert "POST" ("session" id "revert") "Revert session ID (body messageID, partID).")
 (session-unrevert "POST" ("session" id "unrevert") "Undo the revert of session ID.")
 (session-command "POST" ("session" id "command") "Run a slash command in session ID (body command, arguments).")
 (session-shell "POST" ("session" id "shell") "Run a shell command in session ID (body agent, command).")
 (part-delete "DELETE" ("session" id "message" message "part" part) "Delete PART of MESSAGE in session ID.")
 (part-update "PATCH" ("session" id "message" message "part" part) "Replace PART of MESSAGE in session ID (body: the part).")
 (permission-list "GET" ("permission") "List the pending permission requests.")
 (permission-reply "POST" ("permission" request "reply") "Answer permission REQUEST (body reply: once, always or reject).")
 (question-list "GET" ("question") "List the pending questions.")
 (question-reply "POST" ("question" request "reply") "Answer question REQUEST (body answers).")
 (question-reject "POST" ("question" request "reject") "Dismiss question REQUEST.")
 (agents "GET" ("agent") "List the agents.")
 (commands "GET" ("command") "List the slash commands.")
 (providers "GET" ("config" "providers") "List the configured providers and their models.")
 (instance-dispose "POST" ("instance" "dispose") "Dispose of the project's instance on the server.\nIt forgets what it kept in memory for the project (\"always\"\napprovals), stops its running replies and closes its event\nstreams; the next request starts it again.")
 (vcs "GET" ("vcs") "Get the project's version control state (branch).")
 (find-files "GET" ("find" "file") "Find files by name (query query).")
 (find-text "GET" ("find") "Search file contents (query pattern).")
 (path "GET" ("path") "Get the server's paths for this project.")
 (project-current "GET" ("project" "current") "Get the current project.")
 (mcp-status "GET" ("mcp") "Get the status of the MCP servers.")
 (mcp-connect "POST" ("mcp" name "connect") "Connect the MCP server NAME.")
 (mcp-disconnect "POST" ("mcp" name "disconnect") "Disconnect the MCP server NAME.")
 (lsp-status "GET" ("lsp") "Get the status of the LSP servers.")
 (formatter-status "GET" ("formatter") "Get the status of the formatters.")
 (health "GET" ("global" "health") "Check the server's health."))

(provide 'opencode-api)
;;; opencode-api.el ends here

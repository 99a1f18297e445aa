;;; opencode-mcp.el --- Emacs as an MCP server for the agent  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; With `opencode-emacs-tools' on, Emacs serves the Model Context
;; Protocol (MCP) on 127.0.0.1, on a free port, and registers itself
;; with every connected OpenCode server (POST /mcp) as a remote MCP
;; server named `opencode-mcp-server-name'.  The agent can then call
;; the tools of opencode-mcp-tools.el: diagnostics, xref, imenu, the
;; text of a buffer, the user's region, the project's files, and, when
;; allowed, opening a file or proposing a change for the user to take.
;;
;; This file holds the tools table, the MCP methods (initialize,
;; tools/list, tools/call: allowed, confirmed, logged, counted), the
;; registration with each server, each under a random bearer token of
;; its own, and the mode.  The HTTP/1.1 and JSON-RPC it is spoken to
;; over are in opencode-mcp-transport.el; how its calls look, in the
;; chat and in the status view, in opencode-mcp-views.el.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'opencode-lib)
(require 'opencode-connection)
(require 'opencode-connection-requests)
(require 'opencode-mcp-transport)

;;;; Options

(defcustom opencode-mcp-server-name "emacs"
  "The name Emacs registers under as an MCP server.
The server names each tool NAME_TOOL, with characters other than
letters, digits, _ and - made _: the agent sees `emacs_diagnostics'."
  :type 'string
  :group 'opencode)

(defvar opencode-emacs-tools)

(defun opencode-mcp--set-and-reregister (symbol value)
  "Set SYMBOL to VALUE; register Emacs again if its tool server runs.
The server asks for the list of tools only when it connects."
  (set-default symbol value)
  (when (and (boundp 'opencode-emacs-tools) opencode-emacs-tools)
    (opencode-mcp-register-all)))

(defcustom opencode-mcp-allowed-tools
  '("diagnostics" "xref_definitions" "xref_references" "imenu"
    "read_buffer" "selection" "project_files")
  "The Emacs tools the agent may see and call.
By default the ones that only read.  Add \"open_file\" (the agent opens
a file at a line in your Emacs) and \"propose_change\" (the agent shows
a change as a diff and waits for you to accept or reject it) to let it
reach you.  Setting this with `customize' or `customize-set-variable'
registers Emacs again, for the server to see the new list."
  :type '(repeat (choice (const "diagnostics") (const "xref_definitions")
                         (const "xref_references") (const "imenu")
                         (const "read_buffer") (const "selection")
                         (const "project_files") (const "open_file")
                         (const "propose_change") string))
  :set #'opencode-mcp--set-and-reregister
  :group 'opencode)

(defcustom opencode-mcp-confirm nil
  "Which Emacs tool calls to ask about first, with `y-or-n-p'.
nil asks about none, t about every call, or a list of tool names.
A call you decline is answered with an error that says so."
  :type '(choice (const :tag "None" nil) (const :tag "All" t)
                 (repeat :tag "These tools" string))
  :group 'opencode)

(defcustom opencode-mcp-timeout 30000
  "Milliseconds the server waits for Emacs to answer (connect, list, call).
A call that waits for you (a proposed change, a confirmation) sends
progress every `opencode-mcp-progress-interval' seconds, and each one
gives the server this long again."
  :type 'integer
  :group 'opencode)

(defcustom opencode-mcp-status-calls 10
  "How many recent Emacs tool calls of each project the status view lists."
  :type 'integer
  :group 'opencode)

;;;; The tools table

(define-error 'opencode-mcp-tool-error "Emacs tool error" 'opencode-error)

(define-obsolete-variable-alias 'opencode-mcp-tools 'opencode-mcp-tool-table "0.2.0")

(defvar opencode-mcp-tool-table nil
  "The tools Emacs offers, an alist of (NAME . SPEC), in order.
SPEC is a plist: :description and :schema (the JSON Schema of the
arguments, as a plist for `json-serialize'), :function, :title,
:read-only (non-nil: it changes nothing), :waits (non-nil: it waits
for the user, so it answers through a callback) and :summary (a
function from the arguments to a short text for logs and prompts).
:function gets ARGS (a hash table of the arguments) and CONTEXT (a
plist with :connection and :root, the project's directory) and returns
the result's text, or signals `opencode-mcp-tool-error'.  With :waits
it also gets DONE, and calls it later with the text and, for an
error, a non-nil second argument.  See `opencode-mcp-define-tool'.")

(defun opencode-mcp-define-tool (name &rest spec)
  "Offer the agent the tool NAME, a string.
SPEC is as in `opencode-mcp-tool-table'.  A new tool goes last; one
defined again keeps its place."
  (let ((cell (assoc name opencode-mcp-tool-table)))
    (if cell
        (setcdr cell spec)
      (setq opencode-mcp-tool-table
            (append opencode-mcp-tool-table (list (cons name spec)))))))

(defun opencode-mcp-tool-error (format-string &rest args)
  "Fail the current tool call with a message from FORMAT-STRING and ARGS.
The agent gets the message as the tool's error."
  (signal 'opencode-mcp-tool-error (list (apply #'format format-string args))))

(defun opencode-mcp-allowed-p (name)
  "Return non-nil if the tool NAME exists and the user allows it."
  (and (assoc name opencode-mcp-tool-table)
       (member name opencode-mcp-allowed-tools)))

;;;; State

(defvar opencode-mcp--registrations (make-hash-table :test 'eq :weakness 'key)
  "Connection -> plist: :token, :status, :error, :calls, :recent.
:in-flight is non-nil while a registration is on its way, :again if
another is to follow it.
:recent holds the newest calls first, each (TIME TOOL SUMMARY OUTCOME
DURATION); see `opencode-mcp--remember'.")

(defvar opencode-mcp-calls 0 "Emacs tool calls answered since Emacs started.")

(defun opencode-mcp--registration (conn)
  "Return the registration plist of CONN, or nil."
  (gethash conn opencode-mcp--registrations))

(defun opencode-mcp--update (conn &rest props)
  "Set PROPS in CONN's registration plist."
  (let ((reg (opencode-mcp--registration conn)))
    (while props
      (setq reg (plist-put reg (pop props) (pop props))))
    (puthash conn reg opencode-mcp--registrations)))

(defun opencode-mcp-issue-token (conn)
  "Give CONN a new bearer token and return it; its old one stops working."
  (let ((old (plist-get (opencode-mcp--registration conn) :token))
        (token (opencode-mcp--random-token)))
    (when old (remhash old opencode-mcp--tokens))
    (puthash token conn opencode-mcp--tokens)
    (opencode-mcp--update conn :token token)
    token))

(defun opencode-mcp--revoke (conn)
  "Forget CONN's token and its MCP sessions."
  (when-let ((token (plist-get (opencode-mcp--registration conn) :token)))
    (remhash token opencode-mcp--tokens))
  (opencode-mcp--update conn :token nil)
  (let (gone)
    (maphash (lambda (k v) (when (eq v conn) (push k gone))) opencode-mcp--sessions)
    (dolist (k gone) (remhash k opencode-mcp--sessions))))

;;;; Methods

(defun opencode-mcp--may-wait-p (message)
  "Return non-nil if MESSAGE is a tool call that may wait for the user."
  (and (equal (gethash "method" message) "tools/call")
       (let* ((params (gethash "params" message))
              (name (and (hash-table-p params) (gethash "name" params)))
              (spec (and (stringp name) (cdr (assoc name opencode-mcp-tool-table)))))
         (and spec (or (plist-get spec :waits) (opencode-mcp--confirm-p name))))))

(defun opencode-mcp--confirm-p (name)
  "Return non-nil if a call of tool NAME is to be confirmed first."
  (or (eq opencode-mcp-confirm t) (member name opencode-mcp-confirm)))

(defun opencode-mcp--dispatch (conn message done)
  "Answer JSON-RPC request MESSAGE of CONN's server: call DONE with the answer.
DONE may be called at once or later (a tool call runs from a timer)."
  (let* ((id (gethash "id" message))
         (method (gethash "method" message))
         (params (gethash "params" message))
         (reply (lambda (result) (funcall done `(:jsonrpc "2.0" :id ,id :result ,result)))))
    (pcase method
      ((guard (not (stringp method)))
       (funcall done (opencode-mcp--error id -32600 "Invalid Request")))
      ("initialize"
       (let ((asked (and (hash-table-p params) (gethash "protocolVersion" params))))
         (funcall reply
                  `(:protocolVersion ,(if (member asked opencode-mcp-protocol-versions) asked
                                        (car opencode-mcp-protocol-versions))
                                     :capabilities (:tools (:listChanged :false))
                                     :serverInfo (:name "opencode.el" :title "Emacs"
                                                        :version "0.1.0")
                                     :instructions
                                     ,(concat "Tools of the user's Emacs, for the project at "
                                              (opencode-connection-directory conn)
                                              ": diagnostics, definitions and references as the "
                                              "editor knows them, buffers with their unsaved "
                                              "changes, and what the user has selected.")))))
      ("ping" (funcall reply (make-hash-table)))
      ("tools/list"
       (funcall reply `(:tools ,(apply #'vector (opencode-mcp--tool-list)))))
      ("tools/call"
       (let ((name (and (hash-table-p params) (gethash "name" params)))
             (args (and (hash-table-p params) (gethash "arguments" params))))
         (cond ((not (and (stringp name) (opencode-mcp-allowed-p name)))
                (opencode-mcp--refused conn name args
                                       (if (assoc name opencode-mcp-tool-table)
                                           "not allowed"
                                         "unknown"))
                (funcall done (opencode-mcp--error id -32602 (format "Unknown tool: %s" name))))
               ((not (or (null args) (hash-table-p args)))
                (opencode-mcp--refused conn name nil "arguments not an object")
                (funcall done (opencode-mcp--error id -32602 "arguments must be an object")))
               (t (run-at-time 0 nil #'opencode-mcp--call conn id name
                               (or args (make-hash-table :test 'equal))
                               (lambda (text error)
                                 (funcall reply `(:content [(:type "text" :text ,text)]
                                                           :isError ,(if error t :false)))))))))
      (_ (funcall done (opencode-mcp--error id -32601 (format "Method not found: %s" method)))))))

(defun opencode-mcp--tool-list ()
  "Return the allowed tools as MCP tool objects."
  (cl-loop for (name . spec) in opencode-mcp-tool-table
           when (opencode-mcp-allowed-p name)
           collect `(:name ,name
                           :title ,(or (plist-get spec :title) name)
                           :description ,(plist-get spec :description)
                           :inputSchema ,(plist-get spec :schema)
                           :annotations (:readOnlyHint ,(if (plist-get spec :read-only) t :false)
                                                       :openWorldHint :false))))

(defun opencode-mcp--summary (name args)
  "Return a short text of the call of tool NAME with ARGS, for logs and prompts."
  (let* ((spec (cdr (assoc name opencode-mcp-tool-table)))
         (f (plist-get spec :summary)))
    (truncate-string-to-width
     (or (and f (ignore-errors (funcall f args)))
         (let (parts)
           (maphash (lambda (k v) (push (format "%s=%s" k (if (stringp v) v (opencode-mcp--json v)))
                                        parts))
                    args)
           (string-join (nreverse parts) " ")))
     120 nil nil "…")))

(defun opencode-mcp--remember (conn name summary outcome duration)
  "Add a call of tool NAME to CONN's recent calls, and count it.
SUMMARY is its input in short, OUTCOME `ok', `error' or `refused',
DURATION in seconds.  `opencode-mcp-status-calls' are kept."
  (let* ((reg (opencode-mcp--registration conn))
         (recent (cons (list (current-time) name summary outcome duration)
                       (plist-get reg :recent))))
    (when (> (length recent) opencode-mcp-status-calls)
      (setq recent (cl-subseq recent 0 (max 0 opencode-mcp-status-calls))))
    (opencode-mcp--update conn :recent recent)
    (unless (eq outcome 'refused)
      (cl-incf opencode-mcp-calls)
      (opencode-mcp--update conn :calls (1+ (or (plist-get reg :calls) 0))))))

(defun opencode-mcp--refused (conn name args why)
  "Log and remember the refused call of tool NAME with ARGS for CONN's server.
WHY says why it was refused."
  (let ((summary (if (hash-table-p args) (opencode-mcp--summary name args) "")))
    (opencode--log "Emacs tool %s (%s) for %s: refused, %s"
                   (truncate-string-to-width (format "%s" name) 60 nil nil "…")
                   summary (opencode-connection-directory conn) why)
    (opencode-mcp--remember conn (truncate-string-to-width (format "%s" name) 40 nil nil "…")
                            summary 'refused 0)))

(defun opencode-mcp--call (conn id name args reply)
  "Run tool NAME with ARGS for CONN's server; call REPLY with the result.
ID is the request's id.  REPLY gets the text and whether it is an
error.  The call is logged, counted, and confirmed first when
`opencode-mcp-confirm' says so."
  (let* ((spec (cdr (assoc name opencode-mcp-tool-table)))
         (summary (opencode-mcp--summary name args))
         (context (list :connection conn :root (opencode-connection-directory conn)
                        :request id))
         (answered nil)
         (start (float-time))
         (finish (lambda (text &optional error)
                   (unless answered
                     (setq answered t)
                     (remhash (opencode-mcp--key conn id) opencode-mcp--pending)
                     (opencode-mcp--remember conn name summary (if error 'error 'ok)
                                             (- (float-time) start))
                     (opencode--log "Emacs tool %s (%s) for %s: %s, %d characters"
                                    name summary (opencode-connection-directory conn)
                                    (if error (concat "error: " (opencode--first-line text 80)) "ok")
                                    (length text))
                     (funcall reply text error)))))
    (condition-case err
        (if (and (opencode-mcp--confirm-p name)
                 (not (with-local-quit
                        (y-or-n-p (format "Let the agent run Emacs tool %s (%s)? " name summary)))))
            (funcall finish "The user declined this call." t)
          (if (plist-get spec :waits)
              (progn
                (puthash (opencode-mcp--key conn id)
                         (lambda () (funcall finish "The call was cancelled." t))
                         opencode-mcp--pending)
                (funcall (plist-get spec :function) args context finish))
            (funcall finish (funcall (plist-get spec :function) args context))))
      (opencode-mcp-tool-error (funcall finish (cadr err) t))
      (error (funcall finish (format "Emacs failed: %s" (error-message-string err)) t)))))

(defun opencode-mcp-on-cancel (context function)
  "Call FUNCTION if the waiting call of CONTEXT is cancelled.
The server cancels a call when the agent is stopped or gives up
waiting; FUNCTION should then take back what the call shows the user."
  (let* ((key (opencode-mcp--key (plist-get context :connection) (plist-get context :request)))
         (old (gethash key opencode-mcp--pending)))
    (when old
      (puthash key (lambda () (unwind-protect (funcall function) (funcall old)))
               opencode-mcp--pending))))

;;;; Registration with the servers

(defun opencode-mcp--registrable-p (conn)
  "Return non-nil if CONN has a real server to register with.
Not a global connection: a registration belongs to a project."
  (and (not (opencode-connection-responder conn))
       (not (opencode-connection-global conn))
       (opencode-connection-live-p conn)))

(defun opencode-mcp-register (conn)
  "Register the Emacs tool server with CONN's server, under a new token.
One registration at a time goes to a server: asked again while one is
on its way, Emacs registers again once it is answered, so the server
ends with the newest token, whatever order it answers in."
  (when (and (opencode-mcp--registrable-p conn) (opencode-mcp-url))
    (if (plist-get (opencode-mcp--registration conn) :in-flight)
        (opencode-mcp--update conn :again t)
      (let* ((token (opencode-mcp-issue-token conn))
             (name opencode-mcp-server-name)
             (current-p (lambda () (equal token (plist-get (opencode-mcp--registration conn)
                                                            :token))))
             (next (lambda ()
                     (let ((again (plist-get (opencode-mcp--registration conn) :again)))
                       (opencode-mcp--update conn :in-flight nil :again nil)
                       (when again (opencode-mcp-register conn))))))
        (opencode-mcp--update conn :status "registering" :error nil :in-flight t :again nil)
        (opencode-request
         conn "POST" "/mcp"
         :body `(:name ,name
                       :config (:type "remote" :url ,(opencode-mcp-url)
                                      :headers (:Authorization ,(concat "Bearer " token))
                                      :oauth :false :timeout ,opencode-mcp-timeout))
         :timeout 60
         :callback (lambda (reply)
                     (let* ((st (plist-get reply (intern (concat ":" name))))
                            (status (or (plist-get st :status) "?")))
                       (when (funcall current-p)
                         (opencode-mcp--update conn :status status :error (plist-get st :error)))
                       (opencode--log "Emacs tools: registered with %s for %s: %s%s"
                                      (opencode-connection-url conn)
                                      (opencode-connection-directory conn) status
                                      (if (stringp (plist-get st :error))
                                          (concat " " (plist-get st :error)) ""))
                       (funcall next)))
         :errback (lambda (err)
                    (when (funcall current-p)
                      (opencode-mcp--update conn :status "failed"
                                            :error (opencode-error-text err)))
                    (opencode--log "Emacs tools: registering with %s failed: %s"
                                   (opencode-connection-url conn) (opencode-error-text err))
                    (funcall next)))))))

(defun opencode-mcp-register-all ()
  "Register the Emacs tool server with every connected server."
  (dolist (conn opencode-connections)
    (when (eq (opencode-connection-state conn) 'connected)
      (opencode-mcp-register conn))))

(defun opencode-mcp-deregister (conn &optional callback)
  "Disconnect CONN's server from the Emacs tool server and forget its token.
Return non-nil if the server is told; CALLBACK, if given, is called
with no argument once it answered or failed."
  (when (plist-get (opencode-mcp--registration conn) :token)
    (opencode-mcp--revoke conn)
    (opencode-mcp--update conn :status nil :error nil :again nil)
    (when (opencode-mcp--registrable-p conn)
      (condition-case err
          (progn
            (opencode-request conn "POST" (opencode--path "mcp" opencode-mcp-server-name "disconnect")
                              :timeout 1
                              :callback (lambda (_) (when callback (funcall callback)))
                              :errback (lambda (e)
                                         (opencode--log "Emacs tools: disconnect: %s"
                                                        (opencode-error-text e))
                                         (when callback (funcall callback))))
            t)
        (error (opencode--log "Emacs tools: disconnect: %s" (opencode-error-text err))
               nil)))))

(defun opencode-mcp--on-state (conn state _detail)
  "Register again with CONN's server when its STATE is `connected' again.
A server that restarted forgot the tool server; one that only lost the
stream is registered again anyway, which does no harm."
  (when (and opencode-emacs-tools (eq state 'connected))
    (opencode-mcp-register conn)))

(defun opencode-mcp--kill-emacs ()
  "Disconnect every server from the Emacs tool server, and stop it.
Emacs exits: every server is told at once, and Emacs waits for their
answers, a second at most in all, while the tool server still answers
what the servers send it as they close their side.  Then it stops."
  (when (process-live-p opencode-mcp--server)
    (let ((left 0)
          (deadline (+ (float-time) 1)))
      (dolist (conn opencode-connections)
        (when (ignore-errors (opencode-mcp-deregister conn (lambda () (cl-decf left))))
          (cl-incf left)))
      (while (and (> left 0) (< (float-time) deadline))
        (accept-process-output nil 0.01)))
    (opencode-mcp-stop)))

;;;###autoload
(define-minor-mode opencode-emacs-tools
  "Let the agent use Emacs as a tool: an MCP server inside Emacs.
When on, Emacs serves the Model Context Protocol on 127.0.0.1 and
registers with every connected OpenCode server, and with each one that
connects (or restarts) later, as the MCP server
`opencode-mcp-server-name'.  The agent then sees the tools of
`opencode-mcp-allowed-tools' (diagnostics, xref, imenu, buffers, the
region, the project's files; opening files and proposing changes when
you allow them), each limited to its connection's project.  Every call
is written to *opencode-log*; `opencode-mcp-confirm' asks first.
When off, or when Emacs exits, the servers are disconnected from it
and it stops."
  :global t
  :group 'opencode
  (if opencode-emacs-tools
      (progn
        (require 'opencode-mcp-tools)
        (opencode-mcp-start)
        (add-hook 'opencode-connection-state-functions #'opencode-mcp--on-state)
        (add-hook 'kill-emacs-hook #'opencode-mcp--kill-emacs)
        (opencode-mcp-register-all))
    (remove-hook 'opencode-connection-state-functions #'opencode-mcp--on-state)
    (remove-hook 'kill-emacs-hook #'opencode-mcp--kill-emacs)
    (dolist (conn opencode-connections)
      (opencode-mcp-deregister conn))
    (opencode-mcp-stop)))

(provide 'opencode-mcp)
;;; opencode-mcp.el ends here

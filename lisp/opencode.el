;;; opencode.el --- Client for the OpenCode AI coding agent  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; Author: The opencode.el authors
;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1"))
;; Keywords: tools, processes
;; URL: https://github.com/opencode-el/opencode.el

;; This file is not part of GNU Emacs.

;; This program is free software; you can redistribute it and/or modify
;; it under the terms of the GNU General Public License as published by
;; the Free Software Foundation, either version 3 of the License, or
;; (at your option) any later version.

;; This program is distributed in the hope that it will be useful,
;; but WITHOUT ANY WARRANTY; without even the implied warranty of
;; MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
;; GNU General Public License for more details.

;; You should have received a copy of the GNU General Public License
;; along with this program.  If not, see <https://www.gnu.org/licenses/>.

;;; Commentary:

;; An Emacs client for OpenCode (`opencode serve').  A C module holds the
;; server's event stream and runs HTTP requests in a worker thread, so
;; Emacs stays responsive while agents stream.  Start with
;; M-x opencode-sessions.
;;
;; Files, from the bottom up (doc/architecture.md has the layers):
;; opencode-lib.el (what the files share: log, paths, faces, keys
;; tables, the registry of a view's buffers, the spinner),
;; opencode-gc.el (the garbage collector's policy), opencode-module.el
;; (building and loading the module), opencode-connection.el
;; (connections, their state, the drain and the dispatch),
;; opencode-connection-requests.el (requests and their replies),
;; opencode-events.el (routing events to their handlers),
;; opencode-structs.el (what the server sends),
;; opencode-model.el (the store),
;; opencode-timeline.el (a session's messages and parts, as they
;; stream),
;; opencode-cache.el (what is kept on disk), opencode-server.el (the
;; local server), opencode-remote.el (file names of remote projects,
;; both ways), opencode-remote-server.el (servers on remote hosts,
;; through SSH tunnels), opencode-api.el (one function per server route),
;; opencode.el (this file: connecting, the prefix map),
;; opencode-notify.el (notifications), opencode-providers.el (which
;; providers answer, said before a first prompt),
;; opencode-sessions-rows.el (the
;; session list's rows, kept live), opencode-sessions.el (the session
;; list: mode, keys, commands), opencode-projects.el (the sessions of
;; every project, and worktrees), opencode-chat.el (a session's
;; chat buffer), opencode-chat-section.el (its regions, one per message
;; and part, drawing what the timeline holds), opencode-chat-part.el
;; (how it draws a part), opencode-chat-message.el (how it draws a message),
;; opencode-chat-stream.el (text streaming into it),
;; opencode-chat-load.el (fetching a chat's messages),
;; opencode-chat-events.el (what events do to a chat),
;; opencode-chat-context.el (the chat's header line and context),
;; opencode-chat-ops.el (operations on the session),
;; opencode-chat-nav.el (folding and moving), opencode-chat-export.el
;; (copying and exporting), opencode-chat-export-formats.el (a session
;; as Markdown and as Org), opencode-parts.el (how messages and parts
;; look), opencode-tools.el (how each tool's part looks),
;; opencode-markdown.el (Markdown faces), opencode-prompt.el (the
;; prompt), opencode-complete.el (its completion), opencode-context.el
;; (what @mentions bring from Emacs), opencode-requests.el (permissions
;; and questions), opencode-rules.el (a session's permission rules and
;; "always" approvals), opencode-todo.el (the todo list), opencode-diff.el
;; (diffs), opencode-send.el (sending from anywhere in Emacs),
;; opencode-sidebar.el (the project sidebar), opencode-status.el (the
;; server's status), opencode-capture.el (recording and replaying
;; traffic), opencode-mcp-transport.el (the HTTP/1.1 and JSON-RPC of
;; Emacs as an MCP server for the agent), opencode-mcp.el (its tools
;; table, methods, registration and mode), opencode-mcp-tools.el (its
;; tools), opencode-mcp-tools-proposal.el (a change proposed by the
;; agent, for the user to take) and opencode-mcp-views.el (their calls
;; in the chat and the status view).  `make lint' fails when a file is
;; missing here.

;;; Code:

(require 'project)
(require 'cl-lib)
(require 'opencode-module)
(require 'opencode-connection)
(require 'opencode-model)
(require 'opencode-server)
(require 'opencode-remote)
(require 'opencode-remote-server)
(require 'opencode-notify)

(defun opencode-project-directory ()
  "Return the directory of the current project, or `default-directory'."
  (opencode--normalize-directory
   (if-let ((pr (project-current nil)))
       (project-root pr)
     default-directory)))

(defun opencode--target (&optional directory)
  "Return (URL SERVER USER . PASSWORD) of the server to use now for DIRECTORY.
SERVER is the local server process, or nil for `opencode-server-url'.
For a remote DIRECTORY (a TRAMP name) it is the server on that host,
reached through a tunnel (see `opencode-remote-target'), and SERVER is
the host."
  (if (opencode-remote-prefix directory)
      (opencode-remote-target directory)
    (opencode--local-target)))

(defun opencode--local-target ()
  "Return (URL SERVER USER . PASSWORD) of the server of local projects."
  (let* ((server (and (not opencode-server-url) (opencode-server-local)))
         (url (string-remove-suffix
               "/" (if server (opencode-server-url server) opencode-server-url)))
         (auth (if server
                   (cons (opencode-server-user server) (opencode-server-password server))
                 (opencode-server-auth url))))
    (cons url (cons server auth))))

(defun opencode--connect-1 (conn url server auth open)
  "Return CONN, reopened in place if it must be, or a new connection.
URL, SERVER and AUTH (USER . PASSWORD) are what to use now; OPEN, a
function of no argument, opens a new connection when CONN is nil."
  (cond
   ((null conn) (funcall open))
   ((or (not (equal url (opencode-connection-url conn)))
        (eq (opencode-connection-state conn) 'closed)
        (and (opencode-connection-auth-failed-p conn)
             (not (equal (cdr auth) (opencode-connection-password conn)))))
    (opencode-connection-reopen conn :url url :user (car auth)
                                :password (cdr auth) :server server))
   (t conn)))

(defun opencode-connect (&optional directory)
  "Return the connection for DIRECTORY (default: the current project).
Connect to `opencode-server-url', or to a local server started on
demand; for a remote DIRECTORY, to a server on its host (see
`opencode-remote-target').  There is one connection per directory,
and it is the same object for good: when the URL changes, or it was
closed, or its password was refused and another one is known now, it
is opened again in place, so every buffer that shows it goes on
showing it."
  (pcase-let* ((dir (opencode--normalize-directory
                     (or directory (opencode-project-directory))))
               (`(,url ,server . ,auth) (opencode--target dir)))
    (opencode--connect-1
     (opencode-connection-find dir) url server auth
     (lambda ()
       (opencode-connection-open url dir :user (car auth)
                                 :password (cdr auth) :server server)))))

(defvar opencode-global-connection nil
  "The connection to every project of the server, once one was asked for.
See `opencode-connect-global'.")

(defun opencode-connect-global (&optional directory)
  "Return the connection to every project of the server now in use.
Its stream is /global/event, so it sees the events of every project;
it names no directory.  It is one object for good, like those of
`opencode-connect', and not in `opencode-connections'.  For a remote
DIRECTORY, it is the connection to every project of that host's server."
  (pcase-let* ((`(,url ,server . ,auth) (opencode--target directory))
               (host (and (opencode-remote-host-p server) server))
               (open (lambda ()
                       (opencode-connection-open url nil :user (car auth) :global t
                                                 :password (cdr auth) :server server))))
    (if host
        (setf (opencode-remote-host-global host)
              (opencode--connect-1 (opencode-remote-host-global host) url server auth open))
      (setq opencode-global-connection
            (opencode--connect-1 opencode-global-connection url server auth open)))))

(defun opencode--all-connections ()
  "Return `opencode-connections' and the global connections, if open.
The global connections: the local one and those of remote hosts."
  (append (cl-remove-if (lambda (c) (or (null c) (eq (opencode-connection-state c) 'closed)))
                        (cons opencode-global-connection
                              (mapcar #'opencode-remote-host-global (opencode-remote-hosts))))
          (copy-sequence opencode-connections)))

(defun opencode-connection-revive (conn)
  "Make CONN try to connect now, as `g' in a view of it asks.
A stream waiting out its backoff tries at once.  When CONN uses this
Emacs's local server and that server was stopped or gave up after too
many restarts, a local server is started again and CONN moves to it.
When CONN's server is on a remote host whose tunnel or server is down,
they are opened or started again now, and CONN reconnects then."
  (let ((server (opencode-connection-server conn)))
    (cond ((opencode-remote-host-p server)
           (cond ((eq (opencode-remote-host-state server) 'closed)
                  (if (opencode-connection-global conn)
                      (opencode-connect-global (opencode-remote-host-prefix server))
                    (opencode-connect (opencode-connection-directory conn))))
                 ((not (opencode-remote-revive server))
                  (opencode-connection-reconnect conn))))
          ((and server (not opencode-server-url)
                (not (eq server (opencode-server-local))))
           (opencode-connect (opencode-connection-directory conn)))
          (t (opencode-connection-reconnect conn)))))

(defun opencode-reconnect (&optional directory)
  "Reconnect the connection of DIRECTORY (default: the current project) now.
A stream waiting out its backoff tries at once; a closed connection, or
one whose password was refused, is opened again."
  (interactive)
  (let ((conn (opencode-connect directory)))
    (opencode-connection-reconnect conn)
    (message "OpenCode %s: %s" (opencode-connection-url conn)
             (opencode-connection-state-text conn))))

(defun opencode-manual ()
  "Read the opencode.el manual in Info."
  (interactive)
  (let ((local (expand-file-name "doc/opencode.info" (opencode-module-root))))
    (info (if (file-exists-p local) local "opencode"))))

(defun opencode--reconnect-to (server)
  "Reconnect the connections to SERVER, which listens again, in a moment.
The server says it listens a few milliseconds before it answers, and
what arrives in between is never answered (the answer timeout then
retries it): a quarter of a second later, it answers."
  (run-at-time 0.25 nil
               (lambda ()
                 (dolist (conn (opencode--all-connections))
                   (when (eq (opencode-connection-server conn) server)
                     (opencode-connection-reconnect conn))))))

(add-hook 'opencode-server-ready-functions #'opencode--reconnect-to)

(defun opencode--server-gone (server why)
  "Stop the retries of SERVER's connections: it will not come back by itself.
WHY says so, and the connections show it until the server is restarted."
  (dolist (conn (opencode--all-connections))
    (when (eq (opencode-connection-server conn) server)
      (opencode-connection-give-up conn why))))

(add-hook 'opencode-server-given-up-functions #'opencode--server-gone)

(defun opencode-disconnect-all ()
  "Close every connection, stop the local server, close the remote hosts.
A remote host's tunnel closes, and its server stops if this Emacs
started it (see `opencode-remote-stop-servers')."
  (interactive)
  (mapc #'opencode-connection-close (opencode--all-connections))
  (opencode-server-stop-local)
  (opencode-remote-close-all))

;;;; Entry points

(defvar opencode-command-map
  (let ((map (make-sparse-keymap)))
    (define-key map "s" #'opencode-sessions)
    (define-key map "b" #'opencode-switch-session)
    (define-key map "d" #'opencode-sidebar)
    (define-key map "i" #'opencode-server-status)
    (define-key map "h" #'opencode-server-health)
    (define-key map "a" #'opencode-attach)
    (define-key map "r" #'opencode-server-restart)
    (define-key map "e" #'opencode-show-events)
    (define-key map "l" #'opencode-show-log)
    (define-key map "?" #'opencode-manual)
    (define-key map "c" #'opencode-module-compile)
    (define-key map "t" #'opencode-emacs-tools)
    (define-key map "q" #'opencode-disconnect-all)
    (define-key map (kbd "SPC") #'opencode-send-dwim)
    (define-key map "n" #'opencode-answer-next)
    (define-key map "R" #'opencode-send-region)
    (define-key map "f" #'opencode-send-file)
    (define-key map "m" #'opencode-send-dired-files)
    (define-key map "x" #'opencode-send-diagnostic)
    (define-key map "p" #'opencode-projects)
    (define-key map "w" #'opencode-worktrees)
    map)
  "Prefix keymap of OpenCode commands, for a key of your choice.
For example: (global-set-key (kbd \"C-c o\") opencode-command-map).")
(fset 'opencode-command-map opencode-command-map)

(autoload (quote opencode-sessions) "opencode-sessions"
  "Show the OpenCode sessions of DIRECTORY (default: the current project)." t)
(autoload (quote opencode-switch-session) "opencode-sessions"
  "Pick a session of DIRECTORY's project with completion." t)
(autoload (quote opencode-projects) "opencode-projects"
  "Show the sessions of every project the server knows, by project." t)
(define-obsolete-function-alias 'opencode-sessions-all-projects
  #'opencode-projects "0.2.0")
(autoload (quote opencode-worktrees) "opencode-projects"
  "List the worktrees of DIRECTORY's project (default: the current project)." t)
(autoload (quote opencode-worktree-create) "opencode-projects"
  "Create a git worktree called NAME of DIRECTORY's project (default: current)." t)
(autoload (quote opencode-worktree-remove) "opencode-projects"
  "Remove WORKTREE, a worktree directory of DIRECTORY's project (default: current)." t)
(autoload (quote opencode-worktree-new-session) "opencode-projects"
  "Create a session titled TITLE in WORKTREE and open its chat." t)
(autoload (quote opencode-sidebar) "opencode-sidebar"
  "Show the project sidebar of DIRECTORY (default: the current project)." t)
(autoload (quote opencode-server-status) "opencode-status"
  "Show the status of the server of DIRECTORY's project (default: current)." t)
(autoload (quote opencode-server-health) "opencode-status"
  "Say whether the server of DIRECTORY's project is healthy, and its version." t)
(autoload (quote opencode-attach) "opencode-status"
  "Use the OpenCode server at URL (or a port on 127.0.0.1) from now on." t)
(autoload (quote opencode-permission-rules) "opencode-rules"
  "Show the permission rules of SESSION on CONN, and change them." t)
(autoload (quote opencode-answer-next) "opencode-requests"
  "Go to the next session that needs you, anywhere, and answer it." t)
(autoload (quote opencode-send-dwim) "opencode-send"
  "Add what fits to the prompt: the region, marked files, a diagnostic, the file." t)
(autoload (quote opencode-send-region) "opencode-send"
  "Add the region to the prompt of the project's session." t)
(autoload (quote opencode-send-file) "opencode-send"
  "Add the current buffer's file to the prompt of the project's session." t)
(autoload (quote opencode-send-dired-files) "opencode-send"
  "Add dired's marked files to the prompt of the project's session." t)
(autoload (quote opencode-send-diagnostic) "opencode-send"
  "Ask the agent to fix the diagnostics on the line at point." t)
(autoload (quote opencode-send) "opencode-send"
  "Send TEXT to an OpenCode session; return its chat buffer.")
(autoload (quote opencode-insert) "opencode-send"
  "Put TEXT in the prompt of an OpenCode session without sending it.")
(autoload (quote opencode-emacs-tools) "opencode-mcp"
  "Let the agent use Emacs as a tool: an MCP server inside Emacs." t)
(autoload (quote opencode-chat-copy) "opencode-chat-export"
  "Copy the part at point as Markdown, or the message when on its header." t)
(autoload (quote opencode-chat-copy-code-block) "opencode-chat-export"
  "Copy the code of the fenced code block at point, without its fences." t)
(autoload (quote opencode-chat-export) "opencode-chat-export"
  "Export this chat's session as FORMAT, `markdown' or `org', to FILE; open it." t)
(autoload (quote opencode-chat-desktop-restore) "opencode-chat"
  "Reopen a chat saved by `desktop-save-mode'.")
;; `desktop-buffer-mode-handlers' is autoloaded: no need to load desktop.
(defvar desktop-buffer-mode-handlers)
(add-to-list 'desktop-buffer-mode-handlers
             '(opencode-chat-mode . opencode-chat-desktop-restore))

(provide 'opencode)
;;; opencode.el ends here

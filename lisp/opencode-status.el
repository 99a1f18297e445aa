;;; opencode-status.el --- The server: status view, health, attach  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;;; Commentary:

;; `M-x opencode-server-status' shows, for the current project's
;; connection, the server (URL, version, health, whether this Emacs
;; started it), the event stream's state, and the MCP servers, LSP
;; servers and formatters the server runs; MCP servers can be
;; connected and disconnected from there.  It shows the Emacs tool
;; server too (opencode-mcp.el): its URL, tools and calls.  `M-x opencode-attach'
;; connects to a server already running, by URL or port;
;; `M-x opencode-server-health' checks one.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'opencode)
(require 'opencode-api)
(require 'opencode-mcp-views)

(defvar-local opencode-status--conn nil "The connection this status buffer shows.")

(defun opencode-status--get (conn route &optional timeout)
  "Call ROUTE, an `opencode-api-' function, on CONN and wait for the reply.
Return the reply, or an error string after TIMEOUT seconds (10) or any
other failure."
  (condition-case err (funcall route conn :timeout (or timeout 10) :sync t)
    (error (opencode-error-text err))))

(defun opencode-status--health (conn)
  "Return CONN's server health plist, or an error string."
  (opencode-status--get conn #'opencode-api-health 5))

(defun opencode-status--mcp-line (name status)
  "Return the line of MCP server NAME with STATUS (a plist)."
  (let ((st (plist-get status :status)))
    (propertize
     (format "  %-24s %s%s\n" name
             (propertize (or st "?") 'face (if (equal st "connected") 'success 'warning))
             (if (stringp (plist-get status :error)) (concat "  " (plist-get status :error)) ""))
     'opencode-mcp name)))

(defun opencode-status--insert (conn)
  "Insert the status of CONN's server."
  (let* ((server (opencode-connection-server conn))
         (health (opencode-status--health conn))
         (mcp (opencode-status--get conn #'opencode-api-mcp-status))
         (lsp (opencode-status--get conn #'opencode-api-lsp-status))
         (fmt (opencode-status--get conn #'opencode-api-formatter-status)))
    (insert (propertize "OpenCode server\n" 'face 'bold)
            (format "  URL        %s%s\n" (opencode-connection-url conn)
                    (if (opencode-server-p server) "  (started by this Emacs)" ""))
            (if (opencode-remote-host-p server)
                (format "  Host       %s\n" (opencode-remote-describe server))
              "")
            (format "  Project    %s\n" (opencode-connection-directory conn))
            (format "  Health     %s\n"
                    (if (stringp health) (propertize health 'face 'error)
                      (format "%s, version %s"
                              (if (eq (plist-get health :healthy) t) "healthy" "unhealthy")
                              (plist-get health :version))))
            (format "  Stream     %s%s\n" (opencode-connection-state conn)
                    (if (opencode-connection-state-detail conn)
                        (concat " (" (opencode-connection-state-detail conn) ")") ""))
            (if (opencode-server-p server)
                (format "  Restarts   %d after crashes (limit %d)\n"
                        (opencode-server-restarts server) opencode-server-restart-limit)
              "")
            "\n" (propertize "MCP servers" 'face 'bold)
            (substitute-command-keys
             "  (\\<opencode-status-mode-map>\\[opencode-status-mcp-connect] connect, \\[opencode-status-mcp-disconnect] disconnect)\n"))
    (cond ((stringp mcp) (insert "  " mcp "\n"))
          ((null mcp) (insert "  none\n"))
          (t (cl-loop for (k v) on mcp by #'cddr
                      do (insert (opencode-status--mcp-line (substring (symbol-name k) 1) v)))))
    (insert "\n")
    (opencode-mcp-status-insert conn)
    (insert "\n" (propertize "LSP servers\n" 'face 'bold))
    (cond ((stringp lsp) (insert "  " lsp "\n"))
          ((zerop (length lsp)) (insert "  none running\n"))
          (t (seq-doseq (l lsp)
               (insert (format "  %-24s %s  %s\n" (plist-get l :name)
                               (propertize (or (plist-get l :status) "?")
                                           'face (if (equal (plist-get l :status) "connected")
                                                     'success 'error))
                               (or (plist-get l :root) ""))))))
    (insert "\n" (propertize "Formatters\n" 'face 'bold))
    (cond ((stringp fmt) (insert "  " fmt "\n"))
          ((zerop (length fmt)) (insert "  none\n"))
          (t (seq-doseq (f fmt)
               (insert (format "  %-24s %s  %s\n" (plist-get f :name)
                               (if (eq (plist-get f :enabled) t) "enabled" "disabled")
                               (mapconcat #'identity (plist-get f :extensions) " "))))))))

(defun opencode-status-refresh ()
  "Fetch and show the server's status again."
  (interactive)
  (let ((inhibit-read-only t) (pos (point)))
    (erase-buffer)
    (opencode-status--insert opencode-status--conn)
    (goto-char (min pos (point-max)))))

(defun opencode-status--mcp-at-point ()
  "Return the name of the MCP server on this line, or signal."
  (or (get-text-property (line-beginning-position) 'opencode-mcp)
      (user-error "No MCP server on this line")))

(defun opencode-status-mcp-connect (name)
  "Connect MCP server NAME (default: the one at point)."
  (interactive (list (opencode-status--mcp-at-point)))
  (opencode-with-error-words
    (opencode-api-mcp-connect opencode-status--conn name :timeout 60 :sync t))
  (opencode-status-refresh)
  (message "MCP %s: connect asked" name))

(defun opencode-status-mcp-disconnect (name)
  "Disconnect MCP server NAME (default: the one at point)."
  (interactive (list (opencode-status--mcp-at-point)))
  (opencode-with-error-words
    (opencode-api-mcp-disconnect opencode-status--conn name :sync t))
  (opencode-status-refresh)
  (message "MCP %s: disconnected" name))

(opencode-define-keys opencode-status-mode-map opencode-status-menu
  :parent special-mode-map
  :map-doc "Keymap of `opencode-status-mode'."
  :menu-doc "The commands of the OpenCode server status view."
  :menu-key "?"
  ((("MCP server at point"
     ("c" "connect" opencode-status-mcp-connect)
     ("d" "disconnect" opencode-status-mcp-disconnect))
    ("Server"
     ("g" "refresh" opencode-status-refresh)
     ("R" "restart the local server" opencode-server-restart)
     ("l" "log" opencode-show-log)
     ("e" "event log" opencode-show-events)
     ("q" "quit" quit-window)))))

(define-derived-mode opencode-status-mode special-mode "OpenCode-Status"
  "Major mode of the OpenCode server status buffer.
\\{opencode-status-mode-map}"
  (setq-local revert-buffer-function (lambda (&rest _) (opencode-status-refresh))))

;;;###autoload
(defun opencode-server-status (&optional directory)
  "Show the status of the server of DIRECTORY's project (default: current).
The server's health and version, the event stream, and its MCP
servers (which can be connected and disconnected), LSP servers and
formatters."
  (interactive)
  (let* ((conn (opencode-connect directory))
         (buf (get-buffer-create (format "*opencode-status: %s*"
                                         (abbreviate-file-name
                                          (opencode-connection-directory conn))))))
    (with-current-buffer buf
      (opencode-status-mode)
      (setq opencode-status--conn conn)
      (opencode-status-refresh)
      (goto-char (point-min)))
    (pop-to-buffer buf)
    buf))

;;;###autoload
(defun opencode-server-health (&optional directory)
  "Say whether the server of DIRECTORY's project is healthy, and its version."
  (interactive)
  (let* ((conn (opencode-connect directory))
         (health (opencode-status--health conn)))
    (message "OpenCode %s: %s" (opencode-connection-url conn)
             (if (stringp health) health
               (format "healthy, version %s" (plist-get health :version))))))

(defvar opencode--attach-history nil
  "The URLs and ports given to `opencode-attach', newest first.")

(defun opencode--read-server-url (input)
  "Return the server URL that INPUT names: a URL, host:port or a port."
  (let ((input (string-trim input)))
    (cond ((string-match-p "\\`[0-9]+\\'" input) (concat "http://127.0.0.1:" input))
          ((string-match-p "\\`https?://" input) (string-remove-suffix "/" input))
          ((string-match-p "\\`[^/:]+:[0-9]+\\'" input) (concat "http://" input))
          (t (user-error "Not a server URL or port: %s" input)))))

;;;###autoload
(defun opencode-attach (url &optional directory)
  "Use the OpenCode server at URL (or a port on 127.0.0.1) from now on.
First ask URL whether it is an OpenCode server: when nothing listens
there, when it is not OpenCode, or when no password it takes can be
had, say so and change nothing.  Else set `opencode-server-url' for
this Emacs session, move DIRECTORY's connection to it (its buffers
follow) and show the session list of DIRECTORY's project."
  (interactive
   ;; The server in use is the default, not text to edit: a port typed
   ;; is the port.
   (let ((default (or opencode-server-url "4096")))
     (list (opencode--read-server-url
            (read-string (format-prompt "OpenCode server URL or port" default)
                         nil 'opencode--attach-history default)))))
  (message "OpenCode: asking %s..." url)
  (let* ((auth (opencode-server-auth url))
         (health (opencode-connection-probe url (car auth) (cdr auth))))
    (when (and (eq health 'unauthorized) opencode-password-function)
      (let ((password (funcall opencode-password-function url)))
        (when password
          (setq auth (cons (or (car auth) "opencode") password)
                health (opencode-connection-probe url (car auth) password))
          (when (consp health)
            (opencode-server-remember-password url (car auth) password)))))
    (pcase health
      ('refused (user-error "Nothing listens at %s" url))
      ('timeout (user-error "No answer from %s" url))
      ('unauthorized (user-error "%s" (opencode-connection-auth-text url)))
      ((pred stringp)
       (user-error "Not an OpenCode server at %s (%s; see *opencode-log*)" url health)))
    (setq opencode-server-url url)
    (message "OpenCode %s: healthy, version %s" url (plist-get health :version))
    (if (fboundp 'opencode-sessions)
        (funcall 'opencode-sessions directory)
      (opencode-connect directory))))

(provide 'opencode-status)
;;; opencode-status.el ends here

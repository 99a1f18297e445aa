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
;; Files: opencode-module.el (building and loading the module, errors),
;; opencode-connection.el (connections, events, requests),
;; opencode-server.el (the local server), opencode-api.el (one function
;; per server route), opencode-sessions.el (the session list).

;;; Code:

(require 'project)
(require 'opencode-module)
(require 'opencode-connection)
(require 'opencode-server)

(defun opencode-project-directory ()
  "Return the directory of the current project, or `default-directory'."
  (opencode--normalize-directory
   (if-let ((pr (project-current nil)))
       (project-root pr)
     default-directory)))

(defun opencode--find-connection (url directory)
  "Return the open connection to URL for DIRECTORY, or nil."
  (cl-find-if (lambda (c)
                (and (equal (opencode-connection-url c) url)
                     (equal (opencode-connection-directory c) directory)
                     (opencode-connection-live-p c)))
              opencode-connections))

(defun opencode-connect (&optional directory)
  "Return a connection for DIRECTORY (default: the current project).
Connect to `opencode-server-url', or to a local server started on
demand.  An open connection for the same server and directory is reused."
  (let* ((dir (opencode--normalize-directory
               (or directory (opencode-project-directory))))
         (server (and (not opencode-server-url) (opencode-server-local)))
         (url (string-remove-suffix
               "/" (if server (opencode-server-url server) opencode-server-url))))
    (or (opencode--find-connection url dir)
        (let ((auth (if server
                        (cons (opencode-server-user server)
                              (opencode-server-password server))
                      (opencode-server--auth url))))
          (opencode-connection-open url dir :user (car auth)
                                    :password (cdr auth) :server server)))))

(defun opencode-disconnect-all ()
  "Close every connection and stop the local server."
  (interactive)
  (mapc #'opencode-connection-close (copy-sequence opencode-connections))
  (opencode-server--stop-local))

(autoload (quote opencode-sessions) "opencode-sessions"
  "Show the OpenCode sessions of DIRECTORY (default: the current project)." t)

(provide 'opencode)
;;; opencode.el ends here

;;; opencode-remote.el --- File names of remote projects, both ways  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; A project opened from a TRAMP directory (/ssh:user@host:/src/app)
;; talks to a server on that host (opencode-remote-server.el), and the
;; server knows only the host's own paths (/src/app).  This file is the
;; one seam between the two kinds of name: the connection keeps the
;; Emacs name of its directory, what goes on the wire is the host's
;; path (`opencode-remote-host-name'), and what comes back becomes an
;; Emacs name again (`opencode-remote-local-name').  For a local
;; project both are the identity.
;;
;; Mapped here: the directory of every request and of the event stream,
;; @file mentions and their completion, region, file and Dired context
;; sent to a prompt, jumping from a tool part to a file, diffs, the
;; export's default file name and the lists' project directories.

;;; Code:

(require 'subr-x)

(defun opencode-remote-prefix (name)
  "Return the TRAMP prefix of NAME (\"/ssh:user@host:\"), or nil if local."
  (and (stringp name) (file-remote-p name)))

(defun opencode-remote-host-name (name)
  "Return NAME as the host that holds it names it.
A TRAMP name /ssh:user@host:/src/app becomes /src/app; a local name is
returned as it is."
  (if-let ((local (and (stringp name) (file-remote-p name 'localname))))
      local
    name))

(defun opencode-remote-local-name (path directory)
  "Return PATH, a path from the server of DIRECTORY, as Emacs names it.
DIRECTORY is the Emacs name of a project or a TRAMP prefix.  When it
is remote, an absolute PATH (a path on that host) gets its prefix and
a relative one is expanded in DIRECTORY; else PATH is returned as it is."
  (let ((prefix (opencode-remote-prefix directory)))
    (cond ((or (not prefix) (not (stringp path))) path)
          ((file-remote-p path) path)
          ((file-name-absolute-p path) (concat prefix path))
          (t (expand-file-name path directory)))))

(defun opencode-remote-label (name)
  "Return words for the host of NAME, \"user@host\", or nil if local."
  (when-let ((prefix (opencode-remote-prefix name)))
    (let ((user (file-remote-p prefix 'user))
          (host (file-remote-p prefix 'host)))
      (if user (concat user "@" host) host))))

(defun opencode-remote-directory-words (directory)
  "Return DIRECTORY as a list's header says it.
Abbreviated; a remote one as its host names it, then \"on user@host\"."
  (if-let ((label (opencode-remote-label directory)))
      (format "%s on %s" (opencode-remote-host-name directory) label)
    (abbreviate-file-name directory)))

(defun opencode-remote-file-url (name)
  "Return a file:// URL of NAME, which the server's host can read."
  (concat "file://" (opencode-remote-host-name (expand-file-name name))))

(provide 'opencode-remote)
;;; opencode-remote.el ends here

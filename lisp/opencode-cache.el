;;; opencode-cache.el --- What a client keeps on disk, per server and project  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; A small store on disk, under `opencode-cache-directory', one
;; directory per server and project:
;;
;; - forks.eld: where each fork made from Emacs came from.  The server
;;   keeps no record of it (a fork has no parentID, NOTES.md), so the
;;   client does; the store reads it (`opencode-store-origin').
;; - sessions.eld: the last session list shown, so a list opens at once
;;   and, while the server is down, shows its last known state (marked
;;   stale, read-only).
;; - chat-ID.eld: the newest messages last seen in the chat of session
;;   ID, at most `opencode-cache-chat-messages' of them; at most
;;   `opencode-cache-chats' chats are kept per project (the least
;;   recently saved go first), and a chat whose file would pass
;;   `opencode-cache-max-bytes' is not kept.
;;
;; Files are written as printed Lisp data, atomically (a temporary file
;; renamed over the old one), and read with `read' only: nothing in them
;; is evaluated.  A server on the loopback is "local" whatever its port:
;; every local server of one user keeps its sessions in the same place.
;; Set `opencode-cache-directory' to nil to keep nothing on disk.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'url-parse)
(require 'opencode-lib)
(require 'opencode-connection)
(require 'opencode-events)
(require 'opencode-api)

(defcustom opencode-cache-directory (locate-user-emacs-file "opencode/")
  "Directory where OpenCode keeps what it caches, or nil to keep nothing.
It holds, per server and project, the origins of forks made from
Emacs, the last session list and the last-seen messages of opened
chats, so they show at once and while the server is down."
  :type '(choice (directory :tag "Directory") (const :tag "Keep nothing on disk" nil))
  :group 'opencode)

(defcustom opencode-cache-chats 30
  "How many chats' messages are kept on disk per server and project.
The least recently saved are removed first."
  :type 'natnum
  :group 'opencode)

(defcustom opencode-cache-chat-messages 40
  "How many of a chat's newest messages are kept on disk."
  :type 'natnum
  :group 'opencode)

(defcustom opencode-cache-max-bytes (* 2 1024 1024)
  "The largest cache file written, in bytes; a larger chat is not kept."
  :type 'natnum
  :group 'opencode)

;;;; Where

(defun opencode-cache--server-key (url)
  "Return the name of the server at URL for the cache: \"local\" or host-port."
  (let* ((u (url-generic-parse-url url))
         (host (or (url-host u) "")))
    (if (member host '("127.0.0.1" "localhost" "::1" "[::1]"))
        "local"
      (format "%s-%s" host (url-port u)))))

(defun opencode-cache--dir (conn)
  "Return the cache directory of CONN's server and project, or nil.
A global connection (every project) has none."
  (when (and opencode-cache-directory (opencode-connection-directory conn))
    (let ((project (opencode-connection-directory conn)))
      (expand-file-name
       (format "%s/%s-%s"
               (opencode-cache--server-key (opencode-connection-url conn))
               (replace-regexp-in-string "[^[:alnum:]_.-]" "_"
                                         (file-name-nondirectory (directory-file-name project)))
               (substring (secure-hash 'sha1 project) 0 10))
       opencode-cache-directory))))

(defun opencode-cache--file (conn name)
  "Return the file NAME in CONN's cache directory, or nil."
  (let ((dir (opencode-cache--dir conn)))
    (and dir (expand-file-name name dir))))

;;;; Reading and writing

(defun opencode-cache--read (file)
  "Return the Lisp datum in FILE, or nil if it is missing or unreadable."
  (when (and file (file-readable-p file))
    (condition-case err
        (with-temp-buffer
          (insert-file-contents file)
          (goto-char (point-min))
          (read (current-buffer)))
      (error (opencode--log "cache: %s unreadable: %s" file (error-message-string err))
             nil))))

(defun opencode-cache--write (file datum)
  "Write DATUM to FILE atomically; return non-nil if written.
Nothing is written past `opencode-cache-max-bytes'."
  (when file
    (condition-case err
        (let ((text (let ((print-length nil) (print-level nil)
                          (print-circle nil) (print-escape-newlines t))
                      (prin1-to-string datum))))
          (if (> (string-bytes text) opencode-cache-max-bytes)
              (progn (when (file-exists-p file) (delete-file file)) nil)
            (make-directory (file-name-directory file) t)
            (let ((tmp (make-temp-file (concat file ".tmp")))
                  (coding-system-for-write 'utf-8-unix))
              (with-temp-file tmp (insert text))
              (rename-file tmp file t))
            t))
      (error (opencode--log "cache: cannot write %s: %s" file (error-message-string err))
             nil))))

;;;; Forks

(defun opencode-cache-fork-origins (conn)
  "Return the alist (FORK-ID . ORIGIN-ID) of the forks made on CONN, from disk."
  (let ((data (opencode-cache--read (opencode-cache--file conn "forks.eld"))))
    (and (listp data) (cl-remove-if-not (lambda (c) (and (consp c) (stringp (car c))
                                                         (stringp (cdr c))))
                                        data))))

(defun opencode-cache-save-fork-origins (conn origins)
  "Write ORIGINS, an alist (FORK-ID . ORIGIN-ID), as CONN's forks."
  (opencode-cache--write (opencode-cache--file conn "forks.eld") origins))

;;;; The session list

(defun opencode-cache-sessions (conn)
  "Return the session plists of CONN's last session list, or nil."
  (let ((data (opencode-cache--read (opencode-cache--file conn "sessions.eld"))))
    (and (listp data) (cl-remove-if-not (lambda (s) (stringp (plist-get s :id))) data))))

(defun opencode-cache-save-sessions (conn sessions)
  "Keep SESSIONS, a list of session plists, as CONN's last session list."
  (opencode-cache--write (opencode-cache--file conn "sessions.eld") sessions))

;;;; Chats

(defun opencode-cache--chat-file (conn session-id)
  "Return the cache file of the chat of SESSION-ID on CONN, or nil."
  (and (stringp session-id) (string-match-p "\\`[[:alnum:]_]+\\'" session-id)
       (opencode-cache--file conn (format "chat-%s.eld" session-id))))

(defun opencode-cache-chat-messages (conn session-id)
  "Return the messages last seen in the chat of SESSION-ID on CONN, or nil.
A vector of (:info INFO :parts PARTS), as the server sends them."
  (opencode-cache--flush (opencode-cache--chat-file conn session-id))
  (let ((data (opencode-cache--read (opencode-cache--chat-file conn session-id))))
    (and (vectorp data) (> (length data) 0) data)))

(defun opencode-cache-save-chat (conn session-id messages)
  "Keep the newest of MESSAGES as the last-seen chat of SESSION-ID on CONN.
MESSAGES is a vector of (:info :parts); the oldest chats beyond
`opencode-cache-chats' are removed."
  (let ((file (opencode-cache--chat-file conn session-id)))
    (when (and file (vectorp messages) (> (length messages) 0))
      (let ((n (length messages)))
        (opencode-cache--write
         file (if (> n opencode-cache-chat-messages)
                  (substring messages (- n opencode-cache-chat-messages))
                messages)))
      (opencode-cache--prune (file-name-directory file)))))

(defun opencode-cache--prune (dir)
  "Remove the oldest chat files of DIR beyond `opencode-cache-chats'."
  (let ((files (sort (directory-files dir t "\\`chat-.*\\.eld\\'" t)
                     (lambda (a b) (time-less-p (file-attribute-modification-time
                                                 (file-attributes b))
                                                (file-attribute-modification-time
                                                 (file-attributes a)))))))
    (dolist (f (nthcdr opencode-cache-chats files))
      (ignore-errors (delete-file f)))))

(defvar-local opencode-cache-stale nil
  "Non-nil while a chat shows the messages kept on disk, not the server's.")

(defun opencode-cache-chat-restore (conn session-id render)
  "Show the kept messages of SESSION-ID on CONN at once, if any.
RENDER is called with them (a vector of (:info :parts)); the current
buffer is then marked stale (`opencode-cache-stale') until
`opencode-cache-chat-loaded'."
  (let ((messages (opencode-cache-chat-messages conn session-id)))
    (when messages
      (funcall render messages)
      (setq opencode-cache-stale t))))

(defvar opencode-cache--pending (make-hash-table :test 'equal)
  "Chat files to be written when Emacs is idle: file -> (TIMER . FUNCTION).")

(defun opencode-cache--later (file function)
  "Call FUNCTION, which writes FILE, once Emacs has been idle a second.
A later call for the same FILE replaces this one.  Whatever is
pending is written before FILE is read and when Emacs exits."
  (opencode-cache--flush file t)
  (puthash file (cons (run-with-idle-timer 1 nil #'opencode-cache--flush file) function)
           opencode-cache--pending)
  (add-hook 'kill-emacs-hook #'opencode-cache--flush-all))

(defun opencode-cache--flush (file &optional drop)
  "Write FILE now if it is pending; with DROP, forget it instead."
  (let ((pending (and file (gethash file opencode-cache--pending))))
    (when pending
      (remhash file opencode-cache--pending)
      (cancel-timer (car pending))
      (unless drop (funcall (cdr pending))))))

(defun opencode-cache--flush-all ()
  "Write every pending file."
  (dolist (file (hash-table-keys opencode-cache--pending))
    (opencode-cache--flush file)))

(defun opencode-cache-chat-loaded (conn session-id messages)
  "Keep MESSAGES, just loaded from CONN, as the chat of SESSION-ID.
The current buffer shows them: it is no longer stale.  They are
written once Emacs is idle, not while the chat is first drawn."
  (setq opencode-cache-stale nil)
  (let ((file (opencode-cache--chat-file conn session-id)))
    (when file
      (opencode-cache--later file (lambda () (opencode-cache-save-chat conn session-id messages))))))

(opencode-defevent opencode-cache--on-idle "session.idle" (conn props)
  "Keep the newest messages of the open chat of the session of PROPS on CONN.
The session just finished working: what its chat shows is kept."
  (let* ((sid (plist-get props :sessionID))
         (buf (and (stringp sid) (gethash sid (opencode-connection-table conn :chats)))))
    (when (and opencode-cache-directory (buffer-live-p buf))
      (opencode-api-session-messages
       conn sid :limit opencode-cache-chat-messages :errback #'ignore
       :callback (lambda (messages) (opencode-cache-save-chat conn sid messages))))))

(opencode-defevent opencode-cache--on-deleted "session.deleted" (conn props)
  "Remove the kept chat of the session deleted in PROPS on CONN."
  (let ((sid (or (plist-get props :sessionID) (plist-get (plist-get props :info) :id))))
    (when (stringp sid) (opencode-cache-forget-chat conn sid))))

(defun opencode-cache-forget-chat (conn session-id)
  "Remove the kept chat of SESSION-ID on CONN (the session was deleted)."
  (let ((file (opencode-cache--chat-file conn session-id)))
    (opencode-cache--flush file t)
    (when (and file (file-exists-p file))
      (ignore-errors (delete-file file)))))

(provide 'opencode-cache)
;;; opencode-cache.el ends here

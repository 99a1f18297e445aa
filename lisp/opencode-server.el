;;; opencode-server.el --- Run a local OpenCode server  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; When `opencode-server-url' is nil the package starts its own
;; `opencode serve' on 127.0.0.1 with a free port, protected by a fresh
;; random password that only this Emacs knows, and stops it when Emacs
;; exits.  The binary is `opencode-server-program', or `opencode' on
;; PATH, or the pinned npm install of the package (`make deps').

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'url-parse)
(require 'opencode-module)

(defcustom opencode-server-url nil
  "URL of a running OpenCode server, such as \"http://127.0.0.1:4096\".
When nil, the package starts a local server itself."
  :type '(choice (const :tag "Start a local server" nil) string)
  :group 'opencode)

(defcustom opencode-server-username nil
  "User name for the server's HTTP basic auth, or nil for \"opencode\".
The password comes from `auth-source' (host and port of the server URL)
or the environment variable OPENCODE_SERVER_PASSWORD."
  :type '(choice (const nil) string)
  :group 'opencode)

(defcustom opencode-server-program nil
  "The `opencode' executable to run a local server.
When nil, use `opencode' from PATH, else the package's own pinned
install in .deps/ (made by `make deps')."
  :type '(choice (const :tag "Find it" nil) file)
  :group 'opencode)

(defcustom opencode-server-arguments nil
  "Extra arguments for `opencode serve'."
  :type '(repeat string)
  :group 'opencode)

(defcustom opencode-server-start-timeout 60
  "Seconds to wait for a local server to say it is listening."
  :type 'number
  :group 'opencode)

(cl-defstruct (opencode-server (:constructor opencode-server--make)
                               (:copier nil))
  "A local `opencode serve' process started by this Emacs."
  process url user password directory)

(defvar opencode-server--local nil
  "The local server started by this Emacs, or nil.")

(defun opencode-server-find-program ()
  "Return the `opencode' executable to run, or signal an error."
  (or (and opencode-server-program
           (or (executable-find opencode-server-program)
               (and (file-executable-p opencode-server-program)
                    opencode-server-program)))
      (executable-find "opencode")
      (let ((pinned (expand-file-name ".deps/node_modules/.bin/opencode"
                                      (opencode-module--root))))
        (and (file-executable-p pinned) pinned))
      (signal 'opencode-server-error
              (list "No `opencode' program: install it (npm install -g opencode-ai), run `make deps', or set `opencode-server-program'"))))

(defun opencode-server--random-password ()
  "Return a random password of 32 hex digits."
  (let ((bytes (with-temp-buffer
                 (set-buffer-multibyte nil)
                 (if (and (file-readable-p "/dev/urandom")
                          (ignore-errors
                            (insert-file-contents-literally "/dev/urandom" nil 0 16)
                            t))
                     (buffer-string)
                   (apply #'unibyte-string (cl-loop repeat 16 collect (random 256)))))))
    (mapconcat (lambda (b) (format "%02x" b)) bytes "")))

(defun opencode-server-start (&optional directory)
  "Start a local OpenCode server in DIRECTORY and return it.
Wait until it listens; \\[keyboard-quit] or a timeout stops it."
  (let* ((program (opencode-server-find-program))
         (default-directory (file-name-as-directory
                             (expand-file-name (or directory default-directory))))
         (password (opencode-server--random-password))
         (process-environment (cons (concat "OPENCODE_SERVER_PASSWORD=" password)
                                    process-environment))
         (buf (generate-new-buffer " *opencode-server*"))
         (proc (make-process
                :name "opencode-server"
                :buffer buf
                :command (append (list program "serve" "--hostname" "127.0.0.1"
                                       "--port" "0")
                                 opencode-server-arguments)
                :connection-type 'pipe
                :noquery t
                :stderr buf))
         (url nil)
         (deadline (+ (float-time) opencode-server-start-timeout))
         (ok nil))
    (unwind-protect
        (progn
          (while (and (not url) (process-live-p proc) (< (float-time) deadline))
            (accept-process-output proc 0.1)
            (with-current-buffer buf
              (save-excursion
                (goto-char (point-min))
                (when (re-search-forward
                       "listening on \\(https?://[^ \t\n]+\\)" nil t)
                  (setq url (match-string 1))))))
          (unless url
            (signal 'opencode-server-error
                    (list (if (process-live-p proc)
                              (format "%s did not start within %ss"
                                      program opencode-server-start-timeout)
                            (format "%s exited: %s" program
                                    (with-current-buffer buf
                                      (string-trim (buffer-string))))))))
          (setq ok t))
      (unless ok
        (when (process-live-p proc) (delete-process proc))
        (kill-buffer buf)))
    (opencode-server--make :process proc :url url :user "opencode"
                           :password password
                           :directory default-directory)))

(defun opencode-server-stop (server)
  "Stop SERVER, a local server started by `opencode-server-start'."
  (let ((proc (opencode-server-process server)))
    (when (process-live-p proc)
      (interrupt-process proc)
      (let ((deadline (+ (float-time) 3)))
        (while (and (process-live-p proc) (< (float-time) deadline))
          (accept-process-output proc 0.05)))
      (when (process-live-p proc) (delete-process proc)))
    (when (buffer-live-p (process-buffer proc))
      (kill-buffer (process-buffer proc))))
  (when (eq server opencode-server--local)
    (setq opencode-server--local nil)))

(defun opencode-server-local ()
  "Return the local server of this Emacs, starting it if needed."
  (unless (and opencode-server--local
               (process-live-p (opencode-server-process opencode-server--local)))
    (setq opencode-server--local (opencode-server-start))
    (add-hook 'kill-emacs-hook #'opencode-server--stop-local))
  opencode-server--local)

(defun opencode-server--stop-local ()
  "Stop the local server, if this Emacs started one."
  (when opencode-server--local
    (opencode-server-stop opencode-server--local)))

(defun opencode-server--auth (url)
  "Return (USER . PASSWORD) for the server at URL, or nil."
  (let* ((parsed (url-generic-parse-url url))
         (host (url-host parsed))
         (port (url-port parsed))
         (found (and (require 'auth-source nil t)
                     (car (auth-source-search :host host :port port
                                              :max 1))))
         (secret (and found (plist-get found :secret)))
         (password (or (if (functionp secret) (funcall secret) secret)
                       (getenv "OPENCODE_SERVER_PASSWORD"))))
    (and password
         (cons (or opencode-server-username
                   (and found (plist-get found :user))
                   (getenv "OPENCODE_SERVER_USERNAME")
                   "opencode")
               password))))

(provide 'opencode-server)
;;; opencode-server.el ends here

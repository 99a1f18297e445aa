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

(defcustom opencode-server-restart-limit 3
  "How many times a crashed local server is restarted in a row.
The count starts again once a restarted server has run for a minute.
0 turns automatic restarts off."
  :type 'integer
  :group 'opencode)

(defvar opencode-server-ready-functions nil
  "Abnormal hook run when a local server started or restarted listens.
Each function gets the server.  The package uses it to reconnect the
server's connections at once after a restart, not after their backoff.")

(defvar opencode-server-given-up-functions nil
  "Abnormal hook run when a local server died too often to be restarted.
Each function gets the server and why, in words.  The package uses it
to stop its connections' retries and say so where the user looks.")

(cl-defstruct (opencode-server (:constructor opencode-server--make)
                               (:copier nil))
  "A local `opencode serve' process started by this Emacs.
It keeps its URL, port and password across restarts, so connections
to it simply reconnect."
  process url user password directory
  (restarts 0) (started 0.0) (stopping nil))

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
                                      (opencode-module-root))))
        (and (file-executable-p pinned) pinned))
      (signal 'opencode-server-error
              (list "No `opencode' program: install it (npm install -g opencode-ai), run `make deps', or set `opencode-server-program'"))))

(defun opencode-server-random-password ()
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

(defun opencode-server--listening-url (buf)
  "Return the URL the server writing into BUF said it listens on, or nil."
  (with-current-buffer buf
    (save-excursion
      (goto-char (point-min))
      (and (re-search-forward "listening on \\(https?://[^ \t\n]+\\)" nil t)
           (match-string 1)))))

(defun opencode-server--spawn (server port)
  "Run `opencode serve' for SERVER on PORT (0: any); return the process.
The process's sentinel restarts SERVER if it dies unasked."
  (let* ((program (opencode-server-find-program))
         (default-directory (opencode-server-directory server))
         (process-environment (cons (concat "OPENCODE_SERVER_PASSWORD="
                                            (opencode-server-password server))
                                    process-environment))
         (buf (generate-new-buffer " *opencode-server*"))
         (proc (make-process
                :name "opencode-server"
                :buffer buf
                :command (append (list program "serve" "--hostname" "127.0.0.1"
                                       "--port" (number-to-string port))
                                 opencode-server-arguments)
                :connection-type 'pipe
                :noquery t
                :stderr buf
                :filter (lambda (proc out)
                          (opencode-server--filter server proc out))
                :sentinel (lambda (proc _event)
                            (opencode-server--sentinel server proc)))))
    (setf (opencode-server-process server) proc
          (opencode-server-started server) (float-time))
    proc))

(defun opencode-server--filter (server proc output)
  "Keep OUTPUT of SERVER's process PROC; say when it first listens."
  (let ((buf (process-buffer proc)))
    (when (buffer-live-p buf)
      (with-current-buffer buf
        (save-excursion (goto-char (point-max)) (insert output)))
      (when (and (not (process-get proc 'opencode-listening))
                 (opencode-server--listening-url buf))
        (process-put proc 'opencode-listening t)
        (run-hook-with-args 'opencode-server-ready-functions server)))))

(defun opencode-server-free-port ()
  "Return a TCP port on 127.0.0.1 that nothing listens on now.
The server's own choice (`--port 0') is 4096 whenever that is free, so
two servers started one after the other would fight over it, and a
restart on the same port could lose it to the other.  The port is
drawn from 20000-32767, below the range the system hands out for
`any port' (32768 and up on Linux): a port from there, probed free and
closed, could be handed to another socket (the source port of any new
connection) before the server binds it, which then fails (ServeError;
seen with the test files run side by side)."
  (or (cl-loop repeat 50
               for port = (+ 20000 (random 12768))
               when (condition-case nil
                        (progn (delete-process
                                (make-network-process :name " opencode-port-probe" :server t
                                                      :host "127.0.0.1" :service port
                                                      :family 'ipv4 :noquery t))
                               t)
                      (file-error nil))
               return port)
      (let* ((probe (make-network-process :name " opencode-port-probe" :server t
                                          :host "127.0.0.1" :service t :family 'ipv4
                                          :noquery t))
             (port (process-contact probe :service)))
        (delete-process probe)
        port)))

(defun opencode-server-start (&optional directory)
  "Start a local OpenCode server in DIRECTORY and return it.
Wait until it listens; \\[keyboard-quit] or a timeout stops it."
  (let* ((server (opencode-server--make
                  :user "opencode" :password (opencode-server-random-password)
                  :directory (file-name-as-directory
                              (expand-file-name (or directory default-directory)))))
         (proc (opencode-server--spawn server (opencode-server-free-port)))
         (buf (process-buffer proc))
         (deadline (+ (float-time) opencode-server-start-timeout))
         (url nil)
         (ok nil))
    (unwind-protect
        (progn
          (while (and (not url) (process-live-p proc) (< (float-time) deadline))
            (accept-process-output proc 0.1)
            (setq url (opencode-server--listening-url buf)))
          (unless url
            (signal 'opencode-server-error
                    (list (if (process-live-p proc)
                              (format "%s did not start within %ss"
                                      (car (process-command proc))
                                      opencode-server-start-timeout)
                            (format "%s exited: %s" (car (process-command proc))
                                    (with-current-buffer buf
                                      (string-trim (buffer-string))))))))
          (setq ok t))
      (unless ok
        (setf (opencode-server-stopping server) t)
        (when (process-live-p proc) (delete-process proc))
        (kill-buffer buf)))
    (setf (opencode-server-url server) url)
    server))

(defun opencode-server--port (server)
  "Return the port SERVER listens on."
  (url-port (url-generic-parse-url (opencode-server-url server))))

(defun opencode-server--sentinel (server proc)
  "Restart SERVER when its process PROC died without being asked to.
Connections to it reconnect by themselves once it listens again."
  (unless (or (process-live-p proc)
              (opencode-server-stopping server)
              (not (eq proc (opencode-server-process server)))
              (null (opencode-server-url server)))
    (let ((output (when (buffer-live-p (process-buffer proc))
                    (with-current-buffer (process-buffer proc)
                      (prog1 (string-trim (buffer-substring
                                           (max (point-min) (- (point-max) 300))
                                           (point-max)))
                        (kill-buffer)))))
          (status (process-exit-status proc)))
      (when (> (- (float-time) (opencode-server-started server)) 60)
        (setf (opencode-server-restarts server) 0))
      (opencode--log "local server %s exited (%s %s); its last output: %s"
                     (opencode-server-url server) (process-status proc)
                     status output)
      (if (>= (opencode-server-restarts server) opencode-server-restart-limit)
          (let ((why (format "the local server exited (%s %s) and was restarted %s; \
not again (M-x opencode-server-restart)"
                             (process-status proc) status
                             (opencode--plural (opencode-server-restarts server) "time"))))
            (message "OpenCode: %s" why)
            (run-hook-with-args 'opencode-server-given-up-functions server why))
        (cl-incf (opencode-server-restarts server))
        (message "OpenCode: the local server exited (%s %s); restarting it (%d/%d)"
                 (process-status proc) status (opencode-server-restarts server)
                 opencode-server-restart-limit)
        (condition-case err
            (opencode-server--spawn server (opencode-server--port server))
          (error (message "OpenCode: cannot restart the local server: %s"
                          (opencode-error-text err))))))))

(defun opencode-server--end-process (server)
  "End SERVER's process: interrupt it, kill it after 3 s, drop its buffer.
SERVER is marked stopping first, so it is not restarted."
  (setf (opencode-server-stopping server) t)
  (let ((proc (opencode-server-process server)))
    (when (process-live-p proc)
      (interrupt-process proc)
      (let ((deadline (+ (float-time) 3)))
        (while (and (process-live-p proc) (< (float-time) deadline))
          (accept-process-output proc 0.05)))
      (when (process-live-p proc) (delete-process proc)))
    (when (buffer-live-p (process-buffer proc))
      (kill-buffer (process-buffer proc)))))

(defun opencode-server-stop (server)
  "Stop SERVER, a local server started by `opencode-server-start'."
  (opencode-server--end-process server)
  (when (eq server opencode-server--local)
    (setq opencode-server--local nil)))

(defun opencode-server-restart ()
  "Restart the local server on its port; its connections reconnect."
  (interactive)
  (let ((server (or opencode-server--local
                    (user-error "No local server: this Emacs did not start one"))))
    (opencode-server--end-process server)
    (setf (opencode-server-stopping server) nil
          (opencode-server-restarts server) 0)
    (opencode-server--spawn server (opencode-server--port server))
    (message "OpenCode: restarting the local server at %s" (opencode-server-url server))))

(defun opencode-server-local ()
  "Return the local server of this Emacs, starting it if needed."
  (unless (and opencode-server--local
               (not (opencode-server-stopping opencode-server--local))
               ;; Alive, or dead with a restart still to come.
               (or (process-live-p (opencode-server-process opencode-server--local))
                   (< (opencode-server-restarts opencode-server--local)
                      opencode-server-restart-limit)))
    (setq opencode-server--local (opencode-server-start))
    (add-hook 'kill-emacs-hook #'opencode-server-stop-local))
  opencode-server--local)

(defun opencode-server-stop-local ()
  "Stop the local server, if this Emacs started one."
  (when opencode-server--local
    (opencode-server-stop opencode-server--local)))

(defvar opencode-server--given (make-hash-table :test 'equal)
  "URL -> (USER . PASSWORD) the user gave in this Emacs session.")

(defun opencode-server-remember-password (url user password)
  "Use USER and PASSWORD for the server at URL for the rest of this session."
  (puthash (string-remove-suffix "/" url) (cons user password) opencode-server--given))

(add-hook 'opencode-password-functions #'opencode-server-remember-password)

(defun opencode-server-auth (url)
  "Return (USER . PASSWORD) for the server at URL, or nil.
From what the user gave in this session, auth-source, or the
environment (OPENCODE_SERVER_PASSWORD, OPENCODE_SERVER_USERNAME)."
  (or (gethash (string-remove-suffix "/" url) opencode-server--given)
      (opencode-server--auth-found url)))

(defun opencode-server--auth-found (url)
  "Return (USER . PASSWORD) for URL from auth-source or the environment."
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

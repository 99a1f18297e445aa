;;; opencode-remote-server.el --- Servers on remote hosts, through SSH tunnels  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; A project opened from a TRAMP directory (/ssh:user@host:/src/app)
;; uses a server on that host, so the agent runs where the code lives.
;; The server is, in this order: one listed in `opencode-remote-servers',
;; one recorded on the host (a port file this package writes under the
;; remote user's cache directory when it starts a server there, so a
;; later Emacs finds it), else one started there over TRAMP, detached
;; (`setsid nohup opencode serve'), with a random password kept in a
;; file only that user reads.
;;
;; The server listens on the host's 127.0.0.1; this Emacs reaches it
;; through an `ssh -N -L' tunnel to a free local port, made from
;; TRAMP's own login program and arguments for that host (so its user,
;; port and options, `tramp-connection-properties' included).  The
;; module talks to 127.0.0.1:LOCALPORT as to any server.
;;
;; The tunnel is watched: when it dies (the host sleeps, the network
;; drops) its connections say so in words and the tunnel is opened
;; again with a growing delay; when it is back, they reconnect.  A key
;; or password refused stops the retries until asked again (`g').  When
;; the tunnel says the server on the host does not answer, the server
;; is looked at over TRAMP and, if it died, restarted on its port.
;;
;; The host is one `opencode-remote-host', in `opencode-remote--hosts'
;; by TRAMP prefix; it is the `server' of its connections.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'format-spec)
(require 'tramp)
(require 'opencode-lib)
(require 'opencode-connection)
(require 'opencode-connection-requests)
(require 'opencode-server)
(require 'opencode-remote)

(declare-function auth-source-search "auth-source" (&rest spec))

;;;; Options

(defcustom opencode-remote-servers nil
  "OpenCode servers already running on remote hosts.
An alist of (PREFIX . PORT): PREFIX names a host as TRAMP does
\(\"/ssh:me@build:\"; without a user it matches any user), PORT is
where the server listens on that host's 127.0.0.1.  Its password, if
it asks one, comes from auth-source (that host and port).  A host not
listed uses the server this package recorded there, or starts one."
  :type '(alist :key-type string :value-type integer)
  :group 'opencode)

(defcustom opencode-remote-program nil
  "The `opencode' program to run on remote hosts.
An alist of (PREFIX . PROGRAM), PREFIX as in `opencode-remote-servers'.
A host not listed runs `opencode' from its PATH as TRAMP sees it
\(`tramp-remote-path'; add `tramp-own-remote-path' there for the
login shell's)."
  :type '(alist :key-type string :value-type string)
  :group 'opencode)

(defcustom opencode-remote-ssh-options
  '("-o" "ServerAliveInterval=10" "-o" "ServerAliveCountMax=3")
  "Extra options of the `ssh' that tunnels to a remote server.
They come before TRAMP's own login arguments for the host.  The
defaults notice a dead network within about 30 seconds."
  :type '(repeat string)
  :group 'opencode)

(defcustom opencode-remote-stop-servers t
  "Whether servers this Emacs started on remote hosts stop with it.
When nil they keep running (an agent's reply goes on while Emacs is
away) and the next Emacs finds them by the port recorded on the host."
  :type 'boolean
  :group 'opencode)

;;;; Hosts

(cl-defstruct (opencode-remote-host (:constructor opencode-remote-server--make-host)
                                    (:copier nil))
  "A remote host whose OpenCode server this Emacs reaches through a tunnel."
  (prefix nil :documentation "TRAMP prefix, \"/ssh:user@host#port:\".")
  (label nil :documentation "The host in words, \"user@host\".")
  (remote-port nil :documentation "Where the server listens on the host.")
  (local-port nil :documentation "The tunnel's end on this machine.")
  (password nil :documentation "The server's password, or nil.")
  (pid nil :documentation "The server's process id on the host, when known.")
  (started nil :documentation "Non-nil if this Emacs started the server.")
  (directory nil :documentation "Where the server runs, on the host.")
  (cache nil :documentation "The host path of the package's cache directory there.")
  (tunnel nil :documentation "The ssh process of the tunnel.")
  (state 'closed :documentation "`up', `down' (the tunnel to reopen), `opening',
`restarting' (the server), `failed' (not retried) or `closed'.")
  (why nil :documentation "Why it is not `up', in words.")
  (timer nil :documentation "The timer of a retry or of a wait.")
  (retries 0 :documentation "Tunnel reopenings in a row that failed.")
  (restarts 0 :documentation "Server restarts in a row.")
  (checking nil :documentation "Non-nil while the server is being looked at.")
  (global nil :documentation "The host's connection to every project."))

(defvar opencode-remote--hosts (make-hash-table :test 'equal)
  "TRAMP prefix -> its `opencode-remote-host'.")

(defun opencode-remote-url (host)
  "Return the URL at which HOST's server is reached here."
  (format "http://127.0.0.1:%d" (opencode-remote-host-local-port host)))

(defun opencode-remote-hosts ()
  "Return the remote hosts in use, in no order."
  (let (hosts)
    (maphash (lambda (_ h) (push h hosts)) opencode-remote--hosts)
    hosts))

(defun opencode-remote-connection-prefix (conn)
  "Return the TRAMP prefix of the host CONN's server runs on, or nil."
  (or (opencode-remote-prefix (opencode-connection-directory conn))
      (let ((server (opencode-connection-server conn)))
        (and (opencode-remote-host-p server) (opencode-remote-host-prefix server)))))

(defun opencode-remote--connections (host)
  "Return the open connections to HOST's server."
  (let ((global (opencode-remote-host-global host)))
    (append (and global (not (eq (opencode-connection-state global) 'closed))
                 (list global))
            (cl-remove-if-not (lambda (c) (eq (opencode-connection-server c) host))
                              opencode-connections))))

(defun opencode-remote--lookup (alist prefix)
  "Return the value for PREFIX's host in ALIST, keyed by TRAMP prefixes."
  (let ((user (file-remote-p prefix 'user))
        (host (file-remote-p prefix 'host)))
    (cdr (cl-find-if (lambda (entry)
                       (let ((key (car entry)))
                         (or (equal key prefix)
                             (and (equal (file-remote-p key 'host) host)
                                  (member (file-remote-p key 'user) (list nil user))))))
                     alist))))

;;;; Talking to the host over TRAMP

(defun opencode-remote--sh (prefix script &rest args)
  "Run SCRIPT with /bin/sh on PREFIX's host, ARGS as $1 and on.
Return (STATUS . OUTPUT).  SCRIPT is one line; each argument reaches
it quoted."
  (let ((default-directory (concat prefix "/")))
    (with-temp-buffer
      (let ((status (apply #'process-file "/bin/sh" nil t nil "-c" script "sh" args)))
        (cons status (string-trim (buffer-string)))))))

(defun opencode-remote--check-method (prefix)
  "Signal an error unless PREFIX's host can be reached by an ssh tunnel."
  (let ((vec (tramp-dissect-file-name prefix)))
    (when (tramp-file-name-hop vec)
      (signal 'opencode-server-error
              (list (format "Remote projects through several hops (%s) are not supported yet" prefix))))
    (unless (equal (file-name-nondirectory
                    (or (tramp-get-method-parameter vec 'tramp-login-program) ""))
                   "ssh")
      (signal 'opencode-server-error
              (list (format "Remote projects need an ssh method (ssh, scp, rsync…), not %s"
                            (tramp-file-name-method vec)))))))

(defun opencode-remote--cache-dir (host)
  "Return the host path of the package's cache directory on HOST, made private."
  (or (opencode-remote-host-cache host)
      (pcase-let ((`(,status . ,out)
                   (opencode-remote--sh
                    (opencode-remote-host-prefix host)
                    "d=\"${XDG_CACHE_HOME:-$HOME/.cache}/opencode.el\"; umask 077; mkdir -p \"$d\" && chmod 700 \"$d\" && printf '%s' \"$d\"")))
        (unless (and (eql status 0) (file-name-absolute-p out))
          (signal 'opencode-server-error
                  (list (format "Cannot make a cache directory on %s: %s"
                                (opencode-remote-host-label host) out))))
        (setf (opencode-remote-host-cache host) out))))

(defun opencode-remote--recorded (host)
  "Return (PORT PID PASSWORD) of a live server recorded on HOST, or nil."
  (pcase-let ((`(,status . ,out)
               (opencode-remote--sh
                (opencode-remote-host-prefix host)
                "d=$1; [ -r \"$d/server\" ] && [ -r \"$d/password\" ] || exit 1; read port pid < \"$d/server\" || exit 1; kill -0 \"$pid\" 2>/dev/null || exit 2; printf '%s %s ' \"$port\" \"$pid\"; cat \"$d/password\""
                (opencode-remote--cache-dir host))))
    (when (and (eql status 0)
               (string-match "\\`\\([0-9]+\\) \\([0-9]+\\) \\([[:xdigit:]]+\\)\\'" out))
      (list (string-to-number (match-string 1 out)) (string-to-number (match-string 2 out))
            (match-string 3 out)))))

(defun opencode-remote--write-password (host)
  "Write HOST's password to the cache directory there, for its server to read."
  (let ((file (concat (opencode-remote-host-prefix host)
                      (opencode-remote--cache-dir host) "/password")))
    (with-file-modes #o600
      (write-region (opencode-remote-host-password host) nil file nil 'silent))
    (set-file-modes file #o600)))

(defun opencode-remote--spawn (host port)
  "Start the server of HOST there, detached, on PORT (0: any); record its pid."
  (let* ((prefix (opencode-remote-host-prefix host))
         (program (or (opencode-remote--lookup opencode-remote-program prefix) "opencode")))
    (pcase-let ((`(,status . ,out)
                 (opencode-remote--sh
                  prefix
                  (concat "d=$1; command -v \"$3\" >/dev/null 2>&1 || exit 127; cd \"$2\" || exit 2; "
                          "OPENCODE_SERVER_PASSWORD=$(cat \"$d/password\") || exit 3; export OPENCODE_SERVER_PASSWORD; "
                          "if command -v setsid >/dev/null 2>&1; then s=setsid; else s=; fi; "
                          "$s nohup \"$3\" serve --hostname 127.0.0.1 --port \"$4\" >\"$d/server.log\" 2>&1 </dev/null & "
                          "echo $!")
                  (opencode-remote--cache-dir host) (opencode-remote-host-directory host)
                  program (number-to-string port))))
      (pcase status
        (0 (setf (opencode-remote-host-pid host) (string-to-number out)
                 (opencode-remote-host-started host) t))
        (127 (signal 'opencode-server-error
                     (list (format "No `%s' on %s: install it there (npm install -g opencode-ai) or set `opencode-remote-program'"
                                   program (opencode-remote-host-label host)))))
        (_ (signal 'opencode-server-error
                   (list (format "Cannot start %s on %s (exit %s): %s" program
                                 (opencode-remote-host-label host) status out))))))))

(defun opencode-remote--poll (host)
  "Look at HOST's server: return (ALIVE PORT OUTPUT).
PORT is the port its log says it listens on, or nil; OUTPUT the end of
its log."
  (pcase-let ((`(,_ . ,out)
               (opencode-remote--sh
                (opencode-remote-host-prefix host)
                "if kill -0 \"$1\" 2>/dev/null; then echo alive; else echo dead; fi; tail -c 1500 \"$2/server.log\" 2>/dev/null"
                (number-to-string (or (opencode-remote-host-pid host) 0))
                (opencode-remote--cache-dir host))))
    (list (string-prefix-p "alive" out)
          (and (string-match "listening on https?://[^:/ \n]+:\\([0-9]+\\)" out)
               (string-to-number (match-string 1 out)))
          (string-trim (replace-regexp-in-string "\\`\\(?:alive\\|dead\\)\n?" "" out)))))

(defun opencode-remote--record (host)
  "Record HOST's server (port and pid) on the host, for a later Emacs."
  (opencode-remote--sh (opencode-remote-host-prefix host)
                       "umask 077; printf '%s %s\\n' \"$2\" \"$3\" > \"$1/server\""
                       (opencode-remote--cache-dir host)
                       (number-to-string (opencode-remote-host-remote-port host))
                       (number-to-string (opencode-remote-host-pid host))))

(defun opencode-remote--start-server (host)
  "Start a server on HOST and wait until it listens; signal if it cannot."
  (message "OpenCode: starting a server on %s…" (opencode-remote-host-label host))
  (setf (opencode-remote-host-password host) (opencode-server-random-password))
  (opencode-remote--write-password host)
  (opencode-remote--spawn host 0)
  (let ((deadline (+ (float-time) opencode-server-start-timeout))
        (found nil))
    (while (not found)
      (pcase-let ((`(,alive ,port ,output) (opencode-remote--poll host)))
        (cond (port (setq found port))
              ((not alive)
               (signal 'opencode-server-error
                       (list (format "The server on %s exited: %s"
                                     (opencode-remote-host-label host) output))))
              ((> (float-time) deadline)
               (opencode-remote--kill-server host)
               (signal 'opencode-server-error
                       (list (format "The server on %s did not start within %ss"
                                     (opencode-remote-host-label host)
                                     opencode-server-start-timeout))))
              (t (accept-process-output nil 0.2)))))
    (setf (opencode-remote-host-remote-port host) found)
    (opencode-remote--record host)
    (message "OpenCode: a server listens on %s, port %d" (opencode-remote-host-label host) found)))

(defun opencode-remote--kill-server (host)
  "Stop HOST's server there, and drop its record if it names it."
  (when-let ((pid (opencode-remote-host-pid host)))
    (opencode-remote--sh (opencode-remote-host-prefix host)
                         "kill -TERM -- \"-$1\" 2>/dev/null || kill -TERM \"$1\" 2>/dev/null; if read p q < \"$2/server\" && [ \"$q\" = \"$1\" ]; then rm -f \"$2/server\"; fi; true"
                         (number-to-string pid) (opencode-remote--cache-dir host))
    (setf (opencode-remote-host-pid host) nil)))

;;;; The tunnel

(defun opencode-remote--ssh-command (host)
  "Return the ssh command of HOST's tunnel: TRAMP's login for the host."
  (let* ((vec (tramp-dissect-file-name (opencode-remote-host-prefix host)))
         (spec (format-spec-make ?h (or (tramp-file-name-host vec) "")
                                 ?u (or (tramp-file-name-user vec) "")
                                 ?p (or (tramp-file-name-port vec) "")
                                 ?c "" ?n "" ?l "" ?t "" ?a "")))
    (append (list (tramp-get-method-parameter vec 'tramp-login-program)
                  "-N" "-L" (format "127.0.0.1:%d:127.0.0.1:%d"
                                    (opencode-remote-host-local-port host)
                                    (opencode-remote-host-remote-port host))
                  ;; Its own connection, which fails rather than asks.
                  "-o" "ExitOnForwardFailure=yes" "-o" "BatchMode=yes"
                  "-o" "ControlMaster=no" "-o" "ControlPath=none"
                  ;; It says when the server does not answer there.
                  "-o" "LogLevel=INFO")
            opencode-remote-ssh-options
            (cl-loop for group in (tramp-get-method-parameter vec 'tramp-login-args)
                     for args = (mapcar (lambda (a) (format-spec a spec 'ignore)) group)
                     unless (member "" args) append args))))

(defun opencode-remote--port-open-p (port)
  "Return non-nil if something accepts connections on 127.0.0.1:PORT."
  (condition-case nil
      (progn (delete-process (make-network-process :name " opencode-tunnel-probe"
                                                   :host "127.0.0.1" :service port
                                                   :family 'ipv4 :noquery t))
             t)
    (file-error nil)))

(defun opencode-remote--tunnel-spawn (host)
  "Start HOST's tunnel process; return it."
  (let* ((default-directory (expand-file-name "~/"))
         (buf (generate-new-buffer (format " *opencode-tunnel %s*" (opencode-remote-host-label host))))
         (proc (make-process
                :name (format "opencode-tunnel %s" (opencode-remote-host-label host))
                :buffer buf :command (opencode-remote--ssh-command host)
                :connection-type 'pipe :noquery t
                :filter (lambda (p s) (opencode-remote--tunnel-filter host p s))
                :sentinel (lambda (p _event) (opencode-remote--tunnel-sentinel host p)))))
    (setf (opencode-remote-host-tunnel host) proc)
    proc))

(defun opencode-remote--tunnel-output (proc)
  "Return the last line PROC, a tunnel, said about itself, or nil.
Not the lines about the host's key nor about one forwarded connection."
  (when (buffer-live-p (process-buffer proc))
    (with-current-buffer (process-buffer proc)
      (let ((lines (cl-remove-if
                    (lambda (l) (string-match-p "\\`Warning: Permanently added\\|\\`channel [0-9]+: " l))
                    (split-string (buffer-string) "[\r\n]+" t "[ \t]+"))))
        (car (last lines))))))

(defun opencode-remote--tunnel-why (host proc)
  "Return why PROC, HOST's tunnel, ended, in words."
  (let ((said (opencode-remote--tunnel-output proc))
        (label (opencode-remote-host-label host)))
    (cond ((eq (process-status proc) 'signal)
           (format "its ssh process was killed (signal %d)" (process-exit-status proc)))
          ((null said) (format "ssh to %s ended (exit %s)" label (process-exit-status proc)))
          ((string-match-p "Permission denied\\|Too many authentication failures\\|Host key verification failed" said)
           (format "ssh to %s was refused: %s" label said))
          ((string-match-p "Address already in use\\|cannot listen to port" said)
           (format "local port %d is taken" (opencode-remote-host-local-port host)))
          ((string-match-p "Timeout, server .* not responding\\|Broken pipe\\|Connection reset\\|Connection timed out\\|closed by remote host" said)
           (format "the network to %s dropped (%s)" label said))
          (t (format "ssh to %s ended: %s" label said)))))

(defun opencode-remote--refused-p (why)
  "Return non-nil if WHY says ssh refused the key or password."
  (string-match-p "was refused" why))

(defun opencode-remote--open-tunnel (host)
  "Open HOST's tunnel to its server and wait until it carries connections.
Signal an error saying why when it cannot."
  (let ((tries 0) (done nil))
    (while (not done)
      (setf (opencode-remote-host-local-port host) (opencode-server-free-port)
            (opencode-remote-host-state host) 'opening)
      (let* ((proc (opencode-remote--tunnel-spawn host))
             (port (opencode-remote-host-local-port host))
             (deadline (+ (float-time) opencode-server-start-timeout)))
        (while (and (process-live-p proc) (not (opencode-remote--port-open-p port))
                    (< (float-time) deadline))
          (accept-process-output proc 0.05))
        (cond ((and (process-live-p proc) (opencode-remote--port-open-p port))
               (setq done t))
              ((process-live-p proc)
               (delete-process proc)
               (signal 'opencode-server-error
                       (list (format "ssh to %s opened no tunnel within %ss"
                                     (opencode-remote-host-label host)
                                     opencode-server-start-timeout))))
              (t
               (let ((why (opencode-remote--tunnel-why host proc)))
                 ;; A local port taken meanwhile: another one.
                 (unless (and (string-prefix-p "local port" why) (< (cl-incf tries) 3))
                   (signal 'opencode-server-error (list (concat why "."))))))))))
  (setf (opencode-remote-host-state host) 'up
        (opencode-remote-host-why host) nil
        (opencode-remote-host-retries host) 0))

(defun opencode-remote--tunnel-filter (host proc output)
  "Keep OUTPUT of HOST's tunnel PROC; notice a server that does not answer."
  (when (buffer-live-p (process-buffer proc))
    (with-current-buffer (process-buffer proc)
      (goto-char (point-max))
      (insert output)
      (when (> (buffer-size) 20000)
        (delete-region (point-min) (- (point-max) 10000)))))
  (opencode--log "tunnel to %s: %s" (opencode-remote-host-label host) (string-trim output))
  (when (and (string-match-p "open failed: connect failed" output)
             (eq proc (opencode-remote-host-tunnel host))
             (eq (opencode-remote-host-state host) 'up)
             (not (opencode-remote-host-checking host)))
    (setf (opencode-remote-host-checking host) t)
    (run-at-time 0 nil #'opencode-remote--check-server host)))

(defun opencode-remote--say (host why)
  "Say WHY where the user looks: the echo area and HOST's connections.
Each connection stops retrying and shows WHY until it reconnects."
  (message "OpenCode: %s" why)
  (opencode--log "%s: %s" (opencode-remote-host-label host) why)
  (dolist (conn (opencode-remote--connections host))
    (opencode-connection-give-up conn why)))

(defun opencode-remote--tunnel-sentinel (host proc)
  "Say that HOST's tunnel PROC ended unasked, and open it again later."
  (when (and (not (process-live-p proc))
             (eq proc (opencode-remote-host-tunnel host))
             (memq (opencode-remote-host-state host) '(up opening-again)))
    (let ((why (opencode-remote--tunnel-why host proc)))
      (opencode--log "tunnel to %s ended: %s" (opencode-remote-host-label host) why)
      (opencode-remote--cancel-timer host)
      (if (opencode-remote--refused-p why)
          (progn
            (setf (opencode-remote-host-state host) 'failed
                  (opencode-remote-host-why host) why)
            (opencode-remote--say host (format "the SSH tunnel is down: %s; g retries" why)))
        (let ((delay (min opencode-reconnect-max-delay
                          (* opencode-reconnect-min-delay
                             (expt 2 (opencode-remote-host-retries host))))))
          (cl-incf (opencode-remote-host-retries host))
          (setf (opencode-remote-host-state host) 'down
                (opencode-remote-host-why host) why
                (opencode-remote-host-timer host)
                (run-at-time delay nil #'opencode-remote--tunnel-again host))
          (opencode-remote--say host (format "the SSH tunnel is down: %s; reopening it in %d s"
                                             why (ceiling delay))))))
    (when (buffer-live-p (process-buffer proc))
      (kill-buffer (process-buffer proc)))))

(defun opencode-remote--cancel-timer (host)
  "Cancel HOST's pending retry or wait."
  (when (timerp (opencode-remote-host-timer host))
    (cancel-timer (opencode-remote-host-timer host)))
  (setf (opencode-remote-host-timer host) nil))

(defun opencode-remote--tunnel-again (host)
  "Open HOST's tunnel again on its local port, without waiting for it.
When it carries connections, HOST's connections reconnect."
  (when (memq (opencode-remote-host-state host) '(down failed))
    (opencode-remote--cancel-timer host)
    (setf (opencode-remote-host-state host) 'opening-again)
    (let* ((proc (opencode-remote--tunnel-spawn host))
           (port (opencode-remote-host-local-port host))
           (timer nil))
      (setq timer
            (run-at-time
             0.1 0.1
             (lambda ()
               (cond ((not (and (eq proc (opencode-remote-host-tunnel host))
                                (process-live-p proc)))
                      (cancel-timer timer))
                     ((opencode-remote--port-open-p port)
                      (cancel-timer timer)
                      (setf (opencode-remote-host-timer host) nil)
                      (opencode-remote--tunnel-back host))))))
      (setf (opencode-remote-host-timer host) timer))))

(defun opencode-remote--tunnel-back (host)
  "HOST's tunnel carries connections again: say so and reconnect."
  (setf (opencode-remote-host-state host) 'up
        (opencode-remote-host-why host) nil
        (opencode-remote-host-retries host) 0)
  (message "OpenCode: the SSH tunnel to %s is back" (opencode-remote-host-label host))
  (opencode--log "tunnel to %s is back" (opencode-remote-host-label host))
  (mapc #'opencode-connection-reconnect (opencode-remote--connections host)))

;;;; A server that does not answer

(defun opencode-remote--with-tramp (host fn)
  "Call FN, which uses TRAMP for HOST, from a timer; again later if TRAMP is busy.
TRAMP refuses a call made while it waits for the host itself."
  (condition-case err
      (funcall fn)
    (error
     (if (string-match-p "reentrant" (error-message-string err))
         (run-at-time 0.5 nil #'opencode-remote--with-tramp host fn)
       (setf (opencode-remote-host-checking host) nil)
       (opencode-remote--say host (format "cannot look at the server on %s: %s"
                                          (opencode-remote-host-label host)
                                          (error-message-string err)))))))

(defun opencode-remote--check-server (host)
  "Look at HOST's server, which the tunnel says does not answer.
A server that died is restarted on its port, up to
`opencode-server-restart-limit' times in a row."
  (opencode-remote--with-tramp
   host
   (lambda ()
     (let ((label (opencode-remote-host-label host)))
       (if (not (opencode-remote-host-pid host))
           (progn
             (setf (opencode-remote-host-checking host) nil)
             (opencode-remote--say
              host (format "nothing answers on port %d of %s: is its server running?"
                           (opencode-remote-host-remote-port host) label)))
         (pcase-let ((`(,alive ,_ ,output) (opencode-remote--poll host)))
           (cond
            (alive
             ;; Starting, or busy: the connections go on retrying.
             (run-at-time 5 nil (lambda () (setf (opencode-remote-host-checking host) nil))))
            ((>= (opencode-remote-host-restarts host) opencode-server-restart-limit)
             (setf (opencode-remote-host-checking host) nil
                   (opencode-remote-host-state host) 'failed
                   (opencode-remote-host-why host) "its server stopped too often")
             (opencode-remote--say
              host (format "the server on %s stopped and was restarted %s; not again (g restarts it)"
                           label (opencode--plural (opencode-remote-host-restarts host) "time"))))
            (t
             (cl-incf (opencode-remote-host-restarts host))
             (opencode--log "the server on %s stopped; its last output: %s" label output)
             (opencode-remote--say
              host (format "the server on %s stopped; restarting it (%d/%d)" label
                           (opencode-remote-host-restarts host) opencode-server-restart-limit))
             (opencode-remote--restart host)))))))))

(defun opencode-remote--restart (host)
  "Start HOST's server again on its port; reconnect once it listens."
  (setf (opencode-remote-host-state host) 'restarting)
  (opencode-remote--spawn host (opencode-remote-host-remote-port host))
  (let ((deadline (+ (float-time) opencode-server-start-timeout))
        (timer nil))
    (setq timer
          (run-at-time
           0.5 0.5
           (lambda ()
             (opencode-remote--with-tramp
              host
              (lambda ()
                (when (memq timer timer-list)
                  (pcase-let ((`(,alive ,port ,output) (opencode-remote--poll host)))
                    (cond
                     (port
                      (cancel-timer timer)
                      (opencode-remote--record host)
                      (setf (opencode-remote-host-state host) 'up
                            (opencode-remote-host-checking host) nil)
                      (message "OpenCode: the server on %s listens again"
                               (opencode-remote-host-label host))
                      ;; It answers a moment after it says it listens.
                      (run-at-time 0.25 nil
                                   (lambda ()
                                     (mapc #'opencode-connection-reconnect
                                           (opencode-remote--connections host)))))
                     ((or (not alive) (> (float-time) deadline))
                      (cancel-timer timer)
                      (setf (opencode-remote-host-checking host) nil
                            (opencode-remote-host-state host) 'failed)
                      (opencode-remote--say
                       host (format "the server on %s did not start again: %s"
                                    (opencode-remote-host-label host)
                                    (opencode--first-line output 200))))))))))))
    (setf (opencode-remote-host-timer host) timer)))

;;;; Using a host

(defun opencode-remote--auth (prefix port)
  "Return the password of the server on PREFIX's host at PORT, or nil."
  (when (require 'auth-source nil t)
    (let* ((found (car (auth-source-search :host (file-remote-p prefix 'host)
                                           :port port :max 1)))
           (secret (plist-get found :secret)))
      (if (functionp secret) (funcall secret) secret))))

(defun opencode-remote--setup (host directory)
  "Find or start HOST's server, for DIRECTORY, and open the tunnel to it."
  (let* ((prefix (opencode-remote-host-prefix host))
         (listed (opencode-remote--lookup opencode-remote-servers prefix)))
    (opencode-remote--check-method prefix)
    (setf (opencode-remote-host-directory host) (opencode-remote-host-name directory)
          (opencode-remote-host-restarts host) 0
          (opencode-remote-host-checking host) nil
          (opencode-remote-host-started host) nil
          (opencode-remote-host-pid host) nil)
    (if listed
        (setf (opencode-remote-host-remote-port host) listed
              (opencode-remote-host-password host) (opencode-remote--auth prefix listed))
      (pcase (opencode-remote--recorded host)
        (`(,port ,pid ,password)
         (setf (opencode-remote-host-remote-port host) port
               (opencode-remote-host-pid host) pid
               (opencode-remote-host-password host) password))
        (_ (opencode-remote--start-server host))))
    (opencode-remote--open-tunnel host)
    ;; A recorded server that is not what it was (its port reused):
    ;; a new one.
    (when (and (not listed) (not (opencode-remote-host-started host))
               (not (consp (opencode-connection-probe (opencode-remote-url host) "opencode"
                                                      (opencode-remote-host-password host)))))
      (opencode-remote--close-tunnel host)
      (opencode-remote--start-server host)
      (opencode-remote--open-tunnel host))
    host))

(defun opencode-remote-target (directory)
  "Return (URL HOST USER . PASSWORD) of the server for DIRECTORY, a remote one.
Find or start the server on DIRECTORY's host and open the tunnel to it,
unless that is done."
  (let* ((prefix (opencode-remote-prefix directory))
         (host (or (gethash prefix opencode-remote--hosts)
                   (puthash prefix (opencode-remote-server--make-host
                                    :prefix prefix
                                    :label (opencode-remote-label prefix))
                            opencode-remote--hosts))))
    (when (eq (opencode-remote-host-state host) 'closed)
      (condition-case err
          (opencode-remote--setup host directory)
        ((error quit)
         (opencode-remote--close-tunnel host)
         (setf (opencode-remote-host-state host) 'closed)
         (if (memq (car err) '(opencode-server-error quit))
             (signal (car err) (cdr err))
           ;; TRAMP's own failures: the host in words.
           (signal 'opencode-server-error
                   (list (format "Cannot use a server on %s: %s" (opencode-remote-host-label host)
                                 (error-message-string err))))))))
    (cl-list* (opencode-remote-url host) host
              (and (opencode-remote-host-password host) "opencode")
              (opencode-remote-host-password host))))

(defun opencode-remote-revive (host)
  "Make HOST usable again now, as `g' asks: reopen its tunnel or server."
  (pcase (opencode-remote-host-state host)
    ((or 'down 'failed)
     (if (and (opencode-remote-host-why host)
              (string-prefix-p "its server" (opencode-remote-host-why host)))
         (progn (setf (opencode-remote-host-restarts host) 0)
                (opencode-remote--restart host))
       (opencode-remote--tunnel-again host))
     t)
    ('up nil)
    (_ t)))

(defun opencode-remote-describe (host)
  "Return HOST's tunnel and server in words, for the status view."
  (format "%s, through an SSH tunnel (port %s here, %s there; %s)%s"
          (opencode-remote-host-label host)
          (opencode-remote-host-local-port host) (opencode-remote-host-remote-port host)
          (pcase (opencode-remote-host-state host)
            ('up "up")
            ((or 'opening 'opening-again) "opening")
            ('restarting "the server restarting")
            (_ (format "down: %s" (or (opencode-remote-host-why host) "?"))))
          (cond ((opencode-remote-host-started host)
                 (format "\n             server started by this Emacs, pid %s, restarted %s"
                         (opencode-remote-host-pid host)
                         (opencode--plural (opencode-remote-host-restarts host) "time")))
                ((opencode-remote-host-pid host)
                 (format "\n             server recorded on the host, pid %s"
                         (opencode-remote-host-pid host)))
                (t "\n             server from `opencode-remote-servers'"))))

(defun opencode-remote--close-tunnel (host)
  "End HOST's tunnel, asked: nothing is said, nothing reopened."
  (opencode-remote--cancel-timer host)
  (let ((proc (opencode-remote-host-tunnel host)))
    (setf (opencode-remote-host-tunnel host) nil)
    (when (processp proc)
      (delete-process proc)
      (when (buffer-live-p (process-buffer proc))
        (kill-buffer (process-buffer proc))))))

(defun opencode-remote-close (host)
  "Close HOST: its tunnel, and its server if this Emacs started it.
The server stays when `opencode-remote-stop-servers' is nil.  Close
HOST's connections first."
  (opencode-remote--close-tunnel host)
  (when (and (opencode-remote-host-started host) opencode-remote-stop-servers)
    ;; Never open a connection to the host for this.
    (let ((non-essential t))
      (ignore-errors (when (tramp-connectable-p (opencode-remote-host-prefix host))
                       (opencode-remote--kill-server host)))))
  (setf (opencode-remote-host-state host) 'closed
        (opencode-remote-host-started host) nil))

(defun opencode-remote-close-all ()
  "Close every remote host (see `opencode-remote-close')."
  (dolist (host (opencode-remote-hosts))
    (unless (eq (opencode-remote-host-state host) 'closed)
      (opencode-remote-close host))))

(add-hook 'kill-emacs-hook #'opencode-remote-close-all)

(provide 'opencode-remote-server)
;;; opencode-remote-server.el ends here

;;; opencode-remote-test.el --- Remote projects over TRAMP, for real  -*- lexical-binding: t; -*-

;;; Commentary:

;; A real sshd (Debian's openssh-server) on 127.0.0.1 on a free port,
;; with a host key and a user key made by the test, plays the remote
;; host; TRAMP's `ssh' method reaches it with the test's key.  The
;; project is a scratch git repository opened by its TRAMP name; the
;; real pinned server runs "there" (started by the package over TRAMP,
;; with the scratch HOME the sshd gives its sessions) and answers with
;; the tests' mock model, through the tunnel the package opens.  The
;; tests skip, saying why, only where sshd cannot run.

;;; Code:

(require 'ert)
(require 'tramp)
(require 'opencode-test-helpers)
(require 'opencode-remote)
(require 'opencode-remote-server)
(require 'opencode-sessions)
(require 'opencode-chat)
(require 'opencode-status)
(require 'opencode-prompt)
(require 'opencode-diff)

(defconst opencode-remote-test--sshd "/usr/sbin/sshd"
  "The sshd the tests run (Debian's openssh-server).")

(defun opencode-remote-test--sshd-missing ()
  "Return why sshd cannot run here, or nil."
  (cond ((not (file-executable-p opencode-remote-test--sshd))
         (format "no %s (apt-get install openssh-server)" opencode-remote-test--sshd))
        ((not (executable-find "ssh-keygen")) "no ssh-keygen")
        ((not (executable-find "ssh")) "no ssh")
        ((not (opencode-test-server-program)) "no OpenCode server (make deps)")))

(defun opencode-remote-test--keygen (file)
  "Make an ed25519 key pair without passphrase at FILE and FILE.pub."
  (unless (eql 0 (call-process "ssh-keygen" nil nil nil "-q" "-t" "ed25519" "-N" "" "-f" file))
    (error "ssh-keygen failed for %s" file)))

(defun opencode-remote-test--sshd-config (dir port environment)
  "Write DIR/sshd_config for PORT, giving sessions ENVIRONMENT; return its name."
  (let ((file (expand-file-name "sshd_config" dir)))
    (with-temp-file file
      (insert (format "ListenAddress 127.0.0.1\nPort %d\n" port)
              (format "HostKey %s\n" (expand-file-name "host_key" dir))
              "PidFile none\n"
              (format "AuthorizedKeysFile %s\n" (expand-file-name "authorized_keys" dir))
              "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
              "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
              "PermitRootLogin prohibit-password\n"
              ;; The sessions' HOME and the server's switches: the
              ;; "remote" user's cache and the server's data are the
              ;; test's own.
              "SetEnv " (string-join environment " ") "\n"))
    file))

(defvar opencode-remote-test--sshds nil
  "The sshd processes the tests run, stopped even when Emacs is killed.
sshd takes the hang-up Emacs sends its processes as exiting for an
order to start again, so it is killed here.")

(defun opencode-remote-test--kill-sshds ()
  "Kill the tests' sshd processes."
  (dolist (p opencode-remote-test--sshds)
    (when (process-live-p p) (signal-process p 'KILL))))

(add-hook 'kill-emacs-hook #'opencode-remote-test--kill-sshds)

(defun opencode-remote-test--start-sshd (dir environment)
  "Start sshd for DIR's keys, giving sessions ENVIRONMENT; return (PROCESS . PORT).
Skip the test, saying why, if sshd cannot run."
  (when (and (zerop (user-uid)) (not (file-directory-p "/run/sshd")))
    ;; Its privilege separation directory, which the ssh service makes
    ;; at boot; without it sshd refuses to start as root.
    (make-directory "/run/sshd" t)
    (set-file-modes "/run/sshd" #o755))
  (let* ((port (opencode-server-free-port))
         (config (opencode-remote-test--sshd-config dir port environment))
         (proc (make-process :name "opencode-test-sshd"
                             :buffer (generate-new-buffer " *opencode-test-sshd*")
                             :command (list opencode-remote-test--sshd "-D" "-e" "-f" config)
                             :connection-type 'pipe :noquery t)))
    (push proc opencode-remote-test--sshds)
    (opencode-test-wait (lambda () (or (not (process-live-p proc))
                                       (opencode-remote--port-open-p port)))
                        10)
    (unless (process-live-p proc)
      (let ((said (with-current-buffer (process-buffer proc) (string-trim (buffer-string)))))
        (kill-buffer (process-buffer proc))
        (ert-skip (format "sshd cannot run here: %s" said))))
    (cons proc port)))

(defun opencode-remote-test--login-args (key)
  "Return TRAMP login arguments of the ssh method that use KEY and no known hosts."
  `(("-l" "%u") ("-p" "%p") ("-F" "/dev/null") ("-i" ,key) ("-o" "IdentitiesOnly=yes")
    ("-o" "UserKnownHostsFile=/dev/null") ("-o" "StrictHostKeyChecking=no")
    ("-o" "LogLevel=ERROR") ("-e" "none") ("%h")))

(defmacro opencode-remote-test-with-host (&rest body)
  "Run BODY with a project on a \"remote\" host reached over TRAMP.
Bound in BODY: `dir' (the project's TRAMP name, with a slash),
`project' (its path on the host), `prefix' (the host's TRAMP prefix),
`keys' (the directory of the key files and authorized_keys) and
`mock' (the mock model's server).  Everything started is stopped
afterwards: the tunnel, the server on the host, TRAMP's connection,
sshd."
  (declare (indent 0) (debug (body)))
  `(let ((missing (opencode-remote-test--sshd-missing)))
     (when missing (ert-skip (format "sshd cannot run here: %s" missing)))
     (let* ((root (make-temp-file "opencode-remote-test-" t))
            (keys (expand-file-name "keys" root))
            (home (expand-file-name "home" root))
            (project (expand-file-name "project" root))
            (mock (opencode-test-http-start #'opencode-test--mock-handler))
            (opencode-test-mock-requests nil)
            (opencode-test-mock-hanging nil)
            (sshd nil)
            (prefix nil)
            (dir nil)
            (opencode-server-url nil)
            (opencode-connections nil)
            (opencode-global-connection nil)
            (opencode-remote--hosts (make-hash-table :test 'equal))
            (opencode-remote-servers nil)
            (opencode-remote-program nil)
            (opencode-remote-stop-servers t)
            (opencode-cache-directory (expand-file-name "cache" root))
            (tramp-persistency-file-name nil)
            (tramp-connection-properties tramp-connection-properties)
            (tramp-verbose 0))
       (make-directory keys t)
       (unwind-protect
           (progn
             (opencode-remote-test--keygen (expand-file-name "host_key" keys))
             (opencode-remote-test--keygen (expand-file-name "user_key" keys))
             (copy-file (expand-file-name "user_key.pub" keys)
                        (expand-file-name "authorized_keys" keys))
             (setq sshd (opencode-remote-test--start-sshd
                         keys (opencode-test-scratch-home home)))
             (setq prefix (format "/ssh:%s@127.0.0.1#%d:" (user-login-name) (cdr sshd)))
             (push (list (regexp-quote prefix) "login-args"
                         (opencode-remote-test--login-args (expand-file-name "user_key" keys)))
                   tramp-connection-properties)
             (setq opencode-remote-program `((,prefix . ,(opencode-test-server-program))))
             (opencode-test--make-project project)
             (with-temp-file (expand-file-name "opencode.json" project)
               (insert (json-serialize
                        `(:$schema "https://opencode.ai/config.json"
                                   :provider (:mock (:npm "@ai-sdk/openai-compatible" :name "Mock"
                                                          :options (:baseURL ,(format "http://127.0.0.1:%d/v1"
                                                                                      (opencode-test-port mock))
                                                                             :apiKey "x")
                                                          :models (:mock-1 (:name "Mock 1"))))
                                   :model "mock/mock-1" :small_model "mock/mock-1"))))
             (setq dir (concat prefix project "/"))
             ,@body)
         (opencode-remote-test--end sshd prefix root mock)))))

(defun opencode-remote-test--end (sshd prefix root mock)
  "Stop what a test started: connections, hosts, TRAMP, SSHD; remove ROOT.
PREFIX is the host's TRAMP prefix, MOCK the mock model's server."
  (let ((pids (delq nil (mapcar #'opencode-remote-host-pid (opencode-remote-hosts)))))
    (ignore-errors (opencode-disconnect-all))
    ;; The host is this machine: a server the package failed to stop
    ;; is stopped here.
    (dolist (pid pids)
      (ignore-errors (signal-process pid 'KILL))))
  (when prefix (ignore-errors (tramp-cleanup-connection (tramp-dissect-file-name prefix) nil t)))
  (when sshd
    (delete-process (car sshd))
    (setq opencode-remote-test--sshds (delq (car sshd) opencode-remote-test--sshds))
    (kill-buffer (process-buffer (car sshd))))
  (mapc #'delete-process opencode-test-mock-hanging)
  (delete-process mock)
  (delete-directory root t))

(defun opencode-remote-test--host (prefix)
  "Return the remote host of PREFIX."
  (gethash prefix opencode-remote--hosts))

(defun opencode-remote-test--connected (conn)
  "Wait until CONN is connected; return non-nil if it is."
  (opencode-test-wait (lambda () (eq (opencode-connection-state conn) 'connected)) 60))

(defun opencode-remote-test--says (conn regexp)
  "Wait until CONN's state, in words, matches REGEXP; return those words."
  (opencode-test-wait (lambda ()
                        (let ((text (opencode-connection-state-text conn)))
                          (and (string-match-p regexp text) text)))
                      60))

(ert-deftest opencode-remote/names-both-ways ()
  "Emacs names a remote file by TRAMP, the server by its host path."
  (let ((dir "/ssh:me@build#2200:/src/app"))
    (should (equal (opencode-remote-host-name dir) "/src/app"))
    (should (equal (opencode-remote-host-name "/src/app") "/src/app"))
    (should (equal (opencode-remote-local-name "/src/app/a.c" dir) "/ssh:me@build#2200:/src/app/a.c"))
    (should (equal (opencode-remote-local-name "lib/b.c" dir) "/ssh:me@build#2200:/src/app/lib/b.c"))
    (should (equal (opencode-remote-local-name "/src/app/a.c" "/src/app") "/src/app/a.c"))
    (should (equal (opencode-remote-file-url (concat dir "/a.c")) "file:///src/app/a.c"))
    (should (equal (opencode-remote-directory-words dir) "/src/app on me@build#2200"))
    ;; A tool part names the host's path: the chat shows it relative
    ;; to the project, and a diff finds it.
    (opencode-test-with-chat "ses_x"
      (setf (opencode-connection-directory conn) dir)
      (should (equal (opencode-tools-relative "/src/app/lib/b.c") "lib/b.c"))
      (should (equal (opencode-tools-relative "/etc/passwd") "/etc/passwd"))
      (should (opencode-diff--same-file-p "lib/b.c" "/src/app/lib/b.c" (concat dir "/"))))
    ;; A file @mentioned goes to the server as a path it can read.
    (should (equal (plist-get (opencode-prompt--file-part (concat dir "/a.c")) :url)
                   "file:///src/app/a.c"))
    (should (equal (plist-get (opencode-prompt--file-part (list (concat dir "/a.c") 3 9)) :url)
                   "file:///src/app/a.c?start=3&end=9"))))

(ert-deftest opencode-remote/the-wire-names-the-host-path ()
  "The event stream and every request of a remote project name its host path."
  (let* ((paths nil)
         (server (opencode-test-http-start
                  (lambda (proc _method path _headers _body)
                    (push path paths)
                    (if (string-prefix-p "/event" path)
                        (process-send-string
                         proc "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
                      (opencode-test-respond proc "200 OK" "application/json" "[]")))))
         (opencode-connections nil)
         (conn (opencode-connection-open (format "http://127.0.0.1:%d" (opencode-test-port server))
                                         "/ssh:me@build:/src/app")))
    (unwind-protect
        (progn
          (should (equal (opencode-connection-directory conn) "/ssh:me@build:/src/app"))
          (opencode-request-sync conn "GET" "/session")
          (should (member "/session?directory=%2Fsrc%2Fapp" paths))
          (should (opencode-test-wait (lambda () (member "/event?directory=%2Fsrc%2Fapp" paths)) 10)))
      (opencode-connection-close conn)
      (delete-process server))))

(ert-deftest opencode-remote/tunnel-is-tramps-login ()
  "The tunnel's ssh is TRAMP's login for the host, its options included."
  (let* ((tramp-connection-properties
          (cons (list (regexp-quote "/ssh:me@tunnel#2200:") "login-args"
                      '(("-l" "%u") ("-p" "%p") ("-i" "/keys/k") ("-e" "none") ("%h")))
                tramp-connection-properties))
         (host (opencode-remote-server--make-host :prefix "/ssh:me@tunnel#2200:" :label "me@tunnel#2200"
                                                  :local-port 20001 :remote-port 4096))
         (command (opencode-remote--ssh-command host)))
    (should (equal (car command) "ssh"))
    (should (equal (cl-subseq command 1 4) '("-N" "-L" "127.0.0.1:20001:127.0.0.1:4096")))
    (should (member "ExitOnForwardFailure=yes" command))
    (should (member "BatchMode=yes" command))
    (should (equal (last command 9) '("-l" "me" "-p" "2200" "-i" "/keys/k" "-e" "none" "tunnel")))
    ;; Only ssh methods; no hops.
    (should-error (opencode-remote--check-method "/sudo:root@localhost:")
                  :type 'opencode-server-error)))

(defun opencode-remote-test--file-button (file)
  "Return where the first button visiting FILE starts in this buffer, or nil."
  (let ((pos (point-min)) (found nil))
    (while (and (not found) pos (< pos (point-max)))
      (if (equal (get-text-property pos 'opencode-file) file)
          (setq found pos)
        (setq pos (next-single-property-change pos 'opencode-file))))
    (unless found
      (message "No button visiting %s in:\n%s" file (opencode-test--visible-text)))
    found))

(ert-deftest opencode-remote/list-chat-jump-and-tunnel-faults ()
  "From a remote directory: the list, a chat with the mock's answer, a
file jumped to over TRAMP; a dead tunnel, a killed server and a refused
key are said, and each recovers."
  (opencode-remote-test-with-host
    (let* ((default-directory dir)
           (list-buf (opencode-sessions))
           (conn (buffer-local-value 'opencode-sessions--conn list-buf))
           (host (opencode-remote-test--host prefix))
           (label (opencode-remote-label prefix))
           (chat nil))
      (unwind-protect
          (progn
            ;; The connection's directory is the TRAMP name; the list
            ;; says which host.
            (should (equal (opencode-connection-directory conn) (directory-file-name dir)))
            (should (opencode-remote-test--connected conn))
            (should (string-prefix-p "http://127.0.0.1:" (opencode-connection-url conn)))
            (should (opencode-remote-host-started host))
            (with-current-buffer list-buf
              (should (string-match-p (regexp-quote (format "%s on %s" project label))
                                      (opencode-sessions--header)))
              (opencode-sessions-create "remote work")
              (should (opencode-test-wait
                       (lambda () (member "remote work" (opencode-test--list-titles))) 30))
              (goto-char (point-min))
              (while (not (equal (ignore-errors (plist-get (opencode-sessions--session-at-point) :title))
                                 "remote work"))
                (forward-line 1))
              ;; The server made the session in the host's directory.
              (should (equal (plist-get (opencode-sessions--session-at-point) :directory) project))
              (setq chat (save-window-excursion
                           (call-interactively #'opencode-sessions-open)
                           (current-buffer))))
            ;; The agent reads the README (by its path on the host), then answers.
            (setq opencode-test-mock-script
                  (list (append (opencode-test--tool-call
                                 "read" `(:filePath ,(expand-file-name "README" project)))
                                '(:tool_calls))
                        '((:content "The README names the project.") :stop)))
            (opencode-test--prompt chat "What does the README say?")
            (with-current-buffer chat
              (should (opencode-test-wait
                       (lambda () (string-match-p "The README names the project\\."
                                                  (opencode-test--visible-text)))
                       60))
              ;; The tool part names the file relative to the project;
              ;; RET on it visits it over TRAMP.
              (goto-char (point-min))
              (let ((at (opencode-remote-test--file-button (expand-file-name "README" project))))
                (should at)
                (goto-char at)
                (should (string-prefix-p "README" (buffer-substring-no-properties at (+ at 6))))
                (let ((visited (save-window-excursion
                                 (opencode-chat-visit-file-at-point)
                                 (current-buffer))))
                  (unwind-protect
                      (should (equal (buffer-file-name visited)
                                     (concat prefix (expand-file-name "README" project))))
                    (kill-buffer visited)))))
            ;; The tunnel dies: said, then reopened, and the chat reconnects.
            (signal-process (opencode-remote-host-tunnel host) 'KILL)
            (should (opencode-remote-test--says conn "SSH tunnel is down: its ssh process was killed (signal 9)"))
            (should (opencode-remote-test--connected conn))
            (should (eq (opencode-remote-host-state host) 'up))
            ;; The server on the host is killed: found dead, restarted on
            ;; its port, and the chat answers again.
            (let ((old (opencode-remote-host-pid host)))
              (signal-process old 'KILL)
              (should (opencode-remote-test--says conn "server on .* stopped; restarting it (1/3)"))
              (should (opencode-remote-test--connected conn))
              (should-not (equal old (opencode-remote-host-pid host))))
            (opencode-test--prompt chat "Still there?")
            (with-current-buffer chat
              (should (opencode-test-wait
                       (lambda () (string-match-p "Hello from the mock\\." (opencode-test--visible-text)))
                       60)))
            ;; The key is refused: said, not retried; taken again with g.
            (let ((authorized (expand-file-name "authorized_keys" keys)))
              (copy-file (expand-file-name "host_key.pub" keys) authorized t)
              (signal-process (opencode-remote-host-tunnel host) 'KILL)
              (should (opencode-remote-test--says conn "was refused: .*Permission denied"))
              (should (eq (opencode-remote-host-state host) 'failed))
              (copy-file (expand-file-name "user_key.pub" keys) authorized t)
              (opencode-connection-revive conn)
              (should (opencode-remote-test--connected conn)))
            ;; The status view says the host, the tunnel and the server.
            (let ((status (save-window-excursion (opencode-server-status dir))))
              (unwind-protect
                  (with-current-buffer status
                    (should (string-match-p
                             (format "Host +%s, through an SSH tunnel (port %d here, %d there; up)\n +server started by this Emacs, pid %d, restarted 1 time"
                                     (regexp-quote label) (opencode-remote-host-local-port host)
                                     (opencode-remote-host-remote-port host)
                                     (opencode-remote-host-pid host))
                             (opencode-test--visible-text))))
                (kill-buffer status)))
            ;; Another Emacs (here: this one, having forgotten the host,
            ;; its server left running) finds the server recorded there.
            (let ((pid (opencode-remote-host-pid host)))
              (let ((opencode-remote-stop-servers nil))
                (opencode-disconnect-all))
              (clrhash opencode-remote--hosts)
              (let* ((again (opencode-connect dir))
                     (found (opencode-remote-test--host prefix)))
                (should (opencode-remote-test--connected again))
                (should (equal (opencode-remote-host-pid found) pid))
                (should-not (opencode-remote-host-started found))
                ;; It is this Emacs's server no more: not stopped with it.
                (opencode-disconnect-all)
                (should (eql 0 (signal-process pid 0))))))
        (when (buffer-live-p chat) (kill-buffer chat))
        (kill-buffer list-buf)))))

(provide 'opencode-remote-test)
;;; opencode-remote-test.el ends here

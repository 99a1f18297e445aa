;;; opencode-rules.el --- A session's permission rules  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; `M-x opencode-permission-rules' (L in a chat or the session list)
;; shows what decides whether a session's tools run, ask or are
;; refused, and changes it:
;;
;; - the session's own rules (its `permission': permission, pattern,
;;   action), which keys add and change;
;; - what "always" replies allowed in the project;
;; - the project's rules, from opencode.json (GET /config).
;;
;; What the server does (1.18.33, measured and read in its source):
;; when a tool asks, the last rule that matches decides, among the
;; agent's rules (its defaults, then the config's), then the session's,
;; then the "always" approvals; none matching means ask.  PATCH
;; /session/:id adds rules after the session's and never removes one,
;; so a rule is "removed" by adding one that gives back what the
;; project's rules say.  An "always" reply adds an allow rule for each
;; of the request's `always' patterns to a list the server keeps in
;; memory for the project (not on the session, not in
;; /api/permission/saved, which stays empty), lists nowhere, and
;; forgets only all at once: when the project's instance is disposed of
;; \(POST /instance/dispose) or the server stops.  So the approvals shown
;; are those this Emacs saw given (the store records them), and
;; removing one reloads the project.

;;; Code:

(require 'cl-lib)
(require 'seq)
(require 'subr-x)
(require 'opencode-lib)
(require 'opencode-api)
(require 'opencode-model)

(declare-function opencode-chat-connection "opencode-chat" (&optional buffer))
(declare-function opencode-chat-session "opencode-chat" (&optional buffer))
(declare-function opencode-prompt-chat "opencode-prompt" (&optional buffer))

(defconst opencode-rules-permissions
  '("edit" "bash" "read" "glob" "grep" "list" "task" "webfetch" "websearch"
    "codesearch" "external_directory" "todowrite" "question" "skill" "lsp"
    "doom_loop" "*")
  "Permission names a rule can name, offered when adding one.
\"edit\" covers write and patch too; a rule may name any other tool,
an MCP server's say, and \"*\" names them all.")

(defconst opencode-rules-actions '("ask" "allow" "deny")
  "What a rule can do with what it matches.")

;;;; How the server reads rules

(defun opencode-rules-match (string pattern)
  "Return non-nil if STRING matches PATTERN as the server's wildcards do.
In PATTERN, * is any text and ? any character; a PATTERN that ends in
\" *\" matches without its arguments too (\"git *\" matches \"git\")."
  (let* ((string (replace-regexp-in-string "\\\\" "/" string))
         (re (mapconcat (lambda (c)
                          (pcase c
                            (?* ".*") (?? ".")
                            (?\\ "/")
                            (_ (regexp-quote (string c)))))
                        (string-to-list pattern) "")))
    (when (string-suffix-p " .*" re)
      (setq re (concat (substring re 0 -3) "\\(?: .*\\)?")))
    (let ((case-fold-search nil))
      (string-match-p (concat "\\`" re "\\'") string))))

(defun opencode-rules-evaluate (permission pattern &rest rulesets)
  "Return what RULESETS do with PERMISSION for PATTERN.
That is \"ask\", \"allow\" or \"deny\": the action of the last rule of
RULESETS, taken in order, whose permission and pattern match; none
matching means \"ask\"."
  (let ((found nil))
    (dolist (rules rulesets)
      (dolist (r rules)
        (when (and (opencode-rules-match permission (plist-get r :permission))
                   (opencode-rules-match pattern (plist-get r :pattern)))
          (setq found r))))
    (if found (plist-get found :action) "ask")))

(defun opencode-rules-effective (rules)
  "Return RULES without those a later rule replaces, in their order.
A rule followed by one of the same permission and pattern never
decides anything, so what the session holds reads as this."
  (let ((out nil))
    (dolist (r (reverse (append rules nil)))
      (unless (cl-find-if (lambda (o) (and (equal (plist-get o :permission) (plist-get r :permission))
                                           (equal (plist-get o :pattern) (plist-get r :pattern))))
                          out)
        (push r out)))
    out))

(defun opencode-rules-from-config (permission)
  "Return the rules the config's PERMISSION stands for, as the server reads it.
PERMISSION is the `permission' of GET /config: an action for all, or a
plist of permission -> action, or -> a plist of pattern -> action."
  (cond
   ((stringp permission) (list (list :permission "*" :pattern "*" :action permission)))
   ((consp permission)
    (cl-loop for (key value) on permission by #'cddr
             for name = (substring (symbol-name key) 1)
             if (stringp value)
             collect (list :permission name :pattern "*" :action value)
             else append (cl-loop for (pat action) on value by #'cddr
                                  collect (list :permission name
                                                :pattern (substring (symbol-name pat) 1)
                                                :action action))))))

;;;; The view

(defface opencode-rules-allow '((t :inherit success))
  "Face of the action \"allow\"."
  :group 'opencode)

(defface opencode-rules-deny '((t :inherit error))
  "Face of the action \"deny\"."
  :group 'opencode)

(defface opencode-rules-ask '((t :inherit warning))
  "Face of the action \"ask\"."
  :group 'opencode)

(defvar-local opencode-rules--conn nil "The connection of the session this view shows.")
(defvar-local opencode-rules--session nil "The session this view shows, the server's plist.")
(defvar-local opencode-rules--config nil
  "The project's rules from its config: a list of rules, or an error string.")
(defvar-local opencode-rules--agent nil
  "The rules of the session's agent (its defaults and the config's), or nil.")

(defvar opencode-rules--registry (opencode--registry-make 'opencode-rules--conn)
  "The rules views, for the events to redraw.")

(defun opencode-rules--action-text (action)
  "Return ACTION in words, in its face."
  (propertize (pcase action ("ask" "ask first") (_ (or action "?")))
              'face (pcase action
                      ("allow" 'opencode-rules-allow)
                      ("deny" 'opencode-rules-deny)
                      (_ 'opencode-rules-ask))))

(defun opencode-rules--baseline (rule)
  "Return what the project's rules do with RULE's permission and pattern."
  (opencode-rules-evaluate (plist-get rule :permission) (plist-get rule :pattern)
                           (if (listp opencode-rules--agent) opencode-rules--agent nil)
                           (and (not opencode-rules--agent) (listp opencode-rules--config)
                                opencode-rules--config)))

(defvar-local opencode-rules--widths '(10 . 10)
  "The widths of the permission and pattern columns, as drawn now.")

(defun opencode-rules--line (kind rule &optional note)
  "Return the line of RULE, of KIND `session', `approval' or `project'.
NOTE, a string, follows it."
  (propertize
   (concat "  " (string-pad (plist-get rule :permission) (car opencode-rules--widths)) "  "
           (string-pad (plist-get rule :pattern) (cdr opencode-rules--widths)) "  "
           (opencode-rules--action-text (plist-get rule :action))
           (if note (concat "  " (propertize note 'face 'opencode-chat-dim)) "")
           "\n")
   'opencode-rule (cons kind rule)))

(defun opencode-rules--dim (text)
  "Return TEXT, a line of explanation, indented and dim."
  (concat "  " (propertize text 'face 'opencode-chat-dim) "\n"))

(defun opencode-rules--title (sid)
  "Return the title of session SID as the store knows it, or SID."
  (let ((s (opencode-store-session opencode-rules--conn sid)))
    (or (and s (opencode-session-title s)) sid)))

(defun opencode-rules--insert ()
  "Insert the view of this buffer's session."
  (let* ((session opencode-rules--session)
         (rules (opencode-rules-effective (plist-get session :permission)))
         (approvals (opencode-store-project-approvals opencode-rules--conn))
         (all (append rules approvals (and (listp opencode-rules--config) opencode-rules--config))))
    (setq opencode-rules--widths
          (cons (apply #'max 10 (mapcar (lambda (r) (string-width (plist-get r :permission))) all))
                (apply #'max 10 (mapcar (lambda (r) (string-width (plist-get r :pattern))) all))))
    (insert (propertize (format "Permission rules of \"%s\"" (or (plist-get session :title) ""))
                        'face 'bold)
            "\n"
            (opencode-rules--dim
             "When a tool asks, the last rule that matches decides: the project's rules,")
            (opencode-rules--dim
             "then this session's, then what \"always\" allowed.  None matching: ask first.")
            (opencode-rules--dim
             (substitute-command-keys
              "\\<opencode-rules-mode-map>\\[opencode-rules-add] add  \
\\[opencode-rules-change] change the action  \\[opencode-rules-remove] remove  \
\\[opencode-rules-refresh] refresh  \\[opencode-rules-menu] all keys"))
            "\n" (propertize "This session's rules" 'face 'bold) "\n")
    (if (null rules)
        (insert (opencode-rules--dim "None: the project's rules decide."))
      (dolist (r rules)
        (insert (opencode-rules--line
                 'session r
                 (and (equal (plist-get r :action) (opencode-rules--baseline r))
                      "as the project's rules: changes nothing")))))
    (insert "\n" (propertize "Allowed with \"always\" in this project" 'face 'bold) "\n")
    (if (null approvals)
        (insert (opencode-rules--dim "None that this Emacs saw given."))
      (dolist (a approvals)
        (insert (opencode-rules--line
                 'approval (list :permission (plist-get a :permission)
                                 :pattern (plist-get a :pattern) :action "allow")
                 (format "since %s in \"%s\""
                         (format-time-string "%H:%M" (plist-get a :time))
                         (opencode-rules--title (plist-get a :session))))))
      (insert (opencode-rules--dim "The server keeps them until it stops, over every rule;")
              (opencode-rules--dim "it can only forget them all at once.")))
    (insert "\n" (propertize "The project's rules (opencode.json)" 'face 'bold) "\n")
    (cond ((stringp opencode-rules--config)
           (insert (opencode-rules--dim (concat "Not known: " opencode-rules--config))))
          ((null opencode-rules--config)
           (insert (opencode-rules--dim "None: the agent's own defaults decide.")))
          (t (dolist (r opencode-rules--config)
               (insert (opencode-rules--line 'project r)))))))

(defun opencode-rules--redraw ()
  "Redraw this view from what it holds, point on the same line."
  (let ((inhibit-read-only t)
        (line (line-number-at-pos))
        (col (current-column)))
    (erase-buffer)
    (opencode-rules--insert)
    (goto-char (point-min))
    (forward-line (1- line))
    (move-to-column col)))

(defun opencode-rules--fetch ()
  "Fetch this view's session, config and agent rules again (waiting)."
  (let* ((conn opencode-rules--conn)
         (sid (plist-get opencode-rules--session :id))
         (session (opencode-with-error-words (opencode-api-session-get conn sid :sync t)))
         (config (condition-case err (opencode-api-config conn :sync t)
                   (opencode-error (opencode-error-text err))))
         (agents (condition-case nil (opencode-api-agents conn :sync t :timeout 10)
                   (opencode-error nil)))
         (name (or (plist-get session :agent) (and (consp config) (plist-get config :default_agent))
                   "build"))
         (agent (seq-find (lambda (a) (equal (plist-get a :name) name)) agents)))
    (opencode-store-put-session conn session)
    (setq opencode-rules--session session
          opencode-rules--config (if (stringp config) config
                                   (opencode-rules-from-config (plist-get config :permission)))
          opencode-rules--agent (append (plist-get agent :permission) nil))))

(defun opencode-rules-refresh ()
  "Fetch the session's rules and the project's again, and redraw."
  (interactive)
  (opencode-rules--fetch)
  (opencode-rules--redraw))

;;;; Commands

(defun opencode-rules--at-point (&optional kinds)
  "Return (KIND . RULE) of the line at point, KIND one of KINDS if given.
Signal a `user-error' when there is none."
  (let ((r (get-text-property (line-beginning-position) 'opencode-rule)))
    (unless (and r (or (null kinds) (memq (car r) kinds)))
      (user-error "No %s on this line"
                  (if (equal kinds '(session)) "rule of the session" "rule")))
    r))

(defun opencode-rules--patch (rules what)
  "Add RULES after the session's rules on the server; say WHAT was done."
  (let ((session (opencode-with-error-words
                   (opencode-api-session-update opencode-rules--conn
                                                (plist-get opencode-rules--session :id)
                                                :permission rules :sync t))))
    (opencode-store-put-session opencode-rules--conn session)
    (setq opencode-rules--session session)
    (opencode-rules--redraw)
    (message "%s" what)))

(defun opencode-rules--read-action (prompt &optional except)
  "Read an action with PROMPT, among those other than EXCEPT."
  (completing-read prompt (remove except opencode-rules-actions) nil t))

(defun opencode-rules-add (permission pattern action)
  "Add a rule to the session: PERMISSION for PATTERN is ACTION.
Interactively, read them: a permission name, a pattern (default *)
and an action.  It comes after the session's rules, so it wins over them."
  (interactive
   (let* ((permission (completing-read "Permission (edit, bash, read…): "
                                       opencode-rules-permissions nil nil))
          (pattern (read-string (format-prompt "Pattern for %s" "*" permission) nil nil "*")))
     (list permission pattern
           (opencode-rules--read-action (format "Action for %s %s: " permission pattern)))))
  (when (string-empty-p permission) (user-error "No permission named"))
  (opencode-rules--patch (list (list :permission permission :pattern pattern :action action))
                         (format "Rule added: %s %s, %s" permission pattern action)))

(defun opencode-rules-change (action)
  "Change the action of the rule at point to ACTION.
On a rule of the project, give the session a rule of its own that
says ACTION for that permission and pattern."
  (interactive
   (let ((r (cdr (opencode-rules--at-point '(session project)))))
     (list (opencode-rules--read-action
            (format "New action for %s %s (now %s): " (plist-get r :permission) (plist-get r :pattern)
                    (plist-get r :action))
            (plist-get r :action)))))
  (let ((r (cdr (opencode-rules--at-point '(session project)))))
    (opencode-rules--patch (list (list :permission (plist-get r :permission)
                                       :pattern (plist-get r :pattern) :action action))
                           (format "Rule changed: %s %s, %s" (plist-get r :permission)
                                   (plist-get r :pattern) action))))

(defun opencode-rules--remove-rule (rule)
  "Give the session's RULE back to the project's rules, after asking."
  (let ((baseline (opencode-rules--baseline rule)))
    (when (equal baseline (plist-get rule :action))
      (user-error "This rule already says what the project's rules say (%s); \
the server cannot remove a rule" baseline))
    (when (y-or-n-p (format "The server keeps every rule it was given.  Make %s %s %s \
again, as the project's rules say? "
                            (plist-get rule :permission) (plist-get rule :pattern)
                            (if (equal baseline "ask") "ask first" baseline)))
      (opencode-rules--patch (list (list :permission (plist-get rule :permission)
                                         :pattern (plist-get rule :pattern) :action baseline))
                             (format "Rule given back to the project's: %s %s, %s"
                                     (plist-get rule :permission) (plist-get rule :pattern)
                                     baseline)))))

(defun opencode-rules--forget-approvals ()
  "Make the server forget the project's \"always\" approvals, after asking.
It can only forget them all, by disposing of the project's instance."
  (let* ((conn opencode-rules--conn)
         (n (length (opencode-store-project-approvals conn)))
         (busy (cl-count-if (lambda (s) (opencode-store-busy-p conn (opencode-session-id s)))
                            (hash-table-values (opencode-store-sessions (opencode-store conn))))))
    (when (y-or-n-p
           (format "The server forgets \"always\" approvals only all at once, by reloading \
the project%s.  Forget %s? "
                   (if (> busy 0)
                       (format ", which stops %s" (opencode--plural busy "running reply" "running replies"))
                     "")
                   (if (= n 1) "it" (format "all %d" n))))
      (opencode-with-error-words (opencode-api-instance-dispose conn :sync t :timeout 30))
      (opencode-store-forget-approvals conn)
      (opencode-rules--redraw-all conn)
      (message "The server forgot this project's \"always\" approvals"))))

(defun opencode-rules-remove ()
  "Remove the rule or the \"always\" approval at point.
The server never removes a session's rule: the session gets one that
says what the project's rules say.  It forgets \"always\" approvals
only all together, by reloading the project.  Each asks first."
  (interactive)
  (pcase-let ((`(,kind . ,rule) (opencode-rules--at-point)))
    (pcase kind
      ('session (opencode-rules--remove-rule rule))
      ('approval (opencode-rules--forget-approvals))
      (_ (user-error (substitute-command-keys
                      "The project's rules live in opencode.json: edit them there, \
or \\<opencode-rules-mode-map>\\[opencode-rules-change] to set this session's own"))))))

(defun opencode-rules--move (n)
  "Move to the Nth line of a rule below (above, N negative); return point.
Return nil, not moving, when there is none."
  (let ((pos (save-excursion
               (beginning-of-line)
               (let ((left (abs n)) (found nil))
                 (while (and (> left 0) (= (forward-line (if (> n 0) 1 -1)) 0) (not (eobp)))
                   (when (get-text-property (point) 'opencode-rule)
                     (setq left (1- left) found (point))))
                 (and (= left 0) found)))))
    (when pos (goto-char pos))))

(defun opencode-rules-next (&optional n)
  "Move to the next rule, or the Nth."
  (interactive "p")
  (unless (opencode-rules--move (or n 1)) (user-error "No rule below")))

(defun opencode-rules-previous (&optional n)
  "Move to the previous rule, or the Nth."
  (interactive "p")
  (unless (opencode-rules--move (- (or n 1))) (user-error "No rule above")))

(opencode-define-keys opencode-rules-mode-map opencode-rules-menu
  :parent special-mode-map
  :map-doc "Keymap of `opencode-rules-mode'."
  :menu-doc "The commands of a session's permission rules."
  :menu-key "?"
  ((("Rules"
     ("a" "add a rule" opencode-rules-add)
     ;; RET first: the key the view names is the one bound last.
     ("RET" nil opencode-rules-change)
     ("c" "change the action" opencode-rules-change)
     ("k" "remove rule / approvals" opencode-rules-remove))
    ("View"
     ("g" "refresh" opencode-rules-refresh)
     ("n" "next rule" opencode-rules-next)
     ("p" "previous rule" opencode-rules-previous)
     ("q" "quit" quit-window)))))

(define-derived-mode opencode-rules-mode special-mode "OpenCode-Rules"
  "Major mode of a session's permission rules.
\\{opencode-rules-mode-map}"
  (setq-local revert-buffer-function (lambda (&rest _) (opencode-rules-refresh)))
  (setq truncate-lines t)
  (opencode--registry-add opencode-rules--registry))

(defun opencode-rules--context ()
  "Return (CONN . SESSION) of where the user is: a chat or its prompt.
The session list has its own command, `opencode-sessions-permission-rules'."
  (cond
   ((derived-mode-p 'opencode-chat-mode)
    (cons (opencode-chat-connection) (opencode-chat-session)))
   ((derived-mode-p 'opencode-prompt-mode)
    (let ((chat (opencode-prompt-chat)))
      (unless (buffer-live-p chat) (user-error "This prompt's chat is gone"))
      (cons (opencode-chat-connection chat) (opencode-chat-session chat))))
   ((derived-mode-p 'opencode-rules-mode)
    (cons opencode-rules--conn opencode-rules--session))
   (t (user-error "Run it in a chat, or with L on a session of the session list"))))

;;;###autoload
(defun opencode-permission-rules (&optional conn session)
  "Show the permission rules of SESSION on CONN, and change them.
Interactively, the session of the chat or of its prompt (in the
session list, L runs `opencode-sessions-permission-rules').  The
view shows the session's own rules, what \"always\" replies allowed
in its project, and the project's rules from opencode.json; keys add
a rule, change its action, and remove a rule or the approvals.  It
follows the session's changes."
  (interactive)
  (unless conn
    (let ((here (opencode-rules--context)))
      (setq conn (car here) session (cdr here))))
  (let ((buf (get-buffer-create (format "*opencode-rules: %s*" (or (plist-get session :title)
                                                                   (plist-get session :id))))))
    (with-current-buffer buf
      (unless (derived-mode-p 'opencode-rules-mode) (opencode-rules-mode))
      (setq opencode-rules--conn conn
            opencode-rules--session session)
      (opencode-rules-refresh)
      (goto-char (point-min))
      (ignore-errors (opencode-rules-next)))
    (pop-to-buffer buf)
    buf))

;;;; Following the server

(defun opencode-rules--redraw-all (conn &optional session-id)
  "Redraw CONN's rules views, only SESSION-ID's if given."
  (dolist (b (opencode--registry-buffers opencode-rules--registry conn))
    (with-current-buffer b
      (when (or (null session-id) (equal session-id (plist-get opencode-rules--session :id)))
        (opencode-rules--redraw)))))

(opencode-defevent opencode-rules--on-session "session.updated" (conn props)
  "Show the session in PROPS, on CONN, as it is now in its rules views."
  (let* ((info (plist-get props :info))
         (id (plist-get info :id)))
    (dolist (b (opencode--registry-buffers opencode-rules--registry conn))
      (with-current-buffer b
        (when (equal id (plist-get opencode-rules--session :id))
          (setq opencode-rules--session info)
          (opencode-rules--redraw))))))

(opencode-defevent opencode-rules--on-approvals ("permission.replied" "server.instance.disposed")
    (conn _props)
  "Redraw CONN's rules views: the approvals may have changed."
  (opencode-rules--redraw-all conn))

(provide 'opencode-rules)
;;; opencode-rules.el ends here

;;; opencode-lib.el --- What the package's files share  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; The bottom layer, required by every other file and requiring none of
;; them: the customization group and the error hierarchy, the log
;; buffer, URL path and query encoding, directory names, a per-buffer
;; debounce, the registry of a view's buffers and the spinner of its
;; busy badges, the faces the views share, links in text, and a keys
;; table that makes both a keymap and a transient menu.  Names here are
;; `opencode--' (shared by the package) or `opencode-' (public).  What
;; the package does with the garbage collector is in opencode-gc.el.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'url-util)

(defgroup opencode nil
  "Client for the OpenCode AI coding agent server."
  :group 'tools
  :prefix "opencode-"
  :link '(url-link "https://opencode.ai"))

;;;; Errors

(define-error 'opencode-error "OpenCode error")
(define-error 'opencode-module-error "OpenCode module error" 'opencode-error)
(define-error 'opencode-http-error "OpenCode server error" 'opencode-error)
(define-error 'opencode-curl-error "OpenCode connection error" 'opencode-error)
(define-error 'opencode-json-error "OpenCode JSON error" 'opencode-error)
(define-error 'opencode-timeout "OpenCode request timed out" 'opencode-error)
(define-error 'opencode-server-error "OpenCode server process error"
  'opencode-error)

;;;; The log

(defcustom opencode-log-max-lines 2000
  "Lines kept in the *opencode-log* buffer."
  :type 'integer
  :group 'opencode)

(defun opencode--log (format-string &rest args)
  "Append a line made from FORMAT-STRING and ARGS to *opencode-log*.
Return the line."
  (let ((line (apply #'format format-string args)))
    (with-current-buffer (get-buffer-create "*opencode-log*")
      (let ((inhibit-read-only t))
        (save-excursion
          (goto-char (point-max))
          (insert (format-time-string "%T ") line "\n")
          (when (> (count-lines (point-min) (point-max)) opencode-log-max-lines)
            (goto-char (point-min))
            (forward-line (/ opencode-log-max-lines 4))
            (delete-region (point-min) (point))))))
    line))

(defun opencode-show-log ()
  "Show the *opencode-log* buffer of warnings and connection changes."
  (interactive)
  (display-buffer (get-buffer-create "*opencode-log*")))

;;;; Names and URLs

(defun opencode--normalize-directory (dir)
  "Return DIR absolute, expanded, without a trailing slash."
  (directory-file-name (expand-file-name dir)))

(defun opencode--query-string (query)
  "Encode QUERY, an alist of (NAME . VALUE), as a URL query string.
Entries whose value is nil are left out; t becomes \"true\"."
  (mapconcat (lambda (kv)
               (concat (url-hexify-string (format "%s" (car kv))) "="
                       (url-hexify-string
                        (pcase (cdr kv)
                          ('t "true")
                          ((pred numberp) (number-to-string (cdr kv)))
                          (v v)))))
             (cl-remove-if-not #'cdr query) "&"))

(defun opencode--path (&rest segments)
  "Join SEGMENTS into a URL path, each segment percent-encoded."
  (mapconcat (lambda (s) (concat "/" (url-hexify-string (format "%s" s))))
             segments ""))

(defun opencode--first-line (s &optional width)
  "Return the first line of S, cut to WIDTH (default 60) characters."
  (let ((line (car (split-string (or s "") "\n"))))
    (truncate-string-to-width (or line "") (or width 60) nil nil "…")))

(defun opencode-error-text (err)
  "Return ERR, an error object, as words for the user: one line.
For the package's own errors that is their message, one sentence
naming the server (\"Session not found: ses_x (HTTP 404 from
http://127.0.0.1:4096).\"), never the data they carry; else
`error-message-string'."
  (if (and (consp err) (stringp (cadr err))
           (get (car err) 'error-conditions)
           (memq 'opencode-error (get (car err) 'error-conditions)))
      (cadr err)
    (error-message-string err)))

(defmacro opencode-with-error-words (&rest body)
  "Run BODY; an `opencode-error' it signals reaches the user in words.
The error is signaled again as a `user-error' saying
`opencode-error-text' of it, so the echo area shows one sentence, not
the error's data.  For commands that wait for the server."
  (declare (indent 0) (debug t))
  (let ((err (make-symbol "err")))
    `(condition-case ,err (progn ,@body)
       (opencode-error (user-error "OpenCode: %s" (opencode-error-text ,err))))))

(defun opencode--sentence (text)
  "Return TEXT as a sentence: its first letter upper case, a period at its end."
  (let ((text (string-trim text)))
    (if (string-empty-p text) text
      (concat (upcase (substring text 0 1)) (substring text 1)
              (if (string-match-p "[.!?]\\'" text) "" ".")))))

(defun opencode--plural (n singular &optional plural)
  "Return \"N SINGULAR\", or with PLURAL (default SINGULAR + s) unless N is 1."
  (format "%d %s" n (if (eql n 1) singular (or plural (concat singular "s")))))

(defun opencode--token-count (n)
  "Return N tokens briefly: 950, 12.3k, 1.2M."
  (cond ((< n 1000) (number-to-string n))
        ((< n 1000000) (format "%.1fk" (/ n 1000.0)))
        (t (format "%.1fM" (/ n 1000000.0)))))

;;;; Timers

(defun opencode--debounce (var delay fn)
  "Call FN in the current buffer after DELAY seconds, once per burst.
VAR is a buffer-local variable (a symbol) that holds the pending timer;
while it is set, further calls do nothing.  FN runs with VAR cleared,
and only if the buffer is still live."
  (unless (symbol-value var)
    (let ((buf (current-buffer)))
      (set var (run-with-timer
                delay nil
                (lambda ()
                  (when (buffer-live-p buf)
                    (with-current-buffer buf
                      (set var nil)
                      (funcall fn)))))))))

;;;; Registries of buffers

(cl-defstruct (opencode--registry
               (:constructor opencode--registry-make (connection-variable))
               (:copier nil))
  "The buffers of one kind of view, so an event need not scan `buffer-list'.
A view that lists sessions keeps one: its event handlers redraw the
buffers that show the event's connection."
  (connection-variable
   nil :documentation "The buffer-local variable holding the connection a buffer shows.")
  (list nil :documentation "The buffers, newest first; dead ones go when next read."))

(defun opencode--registry-add (registry &optional buffer)
  "Add BUFFER (default: the current buffer) to REGISTRY."
  (cl-pushnew (or buffer (current-buffer)) (opencode--registry-list registry)))

(defun opencode--registry-remove (registry &optional buffer)
  "Take BUFFER (default: the current buffer) out of REGISTRY."
  (setf (opencode--registry-list registry)
        (delq (or buffer (current-buffer)) (opencode--registry-list registry))))

(defun opencode--registry-buffers (registry &optional conn)
  "Return the live buffers of REGISTRY, only those showing CONN if given."
  (let ((live (setf (opencode--registry-list registry)
                    (cl-delete-if-not #'buffer-live-p (opencode--registry-list registry))))
        (var (opencode--registry-connection-variable registry)))
    (if conn
        (cl-remove-if-not (lambda (b) (eq (buffer-local-value var b) conn)) live)
      live)))

(defun opencode--registry-connections (registry)
  "Return the connections the live buffers of REGISTRY show, each once."
  (let ((var (opencode--registry-connection-variable registry))
        (conns nil))
    (dolist (b (opencode--registry-buffers registry))
      (when-let ((conn (buffer-local-value var b)))
        (cl-pushnew conn conns :test #'eq)))
    (nreverse conns)))

;;;; The spinner

(defconst opencode--spinner-frames ["⠋" "⠙" "⠹" "⠸" "⠼" "⠴" "⠦" "⠧" "⠇" "⠏"]
  "Frames of the busy spinner.")

(defun opencode--spinner-frame ()
  "Return the busy spinner's frame for now: ten frames a second."
  (aref opencode--spinner-frames
        (mod (truncate (* 10 (float-time))) (length opencode--spinner-frames))))

(cl-defstruct (opencode--spinner
               (:constructor opencode--spinner-make (turning-p redraw))
               (:copier nil))
  "A timer that redraws a view's spinners and countdowns while it shows any."
  (turning-p nil :documentation "A function of no argument: non-nil while one shows.")
  (redraw nil :documentation "A function of no argument that redraws them.")
  (timer nil :documentation "The timer, while it runs."))

(defun opencode--spinner-update (spinner)
  "Start SPINNER's timer if it has something to turn; stop it if not."
  (let ((turning (funcall (opencode--spinner-turning-p spinner)))
        (timer (opencode--spinner-timer spinner)))
    (cond ((and turning (not timer))
           (setf (opencode--spinner-timer spinner)
                 (run-with-timer 0.25 0.25 #'opencode--spinner-turn spinner)))
          ((and (not turning) timer)
           (opencode--spinner-stop spinner)))))

(defun opencode--spinner-turn (spinner)
  "Redraw what SPINNER turns; stop it once nothing is left to turn."
  (funcall (opencode--spinner-redraw spinner))
  (opencode--spinner-update spinner))

(defun opencode--spinner-stop (spinner)
  "Stop SPINNER's timer, if it runs."
  (when (opencode--spinner-timer spinner)
    (cancel-timer (opencode--spinner-timer spinner))
    (setf (opencode--spinner-timer spinner) nil)))

;;;; Faces the views share

(defface opencode-chat-dim '((t :inherit shadow))
  "Face of secondary information: steps, tokens, costs."
  :group 'opencode)

(defface opencode-chat-error '((t :inherit error))
  "Face of errors in the timeline."
  :group 'opencode)

;;;; Keys

(defun opencode--keys-menu-rows (rows)
  "Return ROWS of the keys table as the group vectors of a transient menu.
Entries without a description stay out of the menu."
  (mapcar (lambda (row)
            (apply #'vector
                   (mapcar (lambda (group)
                             (apply #'vector (car group)
                                    (cl-loop for (key desc cmd) in (cdr group)
                                             when desc collect (list key desc cmd))))
                           row)))
          rows))

(defmacro opencode-define-keys (map menu &rest spec)
  "Define keymap MAP and transient menu MENU from one table of keys.
SPEC is keyword arguments, then the table.  The keywords:
  :parent KEYMAP     the parent of MAP (an expression), or none;
  :map-doc STRING    the docstring of MAP;
  :menu-doc STRING   the docstring of MENU;
  :menu-key KEY      a key of MAP that opens MENU.
The table is a list of rows of the menu, each a list of groups (its
columns), each group (TITLE ENTRY...), each ENTRY (KEY DESCRIPTION
COMMAND) with KEY as `kbd' reads it.  Every entry is bound in MAP;
an entry whose DESCRIPTION is nil is bound there but not shown in
MENU (a second key for a command, say)."
  (declare (indent 2))
  (let ((parent (plist-get spec :parent))
        (map-doc (plist-get spec :map-doc))
        (menu-doc (plist-get spec :menu-doc))
        (menu-key (plist-get spec :menu-key))
        (rows (car (last spec))))
    `(progn
       (require 'transient)
       (defvar ,map
         (let ((map (make-sparse-keymap)))
           ,@(and parent `((set-keymap-parent map ,parent)))
           ,@(cl-loop for row in rows
                      append (cl-loop for group in row
                                      append (cl-loop for (key _desc cmd) in (cdr group)
                                                      collect `(define-key map (kbd ,key) #',cmd))))
           ,@(and menu-key `((define-key map (kbd ,menu-key) #',menu)))
           map)
         ,map-doc)
       (transient-define-prefix ,menu ()
         ,menu-doc
         ,@(opencode--keys-menu-rows rows)))))

;;;; Links

(defun opencode--link (text command &rest properties)
  "Return TEXT as a link that runs COMMAND on RET or click.
PROPERTIES are more text properties, for COMMAND to read at point."
  (apply #'propertize text 'face 'link 'mouse-face 'highlight
         'keymap (let ((map (make-sparse-keymap)))
                   (define-key map (kbd "RET") command)
                   (define-key map [mouse-2] command)
                   map)
         properties))

(provide 'opencode-lib)
;;; opencode-lib.el ends here

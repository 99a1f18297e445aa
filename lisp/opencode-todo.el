;;; opencode-todo.el --- A session's todo list  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; `opencode-chat-todos' shows the todo list the agent keeps for its
;; session, in a side window that follows the todo.updated events.

;;; Code:

(require 'seq)
(require 'opencode-lib)
(require 'opencode-model)

(declare-function opencode-chat-session "opencode-chat" (&optional buffer))

(declare-function opencode-chat-connection "opencode-chat" (&optional buffer))
(declare-function opencode-chat-session-id "opencode-chat" (&optional buffer))
(declare-function opencode-chat-adopt "opencode-chat" (buffer name-function))

(defun opencode-todo--buffer-name ()
  "Return the name of this chat's todo buffer."
  (format "*opencode-todos: %s*" (or (plist-get (opencode-chat-session) :title) "")))

(defun opencode-todo-refresh ()
  "Redraw this chat's todo buffer, if it exists, from the store."
  (let ((todos (opencode-store-session-todos (opencode-chat-connection)
                                             (opencode-chat-session-id)))
        (buf (get-buffer (opencode-todo--buffer-name))))
    (when buf
      (with-current-buffer buf
        (let ((inhibit-read-only t))
          (erase-buffer)
          (if (zerop (length todos))
              (insert (propertize "No todos." 'face 'opencode-chat-dim))
            (dolist (td todos)
              (let ((status (opencode-todo-status td)))
                (insert (pcase status
                          ("completed" "[x] ") ("in_progress" "[>] ")
                          ("cancelled" "[-] ") (_ "[ ] "))
                        (propertize (or (opencode-todo-content td) "")
                                    'face (pcase status
                                            ("completed" 'opencode-chat-dim)
                                            ("cancelled" '(:strike-through t))
                                            ("in_progress" 'bold)
                                            (_ 'default)))
                        (if (stringp (opencode-todo-priority td))
                            (propertize (format "  (%s)" (opencode-todo-priority td))
                                        'face 'opencode-chat-dim)
                          "")
                        "\n")))))))))

(defun opencode-chat-todos ()
  "Show the session's todo list in a side window; it follows todo.updated."
  (interactive)
  (let ((buf (opencode-chat-adopt (get-buffer-create (opencode-todo--buffer-name))
                                  #'opencode-todo--buffer-name)))
    (with-current-buffer buf
      (unless (derived-mode-p 'special-mode) (special-mode)))
    (opencode-todo-refresh)
    (display-buffer buf '(display-buffer-in-side-window (side . right) (window-width . 45)))
    buf))

(provide 'opencode-todo)
;;; opencode-todo.el ends here

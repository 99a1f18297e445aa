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

(declare-function opencode-chat-session "opencode-chat" (&optional buffer))

(defvar-local opencode-todo--todos nil "The session's todo list, a vector.")

(defun opencode-todo--buffer-name ()
  "Return the name of this chat's todo buffer."
  (format "*opencode-todos: %s*" (or (plist-get (opencode-chat-session) :title) "")))

(defun opencode-todo--refresh ()
  "Redraw this chat's todo buffer, if it exists."
  (let ((todos opencode-todo--todos)
        (buf (get-buffer (opencode-todo--buffer-name))))
    (when buf
      (with-current-buffer buf
        (let ((inhibit-read-only t))
          (erase-buffer)
          (if (zerop (length todos))
              (insert (propertize "No todos." 'face 'opencode-chat-dim))
            (seq-doseq (td todos)
              (let ((status (plist-get td :status)))
                (insert (pcase status
                          ("completed" "[x] ") ("in_progress" "[>] ")
                          ("cancelled" "[-] ") (_ "[ ] "))
                        (propertize (or (plist-get td :content) "")
                                    'face (pcase status
                                            ("completed" 'opencode-chat-dim)
                                            ("cancelled" '(:strike-through t))
                                            ("in_progress" 'bold)
                                            (_ 'default)))
                        (if (stringp (plist-get td :priority))
                            (propertize (format "  (%s)" (plist-get td :priority))
                                        'face 'opencode-chat-dim)
                          "")
                        "\n")))))))))

(defun opencode-chat-todos ()
  "Show the session's todo list in a side window; it follows todo.updated."
  (interactive)
  (let ((buf (get-buffer-create (opencode-todo--buffer-name))))
    (with-current-buffer buf
      (unless (derived-mode-p 'special-mode) (special-mode)))
    (opencode-todo--refresh)
    (display-buffer buf '(display-buffer-in-side-window (side . right) (window-width . 45)))
    buf))

(defun opencode-todo-update (todos)
  "Make TODOS (a vector) this chat's todo list; redraw its todo buffer."
  (setq opencode-todo--todos todos)
  (opencode-todo--refresh))

(provide 'opencode-todo)
;;; opencode-todo.el ends here

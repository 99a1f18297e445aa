;;; opencode-mcp-views.el --- Emacs tool calls in the chat and the status view  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The opencode.el authors
;; SPDX-License-Identifier: GPL-3.0-or-later

;; This file is not part of GNU Emacs.

;;; Commentary:

;; How the Emacs tool server (opencode-mcp.el) shows: a chat draws the
;; parts of Emacs's tools with `opencode-mcp-render' (the server names
;; them NAME_TOOL, so `opencode-mcp-tool-renderer' knows them by
;; name, whether the tools are on now or not), and the server status
;; view has a section of its URL, registration, tools and last calls.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'opencode-lib)
(require 'opencode-tools)
(require 'opencode-mcp)

;;;; In the chat

(defun opencode-mcp--tool-prefix ()
  "Return how the server begins the names of Emacs's tools: \"emacs_\"."
  (concat (replace-regexp-in-string "[^a-zA-Z0-9_-]" "_" opencode-mcp-server-name) "_"))

;;;###autoload
(defun opencode-mcp-tool-renderer (tool)
  "Return the renderer of TOOL if it is one of Emacs's tools, else nil.
Its name says so, whatever tool it is and whether the tools are on
now: an old session's parts are drawn the same way.  This is in
`opencode-chat-tool-renderer-functions'."
  (and (stringp tool) (string-prefix-p (opencode-mcp--tool-prefix) tool)
       #'opencode-mcp-render))

(defun opencode-mcp--heading-summary (input)
  "Return what a heading says of an Emacs tool's INPUT, a plist."
  (let ((path (plist-get input :path))
        (line (or (plist-get input :line) (plist-get input :start_line)))
        (end (plist-get input :end_line)))
    (opencode--first-line
     (string-join
      (delq nil (list (and (stringp (plist-get input :symbol)) (plist-get input :symbol))
                      (and (stringp path)
                           (concat path
                                   (if (natnump line) (format ":%d" line) "")
                                   (if (natnump end) (format "-%d" end) "")))
                      (and (stringp (plist-get input :pattern)) (plist-get input :pattern))))
      " in ")
     80)))

(defun opencode-mcp-render (part)
  "Show the tool PART of an Emacs tool: its name and input, then its result."
  (let* ((state (plist-get part :state))
         (tool (plist-get part :tool))
         (name (string-remove-prefix (opencode-mcp--tool-prefix) tool))
         (input (plist-get state :input))
         (output (plist-get state :output))
         (err (plist-get state :error))
         (summary (if (consp input) (opencode-mcp--heading-summary input) "")))
    (list :heading (concat "Emacs " name
                           (if (string-empty-p summary) "" (concat " " summary))
                           (opencode-tools-status state))
          :body (concat (if (consp input) (concat (opencode-tools-key-values input) "\n") "")
                        (if (stringp output) (concat "\n" output) "")
                        (if (and (stringp err) (not (string-empty-p err)))
                            (concat "\n" (propertize (concat "Error: " err)
                                                     'face 'opencode-chat-error))
                          "")))))

;;;; For the status view

(defun opencode-mcp-status-insert (conn)
  "Insert the state of the Emacs tool server for CONN, for the status view."
  (insert (propertize "Emacs tools" 'face 'bold)
          (if opencode-emacs-tools "\n" "  (M-x opencode-emacs-tools turns them on)\n"))
  (if (not (and opencode-emacs-tools (opencode-mcp-url)))
      (insert "  off\n")
    (let* ((reg (opencode-mcp--registration conn))
           (status (plist-get reg :status)))
      (insert (format "  URL        %s\n" (opencode-mcp-url))
              (format "  Server     %s as \"%s\"%s\n"
                      (if status
                          (propertize status 'face (if (equal status "connected") 'success 'warning))
                        "not registered")
                      opencode-mcp-server-name
                      (if (stringp (plist-get reg :error)) (concat "  " (plist-get reg :error)) ""))
              (format "  Tools      %s\n"
                      (string-join (cl-remove-if-not #'opencode-mcp-allowed-p
                                                     (mapcar #'car opencode-mcp-tool-table))
                                   ", "))
              (format "  Calls      %d for this project, %d in all%s\n"
                      (or (plist-get reg :calls) 0) opencode-mcp-calls
                      (if (plist-get reg :recent) "; the last ones, newest first:" "")))
      (dolist (call (plist-get reg :recent))
        (insert (opencode-mcp--call-line call))))))

(defun opencode-mcp--call-line (call)
  "Return the status view's line of CALL, an element of :recent."
  (pcase-let ((`(,time ,tool ,summary ,outcome ,duration) call))
    (format "    %s  %-16s %-8s %7s  %s\n"
            (format-time-string "%T" time) tool
            (propertize (symbol-name outcome) 'face (if (eq outcome 'ok) 'success 'warning))
            (if (< duration 1) (format "%d ms" (round (* 1000 duration)))
              (format "%.1f s" duration))
            summary)))

(provide 'opencode-mcp-views)
;;; opencode-mcp-views.el ends here

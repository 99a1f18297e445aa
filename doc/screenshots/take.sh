#!/usr/bin/env bash
# Take the README's screenshots from a real `emacs -nw' (make demo: the
# real OpenCode server with the tests' mock model) running in tmux, and
# turn the captures into SVG with ansi-to-svg.el.  Needs tmux.
set -eu
cd "$(dirname "$0")/../.."
out=doc/screenshots
s=${SHOT_SESSION:-opencode-shot}
eval_in_emacs () {               # Run a Lisp form in the demo's Emacs.
  tmux send-keys -t $s C-g
  tmux send-keys -t $s M-: "$1" Enter
  sleep "${2:-1}"
}
tmux kill-session -t $s 2>/dev/null || true
make --no-print-directory compile deps >/dev/null
tmux new-session -d -s $s -x 112 -y 34 "TERM=xterm-256color make --no-print-directory demo"
for _ in $(seq 120); do
  sleep 1
  tmux capture-pane -p -t $s | grep -q "Demo session" && break
done
eval_in_emacs '(let ((c (car opencode-connections))) (dolist (title (list "Refactor the SSE parser" "Why is CI slow?" "Write the manual")) (opencode-request-sync c "POST" "/session" :body (list :title title))) (push (list (list :content "Reading the parser") :hang) opencode-test-mock-script) (opencode-api-session-prompt-async c (plist-get (seq-find (lambda (s) (string-prefix-p "Refactor" (plist-get s :title))) (opencode-request-sync c "GET" "/session")) :id) "Make the parser faster"))' 6
eval_in_emacs '(progn (delete-other-windows) (switch-to-buffer (seq-find (lambda (b) (string-prefix-p "*opencode-sessions" (buffer-name b))) (buffer-list))) (opencode-sessions-refresh) (goto-char (point-min)) (message ""))' 2
tmux capture-pane -e -p -t $s > "$out/sessions.ansi"
eval_in_emacs '(let* ((c (car opencode-connections)) (s (seq-find (lambda (s) (string-prefix-p "Demo" (plist-get s :title))) (opencode-request-sync c "GET" "/session")))) (let ((opencode-chat-display (quote full-frame))) (opencode-chat-open c s)) (with-current-buffer (window-buffer (selected-window)) (insert "Write me a greeting script") (opencode-prompt-send)))' 14
# Once the reply is all in (the mock takes a while on a loaded machine):
# the todo list unfolded, the reply's Markdown below it, text in the prompt.
eval_in_emacs '(let* ((chat (seq-find (lambda (b) (with-current-buffer b (derived-mode-p (quote opencode-chat-mode)))) (buffer-list))) (win (get-buffer-window chat))) (with-timeout (180) (while (not (with-current-buffer chat (and (string-search "for more" (buffer-string)) (not (opencode-store-busy-p opencode-chat--conn (opencode-chat-session-id)))))) (sit-for 0.5))) (with-selected-window win (goto-char (point-min)) (search-forward "Todos") (opencode-chat-toggle-fold) (set-window-start win (progn (search-backward "Assistant") (line-beginning-position))) (search-forward "What I did")) (with-current-buffer (buffer-local-value (quote opencode-prompt--buffer) chat) (insert "Now add tests for @hello.py")) (message ""))' 3
tmux capture-pane -e -p -t $s > "$out/chat.ansi"
# A session whose edits ask first: the block under the edit that asks.
eval_in_emacs '(let* ((c (car opencode-connections)) (s (opencode-request-sync c "POST" "/session" :body (list :title "Say goodbye" :permission (vector (list :permission "edit" :pattern "*" :action "ask")))))) (setq opencode-test-mock-script (append (list (append (opencode-test--tool-call "edit" (list :filePath "hello.py" :oldString "print(greet(\"Emacs\"))" :newString "print(greet(\"Emacs\"))\nprint(\"Goodbye!\")")) (list :tool_calls)) (list (list :content "Done.") :stop)) opencode-test-mock-script)) (let ((opencode-chat-display (quote full-frame))) (opencode-chat-open c s)) (with-current-buffer (window-buffer (selected-window)) (insert "Say goodbye at the end of hello.py") (opencode-prompt-send)))' 10
eval_in_emacs '(progn (other-window 1) (set-window-start nil (point-min)) (goto-char (point-min)) (search-forward "[o]") (backward-char 2) (message ""))' 2
tmux capture-pane -e -p -t $s > "$out/permission.ansi"
tmux kill-session -t $s
for f in sessions chat permission; do
  emacs -Q --batch -l "$out/ansi-to-svg.el" -f opencode-ansi-to-svg "$out/$f.ansi" "$out/$f.svg"
  rm -f "$out/$f.ansi"
done

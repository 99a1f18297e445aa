#!/usr/bin/env bash
# Run one ERT test (or any selector regexp) N times in fresh Emacsen and
# print the tally: how flaky is it?
#   bash test/repeat-test.sh 'opencode-features/server-status-health-attach' 50
set -u
# Batch Emacs does not ignore SIGPIPE as an interactive one does (see
# NOPIPE in the Makefile): ignore it here, so the Emacsen below inherit it.
trap '' PIPE
cd "$(dirname "$0")/.."
selector=${1:?usage: repeat-test.sh SELECTOR [N]}
n=${2:-10}
pass=0 fail=0
log=$(mktemp -d)
for i in $(seq 1 "$n"); do
  start=$(date +%s%N)
  if OPENCODE_TEST_SELECTOR="$selector" ${EMACS:-emacs} -Q --batch --module-assertions \
       -L lisp -L test -l test/opencode-test-run.el > "$log/run-$i.log" 2>&1; then
    pass=$((pass + 1)); result=pass
  else
    fail=$((fail + 1)); result="FAIL (log: $log/run-$i.log)"
  fi
  ms=$((($(date +%s%N) - start) / 1000000))
  printf 'run %d: %s in %d.%03ds\n' "$i" "$result" $((ms / 1000)) $((ms % 1000))
done
echo "$selector: $pass passed, $fail failed of $n runs"
[ "$fail" -eq 0 ]

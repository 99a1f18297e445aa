#!/usr/bin/env bash
# Walk seeds FIRST..LAST of the model-based test (test/opencode-walk-test.el),
# each in a fresh Emacs and a fresh server, JOBS at a time, and print the
# tally: every view must equal the server after every step.
#   bash test/walk.sh 200          # seeds 1..200
#   bash test/walk.sh 200 101 2    # seeds 101..200, two at a time
set -u
trap '' PIPE   # as the Makefile's NOPIPE: batch Emacs must ignore SIGPIPE
cd "$(dirname "$0")/.."
last=${1:?usage: walk.sh LAST [FIRST [JOBS]]}
first=${2:-1}
jobs=${3:-1}
log=$(mktemp -d /tmp/opencode-walk-XXXXXX)
run_seed() {
  local seed=$1
  if OPENCODE_WALK_SEEDS=$seed OPENCODE_TEST_SELECTOR=opencode-walk \
       ${EMACS:-emacs} -Q --batch --module-assertions -L lisp -L test \
       -l test/opencode-test-run.el > "$log/seed-$seed.log" 2>&1; then
    echo "seed $seed: green"
  else
    echo "seed $seed: RED (log: $log/seed-$seed.log)"
  fi
}
export -f run_seed
export log
seq "$first" "$last" | xargs -P "$jobs" -I{} bash -c 'run_seed {}' | tee "$log/tally"
green=$(grep -c ': green$' "$log/tally")
red=$(grep -c ': RED' "$log/tally")
echo "walk: $green green, $red red of $((last - first + 1)) seeds (logs: $log)"
[ "$red" -eq 0 ]

#!/usr/bin/env bash
# `make test-ert': every test/opencode-*-test.el, each file in a batch
# Emacs of its own (test/opencode-test-run.el), $OPENCODE_TEST_JOBS of
# them at a time (default: the number of cores).  Files start longest
# first, by the durations in test/ert-times (seconds, measured; a file
# missing there counts as long), so the last ones to start are short and
# the cores finish together.  Each file's output goes to a log of its
# own, printed whole when the file is done; the last line is the
# combined "ERT tests: N passed, N failed", and "N M" is appended to
# $RESULTS when set.  $OPENCODE_TEST_SELECTOR (a regexp) is passed to
# every Emacs; a file with no selected test is done in a second.
#
# The files share nothing a test could trip on: each Emacs has its own
# cache directory (opencode-test-helpers.el), each real server its own
# HOME and a port the system picked, every loopback server of the tests
# a port the system picked.
set -u
cd "$(dirname "$0")/.."
EMACS=${EMACS:-emacs}
JOBS=${OPENCODE_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Work items, longest first: a file, or a part of one ("FILE K/N").  A
# file measured at more than $PART_SECONDS is cut into parts of about
# that (no more parts than tests), so no file alone outlasts the rest;
# a file missing from test/ert-times counts as long and comes first.
PART_SECONDS=${OPENCODE_TEST_PART_SECONDS:-100}
order=$(for f in test/opencode-*-test.el; do
          t=$(awk -v f="$(basename "$f")" '$2 == f { print $1 }' test/ert-times 2>/dev/null)
          t=${t:-9999}
          tests=$(grep -c '^(ert-deftest' "$f")
          n=$(( (${t%.*} + PART_SECONDS - 1) / PART_SECONDS ))
          [ "$n" -gt "$tests" ] && n=$tests
          [ "$t" = 9999 ] && n=1
          if [ "$n" -le 1 ]; then echo "$t $f"
          else for k in $(seq 1 "$n"); do echo "$(( ${t%.*} / n )) $f $k/$n"; done; fi
        done | sort -rn -k1,1 | cut -d' ' -f2-)

run_one() {
  local f=$1 part=${2:-} name log start status took
  name=$(basename "$f" .el)${part:+-${part%/*}}
  log="$out/$name.log"
  start=$(date +%s.%N)
  # SIGPIPE ignored, as in the Makefile's NOPIPE (see there).
  OPENCODE_TEST_FILES="$f" OPENCODE_TEST_PART="$part" RESULTS="$out/$name.results" \
    bash -c 'trap "" PIPE && exec "$@"' nopipe \
    "$EMACS" -Q --batch --module-assertions -L lisp -L test \
    --eval '(setq load-prefer-newer t)' -l test/opencode-test-run.el >"$log" 2>&1
  status=$?
  # A crash before the count still counts as a failure.
  [ -s "$out/$name.results" ] || echo "0 1" >"$out/$name.results"
  [ "$status" -eq 0 ] || echo "$f $part" >>"$out/failed"
  took=$(echo "$(date +%s.%N) - $start" | bc)
  printf '%s %s %s\n' "$took" "$(basename "$f")" "$part" >>"$out/times"
  # One log at a time on the terminal, whole.
  (
    flock 9
    if [ "$status" -eq 0 ] && [ "$(cat "$out/$name.results")" = "0 0" ]; then
      echo "=== $f $part: no test selected"
    else
      echo "=== $f${part:+ (part $part)} ($(printf '%.0f' "$took") s, exit $status)"
      cat "$log"
    fi
  ) 9>"$out/print.lock"
}
export -f run_one
export EMACS out

echo "ERT: $(echo "$order" | wc -l) files or parts of files, $JOBS at a time"
start=$(date +%s)
echo "$order" | xargs -P "$JOBS" -L 1 bash -c 'run_one "$@"' run_one

passed=0 failed=0
for r in "$out"/*.results; do
  read -r p f <"$r"
  passed=$((passed + p)) failed=$((failed + f))
done
echo "Durations (s, the slowest first; test/ert-times keeps them):"
sort -rn "$out/times" | awk '{ printf "  %6.1f %s %s\n", $1, $2, $3 }'
echo "ERT wall time: $(($(date +%s) - start)) s"
[ -s "$out/failed" ] && { echo "Files with failures:"; sed 's/^/  /' "$out/failed"; }
if [ -n "${RESULTS:-}" ]; then echo "$passed $failed" >>"$RESULTS"; fi
echo "ERT tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ! -s "$out/failed" ]

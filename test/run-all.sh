#!/usr/bin/env bash
# Every test of the package: C unit tests (ASan+UBSan, TSan, valgrind),
# a bounded libFuzzer run of the stream parser ($FUZZ_SECONDS, 30 s),
# lint (byte-compile with warnings as errors, checkdoc, package-lint),
# ERT unit tests, integration and fault-injection tests against the real
# OpenCode server.  Uses every core: the C tests and fuzzing beside
# lint, the manual and the ERT files several at once (test/run-ert.sh).
# Runs all suites even when one fails; prints the totals last.
set -u
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
RESULTS=$(mktemp)
export RESULTS
status=0

# The C tests spend most of their time waiting (on loopback sockets,
# timers and valgrind: about 24 s of CPU in 77 s), so they run, and
# then the bounded fuzzing, beside everything else, printed whole at
# the end.  In the foreground: lint, then the manual (one after the
# other: lint writes .elc files beside the sources the manual's
# generator loads), then the ERT files on every core (after lint for
# the same reason: they load those .elc files).
$MAKE --no-print-directory module || status=1  # Both lanes use it: built once, first.
lanes=$(mktemp -d)
(
  echo "== C unit tests"
  $MAKE --no-print-directory test-c || echo 1 > "$lanes/c.failed"
  echo "(C tests: ${SECONDS}s since the start)"
  echo "== Fuzzing (libFuzzer, SSE parser + event routing)"
  $MAKE --no-print-directory fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-30}" || echo 1 > "$lanes/c.failed"
  echo "(fuzzing: ${SECONDS}s since the start)"
) > "$lanes/c.log" 2>&1 &
c_pid=$!

echo "== Lint"
if $MAKE --no-print-directory lint; then echo "1 0" >> "$RESULTS"
else echo "0 1" >> "$RESULTS"; status=1; fi
echo "(lint: ${SECONDS}s since the start)"

echo "== Manual (builds, and is what the code generates)"
if $MAKE --no-print-directory check-doc; then echo "1 0" >> "$RESULTS"
else echo "0 1" >> "$RESULTS"; status=1; fi
echo "(manual: ${SECONDS}s since the start)"

echo "== ERT (unit and real-server integration)"
$MAKE --no-print-directory test-ert || status=1
echo "(ERT: ${SECONDS}s since the start)"

wait "$c_pid"
cat "$lanes/c.log"
if [ -e "$lanes/c.failed" ]; then status=1; fi
rm -rf "$lanes"

passed=0 failed=0
while read -r p f; do passed=$((passed + p)); failed=$((failed + f)); done < "$RESULTS"
rm -f "$RESULTS"
# A suite that crashed before counting still fails the run.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
exit "$status"

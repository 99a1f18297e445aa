#!/usr/bin/env bash
# Every test of the package: C unit tests (ASan+UBSan, TSan, valgrind),
# a bounded libFuzzer run of the stream parser ($FUZZ_SECONDS, 30 s),
# lint (byte-compile with warnings as errors, checkdoc, package-lint),
# ERT unit tests, integration and fault-injection tests against the real
# OpenCode server.  Uses every core: the C tests beside fuzzing, lint
# and the manual, then the ERT files several at once (test/run-ert.sh).
# Runs all suites even when one fails; prints the totals last.
set -u
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
RESULTS=$(mktemp)
export RESULTS
status=0

# Two lanes at once, each on a core of its own, each printed whole when
# both are done: the C tests, and then fuzzing, lint and the manual.
# Lint and the manual stay one after the other (lint writes .elc files
# beside the sources the manual's generator loads); the ERT tests run
# after both lanes, on every core.
$MAKE --no-print-directory module || status=1  # Both lanes use it: built once, first.
lanes=$(mktemp -d)
(
  echo "== C unit tests"
  $MAKE --no-print-directory test-c || echo 1 > "$lanes/c.failed"
  echo "(C tests: ${SECONDS}s since the start)"
) > "$lanes/c.log" 2>&1 &
c_pid=$!
(
  echo "== Fuzzing (libFuzzer, SSE parser + event routing)"
  $MAKE --no-print-directory fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-30}" || echo 1 > "$lanes/other.failed"
  echo "(fuzzing: ${SECONDS}s since the start)"

  echo "== Lint"
  if $MAKE --no-print-directory lint; then echo "1 0" >> "$RESULTS"
  else echo "0 1" >> "$RESULTS"; echo 1 > "$lanes/other.failed"; fi
  echo "(lint: ${SECONDS}s since the start)"

  echo "== Manual (builds, and is what the code generates)"
  if $MAKE --no-print-directory check-doc; then echo "1 0" >> "$RESULTS"
  else echo "0 1" >> "$RESULTS"; echo 1 > "$lanes/other.failed"; fi
  echo "(manual: ${SECONDS}s since the start)"
) > "$lanes/other.log" 2>&1 &
other_pid=$!
wait "$c_pid" "$other_pid"
cat "$lanes/c.log" "$lanes/other.log"
if [ -e "$lanes/c.failed" ] || [ -e "$lanes/other.failed" ]; then status=1; fi
rm -rf "$lanes"

echo "== ERT (unit and real-server integration)"
$MAKE --no-print-directory test-ert || status=1
echo "(ERT: ${SECONDS}s since the start)"

passed=0 failed=0
while read -r p f; do passed=$((passed + p)); failed=$((failed + f)); done < "$RESULTS"
rm -f "$RESULTS"
# A suite that crashed before counting still fails the run.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
exit "$status"

#!/usr/bin/env bash
# Every test of the package: C unit tests (ASan+UBSan, TSan, valgrind),
# a bounded libFuzzer run of the stream parser ($FUZZ_SECONDS, 30 s),
# lint (byte-compile with warnings as errors, checkdoc, package-lint),
# ERT unit tests, integration and fault-injection tests against the real
# OpenCode server.
# Runs all suites even when one fails; prints the totals last.
set -u
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
RESULTS=$(mktemp)
export RESULTS
status=0

echo "== C unit tests"
$MAKE --no-print-directory test-c || status=1

echo "== Fuzzing (libFuzzer, SSE parser + event routing)"
$MAKE --no-print-directory fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-30}" || status=1

echo "== Lint"
if $MAKE --no-print-directory lint; then echo "1 0" >> "$RESULTS"; else echo "0 1" >> "$RESULTS"; status=1; fi

echo "== Manual (builds, and is what the code generates)"
if $MAKE --no-print-directory check-doc; then echo "1 0" >> "$RESULTS"; else echo "0 1" >> "$RESULTS"; status=1; fi

echo "== ERT (unit and real-server integration)"
$MAKE --no-print-directory test-ert || status=1

passed=0 failed=0
while read -r p f; do passed=$((passed + p)); failed=$((failed + f)); done < "$RESULTS"
rm -f "$RESULTS"
# A suite that crashed before counting still fails the run.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
exit "$status"

#!/usr/bin/env bash
# Run the C unit tests: each under ASan+UBSan, the threaded ones under
# TSan, and one stream open/close cycle under valgrind.  Appends
# "PASSED FAILED" to $RESULTS (if set) and prints the totals.
set -u
build=${1:-build}
tests=${2:-"sse queue event conn backoff"}
passed=0 failed=0
run () {
  local label=$1; shift
  local out rc
  out=$("$@" 2>&1); rc=$?
  local line
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
  local p=0 f=0
  if [ -n "$line" ]; then
    p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  if [ "$rc" -ne 0 ]; then printf '%s\n' "$out" >&2; fi
  echo "C $label: $p passed, $f failed"
  passed=$((passed + p)); failed=$((failed + f))
}
for t in $tests; do run "$t (asan+ubsan)" "$build/test-$t-asan"; done
for t in queue conn backoff; do run "$t (tsan)" env TSAN_OPTIONS=halt_on_error=1 "$build/test-$t-tsan"; done
if command -v valgrind >/dev/null; then
  for t in conn backoff; do
    run "$t (valgrind)" valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --error-exitcode=3 "$build/test-$t-plain"
  done
else
  echo "valgrind not installed" >&2; failed=$((failed + 1))
fi
[ -n "${RESULTS:-}" ] && echo "$passed $failed" >> "$RESULTS"
echo "C tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# A bounded libFuzzer run of the SSE parser + event routing.
#   run-fuzz.sh BUILD-DIR SECONDS
# Seeds: the recorded streams of test/fixtures, each of their events on
# its own, and the hand-made seeds of test/fuzz/seeds.  The corpus grows
# in BUILD-DIR/fuzz-corpus (kept between runs, never in the repository).
# Appends "PASSED FAILED" to $RESULTS when set.
set -u
build=${1:-build}
seconds=${2:-60}
corpus="$build/fuzz-corpus"
mkdir -p "$corpus" "$build/fuzz-crashes"
cp test/fixtures/*.sse test/fuzz/seeds/*.sse "$corpus"/
for f in test/fixtures/*.sse; do
  # One event per seed file: small inputs mutate better.
  awk -v dir="$corpus" -v base="$(basename "$f" .sse)" \
      'BEGIN { RS = ""; ORS = "\n\n" } { print > (dir "/" base "-" NR ".sse") }' "$f"
done
log="$build/fuzz.log"
"$build/fuzz-stream" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/fuzz-crashes/" \
  "$corpus" > "$log" 2>&1
rc=$?
runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$')
if [ "$rc" -eq 0 ]; then
  echo "fuzz: ${runs:-?} inputs in ${seconds}s, no crash, no sanitizer report"
  [ -n "${RESULTS:-}" ] && echo "1 0" >> "$RESULTS"
else
  tail -n 60 "$log" >&2
  echo "fuzz: FAILED (exit $rc); the input is in $build/fuzz-crashes/"
  [ -n "${RESULTS:-}" ] && echo "0 1" >> "$RESULTS"
fi
exit "$rc"

#!/usr/bin/env bash
# Run CI as CI does, N times in a row, each in a fresh clone of this
# repository's HEAD (with shared/ beside it when there is one), and print
# the tally: how often is CI green?
#   bash test/ci-repeat.sh 10
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-10}
pass=0 fail=0
for i in $(seq 1 "$n"); do
  dir=$(mktemp -d /tmp/opencode-ci-XXXXXX)
  git clone -q "$src" "$dir/main"
  if [ -d "$src/../shared" ]; then ln -s "$(cd "$src/../shared" && pwd)" "$dir/shared"; fi
  start=$(date +%s)
  if (cd "$dir/main" && CI=true bash .ci/run > "$dir/log" 2>&1 < /dev/null); then
    pass=$((pass + 1)); result=green
  else
    fail=$((fail + 1)); result="RED (log: $dir/log)"
  fi
  printf 'run %d: %s in %ds; %s\n' "$i" "$result" $(($(date +%s) - start)) \
    "$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$dir/log" | tail -n 1)"
  case $result in green) rm -rf "$dir" ;; esac
done
echo "fresh-clone CI: $pass green, $fail red of $n runs"
[ "$fail" -eq 0 ]

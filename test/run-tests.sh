#!/bin/bash
# Runs every test binary given on the command line (and every test/**/*_test.py),
# each under a time limit, and prints one line per test plus a summary.
set -u
limit=${TEST_TIMEOUT:-600}
log_dir=${BUILD_DIR:-build}/test-logs
mkdir -p "$log_dir"
pass=0; fail=0; failed=()
run() {  # name, command...
  local name=$1; shift
  local log="$log_dir/$(echo "$name" | tr '/' '_').log"
  local start=$SECONDS
  if timeout -k 10 "$limit" "$@" >"$log" 2>&1; then
    pass=$((pass+1)); printf 'ok    %-55s %4ss\n' "$name" $((SECONDS-start))
  else
    fail=$((fail+1)); failed+=("$name"); printf 'FAIL  %-55s %4ss (log: %s)\n' "$name" $((SECONDS-start)) "$log"
    tail -n 40 "$log" | sed 's/^/      /'
  fi
}
for t in "$@"; do
  case "$t" in *"${FILTER:-}"*) run "${t#${BUILD_DIR:-build}/}" "$t" ;; esac
done
while IFS= read -r py; do
  case "$py" in *"${FILTER:-}"*) run "$py" python3 -W ignore "$py" ;; esac
done < <(find ${TEST_DIRS:-test} -name '*_test.py' -not -path 'test/fuzz/*' | sort)
echo "tests: $pass passed, $fail failed"
[ "$fail" = 0 ] || { printf 'failed: %s\n' "${failed[@]}"; exit 1; }

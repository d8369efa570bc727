#!/bin/bash
# Runs every test binary given on the command line (and every test/**/*_test.py), each under a
# time limit, TEST_JOBS at a time (default: two per core), and prints one line per test as
# it ends plus a summary. The tests use ephemeral ports, unix sockets and their own temporary
# directories, so they can run side by side. The slowest tests of the previous run start first.
set -o pipefail
limit=${TEST_TIMEOUT:-600}
# Two per core: most tests spend their time waiting on sockets and child processes, not computing.
jobs=${TEST_JOBS:-$((2 * $(nproc 2>/dev/null || echo 2)))}
log_dir=${BUILD_DIR:-build}/test-logs
mkdir -p "$log_dir"
durations="$log_dir/durations"  # "seconds test" lines from the last run
touch "$durations"
# A fresh clone has no last run: test/durations (a reference run's, refreshed now and then with
# `cp build/test-logs/durations test/durations`) orders its first one. Only the order depends on it.
order_from=$durations
[ -s "$durations" ] || order_from=test/durations
# A test's key, the same in every build folder: build/san-address/test/core/x_test -> test/core/x_test.
key_of() { case "$1" in test/*) echo "$1" ;; *) echo "test/${1#*/test/}" ;; esac; }

log_of() { echo "$log_dir/$(echo "$1" | tr '/' '_').log"; }
run() {  # name, command... : writes "<status> <seconds>" to the test's .result file
  local name=$1; shift
  local log; log=$(log_of "$name")
  local start=$SECONDS status=0
  timeout -k 10 "$limit" "$@" >"$log" 2>&1 || status=$?
  echo "$status $((SECONDS - start))" > "$log.result"
}
report() {  # name: prints the test's line, and the end of its log when it failed
  local name=$1 log; log=$(log_of "$name")
  local status seconds; read -r status seconds < "$log.result"
  echo "$seconds $(key_of "$name")" >> "$durations.new"
  if [ "$status" = 0 ]; then
    pass=$((pass+1)); printf 'ok    %-55s %4ss\n' "$name" "$seconds"
  else
    fail=$((fail+1)); failed+=("$name")
    printf 'FAIL  %-55s %4ss (exit %s, log: %s)\n' "$name" "$seconds" "$status" "$log"
    tail -n 40 "$log" | sed 's/^/      /'
  fi
}

# name<TAB>command lines, the slowest of the last run first.
declare -A command_of
names=()
for t in "$@"; do
  case "$t" in *"${FILTER:-}"*) n=${t#${BUILD_DIR:-build}/}; command_of[$n]="$t"; names+=("$n") ;; esac
done
while IFS= read -r py; do
  case "$py" in *"${FILTER:-}"*) command_of[$py]="python3 -W ignore $py"; names+=("$py") ;; esac
done < <(find ${TEST_DIRS:-test} -name '*_test.py' -not -path 'test/fuzz/*' | sort)
ordered=()
while IFS= read -r n; do ordered+=("$n"); done < <(
  for n in "${names[@]}"; do
    last=$(awk -v n="$(key_of "$n")" '$2 == n { s = $1 } END { print s + 0 }' "$order_from")
    printf '%s\t%s\n' "$last" "$n"
  done | sort -t$'\t' -k1,1nr -s | cut -f2)

pass=0; fail=0; failed=(); : > "$durations.new"
declare -A running  # pid -> name
for n in "${ordered[@]}"; do
  while [ "${#running[@]}" -ge "$jobs" ]; do
    wait -n 2>/dev/null || true
    for pid in "${!running[@]}"; do
      if ! kill -0 "$pid" 2>/dev/null; then report "${running[$pid]}"; unset "running[$pid]"; fi
    done
  done
  rm -f "$(log_of "$n").result"
  # shellcheck disable=SC2086  # the command is a program and its arguments
  run "$n" ${command_of[$n]} &
  running[$!]=$n
done
wait
for pid in "${!running[@]}"; do report "${running[$pid]}"; done
# Keep what a narrower run (TEST_DIRS, FILTER) did not measure.
awk 'NR == FNR { seen[$2] = 1; print; next } !($2 in seen)' "$durations.new" "$order_from" > "$durations.all"
mv "$durations.all" "$durations"; rm -f "$durations.new"

echo "tests: $pass passed, $fail failed"
[ "$fail" = 0 ] || { printf 'failed: %s\n' "${failed[@]}"; exit 1; }

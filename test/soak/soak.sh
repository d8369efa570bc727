#!/bin/bash
# Soak: the device server under a steady fleet plus churning good and bad connections and admin
# commands, with a sync relay running jobs and a barrage room broadcasting beside it, for
# SOAK_SECONDS (default 600). Samples each server's resident memory (VmRSS) and open fds after
# the warm-up, every minute and at the end, prints the table, and fails when either grew by
# more than 5% (fds: plus the connections and job pipes the load keeps in flight at any one
# moment, which come and go). Then stops the servers, restarts them on their data and checks
# that every command the admin API answered QUEUED, and every log line the sync server reported
# for the jobs it keeps, is on disk; that the device server's bounds held (no device got more
# than --max-queued-commands, every refusal was a clear QUEUE_FULL) and that the garbage the
# churn sends all the time did not flood its log (bad frames are summarised).
#   SOAK_SECONDS=60 test/soak/soak.sh      # short variant
#   BUILD_DIR (default build), SOAK_WARMUP (default 60 s),
#   SOAK_COMPACT_RECORDS (device-server --compact-records, default 5000), SOAK_MMAP_THRESHOLD
#   (MALLOC_MMAP_THRESHOLD_ for every process, default 131072; empty: glibc's dynamic default),
#   SOAK_KEEP=1 keeps the work folder.
set -u
cd "$(dirname "$0")/../.."
seconds=${SOAK_SECONDS:-600}
build=${BUILD_DIR:-build}
warmup=${SOAK_WARMUP:-60}  # long enough for a few compactions (see below)
bin=$build/bin
tbin=$build/test-bin
for p in $bin/device-server $bin/device-emulator $bin/sync-server $bin/sync-client $bin/barrage-server $bin/barrage-load \
         $tbin/device-churn; do
  [ -x "$p" ] || { echo "soak: $p is missing (make all and the test helpers first)" >&2; exit 2; }
done
work=$(mktemp -d /tmp/soak-XXXXXX)
pids=()
: >"$work/queued.txt"; : >"$work/refused.txt"; : >"$work/interact.txt"
failures=0
churn_concurrency=20
max_jobs=2
max_queued=100  # device-server's default --max-queued-commands; the soak queues past it

cleanup() {
  exec 2>/dev/null  # no "Killed" job notices for the servers still running at the end
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
  wait 2>/dev/null
  [ "${SOAK_KEEP:-}" = 1 ] && echo "soak: work folder kept: $work" || rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "soak: FAIL: $*"; failures=$((failures + 1)); }

# start NAME COMMAND...: runs it in the background with stdout/stderr in the work folder.
start() {
  local name=$1; shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  last_pid=$!
}
# port_of NAME WHAT: the port of the "listening WHAT H:P" line (waits up to 10 s).
port_of() {
  for _ in $(seq 100); do
    local line
    line=$(grep -m1 "^listening $2 " "$work/$1.out" 2>/dev/null) && { echo "${line##*:}"; return 0; }
    sleep 0.1
  done
  echo "soak: $1 did not announce '$2'; its stderr:" >&2; cat "$work/$1.err" >&2; exit 1
}
# stop_pid PID: SIGTERM and wait (bounded); returns its exit code (124 when it had to be killed).
stop_pid() {
  kill -TERM "$1" 2>/dev/null
  for _ in $(seq 300); do kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }; sleep 0.1; done
  kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 124
}

# --- the servers and their load ----------------------------------------------------------------
# glibc raises its mmap threshold after a large block is freed, so later large transient buffers
# (a compaction snapshot, a group-commit batch) land on the heap and keep RSS at the allocator's
# high-water mark for minutes (device-server: 7.2 -> 9.6 -> 7.4 MB in a 10-minute run). A fixed
# threshold returns them at once, so VmRSS follows live memory. SOAK_MMAP_THRESHOLD= turns it off.
mmap_threshold=${SOAK_MMAP_THRESHOLD-131072}
[ -n "$mmap_threshold" ] && export MALLOC_MMAP_THRESHOLD_=$mmap_threshold
offline=(863900000000001 863900000000002 863900000000003)
printf '%s tok\n' "${offline[@]}" >"$work/registry"
device_flags=(--port 0 --admin-port 0 --data-dir "$work/device" --registry "$work/registry" --auto-register
              --login-timeout 3 --heartbeat-grace 5 --events-per-device 20 --quiet
              --compact-records "${SOAK_COMPACT_RECORDS:-5000}" --max-queued-commands $max_queued)
# Compaction builds the whole snapshot in memory and the allocator keeps that peak: with the
# default 50,000 records the first compaction comes ~5 minutes in and shows up as +40% RSS
# (5.2 -> 7.4 MB) after the warm-up. Compacting every ~30 s puts the peak inside the warm-up.
start device $bin/device-server "${device_flags[@]}"; device_pid=$last_pid
device_port=$(port_of device device); admin_port=$(port_of device admin)
start fleet $bin/device-emulator --port "$device_port" --devices 300 --heartbeat 10 --report 2 --backoff-max 2 \
  --imei-base 864000000000000 --quiet
fleet_pid=$last_pid
start churn $tbin/device-churn --port "$device_port" --concurrency $churn_concurrency --devices 50
churn_pid=$last_pid

printf 'i=1; while [ $i -le 40 ]; do echo "line $i of $1"; i=$((i+1)); done\n' >"$work/lines.sh"
echo "lines 20 /bin/sh $work/lines.sh {id}" >"$work/sync.conf"
sync_flags=(--port 0 --http-port 0 --data-dir "$work/sync" --config "$work/sync.conf" --max-jobs $max_jobs --keep-jobs 10 --quiet)
start sync $bin/sync-server "${sync_flags[@]}"; sync_pid=$last_pid
sync_port=$(port_of sync command)

start barrage $bin/barrage-server --port 0 --rate 20 --quiet; barrage_pid=$last_pid
barrage_port=$(port_of barrage barrage)
start load $bin/barrage-load --port "$barrage_port" --room 1 --clients 50 --heartbeat 5 --timeout $((seconds + 600)) --quiet
load_pid=$last_pid

# Admin commands: one queued per second for an offline device (QUEUED answers are promises),
# and an interact with an online one every few seconds.
(
  n=0
  while :; do
    n=$((n + 1))
    imei=${offline[$((n % 3))]}
    answer=$(curl -s -m 10 -X POST -H 'Content-Type: application/json' \
      "http://127.0.0.1:$admin_port/devices/$imei/commands?mode=queue" -d "{\"type\":104,\"text\":\"soak-$n\"}")
    case "$answer" in *QUEUED*) echo "soak-$n" >>"$work/queued.txt" ;; *) echo "soak-$n $answer" >>"$work/refused.txt" ;; esac
    if [ $((n % 5)) = 0 ]; then
      curl -s -m 15 -X POST "http://127.0.0.1:$admin_port/devices/8640000000000$((n % 90 + 10))/commands?mode=interact&timeout=5" \
        -d '{"type":104,"text":"ping"}' >>"$work/interact.txt"; echo >>"$work/interact.txt"
    fi
    sleep 1
  done
) &
pids+=($!); commands_pid=$!
# Sync jobs: one a second.
(
  n=0
  while :; do
    n=$((n + 1))
    $bin/sync-client --port "$sync_port" sync lines "j$n" >>"$work/jobs.txt" 2>&1
    sleep 1
  done
) &
pids+=($!); jobs_pid=$!

# --- samples -----------------------------------------------------------------------------------
printf '%-8s %12s %8s %12s %8s %12s %8s\n' when device_kB fds sync_kB fds barrage_kB fds >"$work/table"
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
sample() {  # label; also leaves the figures in s_<server>_{rss,fds}
  s_device_rss=$(rss $device_pid); s_device_fds=$(fds $device_pid)
  s_sync_rss=$(rss $sync_pid); s_sync_fds=$(fds $sync_pid)
  s_barrage_rss=$(rss $barrage_pid); s_barrage_fds=$(fds $barrage_pid)
  printf '%-8s %12s %8s %12s %8s %12s %8s\n' "$1" $s_device_rss $s_device_fds $s_sync_rss $s_sync_fds \
    $s_barrage_rss $s_barrage_fds >>"$work/table"
}
alive() { for pid in $device_pid $sync_pid $barrage_pid; do kill -0 $pid 2>/dev/null || return 1; done; }

echo "soak: ${seconds}s (warm-up ${warmup}s), work folder $work"
sleep "$warmup"
alive || fail "a server died during the warm-up"
sample start
start_device_rss=$s_device_rss; start_device_fds=$s_device_fds
start_sync_rss=$s_sync_rss; start_sync_fds=$s_sync_fds
start_barrage_rss=$s_barrage_rss; start_barrage_fds=$s_barrage_fds
begin=$SECONDS
next=60
while [ $((SECONDS - begin)) -lt "$seconds" ]; do
  sleep 1
  alive || { fail "a server died after $((SECONDS - begin)) s"; break; }
  if [ $((SECONDS - begin)) -ge $next ]; then sample "t+${next}s"; next=$((next + 60)); fi
done
sample end
cat "$work/table"

# grows LABEL START END SLACK: more than 5% (plus SLACK) above the start figure?
grows() {
  local limit=$(( $2 + $2 / 20 + $4 ))
  if [ "$3" -gt "$limit" ]; then fail "$1 grew from $2 to $3 (limit $limit)"; else echo "soak: $1 $2 -> $3 (limit $limit) ok"; fi
}
grows "device-server VmRSS kB" "$start_device_rss" "$s_device_rss" 0
grows "device-server fds" "$start_device_fds" "$s_device_fds" $churn_concurrency
grows "sync-server VmRSS kB" "$start_sync_rss" "$s_sync_rss" 0
grows "sync-server fds" "$start_sync_fds" "$s_sync_fds" $((3 * max_jobs + 2))
grows "barrage-server VmRSS kB" "$start_barrage_rss" "$s_barrage_rss" 0
grows "barrage-server fds" "$start_barrage_fds" "$s_barrage_fds" 0

# --- what was promised is on disk --------------------------------------------------------------
stop_pid $commands_pid; stop_pid $jobs_pid
kill -INT $load_pid 2>/dev/null
stop_pid $churn_pid
sleep 0.5
cat "$work/churn.out"
grep -h 'summary\|clients' "$work/load.out" "$work/load.err" 2>/dev/null | tail -1

# Sync: the jobs it keeps, with their logs as reported now, must come back the same.
sleep 2  # the last job finishes
kept=$($bin/sync-client --port "$sync_port" jobs 100 | grep -o '"job":[0-9]*' | cut -d: -f2 | sort -n)
for job in $kept; do
  $bin/sync-client --port "$sync_port" log "$job" | grep -o '"text":"[^"]*"' >"$work/log-$job.before"
  $bin/sync-client --port "$sync_port" status "$job" | grep -q '"state":"succeeded"' || fail "sync job $job did not succeed"
done
stop_pid $sync_pid || fail "sync-server exit status $?"
start sync2 $bin/sync-server "${sync_flags[@]}"; sync_port=$(port_of sync2 command)
checked_lines=0
for job in $kept; do
  $bin/sync-client --port "$sync_port" log "$job" | grep -o '"text":"[^"]*"' >"$work/log-$job.after"
  cmp -s "$work/log-$job.before" "$work/log-$job.after" || fail "sync job $job: the log after the restart differs"
  checked_lines=$((checked_lines + $(wc -l <"$work/log-$job.before")))
done
echo "soak: sync: $(grep -c '"ok":true' "$work/jobs.txt") jobs accepted; $(echo $kept | wc -w) kept jobs, $checked_lines log lines identical after a restart"

# Device: every QUEUED command is delivered to its (still offline) device after a restart.
stop_pid $fleet_pid
stop_pid $device_pid || fail "device-server exit status $?"
start device2 $bin/device-server "${device_flags[@]}"; device_port=$(port_of device2 device)
: >"$work/delivered.txt"
for imei in "${offline[@]}"; do
  $tbin/device-churn --port "$device_port" --drain "$imei" --token tok | sed 's/^command //' >"$work/delivered-$imei.txt"
  n=$(wc -l <"$work/delivered-$imei.txt")
  [ "$n" -le $max_queued ] || fail "$imei was delivered $n queued commands, more than --max-queued-commands $max_queued"
  cat "$work/delivered-$imei.txt" >>"$work/delivered.txt"
done
queued=$(wc -l <"$work/queued.txt" 2>/dev/null || echo 0)
missing=$(sort "$work/queued.txt" | comm -23 - <(sort -u "$work/delivered.txt") | wc -l)
[ "$queued" -gt 0 ] || fail "no command was answered QUEUED"
[ "$missing" = 0 ] || fail "$missing of $queued QUEUED commands missing after the restart"
unclear=$(grep -vc 'QUEUE_FULL' "$work/refused.txt")
[ "$unclear" = 0 ] || fail "$unclear queue requests refused without QUEUE_FULL, e.g. $(grep -v QUEUE_FULL "$work/refused.txt" | head -1)"
oks=$(grep -c '"result":"OK"' "$work/interact.txt" 2>/dev/null)
echo "soak: device: $queued commands QUEUED, $missing missing after a restart; $(wc -l <"$work/refused.txt" 2>/dev/null || echo 0) refused;" \
     "interact OK $oks of $(grep -c . "$work/interact.txt" 2>/dev/null)"
for name in device sync barrage; do
  echo "soak: $name-server stderr: $(grep -c ' error ' "$work/$name.err") errors, $(grep -c ' warning ' "$work/$name.err") warnings"
done
# The churn sends a bad frame every few hundred milliseconds for the whole run: one line each
# would be thousands; summarised, it is about one line per 10 s.
device_warnings=$(grep -c ' warning ' "$work/device.err")
warning_limit=$(( (warmup + seconds) / 10 * 2 + 20 ))
[ "$device_warnings" -le "$warning_limit" ] || fail "device-server logged $device_warnings warnings (limit $warning_limit): a bad peer floods the log"

[ "$failures" = 0 ] && echo "soak: passed" || { echo "soak: $failures failure(s)"; exit 1; }

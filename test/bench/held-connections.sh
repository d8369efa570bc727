#!/bin/bash
# Held connections (issue 8): HOLD idle connections that each send a small message every 5 s, for
# the hand-written epoll limit, echo-server on epoll and poll, and device-server (through
# device-bench, its devices heartbeating every 5 s). For each: connections alive at the end,
# resident bytes per connection (VmRSS while held minus VmRSS before any connection, over HOLD)
# and the server's CPU in cores while they heartbeat. Appends rows to $TSV; run by run-bench.sh
# (BENCH_ONLY=held runs it alone). BENCH_HELD_SERVERS picks servers (default: all).
#
# echo-load sends what fell due every 20 ms, many messages together; device emulators send each
# heartbeat on its own timer. On loopback a server pays for waking the process it answers, so
# the limit and echo-server also run with a 1 ms tick ("spread"), the pattern device-server sees.
#
# One process may open 20,000 files here, so the load is spread over HOLD_LOADS echo-load
# processes pinned to LOAD_CPU; the server, pinned to SERVER_CPU, needs one fd per connection
# plus a few of its own, which is checked against `ulimit -n` below.
set -u
B=${BUILD_DIR:?}; OUT=${OUT:?}; TSV=${TSV:?}
HOLD=${HOLD:-19000}
HOLD_LOADS=${HOLD_LOADS:-4}
HOLD_SECONDS=${HOLD_SECONDS:-30}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SERVERS=${BENCH_HELD_SERVERS:-limit echo-server-epoll echo-server-poll limit-spread echo-server-epoll-spread device-server}
INTERVAL=5
SPARE_FDS=32  # the server's own: stdio, listener, epoll, waker, signal pipe, admin, journal
cd "$(dirname "$0")/../.."
# shellcheck source=test/bench/common.sh
source test/bench/common.sh

ulimit -n 20000 2>/dev/null
limit=$(ulimit -n)
if [ "$limit" != unlimited ] && [ $((HOLD + SPARE_FDS)) -gt "$limit" ]; then
  log "held: ulimit -n is $limit, too few for $HOLD connections in one server; holding $((limit - SPARE_FDS))"
  HOLD=$((limit - SPARE_FDS))
fi
share=$(( (HOLD + HOLD_LOADS - 1) / HOLD_LOADS ))
if [ "$limit" != unlimited ] && [ $((share + SPARE_FDS)) -gt "$limit" ]; then
  HOLD_LOADS=$(( (HOLD + limit - SPARE_FDS - 1) / (limit - SPARE_FDS) ))
fi
log "held: ulimit -n is $limit: the server holds $HOLD connections (+$SPARE_FDS of its own), $HOLD_LOADS load processes"

open_fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# hold_echo KIND TICK_MS CMD...: one echo server under HOLD held connections.
hold_echo() {
  local kind=$1 tick=$2; shift 2
  [[ " $SERVERS " == *" $kind "* ]] || return 0
  log "held: $kind, $HOLD connections, $HOLD_SECONDS s measured"
  start "hold-$kind" "$@" || return
  local fds0 rss0 rss2 t0 t1 pids=() i n left
  fds0=$(open_fds "$SPID")
  rss0=$(rss_kib "$SPID")
  left=$HOLD
  for ((i = 0; i < HOLD_LOADS && left > 0; i++)); do
    n=$(( left < share ? left : share )); left=$((left - n))
    taskset -c "$LOAD_CPU" "$B/bench-bin/echo-load" --port "$SPORT" --connections "$n" --size 64 --interval $INTERVAL \
      --tick "$tick" --duration 86400 --hold >"$OUT/hold-$kind-load$i.stdout" 2>"$OUT/hold-$kind-load$i.stderr" &
    pids+=($!)
  done
  # Every connection accepted (the server's fd table), then one full heartbeat round to settle.
  for _ in $(seq 1200); do [ $(( $(open_fds "$SPID") - fds0 )) -ge "$HOLD" ] && break; sleep 0.1; done
  sleep $((INTERVAL + 1))
  t0=$(cpu_ticks "$SPID")
  sleep "$HOLD_SECONDS"
  t1=$(cpu_ticks "$SPID")
  rss2=$(rss_kib "$SPID")
  kill -TERM "${pids[@]}" 2>/dev/null
  wait "${pids[@]}"
  stop
  local alive=0 a
  for ((i = 0; i < ${#pids[@]}; i++)); do
    a=$(field alive < "$OUT/hold-$kind-load$i.stdout"); alive=$((alive + ${a:-0}))
  done
  local per_conn cpu
  per_conn=$(awk -v a="$rss0" -v b="$rss2" -v n="$HOLD" 'BEGIN{printf "%.0f", (b-a)*1024/n}')
  cpu=$(awk -v t="$((t1 - t0))" -v s="$HOLD_SECONDS" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.3f", t/hz/s}')
  case $kind in
    limit) LIMIT_B=$per_conn; LIMIT_CPU=$cpu ;;
    limit-spread) SPREAD_CPU=$cpu ;;
  esac
  local base=limit base_cpu=${LIMIT_CPU:-}
  [[ $kind == *-spread ]] && { base=limit-spread; base_cpu=${SPREAD_CPU:-}; }
  row held "$kind" "connections alive of $HOLD" "$alive"
  row held "$kind" "resident bytes/connection" "$per_conn" limit "${LIMIT_B:-}"
  row held "$kind" "CPU cores while heartbeating every ${INTERVAL}s" "$cpu" "$base" "$base_cpu"
  log "held: $kind: alive $alive of $HOLD, $per_conn B/connection, $cpu cores"
}

hold_echo limit 20 "$B/bench-bin/epoll-echo-limit" --port 0
hold_echo echo-server-epoll 20 "$B/bin/echo-server" --port 0 --backend epoll
hold_echo echo-server-poll 20 "$B/bin/echo-server" --port 0 --backend poll
hold_echo limit-spread 1 "$B/bench-bin/epoll-echo-limit" --port 0
hold_echo echo-server-epoll-spread 1 "$B/bin/echo-server" --port 0 --backend epoll

[[ " $SERVERS " == *" device-server "* ]] || exit 0
# device-server: logged-in devices with their model cache (registry, events, journal), each
# heartbeating every INTERVAL s. device-bench starts the server and HOLD_LOADS emulators.
log "held: device-server, $HOLD devices (device-bench)"
if taskset -c "$LOAD_CPU" "$B/bench-bin/device-bench" --devices "$HOLD" --emulators "$HOLD_LOADS" --heartbeat $INTERVAL \
    --hold "$HOLD_SECONDS" --interacts 0 --server-cpu "$SERVER_CPU" --load-cpu "$LOAD_CPU" \
    >"$OUT/hold-device.txt" 2>"$OUT/hold-device.stderr"; then :; else log "held: device-bench exited $?"; fi
figure() { awk -v k="$1" '$1 == k {print $2}' "$OUT/hold-device.txt"; }
alive=$(figure lowest_online_during_hold); per_device=$(figure rss_per_device); idle=$(figure idle_cpu)
cpu=$([ -n "$idle" ] && awk -v p="$idle" 'BEGIN{printf "%.3f", p/100}')
row held device-server "connections alive of $HOLD" "${alive%.*}"
row held device-server "resident bytes/connection" "${per_device%.*}" limit "${LIMIT_B:-}"
row held device-server "CPU cores while heartbeating every ${INTERVAL}s" "$cpu" limit-spread "${SPREAD_CPU:-}"
log "held: device-server: alive ${alive%.*} of $HOLD, ${per_device%.*} B/device, $cpu cores"
exit 0

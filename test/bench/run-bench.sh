#!/bin/bash
# make bench: every benchmark in one sitting, each figure beside its baseline measured in the same
# run. Writes build/bench/results.md and build/bench/results.tsv.
#
# The machines are shared and noisy, so throughput is reported as a ratio to the hand-written
# epoll limit measured minutes apart; instruction and system-call counts (callgrind, strace) are
# exact and repeatable. BENCH_QUICK=1 shortens every run. BENCH_ONLY=held,timers (any of echo,
# cost, held, timers, redis, apps, mqtt, hubs) runs only those sections; mqtt is device-server beside
# Mosquitto (test/bench/mqtt-peer.sh), hubs the messenger directory across msg-hub nodes
# (test/bench/hub-nodes.sh). BENCH_HOLD sets the held connections
# (default 19,000), BENCH_HOLD_LOADS the load processes that share them (default 4).
# BENCH_BARRAGE_BASELINE=DIR compares the barrage simulator with another build's (see
# barrage-fanout.sh).
set -u
cd "$(dirname "$0")/../.."
B=${BUILD_DIR:-$PWD/build}
OUT=$B/bench
mkdir -p "$OUT"
QUICK=${BENCH_QUICK:-0}
ONLY=${BENCH_ONLY:-echo,cost,held,timers,redis,apps,mqtt,hubs}
HOLD=${BENCH_HOLD:-19000}
HOLD_LOADS=${BENCH_HOLD_LOADS:-4}
HOLD_SECONDS=${BENCH_HOLD_SECONDS:-$([ "$QUICK" = 1 ] && echo 12 || echo 30)}
TSV=$OUT/results.tsv
MD=$OUT/results.md
SERVER_CPU=0
LOAD_CPU=1
ulimit -n 20000 2>/dev/null

printf 'section\tsubject\tmetric\tvalue\tbaseline\tbaseline_value\tratio\n' > "$TSV"
# shellcheck source=test/bench/common.sh
source test/bench/common.sh
want() { [[ ",$ONLY," == *",$1,"* ]]; }

ensure_packages() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} = 0 ] && return 0
  if [ "$(id -u)" = 0 ]; then
    log "installing ${missing[*]}"
    apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; }
  fi
}
ensure_packages libevent-dev wrk nginx-light valgrind strace python3 redis-server redis-tools mosquitto curl

load() { taskset -c $LOAD_CPU "$B/bench-bin/echo-load" "$@"; }

# ---------------------------------------------------------------- peers
PEERS=()
if [ -f /usr/include/event2/event.h ]; then
  gcc -O2 -o "$OUT/libevent-echo" test/bench/peers/libevent-echo.c -levent && PEERS+=(libevent)
fi
command -v python3 >/dev/null && python3 -W ignore -c 'import asyncore' 2>/dev/null && PEERS+=(asyncore)

server_cmd() {
  case $1 in
    limit) echo "$B/bench-bin/epoll-echo-limit --port 0" ;;
    epoll|poll|select) echo "$B/bin/echo-server --port 0 --backend $1" ;;
    libevent) echo "$OUT/libevent-echo --port 0" ;;
    asyncore) echo "python3 -W ignore test/bench/peers/asyncore-echo.py --port 0" ;;
  esac
}

# ---------------------------------------------------------------- echo throughput and latency
SCALE=$([ "$QUICK" = 1 ] && echo 1 || echo 3)
declare -A LIMIT
want echo || PEERS=()
for server in $(want echo && echo limit epoll poll select) "${PEERS[@]}"; do
  log "echo: $server"
  # shellcheck disable=SC2046
  start "echo-$server" $(server_cmd $server) || continue
  n=$((SCALE * 10000)); [ $server = asyncore ] && n=5000
  lat=$(load --port $SPORT --connections 1 --depth 1 --size 64 --messages $n)
  n=$((SCALE * 1000)); [ $server = asyncore ] && n=200
  pipe=$(load --port $SPORT --connections 100 --depth 8 --size 64 --messages $n)
  n=$((SCALE * 100)); [ $server = asyncore ] && n=40
  bulk=$(load --port $SPORT --connections 50 --depth 2 --size 16384 --messages $n)
  stop
  p50=$(echo "$lat" | field p50_us); p99=$(echo "$lat" | field p99_us)
  mps=$(echo "$pipe" | field msgs_per_s); mbs=$(echo "$bulk" | field MB_per_s)
  for f in "$lat" "$pipe" "$bulk"; do [ "$(echo "$f" | field failures)" = 0 ] || log "$server: FAILURES in: $f"; done
  if [ $server = limit ]; then LIMIT=([p50]=$p50 [p99]=$p99 [mps]=$mps [mbs]=$mbs); fi
  row echo $server "1x1x64 p50 us" "$p50" limit "${LIMIT[p50]}"
  row echo $server "1x1x64 p99 us" "$p99" limit "${LIMIT[p99]}"
  row echo $server "100x8x64 msgs/s" "$mps" limit "${LIMIT[mps]}"
  row echo $server "50x2x16KiB MB/s" "$mbs" limit "${LIMIT[mbs]}"
done

# ---------------------------------------------------------------- instructions and system calls
# The difference of two fixed workloads, so start-up and shutdown cancel out.
count_instructions() {  # server-kind connections depth messages -> Ir of the whole run
  local kind=$1 conns=$2 depth=$3 messages=$4
  rm -f "$OUT"/callgrind.out.*
  # shellcheck disable=SC2046
  start callgrind valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out.%p" $(server_cmd $kind) || return
  load --port $SPORT --connections $conns --depth $depth --size 64 --messages $messages >/dev/null
  stop
  callgrind_annotate "$OUT"/callgrind.out.* 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1; exit}'
}
count_syscalls() {
  local kind=$1 conns=$2 depth=$3 messages=$4
  # shellcheck disable=SC2046
  start strace strace -f -c -o "$OUT/strace.txt" $(server_cmd $kind) || return
  load --port $SPORT --connections $conns --depth $depth --size 64 --messages $messages >/dev/null
  stop
  awk '$NF=="total"{print $4}' "$OUT/strace.txt"  # % time, seconds, usecs/call, calls
}
declare -A IR SC
for kind in $(want cost && echo limit epoll); do
  for shape in "1 1" "100 8"; do
    set -- $shape
    small=$((2000 / $1)); large=$((12000 / $1)); msgs=$(( (large - small) * $1 ))
    log "callgrind: $kind ${1}x${2}"
    a=$(count_instructions $kind $1 $2 $small); b=$(count_instructions $kind $1 $2 $large)
    IR[$kind-$1]=$(awk -v a="$a" -v b="$b" -v m="$msgs" 'BEGIN{printf "%.0f", (b-a)/m}')
    if [ "$1" = 1 ]; then
      log "strace: $kind"
      a=$(count_syscalls $kind 1 1 $small); b=$(count_syscalls $kind 1 1 $large)
      SC[$kind]=$(awk -v a="$a" -v b="$b" -v m="$msgs" 'BEGIN{printf "%.2f", (b-a)/m}')
    fi
  done
done
if want cost; then
  row cost echo-server "instructions/msg 1x1x64" "${IR[epoll-1]}" limit "${IR[limit-1]}"
  row cost echo-server "instructions/msg 100x8x64" "${IR[epoll-100]}" limit "${IR[limit-100]}"
  row cost echo-server "syscalls/msg 1x1x64" "${SC[epoll]}" limit "${SC[limit]}"
  BUILD_DIR=$B OUT=$OUT TSV=$TSV SERVER_CPU=$SERVER_CPU LOAD_CPU=$LOAD_CPU test/bench/barrage-fanout.sh ||
    log "barrage-fanout.sh failed"
fi

# ---------------------------------------------------------------- held connections
if want held; then
  BUILD_DIR=$B OUT=$OUT TSV=$TSV HOLD=$HOLD HOLD_LOADS=$HOLD_LOADS HOLD_SECONDS=$HOLD_SECONDS \
    SERVER_CPU=$SERVER_CPU LOAD_CPU=$LOAD_CPU test/bench/held-connections.sh || log "held-connections.sh failed"
fi

# ---------------------------------------------------------------- timers
if want timers; then
  log "timers"
  t=$("$B/bench-bin/timers" 1000000)
  row timers core "schedule/s (1M live)" "$(echo "$t" | field schedule_per_s)" "std::multimap insert" "$(echo "$t" | field baseline_multimap_schedule_per_s)"
  row timers core "cancel/s (1M live)" "$(echo "$t" | field cancel_per_s)" "std::multimap erase" "$(echo "$t" | field baseline_multimap_cancel_per_s)"
  row timers core "reset/s (1M live)" "$(echo "$t" | field reset_per_s)"
  row timers core "bytes/timer" "$(echo "$t" | field bytes_per_timer)"
fi

# ---------------------------------------------------------------- the Redis client
if want redis; then
  BUILD_DIR=$B OUT=$OUT TSV=$TSV SERVER_CPU=$SERVER_CPU LOAD_CPU=$LOAD_CPU BENCH_QUICK=$QUICK \
    test/bench/redis-client.sh || log "redis-client.sh failed"
fi

# ---------------------------------------------------------------- the programs' own benchmarks
for extra in test/bench/bench-*.sh; do
  [ -x "$extra" ] && want apps || continue
  log "$(basename "$extra")"
  BUILD_DIR=$B OUT=$OUT TSV=$TSV "$extra" || log "$(basename "$extra") failed"
done

# ---------------------------------------------------------------- device-server beside Mosquitto
if want mqtt; then
  log "mqtt"
  BUILD_DIR=$B OUT=$OUT TSV=$TSV SERVER_CPU=$SERVER_CPU LOAD_CPU=$LOAD_CPU BENCH_QUICK=$QUICK test/bench/mqtt-peer.sh ||
    log "mqtt-peer.sh failed"
fi

# ---------------------------------------------------------------- msg-hub nodes
if want hubs; then
  log "hubs"
  BUILD_DIR=$B OUT=$OUT TSV=$TSV BENCH_QUICK=$QUICK test/bench/hub-nodes.sh || log "hub-nodes.sh failed"
fi

# ---------------------------------------------------------------- the table
{
  echo "# Benchmark results ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, server on CPU $SERVER_CPU, load on CPU $LOAD_CPU)"
  echo
  echo "| section | subject | metric | value | baseline | baseline value | ratio |"
  echo "|---|---|---|---|---|---|---|"
  tail -n +2 "$TSV" | awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1,$2,$3,$4,$5,$6,$7}'
} > "$MD"
cat "$MD"

#!/bin/bash
# msg-hub nodes sharing one directory (run-bench.sh section "hubs"; runs alone too: BUILD_DIR=build
# OUT=/tmp/x TSV=/tmp/x/r.tsv test/bench/hub-nodes.sh). One redis-server, three hubs with
# --interval 0.5; a watcher peer on hub 1 and one on hub 3. Each sample starts a new peer on hub 1
# and times, from its start, when each watcher prints a directory holding it: hub 3's figure is
# the convergence across hubs, hub 1's (the same broadcast, one hub) is its baseline. Both include
# the new peer's start and first report; a broadcast waits up to one interval (0.5 s) by design.
# KEEP=1 keeps its folder (the watchers' stamped lines) for a look.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=test/bench/common.sh
source test/bench/common.sh
B=${BUILD_DIR:-$PWD/build}; OUT=${OUT:-$B/bench}; TSV=${TSV:-$OUT/results.tsv}; QUICK=${BENCH_QUICK:-0}
command -v redis-server >/dev/null || { log "hub-nodes: redis-server needed"; exit 1; }
INTERVAL=0.5
SAMPLES=$([ "$QUICK" = 1 ] && echo 6 || echo 20)
mkdir -p "$OUT"

dir=$(mktemp -d) pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
redis-server --port 0 --unixsocket "$dir/redis.sock" --save "" --appendonly no --daemonize no --logfile "$dir/redis.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$dir/redis.sock" ] && break; sleep 0.05; done
ports=()
for n in 1 2 3; do
  "$B/bin/msg-hub" --port 0 --interval "$INTERVAL" --redis "unix:$dir/redis.sock" --node-id "h$n" --quiet \
    >"$dir/h$n.out" 2>"$dir/h$n.err" &
  pids+=($!)
  for _ in $(seq 200); do grep -q '^listening' "$dir/h$n.out" 2>/dev/null && break; sleep 0.05; done
  ports+=("$(grep -m1 '^listening' "$dir/h$n.out" | awk -F: '{print $NF}')")
done
# The peers' stdin: a FIFO this script holds open, so that they never see its end.
mkfifo "$dir/stdin"
exec 3<>"$dir/stdin"
# A watcher's stdout lines, each stamped with the time it was read (ms).
watcher() {  # NAME HUB_PORT
  "$B/bin/msg-peer" --name "$1" --hub "127.0.0.1:$2" --report 0.2 --inbox "$dir/$1" --quiet <&3 2>/dev/null \
    > >(while IFS= read -r line; do echo "$(date +%s%3N) $line"; done >"$dir/$1.lines") &
  pids+=($!)
}
watcher w1 "${ports[0]}"
watcher w3 "${ports[2]}"
# when NAME FILE: the first time FILE shows a directory holding NAME, waiting at most 10 s.
when() {
  for _ in $(seq 1000); do
    local t
    t=$(awk -v n=" $1@" '$2 == "directory" && index($0, n) {print $1; exit}' "$2")
    [ -n "$t" ] && { echo "$t"; return; }
    sleep 0.01
  done
}
for _ in $(seq 400); do grep -q 'w3@' "$dir/w1.lines" 2>/dev/null && grep -q 'w1@' "$dir/w3.lines" 2>/dev/null && break; sleep 0.05; done
same=() across=()
for i in $(seq "$SAMPLES"); do
  start=$(date +%s%3N)
  "$B/bin/msg-peer" --name "n$i" --hub "127.0.0.1:${ports[0]}" --inbox "$dir/n$i" --quiet <&3 >/dev/null 2>&1 &
  npid=$!
  t1=$(when "n$i" "$dir/w1.lines"); t3=$(when "n$i" "$dir/w3.lines")
  [ -n "$t1" ] && same+=($((t1 - start)))
  [ -n "$t3" ] && across+=($((t3 - start)))
  kill -9 "$npid" 2>/dev/null; wait "$npid" 2>/dev/null
  sleep 0.$((RANDOM % 5))  # samples start at random points of the broadcast cycle
done
stats() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1; s+=$1} END {if (NR) printf "%d %d %d", v[int((NR+1)/2)], s/NR, v[NR]}'; }
read -r s50 savg smax <<<"$(stats "${same[@]}")"
read -r a50 aavg amax <<<"$(stats "${across[@]}")"
log "hub nodes (--interval $INTERVAL, ${#across[@]}/$SAMPLES samples): report on hub 1 -> hub 3's broadcast p50 ${a50} ms, mean ${aavg}, max ${amax}; hub 1's own broadcast p50 ${s50} ms, mean ${savg}, max ${smax}"
row hubs "msg-hub x3 --interval $INTERVAL" "report on hub 1 -> in hub 3's broadcast, p50 ms" "$a50" "hub 1's own broadcast" "$s50"
row hubs "msg-hub x3 --interval $INTERVAL" "report on hub 1 -> in hub 3's broadcast, max ms" "$amax" "hub 1's own broadcast" "$smax"
row hubs "msg-hub x3 --interval $INTERVAL" "report on hub 1 -> in hub 3's broadcast, mean ms" "$aavg" "the interval" "500"

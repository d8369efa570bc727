#!/bin/bash
# The Redis client (run-bench.sh section "redis"; runs alone too: BUILD_DIR=build OUT=/tmp/x
# TSV=/tmp/x/r.tsv test/bench/redis-client.sh). Pipelined SET/GET commands/s through
# redis::Client (bench-bin/redis-load) beside redis-benchmark with the same pipeline and
# connections against the same redis-server, alternating, in one run; and the client's
# instructions per command (callgrind: two runs of different lengths, so start-up cancels out).
set -u
cd "$(dirname "$0")/../.."
B=${BUILD_DIR:-$PWD/build}
OUT=${OUT:-$B/bench}
TSV=${TSV:-$OUT/results.tsv}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
QUICK=${BENCH_QUICK:-0}
mkdir -p "$OUT"
# shellcheck source=test/bench/common.sh
source test/bench/common.sh
command -v redis-benchmark >/dev/null || { log "redis-benchmark missing (Debian's redis-tools)"; exit 1; }

dir=$(mktemp -d)
trap 'kill -9 $RPID 2>/dev/null; wait $RPID 2>/dev/null; rm -rf "$dir"' EXIT
taskset -c "$SERVER_CPU" redis-server --port 0 --unixsocket "$dir/redis.sock" --save "" --appendonly no \
  --daemonize no --logfile "$dir/redis.log" &
RPID=$!
for _ in $(seq 100); do [ -S "$dir/redis.sock" ] && break; sleep 0.05; done
sock=$dir/redis.sock
n=$([ "$QUICK" = 1 ] && echo 100000 || echo 400000)
rounds=$([ "$QUICK" = 1 ] && echo 2 || echo 3)

for shape in "1 16" "10 16"; do
  set -- $shape
  clients=$1 pipeline=$2
  ours_set=0 ours_get=0 base_set=0 base_get=0
  for _ in $(seq "$rounds"); do
    out=$(taskset -c "$LOAD_CPU" redis-benchmark -s "$sock" -P "$pipeline" -c "$clients" -n "$n" -t set,get --csv 2>/dev/null)
    s=$(echo "$out" | awk -F'"' '/^"SET"/{print $4}'); g=$(echo "$out" | awk -F'"' '/^"GET"/{print $4}')
    base_set=$(awk -v a="$base_set" -v b="$s" 'BEGIN{print (b>a)?b:a}')
    base_get=$(awk -v a="$base_get" -v b="$g" 'BEGIN{print (b>a)?b:a}')
    out=$(taskset -c "$LOAD_CPU" "$B/bench-bin/redis-load" --address "unix:$sock" --clients "$clients" \
      --pipeline "$pipeline" --requests "$n")
    ours_set=$(awk -v a="$ours_set" -v b="$(echo "$out" | field set_rps)" 'BEGIN{print (b>a)?b:a}')
    ours_get=$(awk -v a="$ours_get" -v b="$(echo "$out" | field get_rps)" 'BEGIN{print (b>a)?b:a}')
  done
  log "redis -P $pipeline -c $clients: SET $ours_set/s (redis-benchmark $base_set/s), GET $ours_get/s (redis-benchmark $base_get/s)"
  row redis "redis::Client -P $pipeline -c $clients" "SET/s (best of $rounds)" "$ours_set" redis-benchmark "$base_set"
  row redis "redis::Client -P $pipeline -c $clients" "GET/s (best of $rounds)" "$ours_get" redis-benchmark "$base_get"
done

if command -v valgrind >/dev/null; then
  ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$B/bench-bin/redis-load" --address "unix:$sock" \
      --pipeline 16 --requests "$1" 2>&1 | awk '/Collected/{print $NF}'
  }
  short=$(ir 10000); long=$(ir 30000)
  per=$(( (long - short) / 40000 ))
  log "redis::Client: $per instructions per pipelined command (callgrind, SET and GET)"
  row redis "redis::Client -P 16" "instructions per command" "$per"
fi

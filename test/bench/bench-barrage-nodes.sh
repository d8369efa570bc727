#!/bin/bash
# barrage-server nodes (issue 17; make bench, section apps; runs alone too: BUILD_DIR=build
# OUT=/tmp/x TSV=/tmp/x/r.tsv test/bench/bench-barrage-nodes.sh). Fan-out at capacity: three
# barrage-load processes of CLIENTS viewers each (coalesce mode, MESSAGES messages asked at 4,000
# a second), against three single processes alone (one room each) and against three nodes on one
# redis-server (one room across them), alternating, ROUNDS rounds: what the three loads received
# together over their common window (first broadcast of any to the last), per second, median of
# the rounds (target: nodes >= 0.9x). Then Redis PUBLISH calls per batch
# in a steady stream (INFO commandstats over the batches every node received; target 1, whatever
# the number of nodes) and Redis commands per batch. Peers: Redis' own pub/sub and Mosquitto's fan-out to the
# same 3 x CLIENTS subscribers, MESSAGES messages of 243 bytes (the mean generated packet), one
# publisher (test/bench/pubsub-fanout.c). Servers and Redis run on SERVER_CPU, loads on LOAD_CPU.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=test/bench/common.sh
source test/bench/common.sh
# What run-bench.sh passes, for a run alone.
B=${BUILD_DIR:-$PWD/build}; OUT=${OUT:-$B/bench}; TSV=${TSV:-$OUT/results.tsv}; QUICK=${BENCH_QUICK:-0}
SERVER_CPU=${SERVER_CPU:-0}; LOAD_CPU=${LOAD_CPU:-1}
CLIENTS=${BARRAGE_NODES_CLIENTS:-1000}
MESSAGES=$([ "$QUICK" = 1 ] && echo 400 || echo 1000)
ROUNDS=$([ "$QUICK" = 1 ] && echo 1 || echo 3)
mkdir -p "$OUT"
ulimit -n 20000 2>/dev/null
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { log "bench-barrage-nodes: redis-server and redis-cli needed"; exit 1; }

dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$dir"' EXIT
taskset -c "$SERVER_CPU" redis-server --port 0 --unixsocket "$dir/redis.sock" --save "" --appendonly no \
  --logfile "$dir/redis.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$dir/redis.sock" ] && break; sleep 0.05; done
rcli() { redis-cli -s "$dir/redis.sock" "$@"; }
calls() { rcli INFO commandstats | awk -F'[=,:]' -v c="cmdstat_$1" '$1==c{print $3}'; }
all_calls() { rcli INFO commandstats | awk -F'[=,:]' '/^cmdstat_/{s+=$3} END{print s}'; }

# fanout MODE ROUND: three servers (MODE alone or nodes) and a load on each; prints the loads'
# deliveries/s together.
fanout() {
  local mode=$1 round=$2 ports=() servers=() loads=() sum
  local wait_for=$CLIENTS extra=()
  if [ "$mode" = nodes ]; then
    wait_for=$((3 * CLIENTS))
    rcli FLUSHALL >/dev/null
  fi
  for i in 1 2 3; do
    [ "$mode" = nodes ] && extra=(--redis "unix:$dir/redis.sock" --node-id "n$i")
    taskset -c "$SERVER_CPU" "$B/bin/barrage-server" --port 0 --mode coalesce --rate 4000 --total "$MESSAGES" \
      --wait-for "$wait_for" --batch 0.05 --max-queue $((64 << 20)) "${extra[@]}" >"$dir/s$i.out" 2>"$dir/s$i.err" &
    servers+=($!)
    pids+=($!)
  done
  for i in 1 2 3; do
    for _ in $(seq 200); do grep -q '^listening' "$dir/s$i.out" 2>/dev/null && break; sleep 0.05; done
    ports+=("$(grep -m1 '^listening' "$dir/s$i.out" | awk -F: '{print $NF}')")
  done
  for i in 0 1 2; do
    taskset -c "$LOAD_CPU" "$B/bin/barrage-load" --port "${ports[$i]}" --room 1 --clients "$CLIENTS" --expect "$MESSAGES" \
      --timeout 300 >"$dir/l$i.out" 2>/dev/null &
    loads+=($!)
  done
  for p in "${loads[@]}"; do wait "$p"; done
  for i in 0 1 2; do
    [ "$(field complete <"$dir/l$i.out")" = "$CLIENTS" ] || log "barrage nodes ($mode, round $round): incomplete: $(cat "$dir/l$i.out")"
  done
  # Everything the three loads received over their common window (first to last broadcast).
  sum=$(cat "$dir"/l?.out | awk '/^clients=/{for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
    r += v["received"]; if (!f || v["first"] < f) f = v["first"]; if (v["last"] > l) l = v["last"]}
    END{if (l > f) printf "%.0f", r / (l - f)}')
  for p in "${servers[@]}"; do kill -TERM "$p"; wait "$p" 2>/dev/null; done
  echo "$sum"
}

alone=(); nodes=()
for round in $(seq "$ROUNDS"); do
  log "barrage nodes: 3 processes alone, round $round"
  alone+=("$(fanout alone "$round")")
  log "barrage nodes: 3 nodes on redis, round $round"
  nodes+=("$(fanout nodes "$round")")
  log "barrage nodes: round $round: alone ${alone[-1]}/s, nodes ${nodes[-1]}/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
total=$((3 * CLIENTS))
row barrage-nodes "3 nodes on redis" "deliveries/s ($total viewers in one room, median of $ROUNDS; target 0.9x)" \
  "$(median "${nodes[@]}")" "3 processes alone" "$(median "${alone[@]}")"

# ---- Redis traffic per batch: a steady stream (200 messages/s, a batch every 20 ms) to 3 x 100
# viewers. PUBLISH calls are counted from before the viewers come (the room starts once all 300
# joined); the other commands from when every load says it joined, so the joins are left out.
rcli FLUSHALL >/dev/null
servers=(); loads=()
before_pub=$(calls publish)
for i in 1 2 3; do
  taskset -c "$SERVER_CPU" "$B/bin/barrage-server" --port 0 --rate 200 --total 400 --wait-for 300 --batch 0.02 \
    --redis "unix:$dir/redis.sock" --node-id "n$i" >"$dir/s$i.out" 2>"$dir/s$i.err" &
  servers+=($!); pids+=($!)
done
for i in 1 2 3; do
  for _ in $(seq 200); do grep -q '^listening' "$dir/s$i.out" 2>/dev/null && break; sleep 0.05; done
  port=$(grep -m1 '^listening' "$dir/s$i.out" | awk -F: '{print $NF}')
  taskset -c "$LOAD_CPU" "$B/bin/barrage-load" --port "$port" --room 2 --clients 100 --expect 400 --timeout 60 >"$dir/steady$i.out" 2>/dev/null &
  loads+=($!)
done
for _ in $(seq 1000); do [ "$(cat "$dir"/steady?.out 2>/dev/null | grep -c '^joined')" = 3 ] && break; sleep 0.01; done
before_all=$(all_calls)
for p in "${loads[@]}"; do wait "$p"; done
after_pub=$(calls publish); after_all=$(all_calls)
for p in "${servers[@]}"; do kill -TERM "$p"; wait "$p" 2>/dev/null; done
# The room starts at the last join, so every batch counted in the stop lines came after it.
batches=$(grep -o '[0-9]* batches (' "$dir/s1.err" | awk '{print $1}')
for i in 1 2 3; do [ "$(grep -o '[0-9]* batches (' "$dir/s$i.err" | awk '{print $1}')" = "$batches" ] || log "barrage nodes: node n$i received another number of batches"; done
grep -h 'node n.:' "$dir"/s?.err | sed 's/.*stopping; /barrage nodes: /' >&2
publishes=$(awk -v a="$before_pub" -v b="$after_pub" -v n="$batches" 'BEGIN{if (n > 0) printf "%.2f", (b-a)/n}')
commands=$(awk -v a="$before_all" -v b="$after_all" -v n="$batches" 'BEGIN{if (n > 0) printf "%.2f", (b-a-2)/n}')  # -2: INFO twice
log "barrage nodes: $batches batches, $publishes PUBLISH and $commands redis commands per batch"
row barrage-nodes "3 nodes on redis" "redis PUBLISH per batch, 3 nodes (target 1)" "$publishes"
row barrage-nodes "3 nodes on redis" "redis commands per batch (its EVALSHA and PUBLISH, 300 viewers leaving, lease renewals)" "$commands"

# ---- peers: the brokers' own pub/sub fan-out to the same subscribers
FANOUT=$B/bench-bin/pubsub-fanout
[ -x "$FANOUT" ] || { log "bench-barrage-nodes: $FANOUT is not built: peer rows skipped"; exit 0; }
peer_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
taskset -c "$SERVER_CPU" redis-server --port "$peer_port" --bind 127.0.0.1 --save "" --appendonly no \
  --client-output-buffer-limit "pubsub 0 0 0" --logfile "$dir/peer-redis.log" &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$peer_port" PING >/dev/null 2>&1 && break; sleep 0.05; done
out=$(taskset -c "$LOAD_CPU" "$FANOUT" --redis --port "$peer_port" --subscribers "$total" --messages "$MESSAGES" --size 243)
log "barrage nodes: redis pub/sub peer: $out"
row barrage-nodes "redis pub/sub (peer)" "deliveries/s ($total subscribers, one publisher)" "$(echo "$out" | field deliveries_per_s)" \
  "3 nodes on redis" "$(median "${nodes[@]}")"

MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
if [ -x "$MOSQUITTO" ]; then
  mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$mport" >"$dir/mosquitto.conf"
  taskset -c "$SERVER_CPU" "$MOSQUITTO" -c "$dir/mosquitto.conf" >"$dir/mosquitto.log" 2>&1 &
  mpid=$!
  pids+=($mpid)
  sleep 0.3
  # Mosquitto is about 50x slower per delivery here: fewer messages keep the run short.
  m=$((MESSAGES / 5))
  out=$(taskset -c "$LOAD_CPU" "$FANOUT" --mqtt --port "$mport" --subscribers "$total" --messages "$m" --size 243 --timeout 120)
  log "barrage nodes: mosquitto peer: $out"
  row barrage-nodes "mosquitto (peer)" "deliveries/s ($total subscribers, QoS 0, one publisher)" \
    "$(echo "$out" | field deliveries_per_s)" "3 nodes on redis" "$(median "${nodes[@]}")"
  kill -TERM "$mpid"
  wait "$mpid" 2>/dev/null
else
  log "bench-barrage-nodes: Mosquitto is not installed (apt-get install mosquitto): its peer row skipped"
fi
exit 0

#!/bin/bash
# device-server as a cluster (make bench, section apps; runs alone too: BUILD_DIR=build OUT=/tmp/x
# TSV=/tmp/x/r.tsv test/bench/bench-cluster.sh). Two nodes on one redis-server, four emulated
# devices held by node b. interact round trips through node b's admin API (same node) and through
# node a's (crossing nodes over Redis), one keep-alive connection each, one after the other:
# round trips/s and p50/p99 as ratios to same-node, and Redis commands per crossing interact
# (INFO commandstats; the nodes' lease and reaper traffic is counted in, a few commands a second).
# Then a login storm (one emulator, every device at once; the devices in a registry file, and then
# new devices let in by --auto-register) against a node with --redis and against a server alone, and the time from kill -9 of a node to its last device let go (lease 2 s), and to 99%
# of its devices logged in again on another node (device-emulator --failover). Last, queued commands/s
# with Redis AOF appendfsync always against a server alone (its journal), 8 admin connections each.
set -u
cd "$(dirname "$0")/../.."
B=${BUILD_DIR:-$PWD/build}
OUT=${OUT:-$B/bench}
TSV=${TSV:-$OUT/results.tsv}
QUICK=${BENCH_QUICK:-0}
mkdir -p "$OUT"
# shellcheck source=test/bench/common.sh
source test/bench/common.sh
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { log "bench-cluster: redis-server and redis-cli needed"; exit 1; }

dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$dir"' EXIT
redis-server --port 0 --unixsocket "$dir/redis.sock" --save "" --appendonly no --daemonize no --logfile "$dir/redis.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$dir/redis.sock" ] && break; sleep 0.05; done
node() {  # NAME [FLAGS...]: starts a node (or, with --redis "", a server alone); sets PORT, ADMIN and NPID
  local name=$1; shift
  "$B/bin/device-server" --port 0 --admin-port 0 --auto-register --data-dir "$dir/$name" --quiet \
    --redis "unix:$dir/redis.sock" --node-id "$name" "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
  NPID=$!
  pids+=($NPID)
  for _ in $(seq 200); do [ "$(grep -c '^listening' "$dir/$name.out" 2>/dev/null)" = 2 ] && break; sleep 0.05; done
  PORT=$(grep -m1 '^listening device' "$dir/$name.out" | awk -F: '{print $NF}')
  ADMIN=$(grep -m1 '^listening admin' "$dir/$name.out" | awk -F: '{print $NF}')
}
node a; A_ADMIN=$ADMIN
node b; B_ADMIN=$ADMIN; B_PORT=$PORT
"$B/bin/device-emulator" --port "$B_PORT" --devices 4 --imei-base 869000000000000 --quiet >"$dir/emulator.out" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  [ "$(redis-cli -s "$dir/redis.sock" GET device:869000000000003:owner | cut -c1-2)" = "b/" ] && break
  sleep 0.05
done

n=$([ "$QUICK" = 1 ] && echo 1000 || echo 4000)
interacts() {  # ADMIN_PORT: prints "rps=N p50_ms=N p99_ms=N"
  python3 - "$1" "$n" <<'PY'
import http.client, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port)
body = '{"type":104,"text":"bench"}'
lat = []
start = time.perf_counter()
for i in range(n):
    imei = "86900000000000%d" % (i % 4)
    t = time.perf_counter()
    conn.request("POST", "/devices/%s/commands?mode=interact&timeout=5" % imei, body, {"Content-Type": "application/json"})
    r = conn.getresponse(); r.read()
    if r.status != 200: sys.exit("interact answered %d" % r.status)
    lat.append(time.perf_counter() - t)
total = time.perf_counter() - start
lat.sort()
print("rps=%.0f p50_ms=%.3f p99_ms=%.3f" % (n / total, lat[n // 2] * 1e3, lat[n * 99 // 100] * 1e3))
PY
}
calls() { redis-cli -s "$dir/redis.sock" INFO commandstats | awk -F'[=,:]' '/^cmdstat_/{s+=$3} END{print s}'; }

same=$(interacts "$B_ADMIN") || { log "bench-cluster: same-node interacts failed: $same"; exit 1; }
before=$(calls)
cross=$(interacts "$A_ADMIN") || { log "bench-cluster: cross-node interacts failed: $cross"; exit 1; }
after=$(calls)
per=$(awk -v a="$before" -v b="$after" -v n="$n" 'BEGIN{printf "%.2f", (b-a-1)/n}')  # -1: the INFO itself
log "cluster interact: same node $same; across nodes $cross; $per redis commands per crossing interact"
row cluster "interact across nodes" "round trips/s" "$(echo "$cross" | field rps)" "same node" "$(echo "$same" | field rps)"
row cluster "interact across nodes" "p50 ms" "$(echo "$cross" | field p50_ms)" "same node" "$(echo "$same" | field p50_ms)"
row cluster "interact across nodes" "p99 ms" "$(echo "$cross" | field p99_ms)" "same node" "$(echo "$same" | field p99_ms)"
row cluster "interact across nodes" "redis commands per interact (target 3)" "$per"

# ---- login storm: presence writes against a single process
storm=$([ "$QUICK" = 1 ] && echo 2000 || echo 10000)
python3 -c "
for i in range($storm): print('%d s%d' % (868000000000000 + i, i))" >"$dir/storm.registry"
storm_logins() {  # new|known, extra device-server flags...: prints logins/s
  # known: the fleet is in the registry file (a relogin storm: presence and events written);
  # new: unknown devices let in by --auto-register (each registered in Redis first, with --redis).
  local mode=$1; shift
  local name=storm$RANDOM
  local who=(--registry "$dir/storm.registry")
  [ "$mode" = new ] && who=(--auto-register)
  "$B/bin/device-server" --port 0 --admin-port 0 "${who[@]}" --data-dir "$dir/$name" --quiet "$@" \
    >"$dir/$name.out" 2>"$dir/$name.err" &
  local spid=$!
  pids+=($spid)
  for _ in $(seq 200); do [ "$(grep -c '^listening' "$dir/$name.out" 2>/dev/null)" = 2 ] && break; sleep 0.05; done
  local port
  port=$(grep -m1 '^listening device' "$dir/$name.out" | awk -F: '{print $NF}')
  if [[ " $* " == *" --workers "* ]]; then  # every worker listening (subscribed) before the storm
    for _ in $(seq 200); do
      [ "$(redis-cli -s "$dir/redis.sock" PUBSUB NUMSUB node:wk-w0 node:wk-w1 | sed -n '2p;4p' | tr -d '\n')" = 11 ] && break
      sleep 0.05
    done
  fi
  local base=865000000000000  # new devices: IMEIs nobody registered
  [ "$mode" = known ] && { who=(--registry "$dir/storm.registry"); base=868000000000000; } || who=()
  "$B/bin/device-emulator" --port "$port" --devices "$storm" --imei-base "$base" --heartbeat 600 \
    --report 0 --quiet "${who[@]}" >"$dir/$name.emulator" 2>&1 &
  local epid=$!
  pids+=($epid)
  for _ in $(seq 1200); do grep -q '^all logged in' "$dir/$name.emulator" && break; sleep 0.05; done
  kill -9 "$epid" 2>/dev/null
  kill -TERM "$spid" 2>/dev/null; wait "$spid" 2>/dev/null  # a --workers parent stops its workers
  grep -m1 '^all logged in' "$dir/$name.emulator" | awk '{print $4 / $7}'  # "all logged in N devices in S s"
}
alone=$(storm_logins known)
clustered=$(storm_logins known --redis "unix:$dir/redis.sock" --node-id storm)
log "login storm of $storm registered devices: $clustered logins/s with --redis, $alone alone"
row cluster "login storm ($storm devices)" "logins/s with presence (target >= 0.7x)" "$clustered" "alone" "$alone"
workers2=$(storm_logins known --redis "unix:$dir/redis.sock" --node-id wk --workers 2)
log "login storm of $storm: $workers2 logins/s with --workers 2, $alone in one process"
row cluster "login storm ($storm devices)" "logins/s with --workers 2 (2 cores, the emulator on one)" "$workers2" "one process" "$alone"
new_alone=$(storm_logins new)
new_clustered=$(storm_logins new --redis "unix:$dir/redis.sock" --node-id fresh)
log "login storm of $storm new devices (--auto-register): $new_clustered logins/s with --redis, $new_alone alone"
row cluster "login storm ($storm new devices, --auto-register)" "logins/s, each registered in Redis first" "$new_clustered" "alone" "$new_alone"

rcli() { redis-cli -s "$dir/redis.sock" "$@"; }
# kill9 PID: kill -9 of a node of this shell, and the time it happened. seconds_until T0 TEST: the
# seconds from T0 until TEST (a shell function) holds (polled every 25 ms, 20 s at most).
kill9() { T0=$(date +%s.%N); { kill -9 "$1"; wait "$1"; } 2>/dev/null; }
seconds_until() {
  for _ in $(seq 800); do "$2" && break; sleep 0.025; done
  awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}'
}

# ---- kill -9 of a node: until its devices are let go
node c; C_PORT=$PORT; C_PID=$NPID
"$B/bin/device-emulator" --port "$C_PORT" --devices 100 --imei-base 867000000000000 --heartbeat 600 --report 0 --quiet \
  >"$dir/emulator-c.out" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ "$(rcli SCARD node:c:devices)" = 100 ] && break; sleep 0.05; done
c_let_go() { [ "$(rcli GET device:867000000000099:owner)" = "" ] && [ "$(rcli EXISTS node:c:devices)" = 0 ]; }
kill9 "$C_PID"
gone=$(seconds_until "$T0" c_let_go)
log "kill -9 of a node with 100 devices: all let go after $gone s (lease 6 s: target <= 8 s)"
row cluster "kill -9 of a node (100 devices, lease 6 s)" "seconds until all let go (target <= lease + 2)" "$gone"

# ---- kill -9 of a node: until 99% of its devices logged in again on the other (emulator --failover)
node d; D_PORT=$PORT; D_PID=$NPID
node e; E_PORT=$PORT
"$B/bin/device-emulator" --nodes "127.0.0.1:$D_PORT,127.0.0.1:$E_PORT" --failover --devices 200 \
  --imei-base 866000000000000 --heartbeat 600 --report 0 --quiet >"$dir/emulator-de.out" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  [ "$(rcli SCARD node:d:devices)" = 100 ] && [ "$(rcli SCARD node:e:devices)" = 100 ] && break
  sleep 0.05
done
e_has_them() { [ "$(rcli SCARD node:e:devices)" -ge 199 ]; }
kill9 "$D_PID"
back=$(seconds_until "$T0" e_has_them)
log "kill -9 of a node with 100 devices: 99% logged in again on the other node after $back s (emulator backoff 0.5 s)"
row cluster "kill -9 of a node (100 devices, emulator --failover)" "seconds until 99% logged in elsewhere" "$back"

# ---- queued commands/s: QUEUED waits for Redis' AOF (appendfsync always) against the journal alone
redis-server --port 0 --unixsocket "$dir/aof.sock" --dir "$dir" --appendonly yes --appendfsync always --save "" \
  --daemonize no --logfile "$dir/aof.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$dir/aof.sock" ] && break; sleep 0.05; done
echo "869500000000000 bench" >"$dir/registry"
node q --redis "unix:$dir/aof.sock" --registry "$dir/registry" --max-queued-commands 1000000; Q_ADMIN=$ADMIN
node single --redis "" --registry "$dir/registry" --max-queued-commands 1000000; S_ADMIN=$ADMIN
qn=$([ "$QUICK" = 1 ] && echo 1000 || echo 4000)
queue_rate() {  # ADMIN_PORT: prints queued/s with 8 admin connections
  python3 - "$1" "$qn" <<'PY'
import http.client, sys, threading, time
port, n = int(sys.argv[1]), int(sys.argv[2])
errors = []
def worker(count):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(count):
        conn.request("POST", "/devices/869500000000000/commands?mode=queue", '{"type":101}', {"Content-Type": "application/json"})
        r = conn.getresponse(); r.read()
        if r.status != 202: errors.append(r.status)
threads = [threading.Thread(target=worker, args=(n // 8,)) for _ in range(8)]
start = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
total = time.perf_counter() - start
if errors: sys.exit("queue answered %s" % errors[:3])
print("%.0f" % (n // 8 * 8 / total))
PY
}
q_single=$(queue_rate "$S_ADMIN") || { log "bench-cluster: queue alone failed: $q_single"; exit 1; }
q_cluster=$(queue_rate "$Q_ADMIN") || { log "bench-cluster: queue on a node failed: $q_cluster"; exit 1; }
stored=$(redis-cli -s "$dir/aof.sock" XLEN device:869500000000000:queue)
log "queued commands: $q_cluster/s with --redis (AOF appendfsync always, $stored in the stream), $q_single/s alone (journal)"
row cluster "queue mode, 8 admin connections" "queued commands/s in Redis (AOF always)" "$q_cluster" "alone (journal fsync)" "$q_single"

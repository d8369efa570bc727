#!/bin/bash
# Device-server beside Mosquitto doing the same work (issue 19). Mosquitto is the MQTT broker a
# user would pick instead: each device is an MQTT client (CONNECT with keepalive, SUBSCRIBE
# d/<id>/c), a heartbeat is a PINGREQ, a command round trip is a QoS 1 publish to d/<id>/c that
# the device answers on d/<id>/r. device-server gets the same from device-emulator (heartbeat
# frames with a battery field) and admin interacts over one keep-alive HTTP connection (curl).
#
# Instruction and system-call counts are differences of two runs of different length (callgrind,
# strace -c -f), divided by the difference in operations the server reports, so start-up, logins
# and shutdown cancel out. Bytes per held connection: VmRSS while PEER_HOLD clients are connected
# minus VmRSS before, over PEER_HOLD. Appends rows to $TSV (run-bench.sh: BENCH_ONLY=mqtt); run
# alone: BENCH_ONLY=mqtt make bench (needs build/bench-bin/mqtt-load). Mosquitto missing and not
# installable: its rows say so and only device-server's figures are given.
# PEER_PARTS=counts or held runs one half. `mqtt-peer.sh device-only` (BUILD_DIR, OUT, TSV set) prints device-server's counts alone, for profiling.
set -u
B=${BUILD_DIR:?}; OUT=${OUT:?}; TSV=${TSV:?}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
QUICK=${BENCH_QUICK:-0}
PEER_CLIENTS=${PEER_CLIENTS:-100}          # clients heartbeating under callgrind / strace
PEER_HOLD=${PEER_HOLD:-$([ "$QUICK" = 1 ] && echo 5000 || echo 19000)}
SHORT=${PEER_SHORT:-4}                     # seconds of heartbeats, short and long run
LONG=${PEER_LONG:-$([ "$QUICK" = 1 ] && echo 10 || echo 16)}
RTS_SHORT=${PEER_RTS_SHORT:-200}           # command round trips, short and long run
RTS_LONG=${PEER_RTS_LONG:-$([ "$QUICK" = 1 ] && echo 600 || echo 1200)}
HEARTBEAT=1                                # seconds between heartbeats of each client
PARTS=${PEER_PARTS:-counts,held}           # which measurements: counts (callgrind, strace), held
cd "$(dirname "$0")/../.."
# shellcheck source=test/bench/common.sh
source test/bench/common.sh
mkdir -p "$OUT"
ulimit -n 20000 2>/dev/null
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

MQTT_LOAD=$B/bench-bin/mqtt-load
have_mosquitto=1
if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq mosquitto >/dev/null 2>&1; fi
fi
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$MOSQUITTO" ] || { log "mqtt: Mosquitto is not installed and cannot be (apt-get install mosquitto): peer rows skipped"; have_mosquitto=0; }
[ -x "$MQTT_LOAD" ] || { log "mqtt: $MQTT_LOAD is not built: peer rows skipped"; have_mosquitto=0; }

# --------------------------------------------------------------------------- device-server
# metric ADMIN_PORT NAME [LABELS]: one sample of the server's /metrics.
metric() {
  curl -s "http://127.0.0.1:$1/metrics" | awk -v k="$2${3:-}" '$1==k{print $2; exit}'
}
device_start() {  # NAME WRAPPER...: device-server (under the wrapper) on port 0, auto-registering
  local name=$1; shift
  rm -rf "$WORK/data"
  start "$name" "$@" "$B/bin/device-server" --port 0 --admin-port 0 --auto-register --quiet --data-dir "$WORK/data" ||
    return 1
  DPORT=$SPORT
  APORT=$(grep -m1 '^listening admin' "$OUT/$name.stdout" | awk -F: '{print $NF}')
}
# device_heartbeats NAME SECONDS WRAPPER...: PEER_CLIENTS devices heartbeat for SECONDS; sets OPS.
device_heartbeats() {
  local name=$1 seconds=$2; shift 2
  device_start "$name" "$@" || return 1
  taskset -c "$LOAD_CPU" "$B/bin/device-emulator" --port "$DPORT" --devices "$PEER_CLIENTS" --heartbeat $HEARTBEAT \
    --report 0 --quiet --duration "$seconds" >"$OUT/$name-emulator.stdout" 2>&1
  OPS=$(( $(metric "$APORT" device_frames_in_total) - $(metric "$APORT" device_logins_total) ))
  stop
}
# device_round_trips NAME COUNT WRAPPER...: COUNT admin interacts on one keep-alive connection.
device_round_trips() {
  local name=$1 count=$2; shift 2
  device_start "$name" "$@" || return 1
  taskset -c "$LOAD_CPU" "$B/bin/device-emulator" --port "$DPORT" --devices 1 --heartbeat 600 --report 0 --quiet \
    >"$OUT/$name-emulator.stdout" 2>&1 &
  local emulator=$!
  for _ in $(seq 100); do [ "$(metric "$APORT" device_online)" = 1 ] && break; sleep 0.1; done
  # curl's URL globbing: COUNT requests, one connection kept alive.
  taskset -c "$LOAD_CPU" curl -s -o /dev/null -H 'Content-Type: application/json' -d '{"type":104,"text":"bench"}' \
    "http://127.0.0.1:$APORT/devices/860000000000000/commands?mode=interact&timeout=5&n=[1-$count]"
  OPS=$(metric "$APORT" device_commands_total '{mode="interact",result="OK"}')
  kill -TERM $emulator; wait $emulator 2>/dev/null
  stop
}

# --------------------------------------------------------------------------- counting
CALLGRIND=(valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out.%p")
STRACE=(strace -f -c -o "$WORK/strace.txt")
instructions() { callgrind_annotate "$WORK"/callgrind.out.* 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1; exit}'; }
syscalls() { awk '$NF=="total"{print $(NF-2)}' "$WORK/strace.txt"; }  # calls (errors may be empty)
# per_op FUNCTION COUNTER SHORT LONG: FUNCTION NAME ARG WRAPPER... run twice; prints the
# difference of COUNTER (instructions or syscalls) over the difference in operations.
per_op() {
  local fn=$1 counter=$2 short=$3 long=$4 a b ops_a ops_b wrapper
  if [ "$counter" = instructions ]; then wrapper=("${CALLGRIND[@]}"); else wrapper=("${STRACE[@]}"); fi
  rm -f "$WORK"/callgrind.out.* "$WORK/strace.txt"
  $fn "$fn-$counter" "$short" "${wrapper[@]}" || return 1
  ops_a=$OPS; a=$($counter)
  rm -f "$WORK"/callgrind.out.* "$WORK/strace.txt"
  $fn "$fn-$counter" "$long" "${wrapper[@]}" || return 1
  ops_b=$OPS; b=$($counter)
  log "mqtt: $fn $counter: $a over $ops_a ops, $b over $ops_b ops"
  awk -v a="$a" -v b="$b" -v x="$ops_a" -v y="$ops_b" 'BEGIN{ if (y > x) printf "%.2f", (b-a)/(y-x); else print "nan" }'
}

# --------------------------------------------------------------------------- Mosquitto
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mosq_start() {  # NAME WRAPPER...: Mosquitto on a free port, no persistence, TCP_NODELAY as device-server
  local name=$1; shift
  MPORT=$(free_port)
  # user: started as root, Mosquitto would switch to its own user and could not write callgrind's file.
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\nlog_type none\nuser %s\n' \
    "$MPORT" "$(id -un)" > "$WORK/mosquitto.conf"
  taskset -c "$SERVER_CPU" "$@" "$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$OUT/$name.stdout" 2>"$OUT/$name.stderr" &
  SPID=$!
  for _ in $(seq 400); do (exec 3<>"/dev/tcp/127.0.0.1/$MPORT") 2>/dev/null && return 0; sleep 0.05; done
  log "$name: Mosquitto did not start"; return 1
}
mqtt_load() { taskset -c "$LOAD_CPU" "$MQTT_LOAD" --port "$MPORT" "$@"; }
mosq_heartbeats() {  # NAME SECONDS WRAPPER...: PEER_CLIENTS clients PINGREQ every HEARTBEAT s
  local name=$1 seconds=$2; shift 2
  mosq_start "$name" "$@" || return 1
  local out; out=$(mqtt_load --clients "$PEER_CLIENTS" --interval $HEARTBEAT --duration "$seconds")
  OPS=$(echo "$out" | field pongs)
  stop
}
mosq_round_trips() {  # NAME COUNT WRAPPER...: COUNT QoS 1 command round trips, one after another
  local name=$1 count=$2; shift 2
  mosq_start "$name" "$@" || return 1
  local out; out=$(mqtt_load --clients 1 --interval 600 --round-trips "$count")
  OPS=$(echo "$out" | field round_trips)
  stop
}

# --------------------------------------------------------------------------- held connections
HOLD_SECONDS=${PEER_HOLD_SECONDS:-10}
# held NAME START_FN LOAD_FN: bytes per held connection and server CPU (cores) while PEER_HOLD
# clients heartbeat every 5 s; sets HELD_BYTES and HELD_CPU.
held() {
  local name=$1 start_fn=$2 load_fn=$3
  $start_fn "$name" || return 1
  local rss0 rss1 t0 t1 load
  sleep 0.5
  rss0=$(rss_kib "$SPID")
  $load_fn >"$OUT/$name-load.stdout" 2>"$OUT/$name-load.stderr" &
  load=$!
  for _ in $(seq 1200); do grep -qs '^all ' "$OUT/$name-load.stdout" && break; kill -0 $load 2>/dev/null || break; sleep 0.1; done
  if ! grep -q '^all ' "$OUT/$name-load.stdout"; then
    log "mqtt: $name: the clients did not all connect"; kill -TERM $load 2>/dev/null; wait $load 2>/dev/null; stop; return 1
  fi
  sleep 6  # a whole heartbeat round first
  t0=$(cpu_ticks "$SPID"); sleep "$HOLD_SECONDS"; t1=$(cpu_ticks "$SPID")
  rss1=$(rss_kib "$SPID")
  kill -TERM $load; wait $load 2>/dev/null
  stop
  HELD_BYTES=$(( (rss1 - rss0) * 1024 / PEER_HOLD ))
  HELD_CPU=$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v s="$HOLD_SECONDS" 'BEGIN{printf "%.3f", t / hz / s}')
  log "mqtt: $name: $PEER_HOLD held: VmRSS $rss0 -> $rss1 KiB, $HELD_BYTES B each, $HELD_CPU cores"
}
device_start_plain() { device_start "$1"; }
mosq_start_plain() { mosq_start "$1"; }
# From a loopback address of their own: past ~14,000 connections from one address, every
# connect() scans the kernel's ephemeral ports (see device-emulator --source).
device_fleet() {
  exec taskset -c "$LOAD_CPU" "$B/bin/device-emulator" --port "$DPORT" --devices "$PEER_HOLD" --heartbeat 5 --report 0 \
    --quiet --source 127.0.0.2
}
# Mosquitto's fleet from another address: the device fleet's closed connections linger in TIME_WAIT.
mqtt_fleet() { exec taskset -c "$LOAD_CPU" "$MQTT_LOAD" --port "$MPORT" --clients "$PEER_HOLD" --interval 5 --source 127.0.0.3; }

if [ "${1:-}" = device-only ]; then
  echo "heartbeat instructions $(per_op device_heartbeats instructions $SHORT $LONG)"
  echo "heartbeat syscalls $(per_op device_heartbeats syscalls $SHORT $LONG)"
  echo "round trip instructions $(per_op device_round_trips instructions $RTS_SHORT $RTS_LONG)"
  exit 0
fi

declare -A V
part() { [[ ",$PARTS," == *",$1,"* ]]; }
if part counts; then
  log "mqtt: device-server, $PEER_CLIENTS devices heartbeating every $HEARTBEAT s (callgrind, strace)"
  V[d_hb_ir]=$(per_op device_heartbeats instructions "$SHORT" "$LONG")
  V[d_hb_sc]=$(per_op device_heartbeats syscalls "$SHORT" "$LONG")
  V[d_rt_ir]=$(per_op device_round_trips instructions "$RTS_SHORT" "$RTS_LONG")
  V[d_rt_sc]=$(per_op device_round_trips syscalls "$RTS_SHORT" "$RTS_LONG")
fi
part held && held device-held device_start_plain device_fleet && V[d_bytes]=$HELD_BYTES V[d_cpu]=$HELD_CPU
if [ $have_mosquitto = 1 ]; then
  log "mqtt: Mosquitto $("$MOSQUITTO" -h 2>/dev/null | awk '/version/{print $3; exit}'), the same work"
  if part counts; then
    V[m_hb_ir]=$(per_op mosq_heartbeats instructions "$SHORT" "$LONG")
    V[m_hb_sc]=$(per_op mosq_heartbeats syscalls "$SHORT" "$LONG")
    V[m_rt_ir]=$(per_op mosq_round_trips instructions "$RTS_SHORT" "$RTS_LONG")
    V[m_rt_sc]=$(per_op mosq_round_trips syscalls "$RTS_SHORT" "$RTS_LONG")
  fi
  part held && held mosquitto-held mosq_start_plain mqtt_fleet && V[m_bytes]=$HELD_BYTES V[m_cpu]=$HELD_CPU
fi
peer_row() {  # METRIC DEVICE_KEY MOSQUITTO_KEY
  if [ $have_mosquitto = 1 ]; then row mqtt device-server "$1" "${V[$2]:-}" mosquitto "${V[$3]:-}"
  else row mqtt device-server "$1" "${V[$2]:-}" "mosquitto (not installed: skipped)" ""; fi
}
if part counts; then
  peer_row "instructions/heartbeat ($PEER_CLIENTS clients)" d_hb_ir m_hb_ir
  peer_row "syscalls/heartbeat" d_hb_sc m_hb_sc
  peer_row "instructions/command round trip (interact over keep-alive HTTP; MQTT QoS 1 both ways)" d_rt_ir m_rt_ir
  peer_row "syscalls/command round trip" d_rt_sc m_rt_sc
fi
if part held; then
  peer_row "bytes/held connection ($PEER_HOLD, heartbeat 5 s)" d_bytes m_bytes
  peer_row "server cores while $PEER_HOLD heartbeat every 5 s" d_cpu m_cpu
fi
exit 0

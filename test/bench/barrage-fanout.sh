#!/bin/bash
# The barrage simulator's own cost of room fan-out (issue 8): user-space instructions (callgrind)
# and system calls (strace) per delivery, each the difference of two runs that differ only in the
# message count (so connecting and logging in cancel out): 1,000 barrage-load clients in one
# room, coalesce mode, 400 messages/s, a write per client every 0.05 s. The server is pinned to
# SERVER_CPU, the load to LOAD_CPU. Appends rows to $TSV; run by run-bench.sh (BENCH_ONLY=cost).
#
# BENCH_BARRAGE_BASELINE=DIR (a directory holding another build's barrage-server) measures that
# server too, beside this one with the same load, and then the deliveries/s of both at capacity
# (5,000 clients, 4,000 messages/s asked), alternating three times: the ratio is this build's.
set -u
B=${BUILD_DIR:?}; OUT=${OUT:?}; TSV=${TSV:?}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BASELINE=${BENCH_BARRAGE_BASELINE:-}
CLIENTS=1000
cd "$(dirname "$0")/../.."
# shellcheck source=test/bench/common.sh
source test/bench/common.sh
ulimit -n 20000 2>/dev/null

# run_server SERVER_BIN TOOL MESSAGES CLIENTS RATE: one fan-out; prints the tool's total
# (instructions, system calls, or deliveries/s for TOOL=none).
run_server() {
  local server=$1 tool=$2 messages=$3 clients=$4 rate=$5 prefix=()
  case $tool in
    callgrind) prefix=(valgrind --tool=callgrind "--callgrind-out-file=$OUT/barrage.callgrind") ;;
    strace) prefix=(strace -f -c -o "$OUT/barrage.strace") ;;
  esac
  start barrage-fanout "${prefix[@]}" "$server" --port 0 --quiet --mode coalesce --rate "$rate" --total "$messages" \
    --wait-for "$clients" --batch 0.05 --max-queue $((64 << 20)) || return
  local summary
  summary=$(taskset -c "$LOAD_CPU" "$B/bin/barrage-load" --port "$SPORT" --room 1 --clients "$clients" --expect "$messages" \
    --timeout 600 2>/dev/null)
  stop
  [ "$(echo "$summary" | field complete)" = "$clients" ] || log "barrage-fanout: incomplete: $summary"
  case $tool in
    callgrind) callgrind_annotate "$OUT/barrage.callgrind" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1; exit}' ;;
    strace) awk '$NF=="total"{print $4}' "$OUT/barrage.strace" ;;  # % time, seconds, usecs/call, calls
    none) echo "$summary" | field deliveries_per_s ;;
  esac
}

# per_delivery SERVER_BIN TOOL: the difference of 200 and 600 messages over the extra deliveries.
per_delivery() {
  local a b
  a=$(run_server "$1" "$2" 200 $CLIENTS 400); b=$(run_server "$1" "$2" 600 $CLIENTS 400)
  awk -v a="$a" -v b="$b" -v d=$((400 * CLIENTS)) 'BEGIN{if (a == "" || b == "") exit; printf "%.3f", (b-a)/d}'
}

declare -A IR SC
subjects=(barrage-server)
[ -n "$BASELINE" ] && subjects+=(baseline)
for subject in "${subjects[@]}"; do
  server=$B/bin/barrage-server
  [ "$subject" = baseline ] && server=$BASELINE/barrage-server
  log "barrage fan-out cost: $subject"
  IR[$subject]=$(per_delivery "$server" callgrind)
  SC[$subject]=$(per_delivery "$server" strace)
done
base_name=$([ -n "$BASELINE" ] && echo baseline)
row cost barrage-server "instructions/delivery ($CLIENTS clients, coalesce)" "${IR[barrage-server]}" "$base_name" "${IR[baseline]:-}"
row cost barrage-server "syscalls/delivery ($CLIENTS clients, coalesce)" "${SC[barrage-server]}" "$base_name" "${SC[baseline]:-}"

if [ -n "$BASELINE" ]; then
  ours=(); theirs=()
  for round in 1 2 3; do
    log "barrage fan-out at capacity, round $round"
    theirs+=("$(run_server "$BASELINE/barrage-server" none 1000 5000 4000)")
    ours+=("$(run_server "$B/bin/barrage-server" none 1000 5000 4000)")
  done
  median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
  row cost barrage-server "deliveries/s at capacity (5000 clients, median of 3)" "$(median "${ours[@]}")" baseline "$(median "${theirs[@]}")"
fi
exit 0

#!/bin/bash
# Sync relay benchmark (run by `make bench`; env BUILD_DIR, OUT, TSV): jobs per second through
# the command port with a trivial sync program (/bin/true), and log lines per second one job
# streams into the durable store while a client polls its log as the page does; with the
# server's memory (VmRSS) after each. Rows go to $TSV.
set -u
cd "$(dirname "$0")/../.."
B=${BUILD_DIR:-$PWD/build}
OUT=${OUT:-$B/bench}
TSV=${TSV:-$OUT/results.tsv}
JOBS=${SYNC_BENCH_JOBS:-$([ "${BENCH_QUICK:-0}" = 1 ] && echo 300 || echo 1000)}
LINES=${SYNC_BENCH_LINES:-100000}
mkdir -p "$OUT"
log() { printf '[bench-sync %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" "${6:-}" "${7:-}" >> "$TSV"; }
field() { sed -n "s/.*\b$1=\([^[:space:]]*\).*/\1/p" | head -1; }
rss_kib() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }

for f in "$B/bin/sync-server" "$B/bench-bin/sync-load"; do
  [ -x "$f" ] || { log "missing $f (make build/bin/sync-server build/bench-bin/sync-load)"; exit 1; }
done
WORK=$(mktemp -d /tmp/bench-sync-XXXXXX)
trap 'kill $SPID 2>/dev/null; wait $SPID 2>/dev/null; rm -rf "$WORK"' EXIT
printf 'trivial 30 /bin/true\nflood 120 %s 1 {id}\n' "$(command -v seq)" > "$WORK/sync.conf"

"$B/bin/sync-server" --port 0 --http-port 0 --data-dir "$WORK/data" --config "$WORK/sync.conf" \
  --keep-jobs 100000 --quiet > "$WORK/server.out" 2> "$WORK/server.err" &
SPID=$!
for _ in $(seq 200); do [ "$(grep -c '^listening' "$WORK/server.out" 2>/dev/null)" = 2 ] && break; sleep 0.05; done
PORT=$(awk -F: '/^listening command/{print $NF}' "$WORK/server.out")
HTTP=$(awk -F: '/^listening http/{print $NF}' "$WORK/server.out")
[ -n "$PORT" ] && [ -n "$HTTP" ] || { log "sync-server did not start"; cat "$WORK/server.err" >&2; exit 1; }
RSS_IDLE=$(rss_kib $SPID)

log "$JOBS trivial jobs through the command port (--max-jobs 4)"
out=$("$B/bench-bin/sync-load" jobs "$PORT" trivial "$JOBS") || { log "jobs run failed: $out"; exit 1; }
log "$out"
RSS_JOBS=$(rss_kib $SPID)
row sync sync-server "jobs/s (/bin/true, $JOBS jobs, 4 at once)" "$(echo "$out" | field jobs_per_s)"
row sync sync-server "sync commands/s (pipelined; one fsync per read)" "$(echo "$out" | field submit_per_s)"
row sync sync-server "VmRSS KiB after $JOBS jobs" "$RSS_JOBS" "idle" "$RSS_IDLE"

log "one job streaming $LINES log lines, log polled twice a second over HTTP"
out=$("$B/bench-bin/sync-load" lines "$PORT" "$HTTP" flood "$LINES" "$LINES") || { log "lines run failed: $out"; exit 1; }
log "$out"
RSS_LINES=$(rss_kib $SPID)
row sync sync-server "log lines/s into the store (one job, polled)" "$(echo "$out" | field lines_per_s)"
row sync sync-server "VmRSS KiB holding $LINES more log lines" "$RSS_LINES" "after jobs" "$RSS_JOBS"
row sync sync-server "journal bytes" "$(du -sb "$WORK/data" | cut -f1)"
kill -TERM $SPID; wait $SPID

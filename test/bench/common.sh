# Helpers shared by run-bench.sh and the section scripts it runs (sourced, not executed).
# Needs OUT (output directory), TSV (the results table) and SERVER_CPU.

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# row SECTION SUBJECT METRIC VALUE [BASELINE_NAME BASELINE_VALUE]
row() {
  local ratio=""
  if [ -n "${6:-}" ] && [ "${6}" != "0" ]; then ratio=$(awk -v a="$4" -v b="$6" 'BEGIN{printf "%.2f", a/b}'); fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" "${6:-}" "$ratio" >> "$TSV"
}

# field NAME: the value of NAME=VALUE in stdin.
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p; s/^$1=\([^[:space:]]*\).*/\1/p" | head -1; }

# start NAME CMD...: starts a server pinned to SERVER_CPU; sets SPID and SPORT.
start() {
  local name=$1; shift
  local out=$OUT/$name.stdout
  rm -f "$out"
  taskset -c "$SERVER_CPU" "$@" >"$out" 2>"$OUT/$name.stderr" &
  SPID=$!
  for _ in $(seq 200); do grep -q '^listening' "$out" 2>/dev/null && break; sleep 0.05; done
  SPORT=$(grep -m1 '^listening' "$out" | awk -F: '{print $NF}')
  [ -n "$SPORT" ] || { log "$name did not start"; return 1; }
}
# Tracers (strace) are stopped through their tracee, so they write their summary.
stop() {
  local child
  child=$(pgrep -P "$SPID" | head -1)
  if [ -n "$child" ] && [ "$(ps -o comm= -p "$SPID")" = strace ]; then kill -TERM "$child"; else kill -TERM "$SPID"; fi
  wait "$SPID" 2>/dev/null
}
rss_kib() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }  # utime + stime

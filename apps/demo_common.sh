# Sourced by every apps/<app>/demo.sh: the checks, the scratch directory, the cleanup and the
# helpers a tour needs, in one place. Each demo ends by itself; DEMO_TIMEOUT bounds the waits.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${BIN_DIR:-$root/build/bin}

# needs PROGRAM...: each must be built (curl and python3 are looked up on PATH).
needs() {
  for program in "$@"; do
    case "$program" in
      curl|python3) command -v "$program" >/dev/null || { echo "demo: needs $program" >&2; exit 1; } ;;
      *) [ -x "$bin/$program" ] || { echo "demo: $bin/$program is missing; run make first" >&2; exit 1; } ;;
    esac
  done
}

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# wait_line FILE PREFIX: waits (at most 10 s) for a line starting with PREFIX in FILE and prints it;
# on failure shows FILE's .log companion (the program's stderr).
wait_line() {
  for _ in $(seq 100); do
    if grep -q "^$2" "$1" 2>/dev/null; then grep -m1 "^$2" "$1"; return 0; fi
    sleep 0.1
  done
  echo "demo: no '$2' in $1" >&2; cat "${1%.out}.log" >&2 || true; exit 1
}

# port_of FILE WHAT: the port of the `listening WHAT H:P` line a program prints on stdout.
port_of() { wait_line "$1" "listening $2" | sed 's/.*://'; }

# stop PID NAME: SIGTERM, then reports the exit status (a clean stop is part of every tour).
stop() {
  kill -TERM "$1" 2>/dev/null || true
  if wait "$1"; then echo "$2 exited 0"; else echo "$2 exited $?"; return 1; fi
}

pretty() { python3 -m json.tool 2>/dev/null || cat; }

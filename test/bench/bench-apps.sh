#!/bin/bash
# The programs' own benchmarks (device, barrage, messenger). Each prints its figures; they are
# kept verbatim in $OUT/<name>.txt (shown in results.md) and summarised as rows in $TSV.
set -u
B=${BUILD_DIR:?}; OUT=${OUT:?}; TSV=${TSV:?}
QUICK=${BENCH_QUICK:-0}
run() {  # name, command...
  local name=$1; shift
  [ -x "$1" ] || { printf 'apps\t%s\tnot built\t\t\t\t\n' "$name" >> "$TSV"; return; }
  echo "[bench] $name: $*" >&2
  timeout 900 "$@" > "$OUT/$name.txt" 2> "$OUT/$name.stderr" || echo "[bench] $name exited $?" >&2
}
if [ "$QUICK" = 1 ]; then
  run device-bench "$B/bench-bin/device-bench" --devices 5000 --hold 5 --interacts 500
  run barrage-bench "$B/bench-bin/barrage-bench" --quick
  run messenger-bench "$B/bench-bin/messenger-bench" --connections 1000 --messages 500 --file-mib 50
else
  run device-bench "$B/bench-bin/device-bench" --devices 19000 --hold 30 --interacts 2000
  run barrage-bench "$B/bench-bin/barrage-bench"
  run messenger-bench "$B/bench-bin/messenger-bench" --connections 1000 --messages 2000 --file-mib 200
fi
# device-bench prints "name  value unit" lines.
[ -s "$OUT/device-bench.txt" ] && awk '{name=$1; value=$2; $1=""; $2=""; sub(/^ +/, ""); printf "apps\tdevice-server\t%s%s\t%s\t\t\t\n", name, ($0 == "" ? "" : " (" $0 ")"), value}' "$OUT/device-bench.txt" >> "$TSV"
for name in barrage-bench messenger-bench; do
  [ -s "$OUT/$name.txt" ] && while IFS= read -r line; do printf 'apps\t%s\t%s\t\t\t\t\n' "${name%-bench}" "$line" >> "$TSV"; done < "$OUT/$name.txt"
done
exit 0

#!/bin/bash
# valgrind's memcheck over echo-server and device-server during a short real load: no invalid
# reads or writes, no use of uninitialised memory, and no leaks (definitely or indirectly lost)
# when they stop on SIGTERM. Run by CI; `make memcheck` too.
set -u
B=${BUILD_DIR:-$PWD/build}
command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
failed=0

# start NAME CMD...: runs CMD under memcheck; sets VPID, and the file of its stdout.
start() {
  local name=$1; shift
  valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect --error-exitcode=99 --log-file="$work/$name.valgrind" \
    "$@" >"$work/$name.out" 2>"$work/$name.err" &
  VPID=$!
  for _ in $(seq 300); do grep -q '^listening' "$work/$name.out" 2>/dev/null && return 0; sleep 0.1; done
  echo "memcheck: $name did not start"; cat "$work/$name.err" "$work/$name.valgrind"; exit 1
}
port_of() { grep -m1 "^listening $2" "$work/$1.out" | sed 's/.*://'; }
finish() {  # name: stop it and judge valgrind's verdict
  local name=$1 code
  kill -TERM "$VPID"; wait "$VPID"; code=$?
  local summary
  summary=$(grep -E "ERROR SUMMARY|definitely lost|indirectly lost" "$work/$name.valgrind" | sed 's/^==[0-9]*== //')
  if [ "$code" = 0 ]; then
    echo "memcheck: $name clean: $(echo "$summary" | head -1)"
  else
    echo "memcheck: $name FAILED (exit $code)"; cat "$work/$name.valgrind"; failed=1
  fi
}

start echo "$B/bin/echo-server" --port 0
port=$(port_of echo echo)
"$B/bench-bin/echo-load" --port "$port" --connections 20 --depth 4 --size 300 --messages 200 >/dev/null ||
  { echo "memcheck: echo load failed"; failed=1; }
head -c 200000 /dev/urandom > "$work/blob"
"$B/bin/echo-client" --port "$port" < "$work/blob" | cmp -s - "$work/blob" || { echo "memcheck: echo-client mismatch"; failed=1; }
finish echo

start device "$B/bin/device-server" --port 0 --admin-port 0 --auto-register --data-dir "$work/device" --quiet
dport=$(port_of device device); aport=$(port_of device admin)
"$B/bin/device-emulator" --port "$dport" --devices 30 --heartbeat 1 --report 1 --duration 6 --quiet >/dev/null 2>&1 &
sleep 3
curl -s "127.0.0.1:$aport/devices" >/dev/null
curl -s -X POST "127.0.0.1:$aport/devices/860000000000001/commands?mode=interact&timeout=3" -d '{"type":101}' >/dev/null
curl -s -X POST "127.0.0.1:$aport/devices/860000000000099/commands?mode=queue" -d '{"type":104,"text":"later"}' >/dev/null
printf '\x00\x00\x00\x05hello' | timeout 3 nc -q 1 127.0.0.1 "$dport" >/dev/null 2>&1  # a bad frame
curl -s "127.0.0.1:$aport/metrics" >/dev/null
wait %2 2>/dev/null
finish device
exit $failed

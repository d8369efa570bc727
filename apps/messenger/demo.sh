#!/bin/bash
# A tour of the messenger: a hub keeping the directory, two peers (alice and bob) finding each
# other through it, a message, a broadcast, a 3 MiB file with its progress and SHA-256 checked at
# both ends, and a clean stop. The peers read commands on stdin, as a person would type them.
# Needs `make` first (build/bin).
source "$(dirname "$0")/../demo_common.sh"
needs msg-hub msg-peer

step "start msg-hub (a free port, the directory sent every 0.3 s)"
"$bin/msg-hub" --port 0 --interval 0.3 >"$work/hub.out" 2>"$work/hub.log" &
pids+=($!)
hub_pid=$!
hub_port=$(port_of "$work/hub.out" hub)
echo "hub 127.0.0.1:$hub_port"

# Each peer's stdin is a FIFO the tour writes commands into, one a line.
start_peer() {  # NAME
  mkfifo "$work/$1.in"
  "$bin/msg-peer" --name "$1" --hub "127.0.0.1:$hub_port" --report 0.2 --inbox "$work/$1-inbox" --accept-files-from all \
    <"$work/$1.in" >"$work/$1.out" 2>"$work/$1.log" &
  pids+=($!)
  eval "${1}_pid=$!"
  exec {fd}>"$work/$1.in"
  eval "${1}_in=$fd"
  port_of "$work/$1.out" peer >/dev/null
}
say() { echo "$1> $2"; echo "$2" >&"$(eval echo "\$${1}_in")"; }
# wait_for NAME PREFIX: the first line of NAME's output starting with PREFIX.
wait_for() { wait_line "$work/$1.out" "$2"; }

step "start the peers alice and bob; each reports to the hub and learns the other's address"
start_peer alice
start_peer bob
for _ in $(seq 100); do
  grep -q 'bob@' "$work/alice.out" 2>/dev/null && grep -q 'alice@' "$work/bob.out" 2>/dev/null && break
  sleep 0.1
done
say alice peers
sleep 0.3
grep -m1 "bob@" "$work/alice.out"

step "a message and a broadcast"
say alice "connect bob"
wait_for alice "ok connect"
say alice "msg bob hello bob, this is alice"
wait_for bob "msg alice"
say bob "broadcast hello everyone"
wait_for alice "msg bob"

step "a 3 MiB file from alice to bob: progress while it goes, the same SHA-256 at both ends"
head -c 3145728 /dev/urandom >"$work/photo.bin"
say alice "send bob $work/photo.bin"
wait_for alice "ok send" >/dev/null
grep '^progress send' "$work/alice.out" || true
wait_for alice "ok send"
wait_for bob "file alice"
echo "sent:     $(sha256sum <"$work/photo.bin" | cut -d' ' -f1)"
echo "received: $(sha256sum <"$work/bob-inbox/photo.bin" | cut -d' ' -f1) ($work/bob-inbox/photo.bin)"

step "stop: quit on each peer's stdin, then SIGTERM to the hub"
say alice quit
say bob quit
wait "$alice_pid" && echo "msg-peer alice exited 0"
wait "$bob_pid" && echo "msg-peer bob exited 0"
stop "$hub_pid" msg-hub
pids=()

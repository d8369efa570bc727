#!/bin/bash
# A tour of the Douyu barrage pieces: the simulator broadcasting to a room, barrage-client
# printing messages as text and as JSON (with the nested `el` list decoded), a room the server
# does not serve (error 204), barrage-load checking a fleet of clients got every message, and a
# clean stop. Needs `make` first (build/bin).
source "$(dirname "$0")/../demo_common.sh"
needs barrage-server barrage-client barrage-load

step "start barrage-server (a free port, rooms 58839 and 9999, 20 broadcasts a second)"
"$bin/barrage-server" --port 0 --rooms 58839,9999 --rate 20 >"$work/server.out" 2>"$work/server.log" &
pids+=($!)
server_pid=$!
port=$(port_of "$work/server.out" barrage)
echo "port $port"

step "barrage-client --room 58839 --count 6: chat, entries and gifts as text"
timeout 20 "$bin/barrage-client" --port "$port" --room 58839 --count 6 --quiet

step "the same room as JSON, chat messages only (el, a nested STT list, decoded)"
timeout 20 "$bin/barrage-client" --port "$port" --room 58839 --count 2 --types chatmsg --format json --quiet

step "a room the server does not serve: error 204, never retried"
timeout 20 "$bin/barrage-client" --port "$port" --room 12345 --quiet 2>&1 || echo "barrage-client exited $?"

step "barrage-load: 200 clients in room 9999 of a second server that sends each exactly 50 messages"
"$bin/barrage-server" --port 0 --rooms 9999 --rate 200 --total 50 --wait-for 200 \
  >"$work/load-server.out" 2>"$work/load-server.log" &
pids+=($!)
load_server_pid=$!
load_port=$(port_of "$work/load-server.out" barrage)
timeout 60 "$bin/barrage-load" --port "$load_port" --room 9999 --clients 200 --expect 50 --timeout 30 --quiet

step "stop: SIGTERM (clients still connected get error 52)"
stop "$load_server_pid" "barrage-server (load)"
stop "$server_pid" barrage-server
tail -n 1 "$work/server.log"
pids=()

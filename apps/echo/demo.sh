#!/bin/bash
# A tour of the echo server: one message and stdin echoed back, a half-close, a connection cap
# refusing the extra client, and a clean stop. Needs `make` first (build/bin).
source "$(dirname "$0")/../demo_common.sh"
needs echo-server echo-client

step "start echo-server (a free port, at most 2 connections from one host)"
"$bin/echo-server" --port 0 --max-per-peer 2 >"$work/server.out" 2>"$work/server.log" &
pids+=($!)
server_pid=$!
port=$(port_of "$work/server.out" echo)
echo "port $port"

step "echo-client --message: one message there and back"
"$bin/echo-client" --port "$port" --message "hello, asyncore++"

step "echo-client with stdin: everything it reads, then a half-close; the server finishes sending, then closes"
printf 'line one\nline two\n' | "$bin/echo-client" --port "$port"

step "two idle connections held, a third from the same host is refused (--max-per-peer 2)"
exec 3<>"/dev/tcp/127.0.0.1/$port" 4<>"/dev/tcp/127.0.0.1/$port"
sleep 0.2
if "$bin/echo-client" --port "$port" --message "third" >"$work/third.out" 2>&1; then
  echo "third client echoed: $(cat "$work/third.out")"
else
  echo "third client refused: $(tr '\n' ' ' <"$work/third.out")"
fi
exec 3>&- 4>&-
grep -m1 'refused' "$work/server.log" || true

step "stop: SIGTERM"
stop "$server_pid" echo-server
tail -n 1 "$work/server.log"
pids=()

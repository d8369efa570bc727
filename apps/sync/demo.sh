#!/bin/bash
# A tour of the sync relay: a sync handed in on the command port and followed to its end, the
# same through the JSON API the web page uses, a cancelled job, the operator's status and metrics,
# and a clean stop. Needs `make` first (build/bin) and curl.
source "$(dirname "$0")/../demo_common.sh"
needs sync-server sync-client curl

step "start sync-server (free ports, data in $work/data, the built-in 'demo' record type)"
"$bin/sync-server" --port 0 --http-port 0 --data-dir "$work/data" >"$work/server.out" 2>"$work/server.log" &
pids+=($!)
server_pid=$!
port=$(port_of "$work/server.out" command)
http="http://127.0.0.1:$(port_of "$work/server.out" http)"
echo "command port $port, web page and API $http/"

step "sync-client sync demo 1 --follow: the program's log and a progress bar, to its end"
"$bin/sync-client" --port "$port" sync demo 1 --follow

step "the web page's API: the record types offered, POST /api/sync, then the job's status once it ended"
curl -s "$http/api/types"; echo
curl -s -X POST "$http/api/sync" -d '{"type":"demo","id":"2"}'; echo
for _ in $(seq 100); do
  state=$(curl -s "$http/api/jobs/2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
  [ "$state" = running ] || [ "$state" = queued ] || break
  sleep 0.1
done
curl -s "$http/api/jobs/2"; echo
echo "... and the same as sync-client shows it on a terminal (--human; --json gives the line above):"
"$bin/sync-client" --port "$port" --human status 2

step "a job cancelled while it runs: its log says who cancelled it and when"
"$bin/sync-client" --port "$port" --human sync demo 3
sleep 0.5
"$bin/sync-client" --port "$port" --human cancel 3
"$bin/sync-client" --port "$port" --human log 3

step "jobs, newest first"
"$bin/sync-client" --port "$port" --human jobs

step "the operator's view: GET /api/status, GET /health and a few lines of GET /metrics"
curl -s "$http/api/status"; echo
curl -s "$http/health"; echo
curl -s "$http/metrics" | grep -E '^(sync_jobs|process_resident|process_open_fds)'

step "stop while a sync runs: SIGTERM gives running jobs --grace seconds (10) to finish"
"$bin/sync-client" --port "$port" --human sync demo 4
sleep 0.3
stop "$server_pid" sync-server
grep -E 'stopping|job 4: succeeded|stopped' "$work/server.log" | cut -d' ' -f3-
pids=()

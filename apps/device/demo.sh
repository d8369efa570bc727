#!/bin/bash
# A tour of the device server: a fleet of emulated watches logs in, the admin API shows them,
# a command round trip, a command queued for an offline watch and delivered when it logs in,
# the metrics, and a clean stop. Needs `make` first (build/bin) and curl.
source "$(dirname "$0")/../demo_common.sh"
needs device-server device-emulator curl

step "start device-server (free ports, data in $work/data, auto-registration on)"
offline_imei=860000000000099
echo "$offline_imei demo-secret" > "$work/registry"
"$bin/device-server" --port 0 --admin-port 0 --auto-register --registry "$work/registry" \
  --data-dir "$work/data" >"$work/server.out" 2>"$work/server.log" &
pids+=($!)
server_pid=$!
device_port=$(wait_line "$work/server.out" "listening device" | sed 's/.*://')
admin_port=$(wait_line "$work/server.out" "listening admin" | sed 's/.*://')
admin="http://127.0.0.1:$admin_port"
echo "device port $device_port, admin API $admin"

step "start 20 emulated devices (heartbeat every 10 s, the shortest the server accepts; a location every 2 s)"
"$bin/device-emulator" --port "$device_port" --devices 20 --heartbeat 10 --report 2 \
  >"$work/fleet.out" 2>"$work/fleet.log" &
pids+=($!)
fleet_pid=$!
wait_line "$work/fleet.out" "all logged in"
sleep 2.5  # let them report a location

step "GET /devices: who is online"
curl -s "$admin/devices" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("total %d, online %d" % (d["total"], d["online"]))
for dev in d["devices"][:5]:
    loc = dev["location"] or {}
    print("  %s online=%s peer=%s heartbeat=%ss battery=%s lat=%s lon=%s" % (dev["imei"], dev["online"], dev["peer"],
          dev["heartbeat"], "(first heartbeat due)" if dev["battery"] is None else dev["battery"],
          round(loc.get("lat", 0), 5), round(loc.get("lon", 0), 5)))
print("  ...")' 2>/dev/null || curl -s "$admin/devices"

step "interact: locate_now (type 101) to 860000000000003, answered with the device's ack"
curl -s -X POST "$admin/devices/860000000000003/commands?mode=interact&timeout=5" -d '{"type":101}'
echo
step "send: a message (type 104), fire-and-forget"
curl -s -X POST "$admin/devices/860000000000004/commands?mode=send" -d '{"type":104,"text":"hello from the demo"}'
echo

step "queue: a message for $offline_imei, which is offline (registered, never connected)"
curl -s -X POST "$admin/devices/$offline_imei/commands?mode=queue" -d '{"type":104,"text":"you were away"}'
echo
curl -s "$admin/metrics" | grep '^device_queued_commands'

step "$offline_imei logs in (token from the registry) and acks the queued command"
"$bin/device-emulator" --port "$device_port" --devices 1 --imei-base "$offline_imei" --registry "$work/registry" \
  --heartbeat 10 --report 0 --duration 2 --quiet >"$work/late.out" 2>"$work/late.log"
grep '^summary' "$work/late.out"
curl -s "$admin/metrics" | grep '^device_queued_commands'
curl -s "$admin/devices/$offline_imei/events" | pretty

step "GET /metrics"
curl -s "$admin/metrics" | grep -v '^#'

step "stop: the fleet, then the server (SIGTERM records every device offline and syncs the journal)"
stop "$fleet_pid" device-emulator
grep '^summary' "$work/fleet.out"
stop "$server_pid" device-server
tail -n 3 "$work/server.log"
pids=()

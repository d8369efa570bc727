#!/bin/bash
# DEMO=cluster make demo: three device-server nodes sharing one redis-server (--redis), a fleet
# spread over them, a command crossing nodes, and a node killed: the others let its devices go
# once its lease lapses. Needs `make` first (build/bin), curl and Debian's redis-server.
source "$(dirname "$0")/../demo_common.sh"
needs device-server device-emulator curl
for tool in redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "demo: needs $tool (apt-get install redis-server)" >&2; exit 1; }
done

rcli() { redis-cli -s "$work/redis.sock" "$@"; }

step "start redis-server (unix socket $work/redis.sock, AOF with appendfsync always)"
redis-server --port 0 --unixsocket "$work/redis.sock" --dir "$work" --appendonly yes --appendfsync always \
  --save "" --daemonize no --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 100); do rcli PING >/dev/null 2>&1 && break; sleep 0.1; done
rcli PING

declare -A device_port admin_port node_pid
step "start three nodes a, b, c (lease 2 s)"
for node in a b c; do
  "$bin/device-server" --port 0 --admin-port 0 --auto-register --data-dir "$work/$node" \
    --redis "unix:$work/redis.sock" --node-id "$node" --lease 2 >"$work/$node.out" 2>"$work/$node.log" &
  pids+=($!)
  node_pid[$node]=$!
  device_port[$node]=$(wait_line "$work/$node.out" "listening device" | sed 's/.*://')
  admin_port[$node]=$(wait_line "$work/$node.out" "listening admin" | sed 's/.*://')
  echo "node $node: devices on ${device_port[$node]}, admin API on ${admin_port[$node]}"
done

step "30 emulated devices spread over the nodes (device-emulator --nodes)"
"$bin/device-emulator" --nodes "127.0.0.1:${device_port[a]},127.0.0.1:${device_port[b]},127.0.0.1:${device_port[c]}" \
  --devices 30 --heartbeat 2 --report 0 >"$work/fleet.out" 2>"$work/fleet.log" &
pids+=($!)
wait_line "$work/fleet.out" "all logged in"
sleep 0.5
for node in a b c; do
  echo "node $node: $(curl -s "127.0.0.1:${admin_port[$node]}/metrics" | grep '^device_online ') ; in redis: $(rcli SCARD "node:$node:devices") devices"
done
held_by() {  # NODE: the first device whose owner (device:<imei>:owner) is on NODE
  for i in $(seq 0 29); do
    imei=$((860000000000000 + i))
    case "$(rcli GET "device:$imei:owner")" in "$1"/*) echo "$imei"; return ;; esac
  done
}
on_b=$(held_by b); on_c=$(held_by c)
echo "owner of $on_b: $(rcli GET "device:$on_b:owner")   (node/incarnation/connection)"

step "interact from node a's admin API to $on_b, held by node b: the command crosses nodes"
curl -s -X POST "127.0.0.1:${admin_port[a]}/devices/$on_b/commands?mode=interact&timeout=5" -d '{"type":101}'
echo
curl -s "127.0.0.1:${admin_port[a]}/metrics" | grep -E '^device_redis_commands_total|^device_cluster_node'

step "kill -9 of node c; a and b let its devices go once its lease lapses"
{ kill -9 "${node_pid[c]}"; wait "${node_pid[c]}"; } 2>/dev/null || true
for _ in $(seq 100); do [ "$(rcli EXISTS node:c:devices)" = 0 ] && break; sleep 0.1; done
echo "owner of $on_c (was c's): '$(rcli GET "device:$on_c:owner")'; nodes: $(rcli SMEMBERS nodes | tr '\n' ' ')"
grep -h "lost its lease" "$work/a.log" "$work/b.log" || true

step "interact to $on_c from node a: nobody holds it now, NO at once"
curl -s -X POST "127.0.0.1:${admin_port[a]}/devices/$on_c/commands?mode=interact&timeout=5" -d '{"type":101}'
echo

step "stop: nodes a and b record their devices offline, in their journals and in redis"
for node in a b; do kill -TERM "${node_pid[$node]}"; wait "${node_pid[$node]}" && echo "node $node exited 0"; done
echo "devices still owned in redis: $(rcli --scan --pattern 'device:*:owner' | wc -l)"

#!/bin/bash
# HTTP keep-alive: requests/s of the toolkit's HTTP server (build/bench-bin/http-hello, a small JSON
# route) against nginx with one worker serving a file of the same body, both under the same wrk
# load, alternating twice. Appends rows to $TSV. Skips (with a row saying so) without wrk or nginx.
set -u
B=${BUILD_DIR:?}; OUT=${OUT:?}; TSV=${TSV:?}
SECONDS_EACH=${BENCH_HTTP_SECONDS:-5}
if ! command -v wrk >/dev/null || ! [ -x /usr/sbin/nginx ]; then
  printf 'http\tskipped\twrk or nginx missing\t\t\t\t\n' >> "$TSV"; exit 0
fi
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
printf '{"hello":"world"}' > "$dir/hello"
port_nginx=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
error_log $dir/error.log;
pid $dir/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port_nginx;
    location = /hello { default_type application/json; alias $dir/hello; }
  }
}
CONF
taskset -c 0 "$B/bench-bin/http-hello" --port 0 > "$dir/hello.out" 2>/dev/null &
ours_pid=$!
taskset -c 0 /usr/sbin/nginx -c "$dir/nginx.conf" -p "$dir" 2>/dev/null &
nginx_pid=$!
for _ in $(seq 100); do grep -q listening "$dir/hello.out" 2>/dev/null && break; sleep 0.05; done
port_ours=$(awk -F: '/listening/{print $NF}' "$dir/hello.out")
sleep 0.5
rps() { taskset -c 1 wrk -t1 -c50 -d"${SECONDS_EACH}"s "http://127.0.0.1:$1/hello" 2>/dev/null | awk '/Requests\/sec/{print $2}'; }
ours=0; theirs=0
for round in 1 2; do
  o=$(rps "$port_ours"); n=$(rps "$port_nginx")
  ours=$(awk -v a="$ours" -v b="${o:-0}" 'BEGIN{print a+b}'); theirs=$(awk -v a="$theirs" -v b="${n:-0}" 'BEGIN{print a+b}')
done
ours=$(awk -v a="$ours" 'BEGIN{printf "%.0f", a/2}'); theirs=$(awk -v a="$theirs" 'BEGIN{printf "%.0f", a/2}')
ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN{if (b>0) printf "%.2f", a/b}')
printf 'http\thttp-hello\tkeep-alive requests/s (wrk -c50)\t%s\tnginx 1 worker\t%s\t%s\n' "$ours" "$theirs" "$ratio" >> "$TSV"
kill "$ours_pid" "$nginx_pid" 2>/dev/null
wait 2>/dev/null

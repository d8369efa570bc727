#!/bin/bash
# `make demo`: the project doing its job. The flagship is the device long-connection server with
# an emulated fleet (apps/device/demo.sh); DEMO=sync, DEMO=barrage or DEMO=messenger pick another
# program's tour, DEMO=cluster three device-server nodes on one Redis, DEMO=all runs every one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
case "${DEMO:-device}" in
  device) exec "$here/device/demo.sh" ;;
  cluster) exec "$here/device/demo-cluster.sh" ;;
  all) for d in device sync barrage messenger; do [ -x "$here/$d/demo.sh" ] && "$here/$d/demo.sh"; done ;;
  *) [ -x "$here/${DEMO}/demo.sh" ] || { echo "demo: no demo for '${DEMO}'" >&2; exit 2; }; exec "$here/${DEMO}/demo.sh" ;;
esac

#!/bin/bash
# `make demo`: the project doing its job. The flagship is the device long-connection server with
# an emulated fleet (apps/device/demo.sh); DEMO=sync, DEMO=barrage, DEMO=messenger or DEMO=echo
# picks another program's tour, DEMO=cluster three device-server nodes on one Redis, DEMO=all runs
# every one. Each tour ends by itself.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
demos=(device sync barrage messenger echo)
case "${DEMO:-device}" in
  cluster) exec "$here/device/demo-cluster.sh" ;;
  all)
    for d in "${demos[@]}"; do
      printf '\n\033[1m######## %s\033[0m\n' "$d"
      "$here/$d/demo.sh" || { echo "demo: the $d tour failed" >&2; exit 1; }
    done ;;
  *)
    [ -x "$here/${DEMO:-device}/demo.sh" ] || { echo "demo: no demo for '${DEMO}' (try: ${demos[*]} cluster all)" >&2; exit 2; }
    exec "$here/${DEMO:-device}/demo.sh" ;;
esac

#!/bin/sh
# The Redis client's tests start their own redis-server, from Debian's redis-server package.
command -v redis-server >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "redis-server missing: installing Debian's redis-server" >&2
  (apt-get install -y -qq redis-server >/dev/null 2>&1 ||
   { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq redis-server >/dev/null 2>&1; }) &&
    command -v redis-server >/dev/null 2>&1 && exit 0
fi
echo "error: redis-server not found; install it with: sudo apt-get install redis-server" >&2
exit 1

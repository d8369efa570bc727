#!/bin/sh
# doctest comes from Debian's doctest-dev; it is never copied into the tree.
[ -f /usr/include/doctest/doctest.h ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "doctest.h missing: installing Debian's doctest-dev" >&2
  (apt-get install -y -qq doctest-dev >/dev/null 2>&1 ||
   { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq doctest-dev >/dev/null 2>&1; }) && exit 0
fi
echo "error: /usr/include/doctest/doctest.h not found; install it with: sudo apt-get install doctest-dev" >&2
exit 1

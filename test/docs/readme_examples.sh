#!/bin/sh
# readme_examples.sh README OUT: writes each ```cpp block of README that follows a line
# "<!-- example: NAME -->" to OUT/NAME.inc, with a #line directive so that a compiler error names
# README's own line. test/docs/readme_examples_test.cpp includes them: the README cannot drift.
# A C++ block without a marker, a marker without a block, or a name used twice is an error (so no
# example goes untested).
set -eu
readme=$1
out=$2
mkdir -p "$out"
rm -f "$out"/*.inc
awk -v out="$out" -v readme="$(realpath "$readme")" '
  function fail(why) { printf "%s:%d: %s\n", FILENAME, NR, why > "/dev/stderr"; failed = 1; exit 1 }
  inside && /^```/ { close(file); inside = 0; next }
  inside { print > file; next }
  /^<!-- example: [A-Za-z0-9_]+ -->$/ {
    if (name != "") fail("example " name " has no ```cpp block right after its marker")
    name = $3
    if (name in seen) fail("example " name " is named twice")
    seen[name] = 1
    next
  }
  /^```cpp/ {
    if (name == "") fail("a ```cpp block without an <!-- example: NAME --> marker above it")
    file = out "/" name ".inc"
    printf "#line %d \"%s\"\n", NR + 1, readme > file
    inside = 1
    name = ""
    next
  }
  name != "" { fail("example " name " has no ```cpp block right after its marker") }
  END { if (!failed && inside) fail("a ```cpp block is not closed") }
' "$readme"

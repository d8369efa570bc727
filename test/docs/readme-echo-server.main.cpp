// The README's first example, a whole program, built as the README shows it
// (build/gen/readme/echo_server.inc is its C++ block; see test/docs/readme_examples.sh).
#include "readme/echo_server.inc"

// embed-worker: results computed on a worker thread come back through call_soon_threadsafe.
#include <doctest/doctest.h>

#include <csignal>

#include "test/support/testing.h"

using namespace testing;

TEST_CASE("embed-worker answers from its worker thread, in order per client, and exits on SIGTERM") {
  Child server({bin_path("embed-worker"), "--port", "0"});
  int port = server.listening_port("primes");

  Client a(port), b(port);
  a.send_all("10\n1000\n");
  b.send_all("nope\n5\n");
  CHECK(a.recv_until("\n") == "prime 10 = 29\n");
  CHECK(a.recv_until("\n") == "prime 1000 = 7919\n");
  CHECK(b.recv_until("\n") == "error: expected a number 1..1000000\n");
  CHECK(b.recv_until("\n") == "prime 5 = 11\n");

  // A client that half-closes still gets every answer it asked for, then EOF.
  Client c(port);
  c.send_all("100000\n");
  c.shutdown_write();
  CHECK(c.recv_to_eof(Seconds(20)) == "prime 100000 = 1299709\n");

  // A client that leaves before its answer does not disturb the server.
  {
    Client gone(port);
    gone.send_all("200000\n");
  }
  a.send_all("1\n");
  CHECK(a.recv_until("\n", Seconds(20)) == "prime 1 = 2\n");

  server.signal(SIGTERM);
  CHECK(server.wait(Seconds(10)) == 0);
}

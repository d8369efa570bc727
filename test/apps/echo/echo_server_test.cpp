// echo-server as a program: --max-connections and --max-per-peer close extra connections at
// accept while the admitted ones keep echoing; refusals are logged and counted at the stop.
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>

#include "test/support/testing.h"

using testing::Client;
using testing::Seconds;

namespace {

std::string echo_once(Client& client, const std::string& text) {
  client.send_all(text);
  return client.recv_exact(text.size());
}

}  // namespace

TEST_CASE("connections past --max-per-peer and --max-connections are closed at once; the others echo on") {
  testing::Child server({testing::bin_path("echo-server"), "--port", "0", "--max-connections", "3", "--max-per-peer", "2"});
  const int port = server.listening_port("echo");
  Client a1(port, "127.0.0.1", "127.0.0.1");
  Client a2(port, "127.0.0.1", "127.0.0.1");
  CHECK(echo_once(a1, "a1") == "a1");
  CHECK(echo_once(a2, "a2") == "a2");
  Client a3(port, "127.0.0.1", "127.0.0.1");
  CHECK(a3.wait_closed(Seconds(5)));

  Client b1(port, "127.0.0.1", "127.0.0.2");
  CHECK(echo_once(b1, "b1") == "b1");
  Client c1(port, "127.0.0.1", "127.0.0.3");
  CHECK(c1.wait_closed(Seconds(5)));
  for (Client* admitted : {&a1, &a2, &b1}) CHECK(echo_once(*admitted, "still here") == "still here");

  // A free slot admits a newcomer again (the server closing a1 shows the slot is free).
  a1.shutdown_write();
  CHECK(a1.wait_closed(Seconds(5)));
  Client c2(port, "127.0.0.1", "127.0.0.3");
  CHECK(echo_once(c2, "in") == "in");

  const std::string log = server.stderr_text();
  CHECK(log.find("echo listener: refused 127.0.0.1:") != std::string::npos);
  CHECK(log.find("max_per_peer 2 reached") != std::string::npos);
  server.signal(SIGTERM);
  CHECK(server.wait() == 0);
  CHECK(server.stderr_text().find("connections 2 refused (max_connections 1, max_per_peer 1)") != std::string::npos);
}

TEST_CASE("the cap flags follow the conventions") {
  auto help = testing::run({testing::bin_path("echo-server"), "--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("--max-connections N") != std::string::npos);
  CHECK(help.out.find("--max-per-peer N") != std::string::npos);
  for (const char* bad : {"-1", "lots", "", "20000000"}) {
    auto r = testing::run({testing::bin_path("echo-server"), "--port", "0", "--max-per-peer", bad});
    CAPTURE(bad);
    CHECK(r.code == 2);
    CHECK(r.err.find("--max-per-peer") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
}

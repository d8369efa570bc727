// One simulator broadcasting to thousands of clients (barrage-load holds them all in one
// process): every client gets every message, in order, none dropped.
// BARRAGE_FANOUT_CLIENTS and BARRAGE_FANOUT_MESSAGES change the size (default 5000 x 200).
#include <doctest/doctest.h>

#include <cstdlib>

#include "test/apps/barrage/barrage_testing.h"

using namespace barrage_testing;

namespace {
int from_env(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::atoi(value) : fallback;
}
}  // namespace

TEST_CASE("fan-out: every client receives every message, numbered and complete") {
  const int clients = from_env("BARRAGE_FANOUT_CLIENTS", 5000);
  const int messages = from_env("BARRAGE_FANOUT_MESSAGES", 200);
  for (std::string mode : {"coalesce", "normal"}) {
    CAPTURE(mode);
    // The room holds its broadcasts until every client joined, so each must see 0..N-1.
    Server server({"--mode", mode, "--rate", "100", "--total", std::to_string(messages), "--wait-for", std::to_string(clients),
                   "--batch", "0.05"});
    auto result = testing::run({testing::bin_path("barrage-load"), "--port", server.port_text(), "--room", "1", "--clients",
                                std::to_string(clients), "--expect", std::to_string(messages), "--timeout", "40"},
                               Seconds(50));
    INFO("load stdout: " << result.out << "\nload stderr: " << result.err << "\nserver stderr: " << server.child.stderr_text());
    CHECK(result.code == 0);
    CHECK(result.out.find("joined " + std::to_string(clients)) != std::string::npos);
    CHECK(result.out.find("complete=" + std::to_string(clients) + " ") != std::string::npos);
    CHECK(result.out.find("received=" + std::to_string(static_cast<long long>(clients) * messages) + " ") != std::string::npos);
    CHECK(result.out.find("gaps=0 repeats=0") != std::string::npos);
  }
}

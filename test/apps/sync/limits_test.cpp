// sync-server's limits on what a peer controls: connection caps on both listeners (refusals in
// GET /api/status and the log), the command port's idle deadline, and JSON nesting depth.
#include <doctest/doctest.h>

#include <csignal>
#include <thread>

#include "test/apps/sync/sync_testing.h"

using namespace sync_testing;

namespace {

json::Value status(int http_port) {
  testing::HttpResponse r = testing::http(http_port, "GET", "/api/status");
  REQUIRE(r.status == 200);
  return json::parse(r.body);
}

}  // namespace

TEST_CASE("each listener closes connections past --max-per-peer and --max-connections; admitted ones keep working") {
  testing::TempDir dir;
  Server server(dir, {"--max-connections", "3", "--max-per-peer", "2"});
  // The caps are reported as configured before any command connection came in.
  json::Value before = status(server.http_port)["connections"]["command"];
  CHECK(before["max_connections"].as_int() == 3);
  CHECK(before["max_per_peer"].as_int() == 2);
  CHECK(before["open"].as_int() == 0);
  testing::Client a1(server.port, "127.0.0.1", "127.0.0.1"), a2(server.port, "127.0.0.1", "127.0.0.1");
  CHECK(command(a1, "jobs")["ok"].as_bool());
  CHECK(command(a2, "jobs")["ok"].as_bool());
  testing::Client a3(server.port, "127.0.0.1", "127.0.0.1");
  CHECK(a3.wait_closed(testing::Seconds(5)));
  testing::Client b1(server.port, "127.0.0.1", "127.0.0.2");
  CHECK(command(b1, "jobs")["ok"].as_bool());
  testing::Client c1(server.port, "127.0.0.1", "127.0.0.3");
  CHECK(c1.wait_closed(testing::Seconds(5)));
  CHECK(command(a1, "sync echo capped")["ok"].as_bool());

  json::Value command_status = status(server.http_port)["connections"]["command"];
  CHECK(command_status["open"].as_int() == 3);
  CHECK(command_status["max_connections"].as_int() == 3);
  CHECK(command_status["max_per_peer"].as_int() == 2);
  CHECK(command_status["refused"]["max_per_peer"].as_int() == 1);
  CHECK(command_status["refused"]["max_connections"].as_int() == 1);

  // The web listener has a budget of its own.
  testing::Client h1(server.http_port, "127.0.0.1", "127.0.0.4"), h2(server.http_port, "127.0.0.1", "127.0.0.4");
  testing::Client h3(server.http_port, "127.0.0.1", "127.0.0.4");
  CHECK(h3.wait_closed(testing::Seconds(5)));
  h1.send_all("GET /api/jobs HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(h1.recv_until("\r\n\r\n").starts_with("HTTP/1.1 200 "));
  json::Value http_status = status(server.http_port)["connections"]["http"];
  CHECK(http_status["refused"]["max_per_peer"].as_int() == 1);
  CHECK(http_status["refused"]["max_connections"].as_int() == 0);

  const std::string log = server.child->stderr_text();
  CHECK(log.find("command listener: refused 127.0.0.1:") != std::string::npos);
  CHECK(log.find("http listener: refused 127.0.0.4:") != std::string::npos);
  server.child->signal(SIGTERM);
  CHECK(server.child->wait(testing::Seconds(20)) == 0);
  CHECK(server.child->stderr_text().find("command connections 2 refused (max_connections 1, max_per_peer 1)") !=
        std::string::npos);
}

TEST_CASE("a command connection idle past --idle-timeout is closed; a talking one is not") {
  testing::TempDir dir;
  Server server(dir, {"--idle-timeout", "0.5"});
  testing::Client silent(server.port), talker(server.port), answered(server.port);
  CHECK(command(answered, "jobs")["ok"].as_bool());  // asked once, then fell silent
  for (int i = 0; i < 8; ++i) {  // 1.6 s, a command every 0.2 s
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(command(talker, "jobs")["ok"].as_bool());
  }
  CHECK(silent.wait_closed(testing::Seconds(5)));
  CHECK(answered.wait_closed(testing::Seconds(5)));
  CHECK(command(talker, "jobs")["ok"].as_bool());
  CHECK(status(server.http_port)["connections"]["command"]["closed_idle"].as_int() == 2);
  CHECK(server.child->stderr_text().find("idle for 0.5 s (--idle-timeout") != std::string::npos);
}

TEST_CASE("JSON nested past the depth limit is refused with 400; the server goes on") {
  testing::TempDir dir;
  Server server(dir);
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  testing::HttpResponse r = testing::http(server.http_port, "POST", "/api/sync", deep, {"Content-Type: application/json"});
  CHECK(r.status == 400);
  CHECK(r.body.find("\"ok\":false") != std::string::npos);
  const std::string nested_object = "{\"type\":\"echo\",\"id\":\"d\",\"x\":" + std::string(1000, '[') + std::string(1000, ']') + "}";
  CHECK(testing::http(server.http_port, "POST", "/api/sync", nested_object, {"Content-Type: application/json"}).status == 400);
  testing::HttpResponse ok = testing::http(server.http_port, "POST", "/api/sync", R"({"type":"echo","id":"d"})",
                                           {"Content-Type: application/json"});
  CHECK(ok.status == 200);
}

TEST_CASE("the limit flags are checked like the others") {
  auto help = testing::run({testing::bin_path("sync-server"), "--help"});
  CHECK(help.code == 0);
  for (const char* flag : {"--idle-timeout", "--max-connections", "--max-per-peer"}) {
    CHECK(help.out.find(flag) != std::string::npos);
    auto r = testing::run({testing::bin_path("sync-server"), flag, "-1"});
    CAPTURE(flag);
    CHECK(r.code == 2);
    CHECK(r.err.find(flag) != std::string::npos);
  }
}

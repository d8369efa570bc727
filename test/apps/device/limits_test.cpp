// Connection caps: past --max-connections or --max-per-peer a new device connection is closed
// at accept, counted in device_connections_refused_total{listener,reason} and logged without
// flooding; the admin API has fixed caps of its own. Admitted devices never notice.
#include "test/apps/device/device_harness.h"

using namespace device_test;

namespace {

std::string refused(std::string_view listener, std::string_view reason) {
  return "device_connections_refused_total{listener=\"" + std::string(listener) + "\",reason=\"" + std::string(reason) + "\"}";
}

std::size_t occurrences(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("--max-connections refuses extra connections, counts them, logs without flooding") {
  testing::TempDir dir;
  Server server = Server::start(dir.file("data"), {"--auto-register", "--max-connections", "3"});
  CHECK(metric(server.admin, refused("device", "max_connections")) == 0);
  // Every labelled series exists, at 0, before anything happened.
  for (const char* sample : {R"(device_login_failures_total{reason="bad_token"})", R"(device_login_failures_total{reason="timeout"})",
                             R"(device_bad_frames_total{kind="oversized"})", R"(device_bad_frames_total{kind="invalid_json"})",
                             R"(device_offline_total{reason="idle"})", R"(device_commands_total{mode="interact",result="TIMEOUT"})",
                             R"(device_commands_total{mode="queue",result="QUEUE_FULL"})", "device_sent_acks_total"}) {
    CAPTURE(sample);
    CHECK(metric(server.admin, sample) == 0);
  }
  CHECK(metric(server.admin, "process_open_fds") > 0);
  CHECK(metric(server.admin, "process_resident_memory_bytes") > 0);
  std::vector<std::unique_ptr<RawDevice>> held;
  for (int i = 0; i < 3; ++i) held.push_back(std::make_unique<RawDevice>(server.port));
  REQUIRE(testing::eventually([&] { return metric(server.admin, "device_connections") == 3; }));

  for (int i = 0; i < 5; ++i) {
    RawDevice extra(server.port);
    CHECK(extra.closed(Seconds(5)));
  }
  CHECK(metric(server.admin, refused("device", "max_connections")) == 5);
  CHECK(metric(server.admin, refused("device", "max_per_peer")) == 0);
  CHECK(metric(server.admin, "device_connections") == 3);
  const std::string log = server.child->stderr_text();
  CHECK(occurrences(log, "device listener: refused 127.0.0.1:") == 1);  // the rest go into a summary line
  CHECK(log.find("max_connections 3 reached") != std::string::npos);

  // The held connections still work, and once one goes a new device gets in.
  CHECK(held[0]->login("861000000000001")["status"] == 200);
  held[1].reset();
  REQUIRE(testing::eventually([&] { return metric(server.admin, "device_connections") == 2; }));
  RawDevice newcomer(server.port);
  CHECK(newcomer.login("861000000000002")["status"] == 200);
  CHECK(metric(server.admin, refused("device", "max_connections")) == 5);
  CHECK(server.stop() == 0);
  CHECK(server.child->stderr_text().find("device connections 5 refused (max_connections 5)") != std::string::npos);
}

TEST_CASE("--max-per-peer refuses a host's extra connections; other hosts get in") {
  testing::TempDir dir;
  Server server = Server::start(dir.file("data"), {"--auto-register", "--max-per-peer", "2"});
  RawDevice a1(server.port, "127.0.0.1"), a2(server.port, "127.0.0.1");
  CHECK(a1.login("862000000000001")["status"] == 200);
  CHECK(a2.login("862000000000002")["status"] == 200);
  RawDevice a3(server.port, "127.0.0.1");
  CHECK(a3.closed(Seconds(5)));
  RawDevice b1(server.port, "127.0.0.2");
  CHECK(b1.login("862000000000003")["status"] == 200);
  CHECK(metric(server.admin, refused("device", "max_per_peer")) == 1);
  CHECK(metric(server.admin, refused("device", "max_connections")) == 0);
  CHECK(metric(server.admin, "device_online") == 3);
  CHECK(server.child->stderr_text().find("max_per_peer 2 reached") != std::string::npos);
}

TEST_CASE("the admin API caps one host at 64 connections; devices and other hosts are unaffected") {
  testing::TempDir dir;
  Server server = Server::start(dir.file("data"), {"--auto-register"});
  std::vector<std::unique_ptr<testing::Client>> held;
  for (int i = 0; i < 64; ++i) held.push_back(std::make_unique<testing::Client>(server.admin, "127.0.0.1", "127.0.0.5"));
  testing::Client extra(server.admin, "127.0.0.1", "127.0.0.5");
  CHECK(extra.wait_closed(Seconds(5)));
  CHECK(metric(server.admin, refused("admin", "max_per_peer")) == 1);  // asked from 127.0.0.1
  held[0]->send_all("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(held[0]->recv_until("\r\n\r\n").starts_with("HTTP/1.1 200 "));
  RawDevice device(server.port);
  CHECK(device.login("863000000000001")["status"] == 200);
  CHECK(server.child->stderr_text().find("admin listener: refused 127.0.0.5:") != std::string::npos);
}

TEST_CASE("the cap flags are checked like the other flags") {
  for (const char* flag : {"--max-connections", "--max-per-peer"}) {
    auto r = testing::run({testing::bin_path("device-server"), flag, "-1"});
    CAPTURE(flag);
    CHECK(r.code == 2);
    CHECK(r.err.find(flag) != std::string::npos);
    CHECK(testing::run({testing::bin_path("device-server"), "--help"}).out.find(flag) != std::string::npos);
  }
}

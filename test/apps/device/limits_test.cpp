// --max-connections: past the limit a new device connection is closed at accept, counted in
// device_connections_refused_total and logged once per episode; below it again, devices get in.
#include "test/apps/device/device_harness.h"

using namespace device_test;

TEST_CASE("--max-connections refuses extra connections, counts them, logs once per episode") {
  testing::TempDir dir;
  Server server = Server::start(dir.file("data"), {"--auto-register", "--max-connections", "3"});
  std::vector<std::unique_ptr<RawDevice>> held;
  for (int i = 0; i < 3; ++i) held.push_back(std::make_unique<RawDevice>(server.port));
  REQUIRE(testing::eventually([&] { return metric(server.admin, "device_connections") == 3; }));

  for (int i = 0; i < 5; ++i) {
    RawDevice extra(server.port);
    CHECK(extra.closed(Seconds(5)));
  }
  CHECK(metric(server.admin, "device_connections_refused_total") == 5);
  CHECK(metric(server.admin, "device_connections") == 3);
  const std::string log = server.child->stderr_text();
  CHECK(log.find("refusing new ones") != std::string::npos);
  CHECK(log.find("refusing new ones", log.find("refusing new ones") + 1) == std::string::npos);

  // The held connections still work, and once one goes a new device gets in.
  CHECK(held[0]->login("861000000000001")["status"] == 200);
  held[1].reset();
  REQUIRE(testing::eventually([&] { return metric(server.admin, "device_connections") == 2; }));
  RawDevice newcomer(server.port);
  CHECK(newcomer.login("861000000000002")["status"] == 200);
  CHECK(metric(server.admin, "device_connections_refused_total") == 5);
  CHECK(server.child->stderr_text().find("accepting connections again") != std::string::npos);
}

TEST_CASE("--max-connections is checked like the other flags") {
  auto r = testing::run({testing::bin_path("device-server"), "--max-connections", "-1"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--max-connections") != std::string::npos);
  CHECK(testing::run({testing::bin_path("device-server"), "--help"}).out.find("--max-connections") != std::string::npos);
}

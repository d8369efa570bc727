// The emulator as the contract describes it: tokens from the registry, alarms on request,
// poweroff keeps a device off, refused devices stop trying, reconnects with backoff.
#include <fstream>

#include "test/apps/device/device_harness.h"

using namespace device_test;

TEST_CASE("tokens come from the registry; a refused device stops trying") {
  testing::TempDir dir;
  std::ofstream(dir.file("registry")) << "863000000000000 alpha\n863000000000001 beta\n863000000000002 gamma\n";
  std::ofstream(dir.file("wrong")) << "863000000000000 alpha\n863000000000001 beta\n863000000000002 nope\n";
  Server server = Server::start(dir.file("data"), {"--registry", dir.file("registry")});
  Emulator good = Emulator::start(server.port, {"--devices", "2", "--imei-base", "863000000000000", "--registry", dir.file("registry")});
  good.child->wait_for_line("all logged in");
  Emulator bad = Emulator::start(server.port, {"--devices", "1", "--imei-base", "863000000000002", "--registry", dir.file("wrong"),
                                               "--backoff-max", "0.1"});
  CHECK(testing::eventually([&] { return metric(server.admin, "device_login_failures_total{reason=\"bad_token\"}") == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(metric(server.admin, "device_login_failures_total{reason=\"bad_token\"}") == 1);  // no retries
  auto summary = bad.stop();
  CHECK(summary["refused"] == 1);
  CHECK(summary["failed"] == 1);
  CHECK(summary["logged_in"] == 0);
  CHECK(good.stop()["logged_in"] == 2);
  CHECK(server.stop() == 0);
}

TEST_CASE("SIGUSR1 raises an sos alarm on every online device") {
  testing::TempDir dir;
  Server server = Server::start(dir.file("data"), {"--auto-register"});
  Emulator fleet = Emulator::start(server.port, {"--devices", "3", "--imei-base", "863000000000100", "--report", "0"});
  fleet.child->wait_for_line("all logged in");
  fleet.child->signal(SIGUSR1);
  for (const std::string imei : {"863000000000100", "863000000000102"}) {
    CHECK(testing::eventually([&] {
      const json::Value events = get_json(server.admin, "/devices/" + imei + "/events?limit=1");
      return events["events"].size() == 1 && events["events"][0]["kind"] == "alarm" && events["events"][0]["alarm"] == "sos";
    }));
  }
  fleet.stop();
  CHECK(server.stop() == 0);
}

TEST_CASE("poweroff keeps a device off; reboot brings it back") {
  testing::TempDir dir;
  Server server = Server::start(dir.file("data"), {"--auto-register"});
  Emulator fleet = Emulator::start(server.port, {"--devices", "2", "--imei-base", "863000000000200", "--report", "0"});
  fleet.child->wait_for_line("all logged in");
  REQUIRE(testing::eventually([&] { return online(server.admin) == 2; }));
  CHECK(post_command(server.admin, "863000000000200", "interact", R"({"type":111,"action":"poweroff"})").body["result"] == "OK");
  CHECK(post_command(server.admin, "863000000000201", "interact", R"({"type":111,"action":"reboot"})").body["result"] == "OK");
  CHECK(testing::eventually([&] { return get_json(server.admin, "/devices/863000000000200")["online"] == false; }));
  CHECK(testing::eventually([&] { return metric(server.admin, "device_logins_total") == 3; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(get_json(server.admin, "/devices/863000000000200")["online"] == false);
  CHECK(get_json(server.admin, "/devices/863000000000201")["online"] == true);
  auto summary = fleet.stop();
  CHECK(summary["acks"] == 2);
  CHECK(server.stop() == 0);
}

TEST_CASE("devices reconnect with backoff when the server comes back") {
  testing::TempDir dir;
  Server server = Server::start(dir.file("data"), {"--auto-register"});
  const std::string port = std::to_string(server.port);
  Emulator fleet = Emulator::start(server.port, {"--devices", "5", "--imei-base", "863000000000300", "--backoff-max", "0.5"});
  fleet.child->wait_for_line("all logged in");
  CHECK(server.stop() == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // a few refused attempts
  server = Server::start(dir.file("data"), {"--auto-register", "--port", port});
  CHECK(testing::eventually([&] { return online(server.admin) == 5; }, Seconds(10)));
  // The server counts a device online before its login reply is durable and sent; a command
  // goes out behind that reply, so an acked command means the device has seen its login too.
  for (int i = 0; i < 5; ++i) {
    CHECK(post_command(server.admin, "86300000000030" + std::to_string(i), "interact", R"({"type":104,"text":"hi"})").body["result"] == "OK");
  }
  auto summary = fleet.stop();
  CHECK(summary["logins"] == 10);
  CHECK(summary["connect_failures"] >= 1);
  CHECK(server.stop() == 0);
}

TEST_CASE("--source: the fleet connects from the given local address") {
  testing::TempDir dir;
  Server server = Server::start(dir.file("data"), {"--auto-register"});
  Emulator fleet = Emulator::start(server.port, {"--devices", "3", "--imei-base", "863000000000400", "--source", "127.0.0.7"});
  fleet.child->wait_for_line("all logged in");
  REQUIRE(testing::eventually([&] { return online(server.admin) == 3; }));
  const json::Value devices = get_json(server.admin, "/devices");
  for (const json::Value& device : devices["devices"].as_array()) {
    CHECK(device["peer"].as_string().starts_with("127.0.0.7:"));
  }
  CHECK(fleet.stop()["logged_in"] == 3);
  CHECK(server.stop() == 0);
  auto bad = testing::run({testing::bin_path("device-emulator"), "--source", "not-an-address"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("--source") != std::string::npos);
}

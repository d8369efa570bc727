// What the server acknowledged survives: queued commands (delivered at the next login, removed
// only after the ack, kept across restarts), the registry of auto-registered devices and the
// device events, even through kill -9. Plus the registry file's and command line's errors.
#include <sys/stat.h>

#include <fstream>

#include "test/apps/device/device_harness.h"

using namespace device_test;

namespace {

const std::string kImei = "862000000000001";

json::Value ack_of(const json::Value& command, int status = 200) {
  return json::Object{{"type", command["type"]}, {"ident", command["ident"]}, {"status", status}};
}

long file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<long>(st.st_size) : -1;
}

}  // namespace

TEST_CASE("a queued command waits for the device, survives a restart, and goes only after the ack") {
  testing::TempDir dir;
  std::ofstream(dir.file("registry")) << kImei << " tok\n";
  const std::vector<std::string> flags = {"--registry", dir.file("registry")};
  Server server = Server::start(dir.file("data"), flags);

  CommandReply r = post_command(server.admin, kImei, "queue", R"({"type":104,"text":"first"})");
  CHECK(r.status == 202);
  CHECK(json::dump(r.body) == R"({"result":"QUEUED"})");
  CHECK(post_command(server.admin, kImei, "queue", R"({"type":105,"locked":true})").body["result"] == "QUEUED");
  CHECK(metric(server.admin, "device_queued_commands") == 2);
  CHECK(server.stop() == 0);

  server = Server::start(dir.file("data"), flags);
  CHECK(metric(server.admin, "device_queued_commands") == 2);
  {
    // Delivered right after the login reply, oldest first; this device never acks.
    RawDevice d(server.port);
    CHECK(d.login(kImei, 60, "tok")["status"] == 200);
    json::Value first = d.read();
    CHECK(first["type"] == 104);
    CHECK(first["text"] == "first");
    CHECK(first["ident"].is_int());
    CHECK(d.read()["type"] == 105);
  }
  REQUIRE(testing::eventually([&] { return online(server.admin) == 0; }));
  CHECK(metric(server.admin, "device_queued_commands") == 2);
  {
    // Delivered again; this time the device acks the first only.
    RawDevice d(server.port);
    CHECK(d.login(kImei, 60, "tok")["status"] == 200);
    json::Value first = d.read();
    CHECK(first["text"] == "first");
    d.read();
    d.send(ack_of(first));
    CHECK(testing::eventually([&] { return metric(server.admin, "device_queued_commands") == 1; }));
  }
  REQUIRE(testing::eventually([&] { return online(server.admin) == 0; }));
  CHECK(server.stop() == 0);

  server = Server::start(dir.file("data"), flags);
  CHECK(metric(server.admin, "device_queued_commands") == 1);
  RawDevice d(server.port);
  CHECK(d.login(kImei, 60, "tok")["status"] == 200);
  json::Value lock = d.read();
  CHECK(lock["type"] == 105);
  CHECK(lock["locked"] == true);
  d.send(ack_of(lock));
  CHECK(testing::eventually([&] { return metric(server.admin, "device_queued_commands") == 0; }));
  // Nothing else is waiting: the next frame is the answer to a heartbeat.
  d.send(json::Object{{"type", 3}, {"ident", 5}});
  CHECK(json::dump(d.read()) == R"({"type":3,"ident":5,"status":200})");
  CHECK(server.stop() == 0);
}

TEST_CASE("queue to an online device answers OK with the ack and leaves nothing stored") {
  testing::TempDir dir;
  Server server = Server::start(dir.file("data"), {"--auto-register"});
  Emulator fleet = Emulator::start(server.port, {"--devices", "1", "--imei-base", kImei});
  fleet.child->wait_for_line("all logged in");
  CommandReply r = post_command(server.admin, kImei, "queue", R"({"type":104,"text":"now"})");
  CHECK(r.status == 200);
  CHECK(r.body["result"] == "OK");
  CHECK(r.body["ack"]["status"] == 200);
  CHECK(testing::eventually([&] { return metric(server.admin, "device_queued_commands") == 0; }));
  fleet.stop();
  CHECK(server.stop() == 0);
}

TEST_CASE("a queued command that times out online is QUEUED and delivered at the next login") {
  testing::TempDir dir;
  Server server = Server::start(dir.file("data"), {"--auto-register"});
  {
    RawDevice d(server.port);
    CHECK(d.login(kImei)["status"] == 200);
    CommandReply r = post_command(server.admin, kImei, "queue", R"({"type":101})", 0.3);
    CHECK(r.status == 202);
    CHECK(r.body["result"] == "QUEUED");
    CHECK(d.read()["type"] == 101);  // sent, never acked
  }
  REQUIRE(testing::eventually([&] { return online(server.admin) == 0; }));
  RawDevice d(server.port);
  CHECK(d.login(kImei)["status"] == 200);
  json::Value again = d.read();
  CHECK(again["type"] == 101);
  d.send(ack_of(again));
  CHECK(testing::eventually([&] { return metric(server.admin, "device_queued_commands") == 0; }));
  CHECK(server.stop() == 0);
}

TEST_CASE("kill -9 loses nothing that was acknowledged") {
  testing::TempDir dir;
  Server server = Server::start(dir.file("data"), {"--auto-register"});
  RawDevice d(server.port);
  CHECK(d.login(kImei, 30)["status"] == 200);
  d.send(json::Object{{"type", 4}, {"ident", 2}, {"lat", 22.5}, {"lon", 114.25}, {"loc_type", 1}});
  CHECK(d.read()["status"] == 200);
  d.send(json::Object{{"type", 5}, {"ident", 3}, {"alarm", "fall"}});
  CHECK(d.read()["status"] == 200);
  d.send(json::Object{{"type", 6}, {"ident", 4}, {"percent", 77}});
  CHECK(d.read()["status"] == 200);
  RawDevice other(server.port);
  CHECK(other.login("862000000000002")["status"] == 200);
  other.client.close();
  REQUIRE(testing::eventually([&] { return online(server.admin) == 1; }));
  CHECK(post_command(server.admin, "862000000000002", "queue", R"({"type":104,"text":"kept"})").body["result"] == "QUEUED");
  server.child->signal(SIGKILL);
  CHECK(server.child->wait() == 128 + SIGKILL);

  server = Server::start(dir.file("data"), {"--auto-register"});
  const json::Value all = get_json(server.admin, "/devices");
  CHECK(all["total"] == 2);
  CHECK(all["online"] == 0);
  const json::Value device = get_json(server.admin, "/devices/" + kImei);
  CHECK(device["battery"] == 77);
  CHECK(device["heartbeat"] == 30);
  CHECK(device["location"]["lat"] == 22.5);
  CHECK(device["location"]["lon"] == 114.25);
  const json::Value events = get_json(server.admin, "/devices/" + kImei + "/events");
  REQUIRE(events["events"].size() == 5);
  CHECK(events["events"][0]["kind"] == "offline");
  CHECK(events["events"][0]["reason"] == "restart");  // it was online when the server died
  CHECK(events["events"][1]["kind"] == "battery");
  CHECK(events["events"][2]["kind"] == "alarm");
  CHECK(events["events"][2]["alarm"] == "fall");
  CHECK(events["events"][3]["kind"] == "location");
  CHECK(events["events"][4]["kind"] == "online");
  CHECK(metric(server.admin, "device_queued_commands") == 1);
  RawDevice back(server.port);
  CHECK(back.login("862000000000002")["status"] == 200);
  CHECK(back.read()["text"] == "kept");
  CHECK(server.stop() == 0);
}

TEST_CASE("a heartbeat's battery level: answered at once, recorded when it changes, synced within --battery-sync-interval") {
  testing::TempDir dir;
  const std::vector<std::string> flags = {"--auto-register", "--battery-sync-interval", "0.2"};
  Server server = Server::start(dir.file("data"), flags);
  RawDevice d(server.port);
  CHECK(d.login(kImei)["status"] == 200);
  const long logged_in = file_size(dir.file("data/device.journal"));  // the login reply waited for its sync
  // The shape devices send (the fast path) and one with other spacing (the JSON parser).
  d.send_raw(frame(R"({"type":3,"ident":2,"battery":80})"));
  CHECK(json::dump(d.read()) == R"({"type":3,"ident":2,"status":200})");
  d.send_raw(frame(R"({ "type": 3, "ident": 3, "battery": 80 })"));
  CHECK(json::dump(d.read()) == R"({"type":3,"ident":3,"status":200})");
  d.send_raw(frame(R"({"type":3,"ident":4})"));
  CHECK(json::dump(d.read()) == R"({"type":3,"ident":4,"status":200})");
  d.send_raw(frame(R"({"type":3,"ident":5,"battery":79})"));
  CHECK(json::dump(d.read()) == R"({"type":3,"ident":5,"status":200})");
  d.send_raw(frame(R"({"type":3,"ident":6,"battery":101})"));
  CHECK(json::dump(d.read()) == R"({"type":3,"ident":6,"status":400,"error":"battery must be an integer 0..100"})");
  CHECK(get_json(server.admin, "/devices/" + kImei)["battery"] == 79);
  // Synced without any other record to carry it: the kill below loses nothing.
  REQUIRE(testing::eventually([&] { return file_size(dir.file("data/device.journal")) > logged_in; }));
  server.child->signal(SIGKILL);
  server.child->wait();
  server = Server::start(dir.file("data"), flags);
  CHECK(get_json(server.admin, "/devices/" + kImei)["battery"] == 79);
  const json::Value events = get_json(server.admin, "/devices/" + kImei + "/events");
  REQUIRE(events["events"].size() == 4);  // restart, 79, 80 (only the changes), online
  CHECK(events["events"][1]["percent"] == 79);
  CHECK(events["events"][2]["percent"] == 80);
  CHECK(events["events"][3]["kind"] == "online");
  CHECK(server.stop() == 0);
}

TEST_CASE("compaction keeps the state and bounds the journal") {
  testing::TempDir dir;
  const std::vector<std::string> flags = {"--auto-register", "--compact-records", "200", "--events-per-device", "10"};
  Server server = Server::start(dir.file("data"), flags);
  RawDevice d(server.port);
  CHECK(d.login(kImei)["status"] == 200);
  long largest = 0;
  for (int round = 0; round < 10; ++round) {
    std::string burst;
    for (int i = 0; i < 100; ++i) {
      burst += frame(json::dump(json::Object{{"type", 6}, {"ident", 1 + i}, {"percent", (round * 100 + i) % 101}}));
    }
    d.send_raw(burst);
    for (int i = 0; i < 100; ++i) d.read();
    largest = std::max(largest, file_size(dir.file("data/device.journal")));
  }
  CHECK(metric(server.admin, "device_journal_compactions_total") >= 3);
  CHECK(largest < 300 * 120);  // never far past the compaction threshold of 200 records
  const json::Value before = get_json(server.admin, "/devices/" + kImei + "/events");
  CHECK(before["events"].size() == 10);
  server.child->signal(SIGKILL);
  server.child->wait();
  server = Server::start(dir.file("data"), flags);
  const json::Value device = get_json(server.admin, "/devices/" + kImei);
  CHECK(device["battery"] == (9 * 100 + 99) % 101);
  const json::Value after = get_json(server.admin, "/devices/" + kImei + "/events");
  REQUIRE(after["events"].size() == 10);
  CHECK(after["events"][0]["reason"] == "restart");
  CHECK(json::dump(after["events"][1]) == json::dump(before["events"][0]));
  CHECK(server.stop() == 0);
}

TEST_CASE("registry file errors stop start-up with exit 2 naming the file and line") {
  testing::TempDir dir;
  std::ofstream(dir.file("registry")) << "# ok\n862000000000001 a\n\n86200000000000X b\n";
  testing::RunResult r = testing::run({testing::bin_path("device-server"), "--port", "0", "--admin-port", "0", "--data-dir",
                                       dir.file("data"), "--registry", dir.file("registry")});
  CHECK(r.code == 2);
  CHECK(r.err.find(dir.file("registry") + ":4: IMEI must be 15 digits") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);

  r = testing::run({testing::bin_path("device-server"), "--port", "0", "--admin-port", "0", "--registry", dir.file("missing")});
  CHECK(r.code == 2);
  CHECK(r.err.find(dir.file("missing")) != std::string::npos);
}

TEST_CASE("command lines") {
  for (const std::string program : {"device-server", "device-emulator"}) {
    CAPTURE(program);
    testing::RunResult help = testing::run({testing::bin_path(program), "--help"});
    CHECK(help.code == 0);
    CHECK(help.out.find("usage: " + program) == 0);
    testing::RunResult unknown = testing::run({testing::bin_path(program), "--bogus"});
    CHECK(unknown.code == 2);
    CHECK(unknown.err.find("--bogus") != std::string::npos);
    testing::RunResult bad = testing::run({testing::bin_path(program), "--port", "70000"});
    CHECK(bad.code == 2);
    CHECK(bad.err.find("--port") != std::string::npos);
  }
  testing::RunResult bad_imei = testing::run({testing::bin_path("device-emulator"), "--imei-base", "12"});
  CHECK(bad_imei.code == 2);
  CHECK(bad_imei.err.find("--imei-base") != std::string::npos);
}

TEST_CASE("an admin token guards the admin API") {
  testing::TempDir dir;
  Server server = Server::start(dir.file("data"), {"--admin-token", "hunter2"});
  CHECK(testing::http(server.admin, "GET", "/devices").status == 401);
  CHECK(testing::http(server.admin, "GET", "/metrics", {}, {"Authorization: Bearer wrong"}).status == 401);
  testing::HttpResponse ok = testing::http(server.admin, "GET", "/devices", {}, {"Authorization: Bearer hunter2"});
  CHECK(ok.status == 200);
  CHECK(ok.body == R"({"total":0,"online":0,"devices":[]})");
  CHECK(server.stop() == 0);
}

TEST_CASE("the admin token from --admin-token-file or DEVICE_ADMIN_TOKEN stays out of the command line") {
  testing::TempDir dir;
  std::ofstream(dir.file("token")) << "  s3cret-from-file \n# comments are not read\n";
  auto check_guarded = [](testing::Child& child, const std::string& token) {
    const int admin = child.listening_port("admin");
    CHECK(testing::http(admin, "GET", "/devices").status == 401);
    CHECK(testing::http(admin, "GET", "/devices", {}, {"Authorization: Bearer " + token}).status == 200);
    std::ifstream cmdline("/proc/" + std::to_string(child.pid()) + "/cmdline");
    std::string argv((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    CHECK(argv.find(token) == std::string::npos);  // what `ps` shows
  };
  const std::vector<std::string> base = {testing::bin_path("device-server"), "--port", "0", "--admin-port", "0",
                                         "--data-dir", dir.file("data")};
  {
    auto argv = base;
    argv.insert(argv.end(), {"--admin-token-file", dir.file("token")});
    testing::Child child(argv, {"DEVICE_ADMIN_TOKEN=ignored-when-a-file-is-given"});
    child.listening_port("device");
    check_guarded(child, "s3cret-from-file");
  }
  {
    testing::Child child(base, {"DEVICE_ADMIN_TOKEN=s3cret-from-env"});
    child.listening_port("device");
    check_guarded(child, "s3cret-from-env");
  }
  std::ofstream(dir.file("empty")) << "\n";
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--admin-token-file", dir.file("empty")}, {"--admin-token-file", dir.file("missing")},
        {"--admin-token", "a", "--admin-token-file", dir.file("token")}}) {
    auto argv = base;
    argv.insert(argv.end(), bad.begin(), bad.end());
    testing::RunResult result = testing::run(argv);
    CAPTURE(bad[bad.size() - 1]);
    CHECK(result.code == 2);
    CHECK(result.err.find("--admin-token") != std::string::npos);
  }
}

TEST_CASE("an unknown device without auto-registration gets 401") {
  testing::TempDir dir;
  Server server = Server::start(dir.file("data"));
  RawDevice d(server.port);
  json::Value reply = d.login("869999999999999");
  CHECK(json::dump(reply) == R"({"type":1,"ident":1,"status":401,"error":"unknown device"})");
  CHECK(d.closed(Seconds(3)));
  CHECK(metric(server.admin, "device_login_failures_total{reason=\"unknown_device\"}") == 1);
  CHECK(server.stop() == 0);
}

// A thousand emulated devices: they log in, heartbeat and report; the admin API lists them all
// online; commands reach them (interact returns the ack, send is fire-and-forget).
#include "test/apps/device/device_harness.h"

using namespace device_test;

namespace {

constexpr int kDevices = 1000;
const std::string kFirst = "860000000000000";
const std::string kLast = "860000000000999";

struct World {
  testing::TempDir dir;
  Server server = Server::start(dir.file("data"), {"--auto-register"});
  Emulator fleet = Emulator::start(server.port, {"--devices", std::to_string(kDevices), "--heartbeat", "1", "--report", "1"});
};

World& world() {
  static World w;
  return w;
}

}  // namespace

TEST_CASE("1000 devices log in and the admin API lists them all online") {
  World& w = world();
  w.fleet.child->wait_for_line("all logged in", Seconds(30));
  REQUIRE(testing::eventually([&] { return online(w.server.admin) == kDevices; }, Seconds(10)));
  const json::Value all = get_json(w.server.admin, "/devices");
  CHECK(all["total"] == kDevices);
  CHECK(all["online"] == kDevices);
  REQUIRE(all["devices"].size() == kDevices);
  CHECK(all["devices"][0]["imei"] == kFirst);
  CHECK(all["devices"][kDevices - 1]["imei"] == kLast);
  for (const json::Value& d : all["devices"].as_array()) {
    CHECK(d["online"] == true);
    CHECK(d["heartbeat"] == 10);  // the announced 1 s, clamped
    CHECK(d["peer"].as_string().starts_with("127.0.0.1:"));
  }
  CHECK(metric(w.server.admin, "device_logins_total") == kDevices);
}

TEST_CASE("they heartbeat and report") {
  World& w = world();
  const long frames = metric(w.server.admin, "device_frames_in_total");
  CHECK(testing::eventually([&] { return metric(w.server.admin, "device_frames_in_total") >= frames + 2 * kDevices; }, Seconds(15)));
  // Every device has reported a location and its battery by now (both every second).
  CHECK(testing::eventually([&] {
    const json::Value all = get_json(w.server.admin, "/devices");
    for (const json::Value& d : all["devices"].as_array()) {
      if (d["location"].is_null() || d["battery"].is_null()) return false;
    }
    return true;
  }, Seconds(15)));
  const std::string target = "/devices/" + kLast + "/events?limit=5";
  REQUIRE(testing::eventually([&] { return get_json(w.server.admin, target)["events"].size() == 5; }, Seconds(15)));
  const json::Value events = get_json(w.server.admin, target);
  CHECK(events["imei"] == kLast);
  CHECK(events["events"][0]["t"].as_double() >= events["events"][4]["t"].as_double());
  CHECK(metric(w.server.admin, "device_bad_requests_total") == 0);
}

TEST_CASE("interact returns the device's ack") {
  World& w = world();
  CommandReply r = post_command(w.server.admin, kFirst, "interact", R"({"type":104,"text":"hello"})");
  CHECK(r.status == 200);
  CHECK(r.body["result"] == "OK");
  CHECK(r.body["ack"]["type"] == 104);
  CHECK(r.body["ack"]["status"] == 200);
  CHECK(r.body["ack"]["ident"].is_int());

  // locate_now: the ack, then a fresh location report.
  const double before = get_json(w.server.admin, "/devices/" + kFirst)["location"]["t"].as_double();
  r = post_command(w.server.admin, kFirst, "interact", R"({"type":101})");
  CHECK(r.body["result"] == "OK");
  CHECK(testing::eventually([&] { return get_json(w.server.admin, "/devices/" + kFirst)["location"]["t"].as_double() > before; }));

  // set_heartbeat: acked, and the server adopts the new interval.
  r = post_command(w.server.admin, kFirst, "interact", R"({"type":100,"interval":20})");
  CHECK(r.body["result"] == "OK");
  CHECK(get_json(w.server.admin, "/devices/" + kFirst)["heartbeat"] == 20);

  // lock
  r = post_command(w.server.admin, kLast, "interact", R"({"type":105,"locked":true})");
  CHECK(r.body["ack"]["status"] == 200);
  CHECK(metric(w.server.admin, "device_commands_total{mode=\"interact\",result=\"OK\"}") == 4);
}

TEST_CASE("send is fire-and-forget; its ack is counted as a sent ack, not a dropped one") {
  World& w = world();
  const long dropped = metric(w.server.admin, "device_dropped_acks_total");
  const long sent = metric(w.server.admin, "device_sent_acks_total");
  CommandReply r = post_command(w.server.admin, "860000000000500", "send", R"({"type":104,"text":"hi"})");
  CHECK(r.status == 202);
  CHECK(json::dump(r.body) == R"({"result":"SENT"})");
  CHECK(testing::eventually([&] { return metric(w.server.admin, "device_sent_acks_total") == sent + 1; }));
  CHECK(metric(w.server.admin, "device_dropped_acks_total") == dropped);
}

TEST_CASE("control relogin: acked, the device closes and comes back") {
  World& w = world();
  const std::string imei = "860000000000042";
  const double since = get_json(w.server.admin, "/devices/" + imei)["since"].as_double();
  CommandReply r = post_command(w.server.admin, imei, "interact", R"({"type":111,"action":"relogin"})");
  CHECK(r.body["result"] == "OK");
  CHECK(testing::eventually([&] {
    const json::Value d = get_json(w.server.admin, "/devices/" + imei);
    return d["online"] == true && d["since"].as_double() > since;
  }));
  CHECK(online(w.server.admin) == kDevices);
}

TEST_CASE("bad command requests") {
  World& w = world();
  CHECK(post_command(w.server.admin, kFirst, "interact", R"({"type":104})").status == 400);
  CHECK(post_command(w.server.admin, kFirst, "interact", R"({"type":3})").status == 400);
  CHECK(post_command(w.server.admin, kFirst, "interact", "not json").status == 400);
  CHECK(post_command(w.server.admin, kFirst, "shout", R"({"type":101})").status == 400);
  CommandReply unknown = post_command(w.server.admin, "123456789012345", "interact", R"({"type":101})");
  CHECK(unknown.status == 404);
  CHECK(json::dump(unknown.body) == R"({"result":"NO"})");
  get_json(w.server.admin, "/devices/123456789012345", 404);
  get_json(w.server.admin, "/devices/not-an-imei/events", 404);
  get_json(w.server.admin, "/devices/" + kFirst + "/events?limit=x", 400);
}

TEST_CASE("interact to a device that does not ack times out; to an offline one says NO") {
  World& w = world();
  RawDevice silent(w.server.port);
  CHECK(silent.login("861111111111111")["status"] == 200);
  CommandReply r = post_command(w.server.admin, "861111111111111", "interact", R"({"type":104,"text":"?"})", 0.5);
  CHECK(r.status == 504);
  CHECK(json::dump(r.body) == R"({"result":"TIMEOUT"})");
  json::Value command = silent.read();  // it did arrive
  CHECK(command["type"] == 104);
  CHECK(command["text"] == "?");
  silent.client.close();
  REQUIRE(testing::eventually([&] { return get_json(w.server.admin, "/devices/861111111111111")["online"] == false; }));
  r = post_command(w.server.admin, "861111111111111", "interact", R"({"type":101})");
  CHECK(r.status == 404);
  CHECK(json::dump(r.body) == R"({"result":"NO"})");
  CHECK(post_command(w.server.admin, "861111111111111", "send", R"({"type":101})").status == 404);
}

TEST_CASE("graceful stop records every device offline") {
  World& w = world();
  CHECK(online(w.server.admin) == kDevices);
  const int admin = w.server.admin;
  CHECK(w.server.stop() == 0);
  CHECK(w.server.child->stderr_text().find(std::to_string(kDevices) + " devices recorded offline") != std::string::npos);
  // Restarted on the same data: every device is known, none online, each last event is the shutdown.
  Server again = Server::start(w.dir.file("data"), {"--auto-register"});
  const json::Value all = get_json(again.admin, "/devices");
  CHECK(all["total"] == kDevices + 1);
  CHECK(all["online"] == 0);
  const json::Value events = get_json(again.admin, "/devices/" + kLast + "/events?limit=1");
  CHECK(events["events"][0]["kind"] == "offline");
  CHECK(events["events"][0]["reason"] == "shutdown");
  (void)admin;
  w.fleet.stop();
  CHECK(again.stop() == 0);
}

// Bad input from one device gets exactly the contract's reply, and a running emulator fleet on
// the same server sees nothing of it: every fleet device stays online on its first connection.
#include <unistd.h>

#include <fstream>

#include "test/apps/device/device_harness.h"

using namespace device_test;

namespace {

constexpr int kFleet = 50;
const std::string kSecretImei = "359000000000001";
const std::string kLockedImei = "359000000000002";

// One server and fleet for the whole file: the point is that they outlive every bad device.
struct World {
  testing::TempDir dir;
  Server server;
  Emulator fleet;
  std::map<std::string, double> since;  // fleet device -> when it came online

  World() {
    std::ofstream(dir.file("registry")) << "# test devices\n" << kSecretImei << " s3cret\n" << kLockedImei << " pw locked\n";
    server = Server::start(dir.file("data"), {"--registry", dir.file("registry"), "--auto-register", "--login-timeout",
                                              "0.5", "--heartbeat-grace", "0.5"});
    fleet = Emulator::start(server.port, {"--devices", std::to_string(kFleet), "--heartbeat", "1", "--report", "1",
                                          "--imei-base", "860000000000000"});
    fleet.child->wait_for_line("all logged in", Seconds(20));
    REQUIRE(testing::eventually([&] { return online(server.admin) == kFleet; }));
    const json::Value devices = get_json(server.admin, "/devices");
    for (const json::Value& d : devices["devices"].as_array()) {
      if (d["imei"].as_string().starts_with("86")) since[d["imei"].as_string()] = d["since"].as_double();
    }
    REQUIRE(since.size() == kFleet);
  }
};

World& world() {
  static World w;
  return w;
}

json::Value error(int type, int ident, int status, std::string_view message) {
  return json::Object{{"type", type}, {"ident", ident}, {"status", status}, {"error", message}};
}

json::Value login_body(std::string_view imei, int ident = 1) {
  return json::Object{{"type", 1}, {"ident", ident}, {"imei", imei}, {"heartbeat", 60}};
}

// The bad device got `expected` and then the server closed the connection at once.
void expect_reply_then_close(RawDevice& d, const json::Value& expected) {
  CHECK(json::dump(d.read()) == json::dump(expected));
  CHECK(d.closed(Seconds(3)));
}

}  // namespace

TEST_CASE("oversized length") {
  RawDevice d(world().server.port);
  d.send_raw(std::string("\x00\x01\x00\x01", 4));
  expect_reply_then_close(d, error(0, 0, 400, "frame length 65537 exceeds max_frame 65536"));
}

TEST_CASE("zero length, even after a good login") {
  RawDevice d(world().server.port);
  CHECK(d.login("861000000000001")["status"] == 200);
  d.send_raw(std::string(4, '\0'));
  expect_reply_then_close(d, error(0, 0, 400, "zero-length frame"));
  CHECK(testing::eventually([] { return get_json(world().server.admin, "/devices/861000000000001")["online"] == false; }));
}

TEST_CASE("bytes that are not JSON") {
  RawDevice d(world().server.port);
  d.send_raw(frame("hello"));
  json::Value reply = d.read();
  CHECK(reply["type"] == 0);
  CHECK(reply["status"] == 400);
  CHECK(reply["error"].as_string().starts_with("invalid JSON: json: at byte 0"));
  CHECK(d.closed(Seconds(3)));
}

TEST_CASE("JSON nested past the depth limit, inside a login") {
  RawDevice d(world().server.port);
  const std::string nested = std::string(30000, '[') + std::string(30000, ']');
  d.send_raw(frame(R"({"type":1,"ident":1,"imei":"861000000000009","heartbeat":60,"x":)" + nested + "}"));
  json::Value reply = d.read();
  CHECK(reply["status"] == 400);
  CHECK(reply["error"].as_string().find("nesting deeper than 64") != std::string::npos);
  CHECK(d.closed(Seconds(3)));
}

TEST_CASE("JSON that is not an object") {
  RawDevice d(world().server.port);
  d.send_raw(frame("[1,2,3]"));
  expect_reply_then_close(d, error(0, 0, 400, "body is not a JSON object"));
}

TEST_CASE("missing type") {
  RawDevice d(world().server.port);
  d.send_raw(frame(R"({"ident":1,"imei":"861000000000002"})"));
  expect_reply_then_close(d, error(0, 0, 400, "missing type"));
}

TEST_CASE("a type that is not an integer") {
  RawDevice d(world().server.port);
  d.send_raw(frame(R"({"type":"1","ident":1})"));
  expect_reply_then_close(d, error(0, 0, 400, "type must be an integer 1..65535"));
}

TEST_CASE("a login that is not first") {
  RawDevice d(world().server.port);
  d.send(json::Object{{"type", 3}, {"ident", 4}});
  expect_reply_then_close(d, error(3, 4, 400, "the first frame must be a login (type 1)"));
}

TEST_CASE("a wrong token, a missing token, a locked device") {
  {
    RawDevice d(world().server.port);
    CHECK(json::dump(d.login(kSecretImei, 60, "nope")) == json::dump(error(1, 1, 401, "bad token")));
    CHECK(d.closed(Seconds(3)));
  }
  {
    RawDevice d(world().server.port);
    CHECK(json::dump(d.login(kSecretImei, 60, std::nullopt, 9)) == json::dump(error(1, 9, 401, "token required")));
    CHECK(d.closed(Seconds(3)));
  }
  {
    RawDevice d(world().server.port);
    CHECK(json::dump(d.login(kLockedImei, 60, "pw")) == json::dump(error(1, 1, 403, "device locked")));
    CHECK(d.closed(Seconds(3)));
  }
  RawDevice good(world().server.port);
  json::Value reply = good.login(kSecretImei, 60, "s3cret");
  CHECK(reply["status"] == 200);
  CHECK(reply["time"].is_int());
}

TEST_CASE("a login missing a field or with an ill-typed one") {
  struct Case {
    std::string body, error;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"type":1,"ident":2,"heartbeat":60})", "imei is required"},
           {R"({"type":1,"ident":2,"imei":"12345","heartbeat":60})", "imei must be a string of 15 digits"},
           {R"({"type":1,"ident":2,"imei":861000000000003,"heartbeat":60})", "imei must be a string"},
           {R"({"type":1,"ident":2,"imei":"861000000000003"})", "heartbeat is required"},
           {R"({"type":1,"ident":2,"imei":"861000000000003","heartbeat":"60"})", "heartbeat must be an integer 1..1000000000"},
           {R"({"type":1,"ident":2,"imei":"861000000000003","heartbeat":60,"fw":3})", "fw must be a string"},
       }) {
    CAPTURE(c.body);
    RawDevice d(world().server.port);
    d.send_raw(frame(c.body));
    expect_reply_then_close(d, error(1, 2, 400, c.error));
  }
}

TEST_CASE("silence past the login deadline closes without a reply") {
  RawDevice d(world().server.port);
  auto start = std::chrono::steady_clock::now();
  CHECK(d.client.recv_to_eof(Seconds(5)).empty());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
}

TEST_CASE("trickling bytes do not stretch the login deadline") {
  RawDevice d(world().server.port);
  const std::string bytes = frame(json::dump(login_body("861000000000010")));
  auto start = std::chrono::steady_clock::now();
  std::optional<double> refused_after;  // when a send first failed: the server had closed
  for (std::size_t i = 0; i < 20 && !refused_after; ++i) {
    try {
      d.send_raw(bytes.substr(i, 1));
    } catch (const std::exception&) {
      refused_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  REQUIRE(refused_after);
  CHECK(*refused_after < 1.5);  // the 0.5 s deadline held although a byte came every 150 ms
}

TEST_CASE("silence past heartbeat + grace goes offline") {
  RawDevice d(world().server.port);
  CHECK(d.login("861000000000004", 10)["status"] == 200);  // the server's minimum heartbeat
  auto start = std::chrono::steady_clock::now();
  CHECK(d.client.recv_to_eof(Seconds(20)).empty());
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(waited > 9.5);
  CHECK(waited < 13);
  json::Value events = get_json(world().server.admin, "/devices/861000000000004/events?limit=1");
  CHECK(events["events"][0]["kind"] == "offline");
  CHECK(events["events"][0]["reason"] == "idle");
}

TEST_CASE("a frame split byte by byte") {
  RawDevice d(world().server.port);
  const std::string bytes = frame(json::dump(login_body("861000000000005", 7)));
  for (char c : bytes) {
    d.send_raw(std::string(1, c));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  json::Value reply = d.read();
  CHECK(reply["type"] == 1);
  CHECK(reply["ident"] == 7);
  CHECK(reply["status"] == 200);
}

TEST_CASE("twenty frames in one write are answered in order") {
  RawDevice d(world().server.port);
  CHECK(d.login("861000000000006")["status"] == 200);
  std::string burst;
  for (int i = 0; i < 20; ++i) burst += frame(json::dump(json::Object{{"type", i % 2 ? 3 : 4}, {"ident", 100 + i}, {"lat", 1.0}, {"lon", 2.0}}));
  d.send_raw(burst);
  for (int i = 0; i < 20; ++i) {
    json::Value reply = d.read();
    CHECK(reply["type"] == (i % 2 ? 3 : 4));
    CHECK(reply["ident"] == 100 + i);
    CHECK(reply["status"] == 200);
  }
}

TEST_CASE("bad reports get 400 or 404 and the connection stays open") {
  RawDevice d(world().server.port);
  CHECK(d.login("861000000000007")["status"] == 200);
  d.send(json::Object{{"type", 4}, {"ident", 2}, {"lat", 95.0}, {"lon", 1.0}});
  CHECK(json::dump(d.read()) == json::dump(error(4, 2, 400, "lat must be a number -90..90")));
  d.send(json::Object{{"type", 6}, {"ident", 3}});
  CHECK(json::dump(d.read()) == json::dump(error(6, 3, 400, "percent is required")));
  d.send(json::Object{{"type", 5}, {"ident", 4}, {"alarm", "zombies"}});
  CHECK(json::dump(d.read()) == json::dump(error(5, 4, 400, "alarm must be one of sos, strap_off, low_battery, fall, fence")));
  d.send(json::Object{{"type", 7}, {"ident", 5}});
  CHECK(json::dump(d.read()) == json::dump(error(7, 5, 404, "unknown instruction")));
  d.send(json::Object{{"type", 3}});
  CHECK(json::dump(d.read()) == json::dump(error(3, 0, 400, "ident must be an integer 1..65535")));
  d.send(json::Object{{"type", 2}, {"ident", 6}});
  json::Value time = d.read();
  CHECK(time["status"] == 200);
  CHECK(time["tz"] == "+00:00");
  CHECK(time["time"].is_double());
  d.send(json::Object{{"type", 6}, {"ident", 7}, {"percent", 55}});
  CHECK(json::dump(d.read()) == R"({"type":6,"ident":7,"status":200})");
  CHECK(get_json(world().server.admin, "/devices/861000000000007")["battery"] == 55);
}

TEST_CASE("poweroff is answered, then the connection closes and the device is offline") {
  RawDevice d(world().server.port);
  CHECK(d.login("861000000000008")["status"] == 200);
  d.send(json::Object{{"type", 9}, {"ident", 2}, {"reason", "user"}});
  CHECK(json::dump(d.read()) == R"({"type":9,"ident":2,"status":200})");
  CHECK(d.closed(Seconds(3)));
  json::Value events = get_json(world().server.admin, "/devices/861000000000008/events");
  CHECK(events["events"][0]["reason"] == "poweroff");
  CHECK(events["events"][1]["kind"] == "online");
}

TEST_CASE("duplicate login: the old connection closes, the device stays online on the new one") {
  RawDevice old_connection(world().server.port);
  CHECK(old_connection.login("861000000000009")["status"] == 200);
  RawDevice new_connection(world().server.port);
  CHECK(new_connection.login("861000000000009", 60, std::nullopt, 2)["status"] == 200);
  CHECK(old_connection.closed(Seconds(3)));
  new_connection.send(json::Object{{"type", 3}, {"ident", 3}});
  CHECK(json::dump(new_connection.read()) == R"({"type":3,"ident":3,"status":200})");
  json::Value device = get_json(world().server.admin, "/devices/861000000000009");
  CHECK(device["online"] == true);
  CHECK(device["peer"].as_string().ends_with(":" + std::to_string(asyncore::Address::local_of(new_connection.client.fd()).port())));
  json::Value events = get_json(world().server.admin, "/devices/861000000000009/events");
  for (const json::Value& e : events["events"].as_array()) CHECK(e["kind"] != "offline");
  CHECK(metric(world().server.admin, "device_takeovers_total") >= 1);
}

TEST_CASE("the fleet saw nothing of it") {
  World& w = world();
  // Every fleet device is still online on the connection it first logged in on.
  const json::Value devices = get_json(w.server.admin, "/devices");
  for (const json::Value& d : devices["devices"].as_array()) {
    const std::string& imei = d["imei"].as_string();
    if (!w.since.count(imei)) continue;
    CAPTURE(imei);
    CHECK(d["online"] == true);
    CHECK(d["since"].as_double() == w.since[imei]);
  }
  CHECK(metric(w.server.admin, "device_bad_frames_total{kind=\"oversized\"}") == 1);
  CHECK(metric(w.server.admin, "device_bad_frames_total{kind=\"zero_length\"}") == 1);
  CHECK(metric(w.server.admin, "device_login_failures_total{reason=\"bad_token\"}") == 2);
  auto summary = w.fleet.stop();
  CHECK(summary["logged_in"] == kFleet);
  CHECK(summary["logins"] == kFleet);  // no fleet device ever had to log in again
  CHECK(summary["disconnects"] == kFleet);  // only the final stop
  CHECK(summary["report_errors"] == 0);
  CHECK(w.server.stop() == 0);
}

// What peers and admins can make the server keep is bounded (issue: RSS grew in the soak):
// --max-queued-commands per device, --max-auto-registered devices, and log lines any peer can
// trigger (bad frames, refused logins) folded into one summary per --log-summary-interval.
// Each refusal is clear to whoever caused it, counted in /metrics, and disturbs nobody else.
#include <fstream>

#include "apps/device/message.h"
#include "test/apps/device/device_harness.h"

using namespace device_test;

namespace {

const std::string kOffline = "862100000000001";
const std::string kOther = "862100000000002";

json::Value ack_of(const json::Value& command) {
  return json::Object{{"type", command["type"]}, {"ident", command["ident"]}, {"status", 200}};
}

// Lines of `text` containing `needle`.
std::vector<std::string> lines_with(const std::string& text, std::string_view needle) {
  std::vector<std::string> found;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(at, end - at);
    if (line.find(needle) != std::string::npos) found.push_back(line);
    at = end + 1;
  }
  return found;
}

// The sum of N over lines "... N more <what> (summarised ...".
long summarised(const std::string& text, std::string_view what) {
  long total = 0;
  const std::string marker = " more " + std::string(what) + " (summarised";
  for (const std::string& line : lines_with(text, marker)) {
    const std::size_t end = line.find(marker);
    const std::size_t start = line.rfind(' ', end - 1) + 1;
    total += std::stol(line.substr(start, end - start));
  }
  return total;
}

}  // namespace

TEST_CASE("--max-queued-commands: past the cap a queue request gets 429, is counted, and nothing queued is lost") {
  testing::TempDir dir;
  std::ofstream(dir.file("registry")) << kOffline << " tok\n" << kOther << " tok\n";
  const std::vector<std::string> flags = {"--registry", dir.file("registry"), "--max-queued-commands", "3"};
  Server server = Server::start(dir.file("data"), flags);
  for (int i = 1; i <= 3; ++i) {
    CommandReply r = post_command(server.admin, kOffline, "queue", R"({"type":104,"text":"m)" + std::to_string(i) + "\"}");
    CHECK(r.status == 202);
    CHECK(r.body["result"] == "QUEUED");
  }
  CommandReply full = post_command(server.admin, kOffline, "queue", R"({"type":104,"text":"m4"})");
  CHECK(full.status == 429);
  CHECK(full.body["result"] == "QUEUE_FULL");
  CHECK(full.body["error"].as_string().find("3 commands already queued for device " + kOffline) != std::string::npos);
  CHECK(full.body["error"].as_string().find("--max-queued-commands") != std::string::npos);
  CHECK(metric(server.admin, "device_commands_total{mode=\"queue\",result=\"QUEUE_FULL\"}") == 1);
  CHECK(metric(server.admin, "device_commands_total{mode=\"queue\",result=\"QUEUED\"}") == 3);
  CHECK(metric(server.admin, "device_queued_commands") == 3);
  // The cap is per device: another device's queue is untouched.
  CHECK(post_command(server.admin, kOther, "queue", R"({"type":104,"text":"other"})").body["result"] == "QUEUED");

  // The cap holds across a restart (the queue is durable), and still refuses.
  CHECK(server.stop() == 0);
  server = Server::start(dir.file("data"), flags);
  CHECK(metric(server.admin, "device_queued_commands") == 4);
  CHECK(post_command(server.admin, kOffline, "queue", R"({"type":104,"text":"m5"})").status == 429);

  // The device comes: exactly the three accepted commands, oldest first. Acking them frees room.
  RawDevice d(server.port);
  CHECK(d.login(kOffline, 60, "tok")["status"] == 200);
  std::vector<json::Value> delivered;
  for (int i = 1; i <= 3; ++i) {
    delivered.push_back(d.read());
    CHECK(delivered.back()["text"] == "m" + std::to_string(i));
  }
  for (const json::Value& command : delivered) d.send(ack_of(command));
  REQUIRE(testing::eventually([&] { return metric(server.admin, "device_queued_commands") == 1; }));
  d.client.close();
  REQUIRE(testing::eventually([&] { return online(server.admin) == 0; }));
  CHECK(post_command(server.admin, kOffline, "queue", R"({"type":104,"text":"m6"})").status == 202);
  CHECK(server.stop() == 0);
}

TEST_CASE("a device that acks everything gets each of 100 queued commands exactly once, also across re-login") {
  testing::TempDir dir;
  std::ofstream(dir.file("registry")) << kOffline << " tok\n" << kOther << " tok\n";
  Server server = Server::start(dir.file("data"), {"--registry", dir.file("registry")});
  for (int i = 0; i < 100; ++i) {
    REQUIRE(post_command(server.admin, kOffline, "queue", R"({"type":104,"text":"m)" + std::to_string(i) + "\"}").status ==
            202);
  }
  // A well-behaved device beside it, answered throughout.
  RawDevice other(server.port);
  CHECK(other.login(kOther, 60, "tok")["status"] == 200);
  std::map<std::string, int> received;
  auto take = [&](RawDevice& d, int count) {
    for (int i = 0; i < count; ++i) {
      json::Value command = d.read(Seconds(5));
      ++received[command["text"].as_string()];
      d.send(ack_of(command));
    }
  };
  {
    RawDevice d(server.port);
    CHECK(d.login(kOffline, 60, "tok")["status"] == 200);
    take(d, 40);  // then the device goes away with some sent but not acked
    REQUIRE(testing::eventually([&] { return metric(server.admin, "device_queued_commands") <= 60; }));
  }
  REQUIRE(testing::eventually([&] { return online(server.admin) == 1; }));
  other.send(json::Object{{"type", 2}, {"ident", 7}});  // a heartbeat, answered
  CHECK(other.read(Seconds(1))["status"] == 200);
  RawDevice again(server.port);
  CHECK(again.login(kOffline, 60, "tok")["status"] == 200);
  // What was not acked comes again once; nothing acked ever does.
  const long left = metric(server.admin, "device_queued_commands");
  CHECK(left == 60);
  take(again, static_cast<int>(left));
  REQUIRE(testing::eventually([&] { return metric(server.admin, "device_queued_commands") == 0; }));
  CHECK_THROWS(again.client.recv_some(1, Seconds(0.5)));  // nothing more comes
  CHECK(received.size() == 100);
  for (const auto& [text, times] : received) {
    CAPTURE(text);
    CHECK(times == 1);
  }
  CHECK(metric(server.admin, "device_dropped_acks_total") == 0);
  CHECK(server.stop() == 0);
}

TEST_CASE("--max-auto-registered: new devices past the cap get 401 and are counted; known ones still get in") {
  testing::TempDir dir;
  std::ofstream(dir.file("registry")) << "862200000000009 tok\n";
  const std::vector<std::string> flags = {"--registry", dir.file("registry"), "--auto-register", "--max-auto-registered", "2"};
  Server server = Server::start(dir.file("data"), flags);
  {
    RawDevice a(server.port), b(server.port);
    CHECK(a.login("862200000000001")["status"] == 200);
    CHECK(b.login("862200000000002")["status"] == 200);
    RawDevice c(server.port);
    const json::Value refused = c.login("862200000000003");
    CHECK(refused["status"] == 401);
    CHECK(refused["error"].as_string().find("auto-registration limit reached (2 devices)") != std::string::npos);
    CHECK(c.closed(Seconds(3)));
    // The devices already in, and the registry's, are not affected.
    a.send(json::Object{{"type", 3}, {"ident", 2}});
    CHECK(a.read()["status"] == 200);
    RawDevice listed(server.port);
    CHECK(listed.login("862200000000009", 60, "tok")["status"] == 200);
  }
  CHECK(metric(server.admin, "device_login_failures_total{reason=\"auto_register_limit\"}") == 1);
  CHECK(metric(server.admin, "device_auto_registered") == 2);
  CHECK(get_json(server.admin, "/devices")["total"] == 3);
  CHECK(get_json(server.admin, "/devices/862200000000003", 404)["error"] == "unknown device");

  // The count is rebuilt from the journal: after a restart the cap still holds, and a device
  // auto-registered earlier logs in again.
  CHECK(server.stop() == 0);
  server = Server::start(dir.file("data"), flags);
  CHECK(metric(server.admin, "device_auto_registered") == 2);
  RawDevice again(server.port);
  CHECK(again.login("862200000000002")["status"] == 200);
  RawDevice still_refused(server.port);
  CHECK(still_refused.login("862200000000004")["status"] == 401);
  CHECK(server.stop() == 0);
}

TEST_CASE("a garbage flood is logged once and then summarised; every bad frame is counted; others are served") {
  testing::TempDir dir;
  Server server = Server::start(dir.file("data"), {"--auto-register", "--log-summary-interval", "2"});
  RawDevice good(server.port);
  CHECK(good.login("862300000000001")["status"] == 200);

  constexpr int kBad = 40;
  for (int i = 0; i < kBad; ++i) {
    RawDevice bad(server.port);
    bad.send_raw(i % 2 ? frame("{not json") : std::string(4, '\0'));  // each closes its connection
    CHECK(bad.read()["status"] == 400);
    CHECK(bad.closed(Seconds(3)));
  }
  constexpr int kUnknown = 20;
  Server strict = Server::start(dir.file("strict"), {"--log-summary-interval", "2"});
  for (int i = 0; i < kUnknown; ++i) {
    RawDevice stranger(strict.port);
    CHECK(stranger.login("862300000000100")["status"] == 401);
  }

  // Every one counted; the well-behaved device never noticed.
  CHECK(metric(server.admin, "device_bad_frames_total{kind=\"zero_length\"}") +
            metric(server.admin, "device_bad_frames_total{kind=\"invalid_json\"}") ==
        kBad);
  good.send(json::Object{{"type", 3}, {"ident", 2}});
  CHECK(good.read()["status"] == 200);
  CHECK(online(server.admin) == 1);

  // Logged: a few lines in full at most, the rest in summaries that add up to every one of them.
  REQUIRE(testing::eventually([&] {
    const std::string log = server.child->stderr_text();
    return static_cast<long>(lines_with(log, ": bad frame: ").size()) + summarised(log, "bad frames") == kBad;
  }, Seconds(15)));
  const std::string log = server.child->stderr_text();
  CHECK(lines_with(log, ": bad frame: ").size() <= 3);
  CHECK(metric(server.admin, "device_log_lines_suppressed_total") == summarised(log, "bad frames"));

  REQUIRE(testing::eventually([&] {
    const std::string text = strict.child->stderr_text();
    return static_cast<long>(lines_with(text, "login refused for").size()) + summarised(text, "refused logins") == kUnknown;
  }, Seconds(15)));
  CHECK(lines_with(strict.child->stderr_text(), "login refused for").size() <= 3);
  CHECK(metric(strict.admin, "device_login_failures_total{reason=\"unknown_device\"}") == kUnknown);
  CHECK(strict.stop() == 0);
  CHECK(server.stop() == 0);
}

TEST_CASE("login fields and bad frames carrying a newline and ESC cannot forge log lines") {
  testing::TempDir dir;
  std::ofstream(dir.file("registry")) << kOther << " tok\n";
  Server server = Server::start(dir.file("data"), {"--registry", dir.file("registry"), "--log-summary-interval", "0.01"});
  RawDevice good(server.port);
  CHECK(good.login(kOther, 60, "tok")["status"] == 200);
  const std::string forged = "\n2026-12-03T00:00:00.000Z error \x1b[31mFORGED";
  for (int i = 0; i < 3; ++i) {
    RawDevice login(server.port);
    login.send(json::Object{{"type", 1}, {"ident", 1}, {"imei", "86" + forged}, {"heartbeat", 60}, {"token", forged},
                            {"model", forged}});
    CHECK(login.read()["status"] == 400);
    RawDevice unknown(server.port);
    unknown.send(json::Object{{"type", 1}, {"ident", 1}, {"imei", "869999999999999"}, {"heartbeat", forged}});
    CHECK(unknown.read()["status"] == 400);
    RawDevice garbage(server.port);
    garbage.send_raw(frame("{\"type\":1," + forged + "}"));
    CHECK(garbage.read()["status"] == 400);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // past the summary interval: each logged
    good.send(json::Object{{"type", 2}, {"ident", 2 + i}});
    CHECK(good.read(Seconds(1))["status"] == 200);
  }
  const std::string log = server.child->stderr_text();
  CHECK(log.find("\x1b") == std::string::npos);
  CHECK(log.find("\n2026-12-03T00:00:00.000Z error") == std::string::npos);
  CHECK(log.find("bad frame: ") != std::string::npos);
  CHECK(server.stop() == 0);
}

TEST_CASE("the bound flags are checked like the others") {
  for (const char* flag : {"--max-queued-commands", "--max-auto-registered", "--log-summary-interval"}) {
    INFO(flag);
    auto r = testing::run({testing::bin_path("device-server"), flag, "-1"});
    CHECK(r.code == 2);
    CHECK(r.err.find(flag) != std::string::npos);
    CHECK(testing::run({testing::bin_path("device-server"), "--help"}).out.find(flag) != std::string::npos);
  }
  CHECK(testing::run({testing::bin_path("device-server"), "--max-queued-commands", "0"}).code == 2);
}

TEST_CASE("commands go out through one reused frame buffer: a long one, then a short one, each arrives intact") {
  testing::TempDir dir;
  std::ofstream(dir.file("registry")) << kOffline << " tok\n";
  Server server = Server::start(dir.file("data"), {"--registry", dir.file("registry")});
  const std::string long_text(3000, 'x');
  for (const std::string& text : {long_text, std::string("s"), long_text.substr(0, 300)}) {
    REQUIRE(post_command(server.admin, kOffline, "queue", R"({"type":104,"text":")" + text + "\"}").status == 202);
  }
  RawDevice d(server.port);
  CHECK(d.login(kOffline, 60, "tok")["status"] == 200);
  for (const std::string& text : {long_text, std::string("s"), long_text.substr(0, 300)}) {
    const json::Value command = d.read();
    CHECK(command["type"] == 104);
    CHECK(command["text"] == text);
    CHECK(command.size() == 3);  // type, ident, text: nothing left over from a longer one
    d.send(ack_of(command));
  }
  REQUIRE(testing::eventually([&] { return metric(server.admin, "device_queued_commands") == 0; }));
  CHECK(server.stop() == 0);
}

TEST_CASE("admins waiting at once each get their own command's ack, whatever order the device acks in; a late ack answers nobody") {
  testing::TempDir dir;
  std::ofstream(dir.file("registry")) << kOffline << " tok\n";
  Server server = Server::start(dir.file("data"), {"--registry", dir.file("registry")});
  RawDevice d(server.port);
  REQUIRE(d.login(kOffline, 60, "tok")["status"] == 200);
  auto ack = [&d](int type, const json::Value& ident, int status) {
    d.send_raw(frame(asyncore::device::status_reply(type, static_cast<int>(ident.as_int()), status)));
  };
  for (int round = 0; round < 2; ++round) {  // the second round's admins wait where the first's did
    CAPTURE(round);
    const std::vector<std::string> texts = {"a", "b", "c"};
    std::vector<CommandReply> replies(texts.size());
    std::vector<std::thread> admins;
    for (std::size_t i = 0; i < texts.size(); ++i) {
      admins.emplace_back([&, i] {
        replies[i] = post_command(server.admin, kOffline, "interact", R"({"type":104,"text":")" + texts[i] + "\"}");
      });
    }
    std::vector<json::Value> commands;
    for (std::size_t i = 0; i < texts.size(); ++i) commands.push_back(d.read());
    // Acked newest first, each with a status of its own: 201 for "a", 202 for "b", 203 for "c".
    for (auto it = commands.rbegin(); it != commands.rend(); ++it) {
      ack(104, (*it)["ident"], 201 + ((*it)["text"].as_string()[0] - 'a'));
    }
    for (std::thread& admin : admins) admin.join();
    for (std::size_t i = 0; i < texts.size(); ++i) {
      CHECK(replies[i].status == 200);
      CHECK(replies[i].body["ack"]["status"] == static_cast<int>(201 + i));
    }
  }
  // Given up on (504); its ack comes late, answers nobody and is counted; the next admin gets its own.
  CHECK(post_command(server.admin, kOffline, "interact", R"({"type":101})", 0.3).status == 504);
  const json::Value late = d.read();
  ack(101, late["ident"], 200);
  REQUIRE(testing::eventually([&] { return metric(server.admin, "device_dropped_acks_total") == 1; }));
  CommandReply next;
  std::thread admin([&] { next = post_command(server.admin, kOffline, "interact", R"({"type":104,"text":"z"})"); });
  const json::Value command = d.read();
  ack(104, command["ident"], 200);
  admin.join();
  CHECK(next.status == 200);
  CHECK(next.body["ack"]["ident"] == command["ident"]);
  CHECK(server.stop() == 0);
}

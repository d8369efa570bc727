// barrage-client against barrage-server, both real binaries over 127.0.0.1.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <thread>

#include "apps/barrage/generator.h"
#include <asyncore/json/json.h>
#include "test/apps/barrage/barrage_testing.h"

using namespace asyncore;
using namespace asyncore::barrage;
using namespace barrage_testing;

namespace {

std::vector<std::string> client_command(const Server& server, std::vector<std::string> args) {
  std::vector<std::string> argv{testing::bin_path("barrage-client"), "--port", server.port_text()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// What the client prints for generated message `seq` of `room` in text format.
std::string expected_text_line(long long room, uint64_t seq, bool large = false) {
  Fields fields = decode_map(generated_message(room, seq, large));
  std::string prefix = "[" + std::to_string(room) + "] ";
  const std::string_view type = fields.get("type");
  if (type == "chatmsg") return prefix + generated_nickname(seq) + ": " + generated_chat_text(seq, large);
  if (type == "uenter") return prefix + std::string(fields.get("nn")) + " entered (level " + std::string(fields.get("level")) + ")";
  if (type == "dgb") return prefix + std::string(fields.get("nn")) + " sent gift " + std::string(fields.get("gfid")) + " x" + std::string(fields.get("gfcnt"));
  return prefix + std::string(fields.get("sn")) + " gave 主播/大人 " + std::string(fields.get("gn")) + " x" + std::string(fields.get("gc"));
}

// Runs a client for `count` messages and returns its stdout lines.
std::vector<std::string> receive(const Server& server, std::vector<std::string> args, int count) {
  args.insert(args.end(), {"--count", std::to_string(count)});
  auto result = testing::run(client_command(server, args), Seconds(30));
  INFO("client stderr: " << result.err);
  CHECK(result.code == 0);
  return lines_of(result.out);
}

void check_generated_text(const std::vector<std::string>& lines, long long room, size_t count, bool large = false) {
  REQUIRE(lines.size() == count);
  for (size_t seq = 0; seq < count; ++seq) CHECK(lines[seq] == expected_text_line(room, seq, large));
}

}  // namespace

TEST_CASE("text format: generated broadcasts printed complete and in order") {
  Server server({"--rate", "200"});
  auto lines = receive(server, {"--room", "42"}, 24);
  check_generated_text(lines, 42, 24);
  // The escaped characters survive the trip literally.
  CHECK(lines[0] == "[42] 小明: 主播好厉害！ #0");
  CHECK(lines[2] == "[42] @主播粉丝: 路径 a/b/c 和邮箱 fan@douyu.com #2");
  CHECK(lines[3] == "[42] 夜猫子: @A@S 原样显示 @= #3");
  CHECK(lines[4] == "[42] a@S不是转义: 这波操作我给满分/ #4");
}

TEST_CASE("each --mode delivers the same messages complete and in order") {
  for (std::string mode : {"normal", "coalesce", "split", "large"}) {
    CAPTURE(mode);
    Server server({"--rate", "100", "--mode", mode});
    check_generated_text(receive(server, {"--room", "8"}, 20), 8, 20, mode == "large");
  }
}

TEST_CASE("json format: every field, the first of a duplicate key, nested el decoded to a list of objects") {
  Server server({"--rate", "200", "--mode", "coalesce", "--batch", "0.05"});
  auto lines = receive(server, {"--room", "5", "--format", "json"}, 16);
  REQUIRE(lines.size() == 16);
  for (size_t seq = 0; seq < lines.size(); ++seq) {
    json::Value object = json::parse(lines[seq], {.max_depth = 64, .reject_duplicate_keys = true});
    Fields sent = decode_map(generated_message(5, seq));
    CHECK(object["seq"].as_string() == std::to_string(seq));
    CHECK(object["type"].as_string() == sent.get("type"));
    for (auto [key, value] : sent) {
      if (key != "el") CHECK(object[std::string(key)].as_string() == sent.get(key));
    }
    if (sent.get("type") == "chatmsg") {
      CHECK(object["col"].as_string() == std::to_string(seq % 6));  // not the duplicate's 9
      CHECK(object["txt"].as_string() == generated_chat_text(seq));
      Items badges = decode_list(sent.get("el"));
      REQUIRE(object["el"].is_array());
      REQUIRE(object["el"].size() == badges.size());
      REQUIRE(badges.size() == 2);
      for (size_t i = 0; i < badges.size(); ++i) {
        for (auto [key, value] : decode_map(badges[i])) CHECK(object["el"][i][std::string(key)].as_string() == value);
      }
      CHECK(object["el"][0]["etp"].as_string() == "1");
    }
  }
}

TEST_CASE("scripted broadcasts: Chinese, escapes, nested el and duplicate keys") {
  testing::TempDir dir;
  const std::string script = dir.file("script.stt");
  std::ofstream(script) << "type@=chatmsg/rid@=1/nn@=张三/txt@=你好@S世界@A/level@=3/\n"
                           "\n"
                           "type@=chatmsg/nn@=a@AAb/txt@=one/txt@=two/el@=eid@AA=1@ASetp@AA=1@ASsc@AA=1@AS@S/\n"
                           "type@=uenter/rid@=1/nn@=李四/level@=12/\n"
                           "type@=superchat/rid@=1/msg@=hi/\n";
  Server server({"--rate", "100", "--script", script});
  auto text = receive(server, {"--room", "1"}, 8);
  std::vector<std::string> expected_text = {
      "[1] 张三: 你好/世界@", "[1] a@Ab: one", "[1] 李四 entered (level 12)", "[1] superchat msg=hi"};
  REQUIRE(text.size() == 8);
  for (size_t i = 0; i < text.size(); ++i) CHECK(text[i] == expected_text[i % 4]);

  auto json_lines = receive(server, {"--room", "1", "--format", "json"}, 4);
  REQUIRE(json_lines.size() == 4);
  // The second client joins mid-script: find where the cycle is and check from there.
  std::vector<std::string> expected_json = {
      R"({"type":"chatmsg","rid":"1","nn":"张三","txt":"你好/世界@","level":"3"})",
      R"({"type":"chatmsg","nn":"a@Ab","txt":"one","el":[{"eid":"1","etp":"1","sc":"1"}]})",
      R"({"type":"uenter","rid":"1","nn":"李四","level":"12"})",
      R"({"type":"superchat","rid":"1","msg":"hi"})"};
  size_t start = std::find(expected_json.begin(), expected_json.end(), json_lines[0]) - expected_json.begin();
  REQUIRE(start < 4);
  for (size_t i = 0; i < 4; ++i) CHECK(json_lines[i] == expected_json[(start + i) % 4]);
}

TEST_CASE("--types prints only the types asked for") {
  Server server({"--rate", "400"});
  auto lines = receive(server, {"--room", "3", "--types", "uenter,dgb", "--format", "json"}, 6);
  REQUIRE(lines.size() == 6);
  for (const auto& line : lines) {
    std::string type = json::parse(line)["type"].as_string();
    CHECK((type == "uenter" || type == "dgb"));
  }
}

TEST_CASE("heartbeats reach the simulator at the configured interval") {
  Server server({"--rate", "0", "--verbose"});
  testing::Child client(client_command(server, {"--room", "4", "--heartbeat", "0.3"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1900));
  auto beats = lines_of(server.child.stderr_text(), "mrkl from");
  REQUIRE(beats.size() >= 5);
  CHECK(beats.size() <= 7);
  for (size_t i = 1; i < beats.size(); ++i) {
    long long gap = log_millis(beats[i]) - log_millis(beats[i - 1]);
    CHECK(gap >= 250);
    CHECK(gap <= 450);
  }
  client.signal(SIGINT);
  CHECK(client.wait(Seconds(5)) == 0);
}

TEST_CASE("without heartbeats the simulator kicks the client after --idle-timeout") {
  Server server({"--rate", "0", "--idle-timeout", "1"});
  testing::Child quiet(client_command(server, {"--room", "4", "--heartbeat", "0"}));
  testing::Child beating(client_command(server, {"--room", "4", "--heartbeat", "0.3"}));
  auto start = std::chrono::steady_clock::now();
  CHECK(quiet.wait(Seconds(5)) == 1);  // lost its connection and was not told to reconnect
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(waited >= 0.8);
  CHECK(quiet.stderr_text().find("connection closed") != std::string::npos);
  CHECK(beating.running());
  beating.signal(SIGINT);
  CHECK(beating.wait(Seconds(5)) == 0);
}

TEST_CASE("error 204 for a bad room is reported on stderr with its code") {
  Server server({"--rooms", "100,200"});
  for (std::string room : {"abc", "300"}) {
    auto result = testing::run(client_command(server, {"--room", room}), Seconds(10));
    CHECK(result.code == 1);
    CHECK(result.err.find("server error 204") != std::string::npos);
  }
}

TEST_CASE("reconnects with backoff when the simulator restarts on the same port") {
  auto first = std::make_unique<Server>(std::vector<std::string>{"--rate", "20"});
  const int port = first->port;
  testing::Child client({testing::bin_path("barrage-client"), "--port", std::to_string(port), "--room", "6", "--reconnect",
                         "--retry-delay", "0.05", "--heartbeat", "0.5"});
  CHECK(client.wait_for_line("[6] 小明: 主播好厉害！ #0").size() > 0);
  first->child.signal(SIGTERM);  // says error 52 to everyone
  CHECK(first->child.wait(Seconds(5)) == 0);
  first.reset();
  testing::Child second({testing::bin_path("barrage-server"), "--port", std::to_string(port), "--rate", "20"});
  CHECK(second.listening_port("barrage") == port);
  // The new simulator numbers from 0 again: seeing #0 a second time means the client is back.
  CHECK(client.wait_for_line("[6] 小明: 主播好厉害！ #0", Seconds(10)).size() > 0);
  CHECK(client.stderr_text().find("server error 52") != std::string::npos);
  client.signal(SIGINT);
  CHECK(client.wait(Seconds(5)) == 0);
}

TEST_CASE("reconnects after an idle kick") {
  Server server({"--rate", "0", "--idle-timeout", "0.4", "--verbose"});
  testing::Child client(client_command(server, {"--room", "6", "--reconnect", "--retry-delay", "0.02", "--heartbeat", "0"}));
  CHECK(testing::eventually([&] { return lines_of(server.child.stderr_text(), "login from").size() >= 3; }, Seconds(10)));
  CHECK(client.running());
  client.signal(SIGINT);
  CHECK(client.wait(Seconds(5)) == 0);
}

TEST_CASE("SIGINT logs out cleanly: the simulator sees logout, the client exits 0") {
  Server server({"--rate", "50", "--verbose"});
  testing::Child client(client_command(server, {"--room", "11"}));
  client.wait_for_line("[11]");
  client.signal(SIGINT);
  CHECK(client.wait(Seconds(5)) == 0);
  CHECK(testing::eventually([&] { return server.child.stderr_text().find("logout from") != std::string::npos; }));
}

TEST_CASE("a refused connection without --reconnect fails with a message") {
  auto result = testing::run({testing::bin_path("barrage-client"), "--port", std::to_string(testing::unused_port()), "--room", "1"},
                             Seconds(10));
  CHECK(result.code == 1);
  CHECK(result.err.find("barrage-client") != std::string::npos);
}

TEST_CASE("command line: --help, unknown flags and bad values") {
  auto help = testing::run({testing::bin_path("barrage-client"), "--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("--count") != std::string::npos);
  CHECK(help.out.find("--quiet") != std::string::npos);
  for (auto bad : std::vector<std::vector<std::string>>{
           {"--bogus"}, {"--format", "xml", "--room", "1"}, {"--heartbeat", "x", "--room", "1"}, {"--port", "0", "--room", "1"}}) {
    std::vector<std::string> argv{testing::bin_path("barrage-client")};
    argv.insert(argv.end(), bad.begin(), bad.end());
    auto result = testing::run(argv);
    CHECK(result.code == 2);
    CHECK(result.err.find(bad[0]) != std::string::npos);
  }
  auto missing = testing::run({testing::bin_path("barrage-client")});
  CHECK(missing.code == 2);
  CHECK(missing.err.find("--room") != std::string::npos);
}

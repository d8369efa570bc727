// msg-hub as a program, driven by raw clients: reports, the Broadcast multicast, the alive
// window, probes, malformed frames, flags and signals.
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <fstream>

#include "apps/messenger/directory.h"
#include "test/apps/messenger/messenger_testing.h"

using namespace asyncore::messenger;
using messenger_testing::read_frame_until;

namespace {

struct HubProcess {
  testing::Child child;
  int port;
  explicit HubProcess(std::vector<std::string> extra = {})
      : child([&] {
          std::vector<std::string> argv{testing::bin_path("msg-hub"), "--port", "0"};
          argv.insert(argv.end(), extra.begin(), extra.end());
          return argv;
        }()),
        port(child.listening_port("hub")) {}
};

bool is_directory(const Message& m) { return m.header.contains(kBroadcastKey); }

void report(testing::Client& client, const std::string& name, int port) {
  client.send_all(encode_frame(report_header(name, static_cast<uint16_t>(port))));
}

// A frame with arbitrary header text, as another implementation would write it.
std::string raw_frame(std::string_view header_text, std::string_view body = {}) {
  std::string frame{static_cast<char>(header_text.size() & 0xff), static_cast<char>(header_text.size() >> 8)};
  return frame + std::string(header_text) + std::string(body);
}

}  // namespace

TEST_CASE("flags follow the conventions") {
  auto help = testing::run({testing::bin_path("msg-hub"), "--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("--interval") != std::string::npos);
  for (std::vector<std::string> bad : {std::vector<std::string>{"--bogus"}, {"--interval", "soon"}, {"--port", "70000"},
                                       {"--alive", "-1"}, {"--identify-timeout", "0"},
                                       {"--max-connections", "many"}, {"--max-per-peer", "-1"},
                                       {"--max-peers", "0"}, {"--max-peers", "70000"}, {"--max-names-per-host", "x"},
                                       {"--name-hold", "0"}, {"--token-file", "/nonexistent"}, {"--frame-timeout", "x"},
                                       {"--max-partial-input", "100"}}) {
    std::vector<std::string> argv{testing::bin_path("msg-hub")};
    argv.insert(argv.end(), bad.begin(), bad.end());
    auto result = testing::run(argv);
    CAPTURE(bad[0]);
    CHECK(result.code == 2);
    CHECK(result.err.find(bad[0]) != std::string::npos);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  }
}

TEST_CASE("reporting peers get the directory of alive peers, themselves included") {
  HubProcess hub({"--interval", "0.1", "--alive", "5"});
  testing::Client alice(hub.port), bob(hub.port), lurker(hub.port);
  report(bob, "bob", 4002);
  report(alice, "alice", 4001);
  lurker.send_all(encode_frame(probe_header()));  // a probe is not a report
  const std::string both = "alice,127.0.0.1,4001;bob,127.0.0.1,4002";
  for (testing::Client* c : {&alice, &bob}) {
    Message m = read_frame_until(*c, [&](const Message& m) { return is_directory(m) && m.body == both; });
    CHECK(m.header.get(kBroadcastKey).empty());
    CHECK(m.header.size() == 1);
  }
  // The lurker never reported: it receives nothing.
  CHECK_THROWS(lurker.recv_some(1, testing::Seconds(0.5)));
}

TEST_CASE("a peer that stops reporting drops out after the alive window") {
  HubProcess hub({"--interval", "0.1", "--alive", "0.6"});
  testing::Client alice(hub.port), bob(hub.port);
  report(alice, "alice", 4001);
  report(bob, "bob", 4002);
  read_frame_until(alice, [](const Message& m) { return is_directory(m) && m.body.find("bob") != std::string::npos; });
  auto start = std::chrono::steady_clock::now();
  // Only alice keeps reporting.
  bool alone = false;
  while (!alone && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    report(alice, "alice", 4001);
    Message m = read_frame_until(alice, is_directory);
    alone = m.body == "alice,127.0.0.1,4001";
  }
  CHECK(alone);
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(400));
}

TEST_CASE("a malformed frame closes only that connection") {
  HubProcess hub({"--interval", "0.1"});
  testing::Client good(hub.port), bad(hub.port);
  report(good, "good", 5000);
  read_frame_until(good, is_directory);
  bad.send_all(std::string("\x05\x00TP:Ms", 7));  // no CL
  CHECK(bad.wait_closed(testing::Seconds(5)));
  report(good, "good", 5000);
  Message m = read_frame_until(good, is_directory);
  CHECK(m.body == "good,127.0.0.1,5000");
  CHECK(hub.child.stderr_text().find("malformed") != std::string::npos);
}

TEST_CASE("a connection that sends no report within --identify-timeout is closed; reporters stay") {
  HubProcess hub({"--interval", "0.1", "--identify-timeout", "0.5"});
  testing::Client alice(hub.port), lurker(hub.port);
  report(alice, "alice", 4001);
  lurker.send_all(encode_frame(probe_header()));  // a probe is not a report
  CHECK(lurker.wait_closed(testing::Seconds(5)));
  // alice reported once, long before: still served after the deadline passed.
  read_frame_until(alice, is_directory);
  report(alice, "alice", 4001);
  CHECK(read_frame_until(alice, is_directory).body == "alice,127.0.0.1,4001");
  CHECK(hub.child.stderr_text().find("no report within 0.5 s (--identify-timeout)") != std::string::npos);
  hub.child.signal(SIGTERM);
  CHECK(hub.child.wait(testing::Seconds(5)) == 0);
  CHECK(hub.child.stderr_text().find("1 closed without a report") != std::string::npos);
}

TEST_CASE("--max-per-peer and --max-connections close extra connections at accept; admitted peers carry on") {
  HubProcess hub({"--interval", "0.1", "--max-connections", "3", "--max-per-peer", "2"});
  testing::Client a1(hub.port, "127.0.0.1", "127.0.0.1"), a2(hub.port, "127.0.0.1", "127.0.0.1");
  report(a1, "a1", 4001);
  report(a2, "a2", 4002);
  testing::Client a3(hub.port, "127.0.0.1", "127.0.0.1");
  CHECK(a3.wait_closed(testing::Seconds(5)));
  testing::Client b1(hub.port, "127.0.0.1", "127.0.0.2");
  report(b1, "b1", 4003);
  testing::Client c1(hub.port, "127.0.0.1", "127.0.0.3");
  CHECK(c1.wait_closed(testing::Seconds(5)));
  const std::string all = "a1,127.0.0.1,4001;a2,127.0.0.1,4002;b1,127.0.0.2,4003";
  for (testing::Client* c : {&a1, &a2, &b1}) {
    CHECK(read_frame_until(*c, [&](const Message& m) { return is_directory(m) && m.body == all; }).body == all);
  }
  const std::string log = hub.child.stderr_text();
  CHECK(log.find("hub listener: refused 127.0.0.1:") != std::string::npos);
  CHECK(log.find("max_per_peer 2 reached") != std::string::npos);
  hub.child.signal(SIGTERM);
  CHECK(hub.child.wait(testing::Seconds(5)) == 0);
  CHECK(hub.child.stderr_text().find("connections 2 refused (max_connections 1, max_per_peer 1)") != std::string::npos);
}

TEST_CASE("the original Python client's echoed header 'CL:59;CL:59;Broadcast:' keeps its connection") {
  HubProcess hub({"--interval", "0.1"});
  testing::Client good(hub.port), python(hub.port), other(hub.port);
  report(good, "good", 5000);
  // The original Client echoes each received header back, CL included.
  python.send_all(raw_frame("CL:0;CL:0;ID:py;Port:4005"));
  const std::string body = "good,127.0.0.1,5000;py,127.0.0.1,4005;zz,127.0.0.1,4006;a,1";
  REQUIRE(body.size() == 59);
  python.send_all(raw_frame("CL:59;CL:59;Broadcast:", body));
  const std::string both = "good,127.0.0.1,5000;py,127.0.0.1,4005";
  CHECK(read_frame_until(python, [&](const Message& m) { return is_directory(m) && m.body == both; }).body == both);
  python.send_all(raw_frame("CL:59;CL:59;Broadcast:", body));  // again, later: still served
  CHECK(read_frame_until(python, [&](const Message& m) { return is_directory(m) && m.body == both; }).body == both);
  // CL repeated with another value is ambiguous: that connection alone is closed.
  other.send_all(raw_frame("CL:59;CL:58;Broadcast:", body));
  CHECK(other.wait_closed(testing::Seconds(5)));
  CHECK(read_frame_until(good, [&](const Message& m) { return is_directory(m) && m.body == both; }).body == both);
  CHECK(hub.child.stderr_text().find("repeated with a different value") != std::string::npos);
}

TEST_CASE("name hijack: a second claimant of a live name is refused and logged until the owner's connection is gone") {
  HubProcess hub({"--interval", "0.1"});
  testing::Client alice(hub.port, "127.0.0.1", "127.0.0.1");
  testing::Client thief(hub.port, "127.0.0.1", "127.0.0.2");
  report(alice, "alice", 4001);
  read_frame_until(alice, [](const Message& m) { return is_directory(m) && m.body == "alice,127.0.0.1,4001"; });
  for (int i = 0; i < 20; ++i) report(thief, "alice", 6666);
  // Messages for alice keep going to alice: the directory never names the thief's address.
  for (int i = 0; i < 5; ++i) {
    report(alice, "alice", 4001);
    CHECK(read_frame_until(alice, is_directory, testing::Seconds(1)).body == "alice,127.0.0.1,4001");
  }
  CHECK_THROWS(thief.recv_some(1, testing::Seconds(0.3)));  // never listed, so never sent the directory
  std::string log = hub.child.stderr_text();
  CHECK(log.find("refused 127.0.0.2:") != std::string::npos);
  CHECK(log.find("as peer alice: the name belongs to another live connection (held by 127.0.0.1:") != std::string::npos);
  CHECK(std::count(log.begin(), log.end(), '\n') < 10);  // 20 refusals, one line in full
  // The owner's connection is gone: the name is free at once.
  alice.close();
  report(thief, "alice", 6666);
  CHECK(read_frame_until(thief, is_directory).body == "alice,127.0.0.2,6666");
}

TEST_CASE("directory poisoning: thousands of names from short-lived and held connections stay bounded") {
  HubProcess hub({"--interval", "0.1", "--max-peers", "40", "--max-names-per-host", "10", "--max-per-peer", "0",
                  "--max-connections", "0"});
  testing::Client good(hub.port, "127.0.0.1", "127.0.0.1");
  report(good, "good", 5000);
  read_frame_until(good, [](const Message& m) { return is_directory(m) && m.body == "good,127.0.0.1,5000"; });
  const long rss_before = testing::resident_kib(hub.child.pid());
  // Held connections from two hosts, each reporting a distinct name (a log-injection attempt too).
  std::vector<testing::Client> held;
  for (int i = 0; i < 60; ++i) {
    held.emplace_back(hub.port, "127.0.0.1", i % 2 ? "127.0.0.2" : "127.0.0.3");
    held.back().send_all(encode_frame(Header{{"ID", "h" + std::to_string(i)}, {"Port", "1\n\x1b[31mFORGED"}}));
    report(held.back(), "held" + std::to_string(i), 7000);
  }
  // Short-lived ones: connect, report, close; each name must vanish with its connection.
  for (int i = 0; i < 3000; ++i) {
    testing::Client once(hub.port, "127.0.0.1", "127.0.0.4");
    report(once, "once" + std::to_string(i), 8000);
    if (i % 500 == 0) {  // the good peer is served throughout
      report(good, "good", 5000);
      CHECK(read_frame_until(good, is_directory, testing::Seconds(1)).body.find("good,127.0.0.1,5000") != std::string::npos);
    }
  }
  auto listed = [&] {
    report(good, "good", 5000);
    return parse_directory(read_frame_until(good, is_directory, testing::Seconds(1)).body);
  };
  REQUIRE(testing::eventually([&] {
    auto peers = listed();
    return std::none_of(peers.begin(), peers.end(), [](const PeerEntry& p) { return p.name.rfind("once", 0) == 0; });
  }));
  auto peers = listed();
  CHECK(peers.size() == 21);  // good + 10 held names from each of the two hosts
  CHECK(std::count_if(peers.begin(), peers.end(), [](const PeerEntry& p) { return p.ip == "127.0.0.2"; }) == 10);
  const long rss_after = testing::resident_kib(hub.child.pid());
  MESSAGE("hub VmRSS before ", rss_before, " KiB, after 3,060 reporting connections ", rss_after, " KiB");
#ifndef TEST_SANITIZED  // AddressSanitizer keeps freed memory in quarantine: resident size says little there
  CHECK(rss_after - rss_before < 8 * 1024);
#endif
  const std::string log = hub.child.stderr_text();
  MESSAGE("hub log: ", log.size(), " bytes");
  CHECK(log.size() < 8 * 1024);
  CHECK(log.find("\x1b") == std::string::npos);
  CHECK(log.find("\nFORGED") == std::string::npos);
  CHECK(log.find("bad Port '1\\x0a\\x1b[31mFORGED'") != std::string::npos);  // escaped, in one line
  hub.child.signal(SIGTERM);
  CHECK(hub.child.wait(testing::Seconds(5)) == 0);
  // Bad Ports and names past the bounds, summarised rather than logged one by one.
  const std::string stop_log = hub.child.stderr_text();
  CHECK(stop_log.find("more refused or ignored reports (summarised every 10 s") != std::string::npos);
  CHECK(stop_log.find(" reports refused") != std::string::npos);
  CHECK(stop_log.find("; 0 reports refused") == std::string::npos);
}

TEST_CASE("bodies that never finish: --frame-timeout and --max-partial-input close them; reporters are served") {
  HubProcess hub({"--interval", "0.1", "--frame-timeout", "1", "--max-partial-input", "33554432"});
  testing::Client good(hub.port);
  report(good, "good", 5000);
  read_frame_until(good, is_directory);
  const long rss_before = testing::resident_kib(hub.child.pid());
  // 20 connections each announcing a body of 16 MiB - 1 and sending 64 KiB of it.
  std::vector<testing::Client> attackers;
  const std::string start = raw_frame("CL:16777215;TP:Msg", std::string(64 * 1024, 'x'));
  for (int i = 0; i < 20; ++i) {
    attackers.emplace_back(hub.port);
    attackers.back().send_all(start);
  }
  // A trickler that keeps making progress is still cut off at the frame deadline.
  testing::Client trickler(hub.port);
  trickler.send_all(raw_frame("CL:100;TP:Msg"));
  auto began = std::chrono::steady_clock::now();
  bool trickler_closed = false;
  for (int i = 0; i < 40 && !trickler_closed; ++i) {
    try {
      trickler.send_all("y");
    } catch (const std::exception&) {
      trickler_closed = true;
      break;
    }
    report(good, "good", 5000);
    CHECK(read_frame_until(good, is_directory, testing::Seconds(1)).body == "good,127.0.0.1,5000");
    trickler_closed = trickler.wait_closed(testing::Seconds(0.1));
  }
  CHECK(trickler_closed);
  CHECK(std::chrono::steady_clock::now() - began < std::chrono::seconds(3));
  // The budget let at most two 16 MiB frames be held at once; the deadline ended those too.
  for (auto& attacker : attackers) CHECK(attacker.wait_closed(testing::Seconds(3)));
  const long rss_after = testing::resident_kib(hub.child.pid());
  MESSAGE("hub VmRSS before ", rss_before, " KiB, after 20 x 16 MiB bodies announced ", rss_after, " KiB");
#ifndef TEST_SANITIZED  // AddressSanitizer keeps freed memory in quarantine: resident size says little there
  CHECK(rss_after - rss_before < 8 * 1024);
#endif
  report(good, "good", 5000);
  CHECK(read_frame_until(good, is_directory, testing::Seconds(1)).body == "good,127.0.0.1,5000");
  const std::string log = hub.child.stderr_text();
  CHECK(log.find("(max partial input)") != std::string::npos);
  CHECK(std::count(log.begin(), log.end(), '\n') < 10);
  hub.child.signal(SIGTERM);
  CHECK(hub.child.wait(testing::Seconds(5)) == 0);
  CHECK(hub.child.stderr_text().find("more connections closed for their frames") != std::string::npos);
}

TEST_CASE("--token-file: only reports carrying the shared token are listed; msg-peer sends it with --hub-token-file") {
  testing::TempDir dir;
  std::ofstream(dir.file("token")) << "s3cret\n";
  HubProcess hub({"--interval", "0.1", "--token-file", dir.file("token")});
  testing::Child peer({testing::bin_path("msg-peer"), "--name", "alice", "--hub", "127.0.0.1:" + std::to_string(hub.port),
                       "--report", "0.1", "--inbox", dir.file("inbox"), "--hub-token-file", dir.file("token")});
  const int alice_port = peer.listening_port("peer");
  testing::Client without(hub.port), wrong(hub.port);
  report(without, "mallory", 6666);
  wrong.send_all(encode_frame(report_header("alice", 6666, "guess")));
  const std::string listed = "alice,127.0.0.1," + std::to_string(alice_port);
  CHECK(peer.wait_for_line("directory alice@") == "directory alice@127.0.0.1:" + std::to_string(alice_port));
  testing::Client good(hub.port);
  good.send_all(encode_frame(report_header("good", 5000, "s3cret")));
  const std::string both = listed + ";good,127.0.0.1,5000";
  CHECK(read_frame_until(good, [&](const Message& m) { return is_directory(m) && m.body == both; }).body == both);
  CHECK_THROWS(without.recv_some(1, testing::Seconds(0.3)));  // never listed, never sent the directory
  CHECK_THROWS(wrong.recv_some(1, testing::Seconds(0.1)));
  const std::string log = hub.child.stderr_text();
  CHECK(log.find("s3cret") == std::string::npos);
  CHECK(log.find("as peer mallory: no Token (--token-file)") != std::string::npos);
}

TEST_CASE("SIGTERM stops the hub with exit code 0") {
  HubProcess hub;
  testing::Client client(hub.port);
  hub.child.signal(SIGTERM);
  CHECK(hub.child.wait(testing::Seconds(5)) == 0);
  CHECK(client.wait_closed(testing::Seconds(5)));
}

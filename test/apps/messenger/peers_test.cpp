// A hub and three msg-peer processes: the directory, direct messages, broadcast, a peer that
// dies, and the stdin command protocol.
#include <doctest/doctest.h>

#include <csignal>
#include <string>

#include "test/apps/messenger/peer_process.h"

using messenger_testing::Hub;
using messenger_testing::Peer;
using asyncore::messenger::encode_frame;
using asyncore::messenger::Header;

namespace {

bool is_directory_with(const std::string& line, const std::vector<std::string>& entries) {
  if (line.rfind("directory", 0) != 0) return false;
  std::string expected = "directory";
  for (const auto& e : entries) expected += " " + e;
  return line == expected;
}

}  // namespace

TEST_CASE("three peers: directory, messages, broadcast, and a peer that dies") {
  testing::TempDir dir;
  Hub hub(0.1, 1.0);
  Peer alice("alice", hub.port, dir.file("alice")), bob("bob", hub.port, dir.file("bob")),
      carol("carol", hub.port, dir.file("carol"));
  const std::vector<std::string> all{alice.entry(), bob.entry(), carol.entry()};
  for (Peer* p : {&alice, &bob, &carol}) {
    p->line_where([&](const std::string& l) { return is_directory_with(l, all); });
  }
  alice.command("peers");
  CHECK(alice.line_starting("ok peers") == "ok peers " + all[0] + " " + all[1] + " " + all[2]);

  alice.command("msg bob hello bob, 你好");
  CHECK(alice.line_starting("ok msg") == "ok msg bob");
  CHECK(bob.line_starting("msg ") == "msg alice hello bob, 你好");

  bob.command("msg alice back at you");
  CHECK(bob.line_starting("ok msg") == "ok msg alice");
  CHECK(alice.line_starting("msg ") == "msg bob back at you");

  carol.command("broadcast hi everyone");
  CHECK(carol.line_starting("ok broadcast") == "ok broadcast 2");
  CHECK(alice.line_starting("msg ") == "msg carol hi everyone");
  CHECK(bob.line_starting("msg ") == "msg carol hi everyone");

  alice.command("msg zed anyone?");
  CHECK(alice.line_starting("error msg") == "error msg zed: unknown peer (not in the directory)");
  alice.command("dance");
  CHECK(alice.line_starting("error") == "error unknown command 'dance' (try help)");
  alice.command("connect carol");
  CHECK(alice.line_starting("ok connect carol") .rfind("ok connect carol 127.0.0.1:", 0) == 0);

  carol.child.signal(SIGKILL);
  const std::vector<std::string> two{alice.entry(), bob.entry()};
  for (Peer* p : {&alice, &bob}) {
    p->line_where([&](const std::string& l) { return is_directory_with(l, two); }, 10);
  }
  // Sending to the dead peer fails and says so; the others still talk.
  alice.command("msg carol are you there");
  CHECK(alice.line_starting("error msg carol").rfind("error msg carol: ", 0) == 0);
  alice.command("msg bob still here");
  CHECK(alice.line_starting("ok msg") == "ok msg bob");
  CHECK(bob.line_starting("msg ") == "msg alice still here");

  // End of stdin quits cleanly.
  alice.child.close_stdin();
  CHECK(alice.child.wait(testing::Seconds(10)) == 0);
  bob.command("quit");
  CHECK(bob.line_starting("ok quit") == "ok quit");
  CHECK(bob.child.wait(testing::Seconds(10)) == 0);
}

TEST_CASE("a peer keeps retrying the hub and SIGTERM stops it with 0") {
  testing::TempDir dir;
  int hub_port = testing::unused_port();
  Peer lonely("lonely", hub_port, dir.file("inbox"));
  CHECK(testing::eventually([&] { return lonely.child.stderr_text().find("retrying") != std::string::npos; }));
  lonely.command("peers");
  CHECK(lonely.line_starting("ok peers") == "ok peers");
  lonely.command("broadcast nobody");
  CHECK(lonely.line_starting("ok broadcast") == "ok broadcast 0");
  lonely.child.signal(SIGTERM);
  CHECK(lonely.child.wait(testing::Seconds(10)) == 0);
}

TEST_CASE("msg-peer closes inbound connections past --max-per-peer and --max-connections; admitted ones carry on") {
  testing::TempDir dir;
  Hub hub(0.1, 5.0);
  Peer bob("bob", hub.port, dir.file("bob"), {"--max-connections", "2", "--max-per-peer", "1"});
  auto say = [](testing::Client& c, const std::string& from, const std::string& text) {
    c.send_all(encode_frame(Header{{"TP", "Msg"}, {"From", from}}, text));
  };
  testing::Client a1(bob.port, "127.0.0.1", "127.0.0.1");
  say(a1, "a1", "first");
  CHECK(bob.line_starting("msg ") == "msg a1 first");
  testing::Client a2(bob.port, "127.0.0.1", "127.0.0.1");
  CHECK(a2.wait_closed(testing::Seconds(5)));
  testing::Client b1(bob.port, "127.0.0.1", "127.0.0.2");
  say(b1, "b1", "second");
  CHECK(bob.line_starting("msg ") == "msg b1 second");
  testing::Client c1(bob.port, "127.0.0.1", "127.0.0.3");
  CHECK(c1.wait_closed(testing::Seconds(5)));
  say(a1, "a1", "still here");
  CHECK(bob.line_starting("msg ") == "msg a1 still here");
  CHECK(bob.child.stderr_text().find("peer listener: refused 127.0.0.1:") != std::string::npos);
  bob.child.signal(SIGTERM);
  CHECK(bob.child.wait(testing::Seconds(10)) == 0);
  CHECK(bob.child.stderr_text().find("connections 2 refused (max_connections 1, max_per_peer 1)") != std::string::npos);
}

TEST_CASE("msg-peer: bodies that never finish are cut off by --frame-timeout and --max-partial-input; others are served") {
  testing::TempDir dir;
  Hub hub(0.1, 5.0);
  Peer bob("bob", hub.port, dir.file("bob"), {"--frame-timeout", "0.5", "--max-partial-input", "20000000"});
  [[maybe_unused]] const long rss_before = testing::resident_kib(bob.child.pid());  // unchecked under ASan
  auto prefix = [](const std::string& header) {
    return std::string{static_cast<char>(header.size() & 0xff), static_cast<char>(header.size() >> 8)} + header;
  };
  // Two announced 16 MiB bodies pass the 20 MB budget: the larger holder goes at once.
  testing::Client big1(bob.port), big2(bob.port), trickler(bob.port);
  big1.send_all(prefix("CL:16777215;TP:Msg") + std::string(1 << 20, 'x'));
  big2.send_all(prefix("CL:16777214;TP:Msg") + std::string(1 << 20, 'x'));
  CHECK(big1.wait_closed(testing::Seconds(2)));
  // A body trickled a byte at a time is cut off at the frame deadline however steady it is.
  trickler.send_all(prefix("CL:100;TP:Msg"));
  testing::Client good(bob.port);
  bool cut = false;
  for (int i = 0; i < 30 && !cut; ++i) {
    try {
      trickler.send_all("y");
    } catch (const std::exception&) {
      cut = true;
    }
    good.send_all(encode_frame(Header{{"TP", "Msg"}, {"From", "good"}}, "tick " + std::to_string(i)));
    CHECK(bob.line_starting("msg ", 1) == "msg good tick " + std::to_string(i));
    cut = cut || trickler.wait_closed(testing::Seconds(0.1));
  }
  CHECK(cut);
  CHECK(big2.wait_closed(testing::Seconds(2)));  // its deadline passed too
#ifndef TEST_SANITIZED  // AddressSanitizer keeps freed memory in quarantine: resident size says little there
  CHECK(testing::resident_kib(bob.child.pid()) - rss_before < 8 * 1024);
#endif
  const std::string log = bob.child.stderr_text();
  CHECK(log.find("(max partial input)") != std::string::npos);
}

TEST_CASE("msg-peer flags follow the conventions") {
  std::string peer = testing::bin_path("msg-peer");
  CHECK(testing::run({peer, "--help"}).code == 0);
  for (std::vector<std::string> argv : {std::vector<std::string>{peer, "--hub", "127.0.0.1:9000"},
                                        {peer, "--name", "a"},
                                        {peer, "--name", "a b", "--hub", "127.0.0.1:9000"},
                                        {peer, "--name", "a", "--hub", "nowhere"},
                                        {peer, "--name", "a", "--hub", "127.0.0.1:9000", "--frobnicate"},
                                        {peer, "--name", "a", "--hub", "127.0.0.1:9000", "--report", "x"},
                                        {peer, "--name", "a", "--hub", "127.0.0.1:9000", "--max-per-peer", "-1"},
                                        {peer, "--name", "a", "--hub", "127.0.0.1:9000", "--accept-files-from", "a b"},
                                        {peer, "--name", "a", "--hub", "127.0.0.1:9000", "--accept-files-from", ""},
                                        {peer, "--name", "a", "--hub", "127.0.0.1:9000", "--max-file-size", "1GB"},
                                        {peer, "--name", "a", "--hub", "127.0.0.1:9000", "--max-transfers", "0"},
                                        {peer, "--name", "a", "--hub", "127.0.0.1:9000", "--frame-timeout", "0"},
                                        {peer, "--name", "a", "--hub", "127.0.0.1:9000", "--max-partial-input", "1"},
                                        {peer, "--name", "a", "--hub", "127.0.0.1:9000", "--hub-token-file", "/nonexistent"}}) {
    auto result = testing::run(argv);
    CAPTURE(result.err);
    CHECK(result.code == 2);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  }
}

// msg-peer's stdin commands and its one-line escaping.
#include "apps/messenger/peer_command.h"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace asyncore::messenger;

TEST_CASE("commands parse") {
  CHECK_FALSE(parse_peer_command(""));
  CHECK_FALSE(parse_peer_command("   \t"));
  CHECK(parse_peer_command("peers")->kind == PeerCommand::Kind::peers);
  CHECK(parse_peer_command(" quit \r")->kind == PeerCommand::Kind::quit);
  auto msg = parse_peer_command("msg bob  hello   world ");
  REQUIRE(msg);
  CHECK(msg->kind == PeerCommand::Kind::msg);
  CHECK(msg->name == "bob");
  CHECK(msg->text == "hello   world");
  auto send = parse_peer_command("send 小明 /tmp/a file.bin");
  CHECK(send->name == "小明");
  CHECK(send->text == "/tmp/a file.bin");
  CHECK(parse_peer_command("broadcast hi all")->text == "hi all");
  CHECK(parse_peer_command("connect bob")->name == "bob");
}

TEST_CASE("bad commands say why") {
  CHECK_THROWS_WITH_AS(parse_peer_command("dance"), "unknown command 'dance' (try help)", std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_peer_command("msg bob"), "msg: missing TEXT", std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_peer_command("msg"), "msg: missing NAME", std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_peer_command("send bob"), "send: missing PATH", std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_peer_command("peers now"), "peers: unexpected 'now'", std::invalid_argument);
  CHECK_THROWS_AS(parse_peer_command("broadcast"), std::invalid_argument);
}

TEST_CASE("one_line keeps output one line per event") {
  CHECK(one_line("plain 文字") == "plain 文字");
  CHECK(one_line("a\nb\tc\\d\x01") == "a\\nb\\tc\\\\d\\x01");
}

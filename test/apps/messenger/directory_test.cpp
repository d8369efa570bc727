// The hub's directory: reports, the alive window, and the Broadcast body both ways.
#include "apps/messenger/directory.h"
#include "apps/messenger/frame.h"
#include "apps/messenger/hub.h"

#include <doctest/doctest.h>

using namespace asyncore;
using namespace asyncore::messenger;

TEST_CASE("a report header round-trips and bad reports are named") {
  std::string why;
  auto report = parse_report(report_header("alice", 4000), &why);
  REQUIRE(report);
  CHECK(report->name == "alice");
  CHECK(report->port == 4000);
  CHECK_FALSE(parse_report(Header{{"ID", "alice"}}, &why));
  CHECK(why.find("not a report") != std::string::npos);
  CHECK_FALSE(parse_report(Header{{"ID", "a,b"}, {"Port", "1"}}, &why));
  CHECK(why.find("bad ID") != std::string::npos);
  CHECK_FALSE(parse_report(Header{{"ID", "a"}, {"Port", "0"}}, &why));
  CHECK_FALSE(parse_report(Header{{"ID", "a"}, {"Port", "70000"}}, &why));
  CHECK_FALSE(parse_report(Header{{"ID", "a"}, {"Port", "12x"}}, &why));
  CHECK(why.find("bad Port") != std::string::npos);
  CHECK_FALSE(parse_report(probe_header(), &why));
}

TEST_CASE("peer names") {
  CHECK_FALSE(peer_name_problem("alice"));
  CHECK_FALSE(peer_name_problem("小明"));
  CHECK(peer_name_problem(""));
  CHECK(peer_name_problem("a b"));
  CHECK(peer_name_problem("a;b"));
  CHECK(peer_name_problem("a:b"));
  CHECK(peer_name_problem(std::string(201, 'x')));
}

TEST_CASE("the Broadcast body encodes and parses") {
  std::vector<PeerEntry> peers{{"alice", "127.0.0.1", 4000}, {"小明", "10.0.0.2", 65535}};
  std::string body = encode_directory(peers);
  CHECK(body == "alice,127.0.0.1,4000;小明,10.0.0.2,65535");
  CHECK(parse_directory(body) == peers);
  CHECK(encode_directory({}).empty());
  CHECK(parse_directory("").empty());
  std::size_t skipped = 0;
  auto parsed = parse_directory("bad;alice,127.0.0.1,4000;x,1.2.3.4,0;y,,5;z,1.1.1.1", &skipped);
  CHECK(parsed == std::vector<PeerEntry>{{"alice", "127.0.0.1", 4000}});
  CHECK(skipped == 4);
}

TEST_CASE("alive keeps recent reports in name order and forgets old ones") {
  Directory directory;
  auto t0 = Clock::now();
  using std::chrono::milliseconds;
  using Outcome = Directory::Outcome;
  CHECK(directory.report({"bob", "127.0.0.1", 2}, "c1", t0) == Outcome::listed);
  CHECK(directory.report({"alice", "127.0.0.1", 1}, "c2", t0 + milliseconds(500)) == Outcome::listed);
  CHECK(directory.report({"bob", "127.0.0.1", 2}, "c1", t0 + milliseconds(600)) == Outcome::unchanged);
  CHECK(directory.report({"bob", "127.0.0.1", 3}, "c1", t0 + milliseconds(700)) == Outcome::moved);
  auto alive = directory.alive(t0 + milliseconds(1000), 1.0);
  REQUIRE(alive.size() == 2);
  CHECK(alive[0].entry.name == "alice");
  CHECK(alive[1].entry.port == 3);
  CHECK(alive[1].connection_id == "c1");
  alive = directory.alive(t0 + milliseconds(1600), 1.0);
  REQUIRE(alive.size() == 1);
  CHECK(alive[0].entry.name == "bob");
  CHECK(directory.alive(t0 + milliseconds(1800), 1.0).empty());
  CHECK(directory.size() == 0);
  // Expired names are free for anyone.
  CHECK(directory.report({"bob", "127.0.0.2", 9}, "c9", t0 + milliseconds(1900)) == Outcome::listed);
}

TEST_CASE("a name belongs to the connection that reported it until that connection is forgotten") {
  Directory directory;
  auto t0 = Clock::now();
  using Outcome = Directory::Outcome;
  CHECK(directory.report({"bob", "127.0.0.1", 2}, "owner", t0) == Outcome::listed);
  CHECK(directory.report({"bob", "127.0.0.9", 6666}, "thief", t0) == Outcome::name_taken);
  CHECK(directory.find("bob")->entry.port == 2);
  CHECK(directory.find("bob")->connection_id == "owner");
  directory.forget_connection("thief");  // holds nothing: no effect
  CHECK(directory.size() == 1);
  directory.forget_connection("owner");
  CHECK(directory.size() == 0);
  CHECK(directory.report({"bob", "127.0.0.9", 6666}, "thief", t0) == Outcome::listed);
  // An owner silent for name_hold (30 s) loses the name to the next claimant.
  CHECK(directory.report({"bob", "127.0.0.1", 2}, "back", t0 + std::chrono::seconds(29)) == Outcome::name_taken);
  CHECK(directory.report({"bob", "127.0.0.1", 2}, "back", t0 + std::chrono::seconds(31)) == Outcome::listed);
  CHECK(directory.find("bob")->connection_id == "back");
  directory.forget_connection("thief");  // its name went with the takeover
  CHECK(directory.size() == 1);
  CHECK(directory.report({"bob", "127.0.0.9", 6666}, "thief", t0 + std::chrono::seconds(31)) == Outcome::name_taken);
  directory.forget_connection("back");
  CHECK(directory.report({"bob", "127.0.0.9", 6666}, "thief", t0) == Outcome::listed);
  // One name per connection: reporting another renames it.
  CHECK(directory.report({"robert", "127.0.0.9", 6666}, "thief", t0) == Outcome::listed);
  CHECK(directory.find("bob") == nullptr);
  CHECK(directory.size() == 1);
}

TEST_CASE("max_peers and max_per_host bound the directory") {
  Directory directory({.max_peers = 3, .max_per_host = 2});
  auto t0 = Clock::now();
  using Outcome = Directory::Outcome;
  CHECK(directory.report({"a1", "10.0.0.1", 1}, "a1", t0) == Outcome::listed);
  CHECK(directory.report({"a2", "10.0.0.1", 1}, "a2", t0) == Outcome::listed);
  CHECK(directory.report({"a3", "10.0.0.1", 1}, "a3", t0) == Outcome::host_full);
  CHECK(directory.report({"a2b", "10.0.0.1", 1}, "a2", t0) == Outcome::listed);  // a rename is no new name
  CHECK(directory.report({"b1", "10.0.0.2", 1}, "b1", t0) == Outcome::listed);
  CHECK(directory.report({"c1", "10.0.0.3", 1}, "c1", t0) == Outcome::directory_full);
  directory.forget_connection("a1");
  CHECK(directory.report({"a3", "10.0.0.1", 1}, "a3", t0) == Outcome::listed);
  CHECK(directory.size() == 3);
}

TEST_CASE("the largest directory --max-peers allows stays under the peers' body limit") {
  std::vector<PeerEntry> worst;
  for (std::size_t i = 0; i < kMaxPeersBound; ++i) {
    std::string name = std::to_string(i);
    name.resize(200, 'x');
    worst.push_back({name, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535});
  }
  CHECK(worst.front().ip.size() == 45);
  CHECK(encode_directory(worst).size() <= kDefaultMaxBody);
}

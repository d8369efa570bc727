// msg-hub nodes sharing one directory (--redis): real processes, a redis-server of the test's
// own, three msg-hub nodes and msg-peer processes reporting to different hubs.
#include <doctest/doctest.h>

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "apps/messenger/directory.h"
#include "test/apps/messenger/peer_process.h"
#include "test/support/redis_server.h"

using asyncore::messenger::encode_frame;
using asyncore::messenger::report_header;
using messenger_testing::address_arg;
using messenger_testing::Peer;
using testing::RedisServer;

namespace {

struct HubNode {
  std::string id;
  testing::Child child;
  int port;
  HubNode(const std::string& node_id, const std::string& redis, const std::vector<std::string>& extra)
      : id(node_id),
        child([&] {
          std::vector<std::string> argv{testing::bin_path("msg-hub"), "--port", "0", "--interval", "0.1", "--alive", "5",
                                        "--redis", redis, "--node-id", node_id, "--lease", "2"};
          argv.insert(argv.end(), extra.begin(), extra.end());
          return argv;
        }()),
        port(child.listening_port("hub")) {}
  bool logged(const std::string& text) const { return child.stderr_text().find(text) != std::string::npos; }
};

struct Nodes {
  RedisServer redis;
  testing::TempDir dir;
  std::vector<std::unique_ptr<HubNode>> hubs;
  explicit Nodes(const std::vector<std::string>& extra = {}) {
    for (const char* id : {"h1", "h2", "h3"}) hubs.push_back(std::make_unique<HubNode>(id, redis.address(), extra));
  }
  HubNode& hub(int n) { return *hubs[n - 1]; }
  std::string field(const std::string& name, const std::string& what) const {
    return redis.command({"HGET", "msg:peer:" + name, what}).str;
  }
  long long names() const { return redis.command({"SCARD", "msg:names"}).integer; }
};

// The peer's directory as its `peers` command prints it: "ok peers a@ip:port b@ip:port".
std::string peers_of(Peer& peer) {
  peer.command("peers");
  return peer.line_starting("ok peers");
}

// Asks `peer` for its directory until it is `expected` (bounded).
bool sees(Peer& peer, const std::vector<std::string>& expected, testing::Seconds timeout = testing::Seconds(15)) {
  std::string want = "ok peers";
  for (const auto& e : expected) want += " " + e;
  return testing::eventually([&] { return peers_of(peer) == want; }, timeout);
}

}  // namespace

TEST_CASE("hub nodes: a peer on hub 1 sees a peer that reported only to hub 2, and they talk directly") {
  Nodes nodes;
  Peer alice("alice", nodes.hub(1).port, nodes.dir.file("alice")), bob("bob", nodes.hub(2).port, nodes.dir.file("bob"));
  CHECK(sees(alice, {alice.entry(), bob.entry()}));
  CHECK(sees(bob, {alice.entry(), bob.entry()}));
  CHECK(nodes.field("alice", "node") == "h1");
  CHECK(nodes.field("bob", "node") == "h2");
  // A third hub with no peer of its own knows both too: a peer joining it sees them at once.
  Peer carol("carol", nodes.hub(3).port, nodes.dir.file("carol"));
  CHECK(sees(carol, {alice.entry(), bob.entry(), carol.entry()}));
  CHECK(sees(alice, {alice.entry(), bob.entry(), carol.entry()}));
  // Peer-to-peer traffic goes straight to the peer, not through a hub.
  alice.command("msg carol hello from hub 1");
  CHECK(alice.line_starting("ok msg") == "ok msg carol");
  CHECK(carol.line_starting("msg ") == "msg alice hello from hub 1");
  // A peer that quits is gone from every hub's directory (its hub releases the name at once).
  carol.command("quit");
  CHECK(carol.child.wait(testing::Seconds(10)) == 0);
  CHECK(testing::eventually([&] { return nodes.names() == 2; }));
  CHECK(sees(alice, {alice.entry(), bob.entry()}));
}

TEST_CASE("hub nodes: a hub that stops: its peers move to another hub and reappear in the directory") {
  Nodes nodes;
  const std::string hubs = address_arg(nodes.hub(1).port) + "," + address_arg(nodes.hub(2).port);
  Peer alice("alice", hubs, nodes.dir.file("alice")), bob("bob", nodes.hub(3).port, nodes.dir.file("bob"));
  REQUIRE(sees(bob, {alice.entry(), bob.entry()}));
  REQUIRE(nodes.field("alice", "node") == "h1");
  SUBCASE("kill -9") {
    nodes.hub(1).child.signal(SIGKILL);
    REQUIRE(nodes.hub(1).child.wait(testing::Seconds(10)) == 128 + SIGKILL);
    // h1's names stay held for its lease (2 s), then alice's report on h2 takes hers back.
  }
  SUBCASE("SIGTERM") {
    nodes.hub(1).child.signal(SIGTERM);
    REQUIRE(nodes.hub(1).child.wait(testing::Seconds(10)) == 0);
    // Its names and lease went before it exited: no wait for the lease to lapse.
    CHECK(nodes.redis.command({"EXISTS", "msg:hub:h1:lease"}).integer == 0);
    CHECK(nodes.field("alice", "node") != "h1");
  }
  CHECK(testing::eventually([&] { return nodes.field("alice", "node") == "h2"; }, testing::Seconds(15)));
  CHECK(alice.child.stderr_text().find("retrying " + address_arg(nodes.hub(2).port)) != std::string::npos);
  CHECK(nodes.redis.command({"EXISTS", "msg:hub:h1:lease"}).integer == 0);
  CHECK(sees(bob, {alice.entry(), bob.entry()}));
  CHECK(sees(alice, {alice.entry(), bob.entry()}));
  bob.command("msg alice still there?");
  CHECK(bob.line_starting("ok msg") == "ok msg alice");
  CHECK(alice.line_starting("msg ") == "msg bob still there?");
}

TEST_CASE("hub nodes: a name belongs to one live connection across hubs") {
  Nodes nodes;
  Peer first("alice", nodes.hub(1).port, nodes.dir.file("first"));
  REQUIRE(testing::eventually([&] { return nodes.field("alice", "node") == "h1"; }));
  Peer second("alice", nodes.hub(2).port, nodes.dir.file("second"));
  Peer bob("bob", nodes.hub(2).port, nodes.dir.file("bob"));
  // h2 refuses the second claimant; everyone, on every hub, sees the first.
  CHECK(testing::eventually([&] { return nodes.hub(2).logged("as peer alice: the name belongs to another live connection"); }));
  CHECK(sees(bob, {first.entry(), bob.entry()}));
  CHECK(nodes.field("alice", "port") == std::to_string(first.port));
  CHECK(sees(first, {first.entry(), bob.entry()}));
  // The owner's connection closes: the name is free at once, and the second claimant gets it.
  first.child.signal(SIGKILL);
  CHECK(testing::eventually([&] { return nodes.field("alice", "node") == "h2"; }));
  CHECK(nodes.field("alice", "port") == std::to_string(second.port));
  CHECK(sees(bob, {second.entry(), bob.entry()}));
}

TEST_CASE("hub nodes: a name refused by the shared directory is not asked of Redis again before the next sync") {
  Nodes nodes;
  // Redis logs every command with the client that sent it (SLOWLOG with a threshold of 0).
  nodes.redis.command({"CONFIG", "SET", "slowlog-max-len", "100000"});
  nodes.redis.command({"CONFIG", "SET", "slowlog-log-slower-than", "0"});
  Peer alice("alice", nodes.hub(1).port, nodes.dir.file("alice"));
  REQUIRE(testing::eventually([&] { return nodes.field("alice", "node") == "h1"; }));
  // A hub whose sync would come only after the test.
  HubNode h4("h4", nodes.redis.address(), {"--interval", "60"});
  // Its lease is taken once its Redis connection is ready (before that, reports wait for a sync).
  REQUIRE(testing::eventually([&] { return nodes.redis.command({"EXISTS", "msg:hub:h4:lease"}).integer == 1; }));
  testing::Client raw(h4.port);
  raw.send_all(encode_frame(report_header("alice", 4000)));
  REQUIRE(testing::eventually([&] { return h4.logged("as peer alice: the name belongs to another live connection"); }));
  std::string burst;
  for (int i = 0; i < 200; ++i) burst += encode_frame(report_header("alice", 4000));
  raw.send_all(burst);
  // Reports are handled in order: once "zed" is listed, every "alice" before it was.
  raw.send_all(encode_frame(report_header("zed", 4000)));
  REQUIRE(testing::eventually([&] { return nodes.field("zed", "node") == "h4"; }));
  const asyncore::redis::Reply log = nodes.redis.command({"SLOWLOG", "GET", "-1"});
  int claims = 0;
  for (const auto& entry : log.elements) {
    if (entry.elements.size() < 6 || entry.elements[5].str != "msg-hub-h4") continue;
    for (const auto& arg : entry.elements[3].elements) claims += arg.str == "alice";
  }
  CHECK(claims == 1);
}

TEST_CASE("hub nodes: --max-peers and --max-names-per-host hold over all hubs") {
  SUBCASE("--max-peers") {
    Nodes nodes({"--max-peers", "2"});
    Peer a("a", nodes.hub(1).port, nodes.dir.file("a")), b("b", nodes.hub(2).port, nodes.dir.file("b"));
    REQUIRE(sees(a, {a.entry(), b.entry()}));
    Peer c("c", nodes.hub(3).port, nodes.dir.file("c"));
    CHECK(testing::eventually([&] { return nodes.hub(3).logged("as peer c: the directory is full (--max-peers)"); }));
    CHECK(nodes.names() == 2);
    CHECK(nodes.redis.command({"SISMEMBER", "msg:names", "c"}).integer == 0);
    // A refused peer is sent no directory: it knows nobody.
    CHECK(peers_of(c) == "ok peers");
    CHECK(peers_of(a) == "ok peers " + a.entry() + " " + b.entry());
    // Room again: c gets in.
    b.command("quit");
    CHECK(b.child.wait(testing::Seconds(10)) == 0);
    CHECK(sees(a, {a.entry(), c.entry()}));
  }
  SUBCASE("--max-names-per-host") {
    Nodes nodes({"--max-names-per-host", "1"});
    Peer a("a", nodes.hub(1).port, nodes.dir.file("a"));
    REQUIRE(testing::eventually([&] { return nodes.names() == 1; }));
    Peer b("b", nodes.hub(2).port, nodes.dir.file("b"));
    CHECK(testing::eventually(
        [&] { return nodes.hub(2).logged("as peer b: this host holds too many names (--max-names-per-host)"); }));
    CHECK(nodes.names() == 1);
    CHECK(nodes.redis.command({"HGET", "msg:hosts", "127.0.0.1"}).str == "1");
  }
}

TEST_CASE("hub nodes: with Redis away each hub serves its own peers, says so once, and converges when it returns") {
  Nodes nodes;
  Peer alice("alice", nodes.hub(1).port, nodes.dir.file("alice")), bob("bob", nodes.hub(2).port, nodes.dir.file("bob"));
  REQUIRE(sees(alice, {alice.entry(), bob.entry()}));
  nodes.redis.kill9();
  CHECK(testing::eventually([&] { return nodes.hub(1).logged("is away"); }));
  // h1 keeps listing its own peers, a newcomer included.
  Peer dave("dave", nodes.hub(1).port, nodes.dir.file("dave"));
  CHECK(sees(dave, {alice.entry(), dave.entry()}));
  CHECK(sees(bob, {bob.entry()}));
  // The Redis client retries with its backoff meanwhile; the hub says "away" once per outage.
  nodes.redis.restart();  // no persistence: Redis comes back empty
  CHECK(testing::eventually([&] { return nodes.hub(1).logged("is back") && nodes.hub(2).logged("is back"); }));
  CHECK(sees(bob, {alice.entry(), bob.entry(), dave.entry()}));
  CHECK(sees(dave, {alice.entry(), bob.entry(), dave.entry()}));
  CHECK(nodes.names() == 3);
  const std::string log = nodes.hub(1).child.stderr_text();
  CHECK(log.find("is away") == log.rfind("is away"));
}

TEST_CASE("hub nodes: a hub stopped past its lease loses its names, and claims them again when it resumes") {
  Nodes nodes;
  Peer alice("alice", nodes.hub(1).port, nodes.dir.file("alice")), bob("bob", nodes.hub(2).port, nodes.dir.file("bob"));
  REQUIRE(sees(bob, {alice.entry(), bob.entry()}));
  const std::string incarnation = nodes.redis.command({"GET", "msg:hub:h1:lease"}).str;
  nodes.hub(1).child.signal(SIGSTOP);
  // Its lease lapses (2 s): the other hubs drop its entries; alice's connection to h1 stays open.
  CHECK(testing::eventually([&] { return nodes.redis.command({"SISMEMBER", "msg:names", "alice"}).integer == 0; }));
  CHECK(sees(bob, {bob.entry()}));
  nodes.hub(1).child.signal(SIGCONT);
  CHECK(testing::eventually([&] { return nodes.field("alice", "node") == "h1"; }));
  CHECK(sees(bob, {alice.entry(), bob.entry()}));
  // It holds its lease again, as a new incarnation, and alice's entry is under it.
  CHECK(testing::eventually([&] {
    const std::string now = nodes.redis.command({"GET", "msg:hub:h1:lease"}).str;
    return now != incarnation && nodes.field("alice", "inc") == now;
  }));
  CHECK(nodes.hub(1).logged("lapsed"));
}

TEST_CASE("hub nodes: a Redis too slow for a sync (DEBUG SLEEP): the hub sends its own peers, says so once, then recovers") {
  Nodes nodes;
  Peer alice("alice", nodes.hub(1).port, nodes.dir.file("alice")), bob("bob", nodes.hub(2).port, nodes.dir.file("bob"));
  REQUIRE(sees(alice, {alice.entry(), bob.entry()}));
  nodes.redis.command({"DEBUG", "SLEEP", "1"});  // returns when Redis answers again
  CHECK(testing::eventually([&] { return nodes.hub(1).logged("sync works again"); }));
  CHECK(sees(alice, {alice.entry(), bob.entry()}));
  const std::string log = nodes.hub(1).child.stderr_text();
  CHECK(log.find("sync failed") != std::string::npos);
  CHECK(log.find("sync failed") == log.rfind("sync failed"));
  CHECK(log.find("is away") == std::string::npos);  // slow is not gone
}

TEST_CASE("hub nodes: an owner silent past --name-hold loses its name to a claimant on another hub") {
  Nodes nodes({"--name-hold", "1"});
  // A connection that reported once and went silent without closing (a dead peer's socket).
  testing::Client silent(nodes.hub(1).port);
  silent.send_all(encode_frame(report_header("alice", 4000)));
  REQUIRE(testing::eventually([&] { return nodes.field("alice", "node") == "h1"; }));
  Peer alice("alice", nodes.hub(2).port, nodes.dir.file("alice"));
  // h1 keeps the silent owner's "seen" at its last report, so the hold runs out everywhere.
  CHECK(testing::eventually([&] { return nodes.field("alice", "node") == "h2"; }));
  CHECK(nodes.field("alice", "port") == std::to_string(alice.port));
  // h1 learns at its next sync that the name is held elsewhere and forgets it: one owner.
  CHECK(testing::eventually([&] { return nodes.hub(1).logged("as peer alice: the name belongs to another live connection (the directory shared"); }));
  CHECK(sees(alice, {alice.entry()}));
}

TEST_CASE("msg-hub --redis/--node-id and msg-peer --hub with several hubs: bad values get one clear line and exit 2") {
  auto hub = testing::run({testing::bin_path("msg-hub"), "--redis", "nowhere"});
  CHECK(hub.code == 2);
  CHECK(hub.err.find("--redis: redis address \"nowhere\": expected host:port or unix:/path") != std::string::npos);
  hub = testing::run({testing::bin_path("msg-hub"), "--redis", "unix:/tmp/x.sock", "--node-id", "a b"});
  CHECK(hub.code == 2);
  CHECK(hub.err == "msg-hub: --node-id: letters, digits, '-', '_' and '.' only\n");
  auto peer = testing::run({testing::bin_path("msg-peer"), "--name", "p", "--hub", "127.0.0.1:9000,127.0.0.1"});
  CHECK(peer.code == 2);
  CHECK(peer.err.find("for --hub: expected HOST:PORT") != std::string::npos);
}

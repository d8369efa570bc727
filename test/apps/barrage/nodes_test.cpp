// barrage-server nodes (--redis): viewers of one room on several nodes get the same stream in the
// same order; the room's generator moves to a surviving node when its node is killed; a node that
// joins late counts no false gaps; --workers. Real processes: redis-server, barrage-server nodes,
// barrage-load and barrage-client viewers, raw protocol clients.
#include <doctest/doctest.h>

#include <csignal>
#include <map>

#include "test/apps/barrage/barrage_testing.h"
#include "test/support/redis_server.h"

using namespace barrage_testing;

namespace {

std::unique_ptr<Server> node(const testing::RedisServer& redis, const std::string& id, std::vector<std::string> args) {
  args.insert(args.end(), {"--redis", redis.address(), "--node-id", id});
  return std::make_unique<Server>(std::move(args));
}

// The next broadcast a raw client receives: its seq and its text.
std::pair<long long, std::string> next_broadcast(RawClient& client, Seconds timeout = Seconds(5)) {
  for (;;) {
    auto text = client.next(timeout);
    if (!text) throw std::runtime_error("the server closed");
    auto fields = asyncore::barrage::decode_map(*text, asyncore::barrage::Mode::lenient);
    if (fields.contains("seq")) return {std::stoll(std::string(fields.get("seq"))), *text};
  }
}

// The stop line's figure named `what` ("gaps", "published", ...); -1 when there is none.
long long figure(const std::string& log, const std::string& what) {
  const size_t line = log.find("barrage-server: stopping;");
  const size_t at = line == std::string::npos ? line : log.find(what + " ", line);
  return at == std::string::npos ? -1 : std::stoll(log.substr(at + what.size() + 1));
}

// Stops a node gracefully; returns its stop line's figure named `what`.
long long stop_figure(Server& server, const std::string& what) {
  server.child.signal(SIGTERM);
  CHECK(server.child.wait(Seconds(10)) == 0);
  INFO(server.child.stderr_text());
  const long long value = figure(server.child.stderr_text(), what);
  CHECK(value >= 0);
  return value;
}

long long batches(const std::string& log) {
  const size_t at = log.find(" batches (");
  return at == std::string::npos ? -1 : std::stoll(log.substr(log.rfind(' ', at - 1) + 1));
}

long long command_calls(const testing::RedisServer& redis, const std::string& command) {
  const std::string info = redis.command({"INFO", "commandstats"}).str;
  const size_t at = info.find("cmdstat_" + command + ":calls=");
  return at == std::string::npos ? 0 : std::stoll(info.substr(at + command.size() + 15));
}

}  // namespace

TEST_CASE("3 nodes x 20 viewers in one room: every viewer gets every message in order, the same on every node, published once per batch") {
  testing::RedisServer redis;
  const int per_node = 20, messages = 300;
  // The room starts once the 3 x 20 loads and the 3 printing clients joined, on whichever nodes.
  const std::vector<std::string> args = {"--rate", "300", "--total", std::to_string(messages), "--batch", "0.02",
                                         "--wait-for", std::to_string(3 * per_node + 3), "--lease", "2"};
  std::vector<std::unique_ptr<Server>> nodes;
  for (int i = 1; i <= 3; ++i) nodes.push_back(node(redis, "n" + std::to_string(i), args));
  std::vector<std::unique_ptr<testing::Child>> loads, printers;
  for (auto& n : nodes) {
    loads.push_back(std::make_unique<testing::Child>(std::vector<std::string>{
        testing::bin_path("barrage-load"), "--port", n->port_text(), "--room", "7", "--clients", std::to_string(per_node),
        "--expect", std::to_string(messages), "--timeout", "30"}));
    printers.push_back(std::make_unique<testing::Child>(std::vector<std::string>{
        testing::bin_path("barrage-client"), "--port", n->port_text(), "--room", "7", "--format", "json", "--count",
        std::to_string(messages), "--quiet"}));
  }
  for (auto& load : loads) {
    const std::string out = load->read_all(Seconds(40));
    INFO(out << load->stderr_text());
    CHECK(load->wait(Seconds(5)) == 0);
    CHECK(out.find("complete=" + std::to_string(per_node) + " ") != std::string::npos);
    CHECK(out.find("gaps=0 repeats=0") != std::string::npos);
  }
  std::vector<std::string> printed;
  for (auto& printer : printers) {
    printed.push_back(printer->read_all(Seconds(20)));
    CHECK(printer->wait(Seconds(5)) == 0);
  }
  CHECK(lines_of(printed[0]).size() == messages);
  CHECK(printed[0].find("\"seq\":\"0\"") != std::string::npos);
  CHECK(printed[1] == printed[0]);
  CHECK(printed[2] == printed[0]);
  // Every viewer left: the lease is given back, the member counts go, and what the room's next
  // viewers continue from expires in 10 minutes (no key of a room lives on for ever).
  CHECK(testing::eventually([&] {
    return redis.command({"EXISTS", "barrage:room:7:generator", "barrage:room:7:members"}).integer == 0;
  }));
  // Each node unsubscribed after its last viewer left.
  CHECK(testing::eventually([&] { return redis.command({"PUBSUB", "NUMSUB", "barrage:room:7"}).to_string() == "[barrage:room:7, (integer) 0]"; }));
  for (const char* key : {"barrage:room:7:seq", "barrage:room:7:start"}) {
    const long long ttl = redis.command({"PTTL", key}).integer;
    CHECK(ttl > 0);
    CHECK(ttl <= 600000);
  }
  CHECK(redis.command({"GET", "barrage:room:7:seq"}).str == std::to_string(messages));

  // One PUBLISH per batch in all (not one per node), and every node received every batch.
  long long published = 0;
  std::vector<long long> received;
  for (auto& n : nodes) {
    published += stop_figure(*n, "published");
    CHECK(figure(n->child.stderr_text(), "gaps") == 0);
    received.push_back(batches(n->child.stderr_text()));
  }
  CHECK(published > 0);
  CHECK(received == std::vector<long long>(3, published));
  CHECK(command_calls(redis, "publish") == published);
}

TEST_CASE("kill -9 of the generator's node: the stream resumes from another node within the lease, the gap counted") {
  testing::RedisServer redis;
  const std::vector<std::string> args = {"--rate", "50", "--batch", "0.02", "--lease", "1"};
  auto n1 = node(redis, "n1", args);
  auto n2 = node(redis, "n2", args);
  auto n3 = node(redis, "n3", args);
  // The first viewer's node is the only one with members: it takes the room's lease.
  RawClient v1(n1->port);
  v1.login_and_join("9");
  next_broadcast(v1);
  CHECK(redis.command({"GET", "barrage:room:9:generator"}).str.starts_with("n1/"));
  RawClient v2(n2->port), v3(n3->port);
  v2.login_and_join("9");
  v3.login_and_join("9");
  // Every node with a viewer of the room is subscribed to its channel, once.
  CHECK(testing::eventually([&] { return redis.command({"PUBSUB", "NUMSUB", "barrage:room:9"}).to_string() == "[barrage:room:9, (integer) 3]"; }));
  long long last2 = next_broadcast(v2).first, last3 = next_broadcast(v3).first;

  n1->child.signal(SIGKILL);
  n1->child.wait();
  // Both survivors see the stream go on, in order, after a jump: what fell due while nobody
  // generated is skipped. Bounded: the lease (1 s), a try every lease/4, and slack.
  long long jump2 = 0, jump3 = 0;
  for (int i = 0; i < 400 && (jump2 == 0 || jump3 == 0); ++i) {
    const long long s2 = next_broadcast(v2, Seconds(5)).first, s3 = next_broadcast(v3, Seconds(5)).first;
    REQUIRE(s2 > last2);
    REQUIRE(s3 > last3);
    if (s2 > last2 + 1) jump2 = s2 - last2 - 1;
    if (s3 > last3 + 1) jump3 = s3 - last3 - 1;
    last2 = s2;
    last3 = s3;
  }
  CHECK(jump2 > 0);
  CHECK(jump3 > 0);
  const std::string generator = redis.command({"GET", "barrage:room:9:generator"}).str;
  CHECK((generator.starts_with("n2/") || generator.starts_with("n3/")));
  // The gap each survivor saw is in its stop line.
  CHECK(stop_figure(*n2, "gaps") == jump2);
  CHECK(stop_figure(*n3, "gaps") == jump3);
}

TEST_CASE("a node that joins late counts no false gaps: its first batch sets the base") {
  testing::RedisServer redis;
  const std::vector<std::string> args = {"--rate", "100", "--batch", "0.02", "--lease", "2"};
  auto n1 = node(redis, "n1", args);
  RawClient v1(n1->port);
  v1.login_and_join("4");
  long long seq = 0;
  while (seq < 100) seq = next_broadcast(v1).first;  // the room is well under way

  auto late = node(redis, "late", args);
  RawClient v2(late->port);
  v2.login_and_join("4");
  auto [first, text] = next_broadcast(v2);
  CHECK(first > 100);
  for (int i = 0; i < 50; ++i) {
    const long long next = next_broadcast(v2).first;
    CHECK(next == first + 1);
    first = next;
  }
  CHECK(stop_figure(*late, "gaps") == 0);
  CHECK(batches(late->child.stderr_text()) > 0);
  CHECK(stop_figure(*n1, "gaps") == 0);
}

TEST_CASE("--workers 2: viewers spread over both workers on one port get the same stream in order") {
  testing::RedisServer redis;
  testing::Child parent({testing::bin_path("barrage-server"), "--port", "0", "--redis", redis.address(), "--node-id", "w",
                         "--workers", "2", "--rate", "100", "--batch", "0.02", "--lease", "2"});
  const int port = parent.listening_port("barrage");
  // Each worker connects to Redis once its listener is up.
  REQUIRE(testing::eventually([&] {
    const std::string clients = redis.command({"CLIENT", "LIST"}).str;
    return clients.find("name=barrage-w-w0-commands") != std::string::npos &&
           clients.find("name=barrage-w-w1-commands") != std::string::npos;
  }));
  std::vector<std::unique_ptr<RawClient>> viewers;
  for (int i = 0; i < 16; ++i) {
    viewers.push_back(std::make_unique<RawClient>(port));
    viewers.back()->login_and_join("3");
  }
  REQUIRE(testing::eventually([&] {
    auto members = redis.command({"HGETALL", "barrage:room:3:members"});
    long long total = 0;
    for (size_t i = 1; i < members.elements.size(); i += 2) total += std::stoll(members.elements[i].str);
    return total == 16 && members.elements.size() == 4;  // both workers have members
  }));
  std::map<long long, std::string> seen;  // seq -> text, the same whichever worker sent it
  for (auto& viewer : viewers) {
    auto [seq, text] = next_broadcast(*viewer);
    for (int i = 0; i < 20; ++i) {
      auto [next, next_text] = next_broadcast(*viewer);
      CHECK(next == seq + 1);
      auto [it, fresh] = seen.emplace(next, next_text);
      CHECK(it->second == next_text);
      seq = next;
    }
  }
  parent.signal(SIGTERM);
  CHECK(parent.wait(Seconds(15)) == 0);
}

TEST_CASE("a generator stopped past its lease is fenced: it publishes nothing more once it runs again") {
  testing::RedisServer redis;
  const std::vector<std::string> args = {"--rate", "50", "--batch", "0.02", "--lease", "1"};
  auto n1 = node(redis, "n1", args);
  auto n2 = node(redis, "n2", args);
  RawClient v1(n1->port);
  v1.login_and_join("6");
  next_broadcast(v1);
  RawClient v2(n2->port);
  v2.login_and_join("6");
  long long last = next_broadcast(v2).first;
  REQUIRE(redis.command({"GET", "barrage:room:6:generator"}).str.starts_with("n1/"));

  n1->child.signal(SIGSTOP);
  REQUIRE(testing::eventually([&] { return redis.command({"GET", "barrage:room:6:generator"}).str.starts_with("n2/"); },
                              Seconds(10)));
  n1->child.signal(SIGCONT);
  // n1 wakes with a clock that owes seconds of messages: its publishes are refused, it stops
  // generating, and both nodes' viewers go on with n2's stream, in order, with no repeat.
  REQUIRE(testing::eventually([&] { return n1->child.stderr_text().find("n1 stops generating") != std::string::npos; }));
  for (int i = 0; i < 30; ++i) {
    const long long seq = next_broadcast(v2).first;
    CHECK(seq > last);
    last = seq;
  }
  long long seen1 = next_broadcast(v1).first;
  for (int i = 0; i < 10; ++i) {
    const long long seq = next_broadcast(v1).first;
    CHECK(seq > seen1);
    seen1 = seq;
  }
  CHECK(stop_figure(*n1, "fenced") == 1);
  CHECK(stop_figure(*n2, "stale") == 0);
}

TEST_CASE("what a node cannot read on a room's channel is dropped and counted; its viewers carry on") {
  testing::RedisServer redis;
  auto n1 = node(redis, "n1", {"--rate", "50", "--batch", "0.02", "--lease", "2"});
  RawClient v1(n1->port);
  v1.login_and_join("8");
  long long last = next_broadcast(v1).first;
  // No header; a count that does not match the packets; a packet cut short; a batch from the past.
  const std::string packet = asyncore::barrage::encode_packet("type@=chatmsg/seq@=0/", asyncore::barrage::server_message_type);
  for (const std::string& bad : {std::string("garbage"), "999999 2\n" + packet, "999999 1\n" + packet.substr(0, 10),
                                 "0 1\n" + packet}) {
    CHECK(redis.command({"PUBLISH", "barrage:room:8", bad}).integer == 1);
  }
  for (int i = 0; i < 20; ++i) {
    const long long seq = next_broadcast(v1).first;
    CHECK(seq == last + 1);
    last = seq;
  }
  CHECK(stop_figure(*n1, "malformed") == 3);
  CHECK(figure(n1->child.stderr_text(), "stale") == 1);
  CHECK(figure(n1->child.stderr_text(), "gaps") == 0);
}

TEST_CASE("kill -9 and restart of Redis (its data lost): the stream resumes on every node, numbered on, in order") {
  testing::RedisServer redis;
  const std::vector<std::string> args = {"--rate", "50", "--batch", "0.02", "--lease", "1"};
  auto n1 = node(redis, "n1", args);
  auto n2 = node(redis, "n2", args);
  RawClient v1(n1->port), v2(n2->port);
  v1.login_and_join("5");
  v2.login_and_join("5");
  long long last1 = next_broadcast(v1).first, last2 = next_broadcast(v2).first;

  // A key no node writes tells that the restarted Redis lost its data (the nodes may have
  // written the room's keys again before this test looks).
  REQUIRE(redis.command({"SET", "test:before-restart", "1"}).str == "OK");
  redis.kill9();
  redis.restart();
  REQUIRE(redis.command({"EXISTS", "test:before-restart"}).integer == 0);
  // The nodes reconnect and subscribe again, one takes the lease afresh and numbers on from
  // what it received: no viewer sees a number twice or going back.
  for (int i = 0; i < 40; ++i) {
    const long long s1 = next_broadcast(v1, Seconds(10)).first, s2 = next_broadcast(v2, Seconds(10)).first;
    CHECK(s1 > last1);
    CHECK(s2 > last2);
    last1 = s1;
    last2 = s2;
  }
  CHECK(std::stoll(redis.command({"GET", "barrage:room:5:seq"}).str) > 40);
  CHECK(stop_figure(*n1, "stale") == 0);
  CHECK(stop_figure(*n2, "stale") == 0);
  CHECK(figure(n1->child.stderr_text(), "leases taken") + figure(n2->child.stderr_text(), "leases taken") >= 2);
}

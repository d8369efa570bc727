// device-server as one node of several (--redis): presence across nodes. Real processes: a
// redis-server of the test's own and two device-server nodes sharing it.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <thread>

#include "test/apps/device/device_harness.h"
#include "test/support/redis_server.h"

using namespace device_test;
using testing::RedisServer;

namespace {

// Redis with the documented setting: every write in the AOF, synced, before it is answered.
const testing::RedisOptions kAof{.tcp = false, .extra_args = {"--appendonly", "yes", "--appendfsync", "always"}};

struct Cluster {
  RedisServer redis;
  testing::TempDir dir;
  Server a, b;
  explicit Cluster(const std::string& lease = "2", const std::vector<std::string>& extra = {}) : redis(kAof) {
    auto flags = [&](const char* node) {
      std::vector<std::string> f = {"--auto-register", "--redis", redis.address(), "--node-id", node, "--lease", lease};
      f.insert(f.end(), extra.begin(), extra.end());
      return f;
    };
    a = Server::start(dir.file("a"), flags("a"));
    b = Server::start(dir.file("b"), flags("b"));
    // Each node's takeover channel is subscribed before the test goes on.
    REQUIRE(testing::eventually([&] { return redis.command({"PUBSUB", "NUMSUB", "node:a", "node:b"}).to_string() ==
                                             "[node:a, (integer) 1, node:b, (integer) 1]"; }));
  }
  std::string owner(std::string_view imei) const {
    return redis.command({"GET", "device:" + std::string(imei) + ":owner"}).to_string();
  }
};

// The reason of the device's newest offline event, or "" when it has none.
std::string last_offline(int admin, std::string_view imei) {
  const json::Value events = get_json(admin, "/devices/" + std::string(imei) + "/events");
  for (const json::Value& e : events["events"].as_array()) {
    if (e["kind"] == "offline") return e["reason"].as_string();
  }
  return "";
}
bool has_offline(int admin, std::string_view imei) { return !last_offline(admin, imei).empty(); }

}  // namespace

TEST_CASE("presence: the node holding a device is recorded at login and cleared at its offline") {
  Cluster c;
  RawDevice d(c.a.port);
  CHECK(d.login("862000000000001")["status"] == 200);
  REQUIRE(testing::eventually([&] { return c.owner("862000000000001").starts_with("a/"); }));
  json::Value device = get_json(c.a.admin, "/devices/862000000000001");
  CHECK(device["node"] == "a");
  CHECK(c.redis.command({"EXISTS", "node:a:lease"}).integer == 1);
  CHECK(c.redis.command({"PTTL", "node:a:lease"}).integer <= 2000);
  d.client.close();
  REQUIRE(testing::eventually([&] { return c.owner("862000000000001") == "(nil)"; }));
  CHECK(get_json(c.a.admin, "/devices/862000000000001")["node"].is_null());
  CHECK(has_offline(c.a.admin, "862000000000001"));
}

TEST_CASE("a login on another node takes the device over: the old node closes its connection and writes no offline") {
  Cluster c;
  RawDevice first(c.a.port);
  CHECK(first.login("862000000000002")["status"] == 200);
  REQUIRE(testing::eventually([&] { return c.owner("862000000000002").starts_with("a/"); }));
  RawDevice second(c.b.port);
  CHECK(second.login("862000000000002", 60, std::nullopt, 2)["status"] == 200);
  CHECK(first.closed(Seconds(5)));
  CHECK(c.owner("862000000000002").starts_with("b/"));
  CHECK_FALSE(has_offline(c.a.admin, "862000000000002"));
  CHECK(get_json(c.a.admin, "/devices/862000000000002")["node"] == "b");  // the fleet's view, from Redis
  CHECK(metric(c.a.admin, "device_takeovers_total") == 1);
  CHECK(metric(c.a.admin, "device_cluster_remote_takeovers_total{node=\"a\"}") == 1);
  CHECK(metric(c.a.admin, "device_cluster_node{node=\"a\"}") == 1);
  CHECK(testing::eventually([&] { return metric(c.b.admin, "device_cluster_claims_total{node=\"b\"}") == 1; }));
  // The new connection works, and the old node's close did not erase the new owner.
  second.send(json::Object{{"type", 3}, {"ident", 3}});
  CHECK(json::dump(second.read()) == R"({"type":3,"ident":3,"status":200})");
  CHECK(get_json(c.b.admin, "/devices/862000000000002")["node"] == "b");
  CHECK(c.owner("862000000000002").starts_with("b/"));
  // And back: a third login on A takes it from B.
  RawDevice third(c.a.port);
  CHECK(third.login("862000000000002", 60, std::nullopt, 3)["status"] == 200);
  CHECK(second.closed(Seconds(5)));
  REQUIRE(testing::eventually([&] { return c.owner("862000000000002").starts_with("a/"); }));
  CHECK_FALSE(has_offline(c.b.admin, "862000000000002"));
}

TEST_CASE("Redis away (kill -9, restart from its AOF within the lease): devices are still served, presence is written once it is back") {
  Cluster c;
  {
    RawDevice first(c.a.port);  // registered while Redis is there
    CHECK(first.login("862000000000003")["status"] == 200);
  }
  REQUIRE(testing::eventually([&] { return c.owner("862000000000003") == "(nil)"; }));
  c.redis.kill9();
  RawDevice d(c.a.port);
  CHECK(d.login("862000000000003", 60, std::nullopt, 2)["status"] == 200);
  d.send(json::Object{{"type", 3}, {"ident", 2}});
  CHECK(json::dump(d.read()) == R"({"type":3,"ident":2,"status":200})");
  // What needs Redis says so at once: the fleet's view, a new device's registration.
  testing::HttpResponse view = testing::http(c.a.admin, "GET", "/devices/862000000000003");
  CHECK(view.status == 503);
  CHECK(view.body.find("UNAVAILABLE") != std::string::npos);
  RawDevice fresh(c.a.port);
  const json::Value refused = fresh.login("862000000000033");
  CHECK(refused["status"] == 503);
  CHECK(refused["error"].as_string().find("cannot register the device now") != std::string::npos);
  c.redis.restart();
  // The claim was held (not yet sent) and goes out on the new connection.
  REQUIRE(testing::eventually([&] { return c.owner("862000000000003").starts_with("a/"); }, Seconds(10)));
  REQUIRE(testing::eventually([&] { return c.redis.command({"EXISTS", "node:a:lease"}).integer == 1; }));
  CHECK(c.a.stop() == 0);
  // A graceful stop records its devices offline in Redis too.
  CHECK(c.owner("862000000000003") == "(nil)");
}

TEST_CASE("a node stopped past its lease: another lets its devices go, and back it closes them and joins again") {
  Cluster c("1.5");
  RawDevice stays(c.a.port), moves(c.a.port);
  CHECK(stays.login("862000000000004")["status"] == 200);
  CHECK(moves.login("862000000000005")["status"] == 200);
  REQUIRE(testing::eventually([&] { return c.owner("862000000000004").starts_with("a/") &&
                                           c.owner("862000000000005").starts_with("a/"); }));
  const std::string incarnation = c.redis.command({"GET", "node:a:lease"}).str;
  c.a.child->signal(SIGSTOP);
  // B notices the lapsed lease (1.5 s, looked at every 0.375 s) and lets A's devices go.
  REQUIRE(testing::eventually([&] { return c.owner("862000000000004") == "(nil)"; }, Seconds(10)));
  CHECK(c.owner("862000000000005") == "(nil)");
  CHECK(c.redis.command({"SISMEMBER", "nodes", "a"}).integer == 0);
  // One device logs in on B meanwhile.
  RawDevice moved(c.b.port);
  CHECK(moved.login("862000000000005", 60, std::nullopt, 2)["status"] == 200);
  REQUIRE(testing::eventually([&] { return c.owner("862000000000005").starts_with("b/"); }));
  c.a.child->signal(SIGCONT);
  // A finds its lease gone: both its connections close, recorded offline as node_lost...
  CHECK(stays.closed(Seconds(10)));
  CHECK(moves.closed(Seconds(10)));
  CHECK(last_offline(c.a.admin, "862000000000004") == "node_lost");
  CHECK(last_offline(c.a.admin, "862000000000005") == "node_lost");
  // ... without touching the newer owner on B, and A is back as a new incarnation.
  CHECK(c.owner("862000000000005").starts_with("b/"));
  REQUIRE(testing::eventually([&] { return c.redis.command({"SISMEMBER", "nodes", "a"}).integer == 1; }));
  const std::string again = c.redis.command({"GET", "node:a:lease"}).str;
  CHECK(!again.empty());
  CHECK(again != incarnation);
  // A serves logins again.
  RawDevice back(c.a.port);
  CHECK(back.login("862000000000004", 60, std::nullopt, 3)["status"] == 200);
  REQUIRE(testing::eventually([&] { return c.owner("862000000000004").starts_with("a/"); }));
  moved.send(json::Object{{"type", 3}, {"ident", 4}});
  CHECK(json::dump(moved.read()) == R"({"type":3,"ident":4,"status":200})");
  CHECK(metric(c.a.admin, "device_cluster_fenced_total{node=\"a\"}") == 1);
  CHECK(metric(c.b.admin, "device_cluster_reaped_total{node=\"b\"}") == 2);
  CHECK(metric(c.b.admin, "device_cluster_fenced_total{node=\"b\"}") == 0);
}

TEST_CASE("commands cross nodes: interact and send on A reach a device held by B, and the answer comes back") {
  Cluster c;
  RawDevice d(c.b.port);
  CHECK(d.login("862000000000006")["status"] == 200);
  REQUIRE(testing::eventually([&] { return c.owner("862000000000006").starts_with("b/"); }));
  // The device acks what B sends it, while A's admin call waits.
  std::thread device([&] {
    json::Value command = d.read();
    d.send(json::Object{{"type", command["type"]}, {"ident", command["ident"]}, {"status", 200}});
  });
  CommandReply r = post_command(c.a.admin, "862000000000006", "interact", R"({"type":104,"text":"from a"})");
  device.join();
  CHECK(r.status == 200);
  CHECK(r.body["result"] == "OK");
  CHECK(r.body["ack"]["type"] == 104);
  CHECK(r.body["ack"]["status"] == 200);
  r = post_command(c.a.admin, "862000000000006", "send", R"({"type":104,"text":"fire and forget"})");
  CHECK(r.status == 202);
  CHECK(r.body["result"] == "SENT");
  CHECK(d.read()["text"] == "fire and forget");
  // A device that does not answer: A's own timeout says TIMEOUT.
  r = post_command(c.a.admin, "862000000000006", "interact", R"({"type":104,"text":"?"})", 0.5);
  CHECK(r.status == 504);
  CHECK(r.body["result"] == "TIMEOUT");
  CHECK(d.read()["text"] == "?");
  // Held by nobody: NO at once.
  r = post_command(c.a.admin, "862000000000099", "interact", R"({"type":101})");
  CHECK(r.status == 404);
  CHECK(metric(c.a.admin, "device_commands_total{mode=\"interact\",result=\"OK\"}") == 1);
  // Both nodes' pub/sub connections cut: they subscribe again, and commands cross again.
  CHECK(c.redis.command({"CLIENT", "KILL", "TYPE", "pubsub"}).integer == 2);
  REQUIRE(testing::eventually([&] { return c.redis.command({"PUBSUB", "NUMSUB", "node:a", "node:b"}).to_string() ==
                                           "[node:a, (integer) 1, node:b, (integer) 1]"; }));
  r = post_command(c.a.admin, "862000000000006", "send", R"({"type":104,"text":"after the cut"})");
  CHECK(r.body["result"] == "SENT");
  CHECK(d.read()["text"] == "after the cut");
}

TEST_CASE("commands to a node that is gone are answered NO at once; with Redis away, UNAVAILABLE at once") {
  Cluster c;
  {
    RawDevice before(c.a.port);  // known to A before Redis goes
    CHECK(before.login("862000000000008")["status"] == 200);
  }
  RawDevice d(c.b.port);
  CHECK(d.login("862000000000007")["status"] == 200);
  REQUIRE(testing::eventually([&] { return c.owner("862000000000007").starts_with("b/"); }));
  c.b.child->signal(SIGKILL);
  c.b.child->wait();
  // Its presence is still there until its lease lapses, but nobody listens on its channel.
  CommandReply r = post_command(c.a.admin, "862000000000007", "interact", R"({"type":101})", 5);
  CHECK(r.status == 404);
  CHECK(r.body["result"] == "NO");  // not A's TIMEOUT
  c.redis.kill9();
  REQUIRE(testing::eventually([&] {
    return post_command(c.a.admin, "862000000000007", "interact", R"({"type":101})", 5).status == 503;
  }));
  r = post_command(c.a.admin, "862000000000007", "send", R"({"type":101})", 5);
  CHECK(r.status == 503);
  CHECK(r.body["result"] == "UNAVAILABLE");
  CHECK(r.body["error"].as_string().find("is not reachable") != std::string::npos);
  // So is a queue request: nothing is stored anywhere but in Redis.
  r = post_command(c.a.admin, "862000000000008", "queue", R"({"type":101})", 5);
  CHECK(r.status == 503);
  CHECK(r.body["error"].as_string().find("nothing was queued") != std::string::npos);
  // Devices on A itself are still served.
  RawDevice local(c.a.port);
  CHECK(local.login("862000000000008", 60, std::nullopt, 2)["status"] == 200);
}

TEST_CASE("queue across nodes: stored in Redis by the node asked, delivered by the node holding the device; held by nobody, delivered at its next login anywhere") {
  Cluster c;
  RawDevice d(c.b.port);
  CHECK(d.login("862000000000009")["status"] == 200);
  REQUIRE(testing::eventually([&] { return c.owner("862000000000009").starts_with("b/"); }));
  std::thread device([&] {
    json::Value command = d.read();
    d.send(json::Object{{"type", command["type"]}, {"ident", command["ident"]}, {"status", 200}});
  });
  CommandReply r = post_command(c.a.admin, "862000000000009", "queue", R"({"type":104,"text":"queued via a"})");
  device.join();
  CHECK(r.body["result"] == "OK");  // acked by the device through B
  CHECK(metric(c.b.admin, "device_queued_commands") == 0);  // deleted on the ack
  REQUIRE(testing::eventually([&] { return c.redis.command({"XLEN", "device:862000000000009:queue"}).integer == 0; }));
  // A device last seen on A, online nowhere: B stores it, and it goes out at its next login, on A.
  RawDevice e(c.a.port);
  CHECK(e.login("862000000000010")["status"] == 200);
  e.client.close();
  REQUIRE(testing::eventually([&] { return c.owner("862000000000010") == "(nil)"; }));
  r = post_command(c.b.admin, "862000000000010", "queue", R"({"type":104,"text":"later"})");
  CHECK(r.status == 202);
  CHECK(r.body["result"] == "QUEUED");
  r = post_command(c.b.admin, "862000000000098", "queue", R"({"type":104,"text":"?"})");
  CHECK(r.status == 404);  // no node ever registered it
  RawDevice back(c.a.port);
  CHECK(back.login("862000000000010", 60, std::nullopt, 2)["status"] == 200);
  CHECK(back.read()["text"] == "later");
}

TEST_CASE("kill -9 of a node during an interact: the asker answers, its devices are let go, and log in on the survivor") {
  Cluster c("1.5");
  RawDevice d(c.b.port);
  CHECK(d.login("862000000000011")["status"] == 200);
  REQUIRE(testing::eventually([&] { return c.owner("862000000000011").starts_with("b/"); }));
  std::thread killer([&] {
    d.read();  // the command reached the device through B: now B dies, its answer never comes
    c.b.child->signal(SIGKILL);
  });
  CommandReply r = post_command(c.a.admin, "862000000000011", "interact", R"({"type":104,"text":"x"})", 2);
  killer.join();
  CHECK(r.status == 504);
  CHECK(r.body["result"] == "TIMEOUT");
  // A lets B's devices go once B's lease lapses...
  REQUIRE(testing::eventually([&] { return c.owner("862000000000011") == "(nil)"; }, Seconds(10)));
  CHECK(c.redis.command({"SISMEMBER", "nodes", "b"}).integer == 0);
  CHECK(metric(c.a.admin, "device_cluster_reaped_total{node=\"a\"}") == 1);
  // ... and the device logs in on A.
  RawDevice again(c.a.port);
  CHECK(again.login("862000000000011", 60, std::nullopt, 2)["status"] == 200);
  REQUIRE(testing::eventually([&] { return c.owner("862000000000011").starts_with("a/"); }));
}

TEST_CASE("device-emulator --nodes spreads a fleet over the nodes, and commands reach each device from either node") {
  Cluster c;
  Emulator fleet = Emulator::start(c.a.port, {"--nodes", "127.0.0.1:" + std::to_string(c.a.port) + ",127.0.0.1:" +
                                                             std::to_string(c.b.port),
                                              "--devices", "6", "--imei-base", "862100000000000"});
  REQUIRE(testing::eventually([&] { return online(c.a.admin) == 3 && online(c.b.admin) == 3; }));
  for (int i = 0; i < 6; ++i) {
    const std::string imei = "86210000000000" + std::to_string(i);
    CAPTURE(imei);
    REQUIRE(testing::eventually([&] { return c.owner(imei).starts_with(i % 2 ? "b/" : "a/"); }));
    for (int admin : {c.a.admin, c.b.admin}) {
      CHECK(post_command(admin, imei, "interact", R"({"type":104,"text":"hi"})").body["result"] == "OK");
    }
  }
  const auto summary = fleet.stop();
  CHECK(summary.at("acks") >= 12);
}

namespace {

// Acks a command the device received; returns its text.
std::string ack(RawDevice& d) {
  json::Value command = d.read();
  d.send(json::Object{{"type", command["type"]}, {"ident", command["ident"]}, {"status", 200}});
  return command["text"].is_string() ? command["text"].as_string() : std::string();
}

long long xlen(const Cluster& c, const std::string& key) { return c.redis.command({"XLEN", key}).integer; }

// A helper thread's body: what it throws (a read that timed out) is counted, to be checked after
// join, rather than terminating the test process (which would leave its servers running).
std::atomic<int> helper_failures{0};
template <class F>
std::thread helper(F body) {
  return std::thread([body]() mutable {
    try {
      body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "helper thread: %s\n", e.what());
      ++helper_failures;
    }
  });
}

}  // namespace

TEST_CASE("durable queue: kill -9 of Redis and restart from its AOF keeps every QUEUED command and event; delivered oldest first on another node") {
  Cluster c;
  const std::string imei = "862000000000020";
  {
    RawDevice d(c.a.port);
    CHECK(d.login(imei)["status"] == 200);
  }
  REQUIRE(testing::eventually([&] { return c.owner(imei) == "(nil)"; }));
  for (const char* text : {"first", "second", "third"}) {
    CommandReply r = post_command(c.b.admin, imei, "queue", std::string(R"({"type":104,"text":")") + text + "\"}");
    CHECK(r.status == 202);
  }
  // Acknowledged: the online and offline events (the login reply and QUEUED waited for Redis).
  const long long events = xlen(c, "device:" + imei + ":events");
  CHECK(events == 2);
  c.redis.kill9();
  c.redis.restart();
  CHECK(xlen(c, "device:" + imei + ":queue") == 3);
  CHECK(xlen(c, "device:" + imei + ":events") == events);
  // The nodes reconnect by themselves; then the device logs in on B, which never held it.
  std::unique_ptr<RawDevice> d;
  REQUIRE(testing::eventually([&] {
    d = std::make_unique<RawDevice>(c.b.port);
    return d->login(imei, 60, std::nullopt, 2)["status"] == 200;
  }, Seconds(15)));
  CHECK(ack(*d) == "first");
  CHECK(ack(*d) == "second");
  CHECK(ack(*d) == "third");
  REQUIRE(testing::eventually([&] { return xlen(c, "device:" + imei + ":queue") == 0; }));
  // Any node shows its events, newest first (once it is connected again).
  REQUIRE(testing::eventually([&] { return testing::http(c.a.admin, "GET", "/devices/" + imei + "/events").status == 200; }));
  json::Value shown = get_json(c.a.admin, "/devices/" + imei + "/events");
  CHECK(shown["events"][0]["kind"] == "online");
  CHECK(shown["events"][1]["kind"] == "offline");
}

TEST_CASE("events written while Redis is away longer than a command waits for it reach Redis once it is back, in order, before newer ones") {
  Cluster c;
  const std::string imei = "862000000000021";
  RawDevice d(c.a.port);
  CHECK(d.login(imei)["status"] == 200);
  REQUIRE(testing::eventually([&] { return xlen(c, "device:" + imei + ":events") == 1; }));  // online
  c.redis.kill9();
  // Answered from the node's own journal; Redis' copy waits.
  d.send(json::Object{{"type", 4}, {"ident", 2}, {"lat", 22.5}, {"lon", 114.25}, {"loc_type", 1}});
  CHECK(d.read()["status"] == 200);
  d.send(json::Object{{"type", 5}, {"ident", 3}, {"alarm", "fall"}});
  CHECK(d.read()["status"] == 200);
  CHECK(metric(c.a.admin, "device_cluster_events_unsent{node=\"a\"}") == 2);
  // Away past the time a held command waits (one lease): every command held now has timed out,
  // and one more (read in this order, a timeout in between only makes the wait longer).
  const long held = metric(c.a.admin, "device_redis_held{node=\"a\"}");
  const long timeouts = metric(c.a.admin, "device_redis_timeouts_total{node=\"a\"}");
  REQUIRE(testing::eventually([&] { return metric(c.a.admin, "device_redis_timeouts_total{node=\"a\"}") > timeouts + held; },
                              Seconds(10)));
  CHECK(metric(c.a.admin, "device_cluster_events_unsent{node=\"a\"}") == 2);
  c.redis.restart();
  CHECK(xlen(c, "device:" + imei + ":events") == 1);  // the restart kept the acknowledged one only
  // Back, A writes them first; then its lease, lapsed meanwhile, fences it: the device's offline
  // (node_lost) comes after them.
  CHECK(d.closed(Seconds(15)));
  REQUIRE(testing::eventually([&] { return xlen(c, "device:" + imei + ":events") == 4; }, Seconds(15)));
  REQUIRE(testing::eventually([&] { return testing::http(c.b.admin, "GET", "/devices/" + imei + "/events").status == 200; }));
  const json::Value shown = get_json(c.b.admin, "/devices/" + imei + "/events");  // newest first
  REQUIRE(shown["events"].size() == 4);
  CHECK(shown["events"][0]["kind"] == "offline");
  CHECK(shown["events"][0]["reason"] == "node_lost");
  CHECK(shown["events"][1]["kind"] == "alarm");
  CHECK(shown["events"][1]["alarm"] == "fall");
  CHECK(shown["events"][2]["kind"] == "location");
  CHECK(shown["events"][2]["lat"] == 22.5);
  CHECK(shown["events"][3]["kind"] == "online");
  CHECK(get_json(c.b.admin, "/devices/" + imei)["location"]["lat"] == 22.5);
  CHECK(metric(c.a.admin, "device_cluster_events_unsent{node=\"a\"}") == 0);
  CHECK(metric(c.a.admin, "device_cluster_events_dropped_total{node=\"a\"}") == 0);
}

TEST_CASE("QUEUE_FULL under racing admin nodes: exactly --max-queued-commands are accepted, fleet-wide") {
  Cluster c("2", {"--max-queued-commands", "5"});
  const std::string imei = "862000000000021";
  {
    RawDevice d(c.a.port);
    CHECK(d.login(imei)["status"] == 200);
  }
  REQUIRE(testing::eventually([&] { return c.owner(imei) == "(nil)"; }));
  std::vector<CommandReply> replies[4];
  std::vector<std::thread> admins;
  for (int i = 0; i < 4; ++i) {
    admins.push_back(helper([&, i] {
      for (int k = 0; k < 6; ++k) replies[i].push_back(post_command(i % 2 ? c.b.admin : c.a.admin, imei, "queue", R"({"type":101})"));
    }));
  }
  for (std::thread& t : admins) t.join();
  CHECK(helper_failures == 0);
  int queued = 0, full = 0;
  for (const auto& list : replies) {
    for (const CommandReply& r : list) {
      queued += r.status == 202;
      if (r.status == 429) {
        ++full;
        CHECK(r.body["result"] == "QUEUE_FULL");
        CHECK(r.body["error"] == "5 commands already queued for device " + imei +
                                     " (--max-queued-commands); refused until it acks some");
      }
    }
  }
  CHECK(queued == 5);
  CHECK(full == 19);
  CHECK(xlen(c, "device:" + imei + ":queue") == 5);
}

TEST_CASE("the auto-register cap holds across nodes: new devices racing on two nodes, exactly the cap let in") {
  Cluster c("2", {"--max-auto-registered", "4"});
  std::vector<int> statuses(10);
  std::vector<std::thread> devices;
  for (int i = 0; i < 10; ++i) {
    devices.push_back(helper([&, i] {
      RawDevice d(i % 2 ? c.b.port : c.a.port);
      statuses[i] = static_cast<int>(d.login("86200000000010" + std::to_string(i))["status"].as_int());
    }));
  }
  for (std::thread& t : devices) t.join();
  CHECK(helper_failures == 0);
  CHECK(std::count(statuses.begin(), statuses.end(), 200) == 4);
  CHECK(std::count(statuses.begin(), statuses.end(), 401) == 6);
  CHECK(c.redis.command({"SCARD", "devices:auto"}).integer == 4);
  CHECK(get_json(c.b.admin, "/devices")["total"] == 4);
}

TEST_CASE("/devices on any node lists the whole fleet with the node holding each device, a page at a time") {
  Cluster c;
  RawDevice a1(c.a.port), a2(c.a.port), b1(c.b.port);
  CHECK(a1.login("862000000000031")["status"] == 200);
  CHECK(a2.login("862000000000032")["status"] == 200);
  CHECK(b1.login("862000000000033")["status"] == 200);
  REQUIRE(testing::eventually([&] { return c.owner("862000000000033").starts_with("b/"); }));
  for (int admin : {c.a.admin, c.b.admin}) {
    json::Value all = get_json(admin, "/devices");
    CHECK(all["total"] == 3);
    CHECK(all["online"] == 3);
    REQUIRE(all["devices"].as_array().size() == 3);
    CHECK(all["devices"][0]["node"] == "a");
    CHECK(all["devices"][2]["node"] == "b");
    CHECK(all["devices"][2]["heartbeat"] == 60);
    CHECK(all["next"].is_null());
  }
  json::Value page = get_json(c.b.admin, "/devices?limit=2");
  CHECK(page["devices"].as_array().size() == 2);
  CHECK(page["next"] == "862000000000032");
  page = get_json(c.b.admin, "/devices?limit=2&after=862000000000032");
  CHECK(page["devices"][0]["imei"] == "862000000000033");
  CHECK(page["next"].is_null());
  get_json(c.a.admin, "/devices?limit=0", 400);
  get_json(c.a.admin, "/devices?limit=1001", 400);
  CHECK(get_json(c.b.admin, "/devices/862000000000031")["node"] == "a");
  get_json(c.b.admin, "/devices/862000000000039", 404);
  // Events of a device held by A, from B: newest first, as many as asked.
  CHECK(get_json(c.b.admin, "/devices/862000000000031/events?limit=0")["events"].as_array().empty());
  json::Value events = get_json(c.b.admin, "/devices/862000000000031/events?limit=5");
  REQUIRE(events["events"].as_array().size() == 1);
  CHECK(events["events"][0]["kind"] == "online");
  CHECK(events["events"][0]["heartbeat"] == 60);
  get_json(c.b.admin, "/devices/862000000000039/events", 404);
}

TEST_CASE("Redis paused (DEBUG SLEEP): admin calls that need it answer 503 fast, heartbeats are still served") {
  Cluster c("8");  // a pause shorter than the lease: nobody is fenced
  const std::string imei = "862000000000040";
  RawDevice d(c.a.port);
  CHECK(d.login(imei)["status"] == 200);
  REQUIRE(testing::eventually([&] { return c.owner(imei).starts_with("a/"); }));
  std::atomic<bool> asleep{true};
  std::thread sleeper = helper([&] {
    c.redis.command({"DEBUG", "SLEEP", "4"}, Seconds(20));
    asleep = false;
  });
  // Redis is asleep once it stops answering anyone.
  REQUIRE(testing::eventually([&] {
    try {
      c.redis.command({"PING"}, Seconds(0.3));
      return false;
    } catch (const std::exception&) {
      return true;
    }
  }));
  d.send(json::Object{{"type", 3}, {"ident", 5}});
  CHECK(json::dump(d.read()) == R"({"type":3,"ident":5,"status":200})");
  // Admins keep asking at once, on both nodes: each is answered within its 1 s, none piles up.
  std::vector<int> statuses(10);
  std::vector<std::thread> admins;
  for (int i = 0; i < 10; ++i) {
    admins.push_back(helper([&, i] { statuses[i] = post_command(i % 2 ? c.b.admin : c.a.admin, imei, "queue", R"({"type":101})").status; }));
  }
  for (std::thread& t : admins) t.join();
  CHECK(helper_failures == 0);
  CHECK(std::count(statuses.begin(), statuses.end(), 503) == 10);
  CommandReply r = post_command(c.a.admin, imei, "queue", R"({"type":101})");
  CHECK(r.status == 503);
  CHECK(r.body["error"].as_string().find("may or may not be queued") != std::string::npos);
  CHECK(testing::http(c.b.admin, "GET", "/devices").status == 503);
  CHECK(asleep);  // all answered while Redis was still asleep (1 s each against 4)
  sleeper.join();
  CHECK(helper_failures == 0);
  // Awake: the same calls work again.
  REQUIRE(testing::eventually([&] { return post_command(c.b.admin, imei, "send", R"({"type":101})").status == 202; }));
  CHECK(get_json(c.b.admin, "/devices")["total"] == 1);
  // The late replies to what timed out were dropped: nothing is left waiting.
  CHECK(testing::eventually([&] { return metric(c.a.admin, "device_redis_in_flight{node=\"a\"}") == 0; }));
}

TEST_CASE("the pub/sub connections killed while an answer crosses: it comes back or is TIMEOUT, never a hang; then commands cross again") {
  Cluster c;
  const std::string imei = "862000000000050";
  RawDevice d(c.b.port);
  CHECK(d.login(imei)["status"] == 200);
  REQUIRE(testing::eventually([&] { return c.owner(imei).starts_with("b/"); }));
  std::thread device = helper([&] {
    json::Value command = d.read();
    c.redis.command({"CLIENT", "KILL", "TYPE", "pubsub"});
    d.send(json::Object{{"type", command["type"]}, {"ident", command["ident"]}, {"status", 200}});
  });
  CommandReply r = post_command(c.a.admin, imei, "interact", R"({"type":101})", 2);
  device.join();
  CHECK(helper_failures == 0);
  CHECK((r.body["result"] == "OK" || r.body["result"] == "TIMEOUT"));
  REQUIRE(testing::eventually([&] { return c.redis.command({"PUBSUB", "NUMSUB", "node:a", "node:b"}).to_string() ==
                                           "[node:a, (integer) 1, node:b, (integer) 1]"; }));
  std::thread again = helper([&] { ack(d); });
  r = post_command(c.a.admin, imei, "interact", R"({"type":101})");
  again.join();
  CHECK(helper_failures == 0);
  CHECK(r.body["result"] == "OK");
}

TEST_CASE("the reaper racing a device that moved before the node's lease lapsed: the new owner is left alone") {
  Cluster c("1.5");
  const std::string imei = "862000000000060";
  RawDevice first(c.a.port);
  CHECK(first.login(imei)["status"] == 200);
  REQUIRE(testing::eventually([&] { return c.owner(imei).starts_with("a/"); }));
  c.a.child->signal(SIGSTOP);
  RawDevice moved(c.b.port);  // A cannot hear of it: it is stopped
  CHECK(moved.login(imei, 60, std::nullopt, 2)["status"] == 200);
  CHECK(c.owner(imei).starts_with("b/"));
  REQUIRE(testing::eventually([&] { return c.redis.command({"SISMEMBER", "nodes", "a"}).integer == 0; }, Seconds(10)));
  CHECK(c.owner(imei).starts_with("b/"));
  CHECK(metric(c.b.admin, "device_cluster_reaped_total{node=\"b\"}") == 0);
  c.a.child->signal(SIGCONT);
  CHECK(first.closed(Seconds(10)));
  REQUIRE(testing::eventually([&] { return c.redis.command({"SISMEMBER", "nodes", "a"}).integer == 1; }));
  CHECK(c.owner(imei).starts_with("b/"));
  moved.send(json::Object{{"type", 3}, {"ident", 3}});
  CHECK(json::dump(moved.read()) == R"({"type":3,"ident":3,"status":200})");
}

TEST_CASE("device-emulator --failover: kill -9 of a node, its devices log in again on the survivor") {
  Cluster c;
  Emulator fleet = Emulator::start(c.a.port, {"--nodes", "127.0.0.1:" + std::to_string(c.a.port) + ",127.0.0.1:" +
                                                             std::to_string(c.b.port),
                                              "--failover", "--devices", "6", "--imei-base", "862200000000000",
                                              "--report", "0"});
  REQUIRE(testing::eventually([&] { return online(c.a.admin) == 3 && online(c.b.admin) == 3; }));
  c.b.child->signal(SIGKILL);
  c.b.child->wait();
  REQUIRE(testing::eventually([&] { return online(c.a.admin) == 6; }, Seconds(15)));
  for (int i = 0; i < 6; ++i) CHECK(c.owner("86220000000000" + std::to_string(i)).starts_with("a/"));
  json::Value all = get_json(c.a.admin, "/devices");
  CHECK(all["total"] == 6);
  for (const json::Value& d : all["devices"].as_array()) CHECK(d["node"] == "a");
  fleet.stop();
}

TEST_CASE("a node whose Redis connection comes back claims its devices again (a write Redis lost), unless a newer login took one") {
  Cluster c;
  RawDevice kept(c.a.port), taken(c.a.port);
  CHECK(kept.login("862000000000070")["status"] == 200);
  CHECK(taken.login("862000000000071")["status"] == 200);
  REQUIRE(testing::eventually([&] { return c.owner("862000000000070").starts_with("a/") &&
                                           c.owner("862000000000071").starts_with("a/"); }));
  // As if Redis had restarted without these writes, and another node's login won meanwhile.
  c.redis.command({"DEL", "device:862000000000070:owner"});
  c.redis.command({"SET", "device:862000000000071:owner", "b/1/1"});
  // A's command connection cut: it reconnects by itself.
  const std::string clients = c.redis.command({"CLIENT", "LIST"}).str;
  std::string id;
  for (size_t at = 0; at < clients.size();) {
    size_t end = clients.find('\n', at);
    const std::string line = clients.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (line.find("name=device-a-commands ") != std::string::npos) id = line.substr(3, line.find(' ') - 3);
    if (end == std::string::npos) break;
    at = end + 1;
  }
  REQUIRE(!id.empty());
  CHECK(c.redis.command({"CLIENT", "KILL", "ID", id}).integer == 1);
  REQUIRE(testing::eventually([&] { return c.owner("862000000000070").starts_with("a/"); }));
  CHECK(taken.closed(Seconds(10)));  // the newer owner wins: A lets its connection go
  CHECK(c.owner("862000000000071") == "b/1/1");
  kept.send(json::Object{{"type", 3}, {"ident", 2}});
  CHECK(json::dump(kept.read()) == R"({"type":3,"ident":2,"status":200})");
}

TEST_CASE("a queue longer than one read (256 commands) is delivered whole and in order, the later commands read as the first are acked") {
  Cluster c("2", {"--max-queued-commands", "300"});
  const std::string imei = "862000000000080";
  {
    RawDevice d(c.a.port);
    CHECK(d.login(imei)["status"] == 200);
  }
  REQUIRE(testing::eventually([&] { return c.owner(imei) == "(nil)"; }));
  // Written straight into the stream, as admins on any node would have.
  for (int i = 0; i < 300; ++i) {
    c.redis.command({"XADD", "device:" + imei + ":queue", "*", "cmd", R"({"type":104,"text":")" + std::to_string(i) + "\"}", "t", "1"});
  }
  RawDevice d(c.b.port);
  CHECK(d.login(imei, 60, std::nullopt, 2)["status"] == 200);
  int in_order = 0;
  for (int i = 0; i < 300; ++i) in_order += ack(d) == std::to_string(i);
  CHECK(in_order == 300);
  REQUIRE(testing::eventually([&] { return xlen(c, "device:" + imei + ":queue") == 0; }));
  // And a command added now goes out at once.
  std::thread device = helper([&] { ack(d); });
  CHECK(post_command(c.a.admin, imei, "queue", R"({"type":104,"text":"now"})").body["result"] == "OK");
  device.join();
  CHECK(helper_failures == 0);
}

TEST_CASE("scripts flushed from Redis (SCRIPT FLUSH): at most one call fails, then they are sent in full again") {
  Cluster c;
  const std::string imei = "862000000000090";
  {
    RawDevice d(c.a.port);
    CHECK(d.login(imei)["status"] == 200);
  }
  REQUIRE(testing::eventually([&] { return c.owner(imei) == "(nil)"; }));
  CHECK(post_command(c.a.admin, imei, "queue", R"({"type":101})").status == 202);  // EVALSHA from now on
  c.redis.command({"SCRIPT", "FLUSH"});
  const int first = post_command(c.a.admin, imei, "queue", R"({"type":101})").status;
  CHECK((first == 202 || first == 503));
  CHECK(post_command(c.a.admin, imei, "queue", R"({"type":101})").status == 202);
  CHECK(xlen(c, "device:" + imei + ":queue") == (first == 202 ? 3 : 2));
}

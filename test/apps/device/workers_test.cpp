// device-server --workers N (with --redis): worker processes sharing the ports, each a node,
// supervised by the parent. Real processes: redis-server, the parent and its workers, an emulator.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "test/apps/device/device_harness.h"
#include "test/support/redis_server.h"

using namespace device_test;

namespace {

// The pids of a process' children (Linux: /proc/<pid>/task/<pid>/children).
std::vector<int> children_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<int> out;
  for (int child; in >> child;) out.push_back(child);
  return out;
}

// Exited: reaped, or a zombie waiting for whoever adopted it.
bool gone(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return true;
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || line.substr(paren + 2, 1) == "Z";
}

long owned(const testing::RedisServer& redis, const std::string& node) {
  return redis.command({"SCARD", "node:" + node + ":devices"}).integer;
}

}  // namespace

TEST_CASE("--workers 2: both workers take devices on one port; kill -9 of one, its devices log in again, it is restarted") {
  testing::RedisServer redis({.tcp = false, .extra_args = {"--appendonly", "yes", "--appendfsync", "always"}});
  testing::TempDir dir;
  Server server = Server::start(dir.file("data"), {"--auto-register", "--redis", redis.address(), "--node-id", "w",
                                                   "--lease", "1.5", "--workers", "2"});
  REQUIRE(testing::eventually([&] { return children_of(server.child->pid()).size() == 2; }));
  // Each worker's listener is up once it subscribed to its node channel.
  REQUIRE(testing::eventually([&] { return redis.command({"PUBSUB", "NUMSUB", "node:w-w0", "node:w-w1"}).to_string() ==
                                           "[node:w-w0, (integer) 1, node:w-w1, (integer) 1]"; }));
  Emulator fleet = Emulator::start(server.port, {"--devices", "40", "--imei-base", "862200000000000", "--heartbeat", "600",
                                                 "--report", "0"});
  REQUIRE(testing::eventually([&] { return owned(redis, "w-w0") + owned(redis, "w-w1") == 40; }));
  // The kernel spread the connections over both workers.
  CHECK(owned(redis, "w-w0") > 0);
  CHECK(owned(redis, "w-w1") > 0);
  // The admin port is shared too: any worker answers, for any device (commands cross workers).
  CHECK(post_command(server.admin, "862200000000007", "interact", R"({"type":104,"text":"hi"})").body["result"] == "OK");

  const std::vector<int> before = children_of(server.child->pid());
  const long lost = owned(redis, "w-w0");
  REQUIRE(::kill(before[0], SIGKILL) == 0);
  // Its devices reconnect to the same port and log in again, on the sibling or on the restarted
  // worker; the parent starts a new worker in its place.
  REQUIRE(testing::eventually([&] {
    const std::vector<int> now = children_of(server.child->pid());
    return now.size() == 2 && now != before;
  }, Seconds(15)));
  REQUIRE(testing::eventually([&] { return owned(redis, "w-w0") + owned(redis, "w-w1") == 40; }, Seconds(20)));
  CHECK(lost > 0);
  // A graceful stop of the parent stops the workers, which record their devices offline.
  CHECK(server.stop() == 0);
  CHECK(children_of(server.child->pid()).empty());
  CHECK(owned(redis, "w-w0") + owned(redis, "w-w1") == 0);
  fleet.child->signal(SIGKILL);
}

TEST_CASE("--workers: kill -9 of the parent stops its workers gracefully (no orphan keeps the ports)") {
  testing::RedisServer redis({.tcp = false, .extra_args = {}});
  testing::TempDir dir;
  Server server = Server::start(dir.file("data"), {"--auto-register", "--redis", redis.address(), "--node-id", "p",
                                                   "--workers", "2"});
  REQUIRE(testing::eventually([&] { return redis.command({"PUBSUB", "NUMSUB", "node:p-w0", "node:p-w1"}).to_string() ==
                                           "[node:p-w0, (integer) 1, node:p-w1, (integer) 1]"; }));
  const std::vector<int> workers = children_of(server.child->pid());
  REQUIRE(workers.size() == 2);
  RawDevice d(server.port);
  CHECK(d.login("862300000000001")["status"] == 200);
  REQUIRE(testing::eventually([&] { return owned(redis, "p-w0") + owned(redis, "p-w1") == 1; }));
  server.child->signal(SIGKILL);
  server.child->wait();
  // The workers are told (SIGTERM), record the device offline in Redis, close it, and exit.
  CHECK(d.closed(Seconds(10)));
  REQUIRE(testing::eventually([&] { return owned(redis, "p-w0") + owned(redis, "p-w1") == 0; }));
  REQUIRE(testing::eventually([&] {
    return redis.command({"PUBSUB", "NUMSUB", "node:p-w0", "node:p-w1"}).to_string() ==
           "[node:p-w0, (integer) 0, node:p-w1, (integer) 0]";
  }));
  for (int pid : workers) CHECK(testing::eventually([&] { return gone(pid); }));
}

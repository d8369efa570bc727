// redis::Lease against a real redis-server of the test's own: taken, renewed, lost and taken
// again as a new incarnation, released.
#include <asyncore/redis/lease.h>

#include <doctest/doctest.h>

#include <string>

#include <asyncore/channel_map.h>
#include "test/dispatchers/loop_helpers.h"
#include "test/support/redis_server.h"

using namespace asyncore::redis;
using asyncore::ChannelMap;
using dispatcher_tests::run_until;
using testing::RedisServer;

namespace {

ClientOptions options_for(const std::string& address) {
  ClientOptions options;
  options.address = address;
  options.backoff = {.initial_delay = 0.02, .factor = 1.5, .jitter = 0, .max_delay = 0.1};
  return options;
}

// A Redis of the test's own, a client on it, and a lease of 0.6 s that counts its losses.
struct Setup {
  RedisServer server;
  ChannelMap map;
  Client client{options_for(server.address()), &map};
  Lease lease;
  int lost = 0;
  std::string lapsed;  // the incarnation on_lost saw
  explicit Setup(const std::string& key) : lease(client, key, 0.6, map) {
    client.start();
    lease.on_lost = [this] {
      ++lost;
      lapsed = lease.incarnation();
    };
    lease.start();
  }
};

}  // namespace

TEST_CASE("a lease is taken and renewed; once it lapses it is taken again as a new incarnation; release deletes it") {
  Setup s("app:node:a:lease");
  auto& [server, map, client, lease, lost, lapsed] = s;
  const std::string first = lease.incarnation();
  REQUIRE(run_until(map, [&] { return server.command({"GET", "app:node:a:lease"}).str == first; }));
  CHECK(server.command({"PTTL", "app:node:a:lease"}).integer <= 600);
  // Renewed: after two TTLs it is still there, with the same incarnation.
  REQUIRE(run_until(map, [&] { return client.stats().replies >= 6; }));
  CHECK(server.command({"GET", "app:node:a:lease"}).str == first);
  CHECK(lost == 0);

  // Lapsed (as after a stop longer than the TTL): the next renewal notices.
  server.command({"DEL", "app:node:a:lease"});
  REQUIRE(run_until(map, [&] { return lost == 1; }));
  CHECK(lease.lost() == 1);
  CHECK(lapsed == first);  // on_lost still sees the incarnation that lapsed
  const std::string second = lease.incarnation();
  CHECK(second != first);
  REQUIRE(run_until(map, [&] { return server.command({"GET", "app:node:a:lease"}).str == second; }));

  // Another holder's incarnation counts as lapsed too.
  server.command({"SET", "app:node:a:lease", "someone-else"});
  REQUIRE(run_until(map, [&] { return lost == 2; }));
  REQUIRE(run_until(map, [&] { return server.command({"GET", "app:node:a:lease"}).str == lease.incarnation(); }));

  bool released = false;
  lease.release([&] { released = true; });
  REQUIRE(run_until(map, [&] { return released; }));
  CHECK(server.command({"EXISTS", "app:node:a:lease"}).integer == 0);
}

TEST_CASE("a lease's renewals that fail while Redis is away change nothing; the first after it returns tells") {
  Setup s("app:node:b:lease");
  auto& [server, map, client, lease, lost, lapsed] = s;
  REQUIRE(run_until(map, [&] { return server.command({"EXISTS", "app:node:b:lease"}).integer == 1; }));
  const std::string first = lease.incarnation();
  server.kill9();
  REQUIRE(run_until(map, [&] { return lease.renew_failures() >= 2; }));
  CHECK(lost == 0);
  CHECK(lease.incarnation() == first);
  server.restart();  // empty: the lease is gone
  REQUIRE(run_until(map, [&] { return lost == 1; }));
  REQUIRE(run_until(map, [&] { return server.command({"GET", "app:node:b:lease"}).str == lease.incarnation(); }));
}

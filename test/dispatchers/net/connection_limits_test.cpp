// ConnectionLimits: the admission bookkeeping every server shares. Connections are real
// dispatchers on socketpairs in a real map; the limits learn of closes only through the map.
#include <asyncore/net/connection_limits.h>

#include <doctest/doctest.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include <asyncore/asyncore.h>
#include "test/dispatchers/loop_helpers.h"

using namespace asyncore;
using namespace dispatcher_tests;

namespace {

class Idle : public Dispatcher {
 public:
  Idle(Fd socket, ChannelMap* map) : Dispatcher(std::move(socket), map) {}
  bool readable() override { return false; }
};

// One end of a fresh socketpair as a map-owned dispatcher; the other end is kept in `peers`.
std::shared_ptr<Idle> open_connection(ChannelMap& map, std::vector<Fd>& peers) {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  peers.emplace_back(fds[1]);
  return make<Idle>(Fd(fds[0]), &map);
}

Address from(const std::string& host) { return Address::ipv4(host, 40000); }

// Every log line, to count how often something was said.
class Lines {
 public:
  Lines() {
    set_log_sink([this](LogLevel, std::string_view line) { lines_.emplace_back(line); });
  }
  ~Lines() { set_log_sink({}); }
  size_t count(std::string_view text) const {
    size_t n = 0;
    for (const auto& line : lines_) n += line.find(text) != std::string::npos;
    return n;
  }
  std::string all() const {
    std::string out;
    for (const auto& line : lines_) out += line + "\n";
    return out;
  }

 private:
  std::vector<std::string> lines_;
};

// "test listener" with one connection per peer host, 10.0.0.1's one held open; the log captured.
struct OnePerPeer {
  Lines log;
  ChannelMap map;
  std::vector<Fd> peers;
  ConnectionLimits limits{"test listener", map, {.max_connections = 0, .max_per_peer = 1}};
  std::shared_ptr<Idle> held = open_connection(map, peers);
  OnePerPeer() { limits.track(held->fileno(), from("10.0.0.1")); }
};

}  // namespace

TEST_CASE("per-peer counts follow the map: a closed connection stops counting") {
  ChannelMap map;
  std::vector<Fd> peers;
  ConnectionLimits limits("test listener", map, {.max_connections = 0, .max_per_peer = 2});
  auto a1 = open_connection(map, peers);
  auto a2 = open_connection(map, peers);
  auto b1 = open_connection(map, peers);
  limits.track(a1->fileno(), from("10.0.0.1"));
  limits.track(a2->fileno(), from("10.0.0.1"));
  limits.track(b1->fileno(), from("10.0.0.2"));
  CHECK(limits.active() == 3);
  CHECK(limits.active_from("10.0.0.1") == 2);
  CHECK(limits.check(from("10.0.0.1")) == Refusal::max_per_peer);
  CHECK_FALSE(limits.check(from("10.0.0.2")).has_value());

  a1->close();
  CHECK(limits.active_from("10.0.0.1") == 1);
  CHECK(limits.active() == 2);
  CHECK_FALSE(limits.check(from("10.0.0.1")).has_value());
}

TEST_CASE("a reused fd number is another connection, not the old one") {
  ChannelMap map;
  std::vector<Fd> peers;
  ConnectionLimits limits("test listener", map, {.max_connections = 0, .max_per_peer = 1});
  auto first = open_connection(map, peers);
  const int fd = first->fileno();
  limits.track(fd, from("10.0.0.1"));
  first->close();
  peers.clear();

  // The kernel hands out the lowest free number: the next connection gets the same fd.
  auto untracked = open_connection(map, peers);
  REQUIRE(untracked->fileno() == fd);
  CHECK(limits.active_from("10.0.0.1") == 0);  // an fd-only check would still count 1
  CHECK(limits.active() == 0);
  untracked->close();
  peers.clear();

  auto other_peer = open_connection(map, peers);
  REQUIRE(other_peer->fileno() == fd);
  limits.track(fd, from("10.0.0.2"));
  CHECK(limits.active_from("10.0.0.1") == 0);
  CHECK(limits.active_from("10.0.0.2") == 1);
  CHECK(limits.active() == 1);
  CHECK_FALSE(limits.check(from("10.0.0.1")).has_value());
  CHECK(limits.check(from("10.0.0.2")) == Refusal::max_per_peer);
}

TEST_CASE("the total limit counts every peer; a connection closed before tracking is not counted") {
  ChannelMap map;
  std::vector<Fd> peers;
  ConnectionLimits limits("test listener", map, {.max_connections = 2, .max_per_peer = 0});
  auto a = open_connection(map, peers);
  auto b = open_connection(map, peers);
  limits.track(a->fileno(), from("10.0.0.1"));
  limits.track(b->fileno(), from("10.0.0.2"));
  CHECK(limits.check(from("10.0.0.3")) == Refusal::max_connections);

  auto gone = open_connection(map, peers);
  const int gone_fd = gone->fileno();
  gone->close();
  limits.track(gone_fd, from("10.0.0.3"));  // its handler closed at once: nothing to follow
  CHECK(limits.active() == 2);

  b->close();
  CHECK_FALSE(limits.check(from("10.0.0.3")).has_value());
  limits.caps.max_connections = 1;  // caps may change at any time
  CHECK(limits.check(from("10.0.0.3")) == Refusal::max_connections);
  limits.caps.max_connections = 0;
  CHECK_FALSE(limits.check(from("10.0.0.3")).has_value());
}

TEST_CASE("many connections opening and closing keep the counts exact") {
  ChannelMap map;
  std::vector<Fd> peers;
  ConnectionLimits limits("test listener", map);
  std::vector<std::shared_ptr<Idle>> open;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 10; ++i) {
      open.push_back(open_connection(map, peers));
      limits.track(open.back()->fileno(), from("10.0.1." + std::to_string(i % 3)));
    }
    for (int i = 0; i < 9; ++i) {
      open.front()->close();
      open.erase(open.begin());
    }
  }
  CHECK(limits.active() == open.size());
  size_t by_host = 0;
  for (int i = 0; i < 3; ++i) by_host += limits.active_from("10.0.1." + std::to_string(i));
  CHECK(by_host == open.size());
}

TEST_CASE_FIXTURE(OnePerPeer, "refusals are counted by reason; the log gets the first in full, then summaries") {
  limits.log_interval = 0.2;
  std::vector<Refusal> told;
  limits.on_refused = [&](Refusal r) { told.push_back(r); };

  for (int i = 0; i < 50; ++i) CHECK_FALSE(limits.admit(from("10.0.0.1")));
  limits.refuse(from("10.0.0.9"), Refusal::verify_request);
  CHECK(limits.admit(from("10.0.0.2")));
  CHECK(limits.refused(Refusal::max_per_peer) == 50);
  CHECK(limits.refused(Refusal::verify_request) == 1);
  CHECK(limits.refused(Refusal::max_connections) == 0);
  CHECK(limits.refused_total() == 51);
  REQUIRE(told.size() == 51);
  CHECK(told.front() == Refusal::max_per_peer);
  CHECK(told.back() == Refusal::verify_request);
  CHECK(limits.refusal_summary() == "51 refused (verify_request 1, max_per_peer 50)");
  CHECK(ConnectionLimits("other", map).refusal_summary() == "0 refused");
  INFO(log.all());
  CHECK(log.count("test listener: refused 10.0.0.1:40000: max_per_peer 1 reached") == 1);
  CHECK(log.count("refused") == 1);  // the flood is not in the log line by line

  // One summary line with the count by reason once the interval has passed.
  REQUIRE(run_until(map, [&] { return log.count("more connections") == 1; }, 5));
  CHECK(log.count("test listener: refused 50 more connections (verify_request 1, max_per_peer 49); 51 refused in all") == 1);

  // A quiet interval ends the episode (no line); the next refusal is logged in full again.
  REQUIRE(run_until(map, [&] { return !limits.in_refusal_episode(); }, 5));
  CHECK(log.count("refused") == 2);
  CHECK_FALSE(limits.admit(from("10.0.0.1")));
  CHECK(log.count("test listener: refused 10.0.0.1:40000: max_per_peer 1 reached") == 2);

  // flush_log() tells what is pending at once (e.g. when the listener closes).
  CHECK_FALSE(limits.admit(from("10.0.0.1")));
  limits.flush_log();
  CHECK(log.count("test listener: refused 1 more connection (max_per_peer 1); 53 refused in all") == 1);

  // Nor are refusals lost when the limits go away with some untold.
  {
    ConnectionLimits brief("brief listener", map, {.max_connections = 0, .max_per_peer = 1});
    brief.track(held->fileno(), from("10.0.0.1"));
    CHECK_FALSE(brief.admit(from("10.0.0.1")));
    CHECK_FALSE(brief.admit(from("10.0.0.1")));
  }
  CHECK(log.count("brief listener: refused 1 more connection (max_per_peer 1); 2 refused in all") == 1);
}

TEST_CASE_FIXTURE(OnePerPeer, "log_interval 0 logs every refusal in full, and no summary follows") {
  limits.log_interval = 0;
  for (int i = 0; i < 3; ++i) CHECK_FALSE(limits.admit(from("10.0.0.1")));
  CHECK_FALSE(limits.in_refusal_episode());
  limits.flush_log();
  INFO(log.all());
  CHECK(log.count("test listener: refused 10.0.0.1:40000: max_per_peer 1 reached") == 3);
  CHECK(log.count("more connection") == 0);
}

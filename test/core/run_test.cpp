// run(), the loop of every server: while nothing needs it, a pass tests one word for the work of
// the phases around the wait and the events (hooks and interest before it, timers and the release
// of closed channels after), and on epoll it skips the depth test. Work that a handler creates
// in the middle of such a pass must still be done in that pass, as poll_once() does: otherwise
// the loop would sleep in its wait with the work undone. Each case here would hang there (and
// fail by its bound) if the pass missed it.
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "test/core/core_testing.h"

using namespace coretest;

namespace {

std::pair<Fd, Fd> socket_pair() {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
  return {Fd(sv[0]), Fd(sv[1])};
}

// What a peer reads within `timeout` seconds ("" if nothing came): bounded, from any thread.
std::string read_within(int fd, double timeout = 5.0) {
  if (!wait_readable(fd, timeout)) return "";
  char buf[256];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// Stops the loop after `seconds` unless destroyed first: a pass that missed its work would
// otherwise sleep in run() for ever.
class Watchdog {
 public:
  Watchdog(ChannelMap& map, double seconds)
      : thread_([this, &map, seconds] {
          std::unique_lock lock(mutex_);
          if (!done_cv_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return done_; })) {
            fired = true;
            map.stop();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_one();
    thread_.join();
  }
  std::atomic<bool> fired{false};

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;
};

std::atomic<int> g_destroyed{0};

// Declared interest, as every library stream: a pass with none of the work above costs it
// nothing, so run()'s passes take their short way. Each byte read asks for one kind of work.
class Probe : public Dispatcher {
 public:
  Probe(Fd socket, ChannelMap* map) : Dispatcher(std::move(socket), map) { set_interest(Interest::declared); }
  ~Probe() override { ++g_destroyed; }
  void handle_read() override {
    ++reads;
    char c = 0;
    if (recv_into(&c, 1) != 1) return;
    switch (c) {
      case 't': timer_ = map().call_later(0, [this] { send("T"); }); break;  // due now: this pass
      case 'h': hook_ = map().before_wait([this] { send("H"), hook_.reset(); }); break;
      case 'n': map().poll_once(0); break;  // a nested pass, which handles the other probe's byte
      case 'c': close(); break;             // map-owned: destroyed at the end of this pass
      default: break;
    }
  }
  int reads = 0;

 private:
  ScopedTimer timer_;
  BeforeWaitHook hook_;
};

}  // namespace

TEST_CASE("run(): a timer due now, a before-wait hook and a closed map-owned channel that a handler makes are served in that pass (every backend)") {
  each_backend([](ChannelMap& map, BackendKind) {
    g_destroyed = 0;
    auto [ours, peer] = socket_pair();
    make<Probe>(std::move(ours), &map);
    std::string timer_reply, hook_reply;
    bool eof = false, released = false;
    // The peer, in a thread, while run() holds this one; it stops the loop whatever happens.
    std::thread peer_side([&, fd = peer.get()] {
      ::send(fd, "t", 1, MSG_NOSIGNAL);
      timer_reply = read_within(fd);
      ::send(fd, "h", 1, MSG_NOSIGNAL);
      hook_reply = read_within(fd);
      ::send(fd, "c", 1, MSG_NOSIGNAL);
      eof = wait_readable(fd) && ::recv(fd, nullptr, 0, MSG_DONTWAIT) == 0;
      released = testing::eventually([] { return g_destroyed == 1; }, testing::Seconds(5));
      map.stop();
    });
    {
      Watchdog watchdog(map, 30);
      map.run();
      CHECK_FALSE(watchdog.fired);
    }
    peer_side.join();
    CHECK(timer_reply == "T");
    CHECK(hook_reply == "H");
    CHECK(eof);
    CHECK(released);  // not left for a later pass that would never come
    CHECK(map.empty());
  });
}

TEST_CASE("run(): a nested pass from a handler takes another channel's event of the outer pass, which is then not handled again (every backend)") {
  each_backend([](ChannelMap& map, BackendKind) {
    g_destroyed = 0;
    auto [a, a_peer] = socket_pair();
    auto [b, b_peer] = socket_pair();
    auto first = make<Probe>(std::move(a), &map);
    auto second = make<Probe>(std::move(b), &map);
    // Both readable before the first wait, so it reports both; whichever comes first, each
    // byte is read by exactly one handle_read().
    REQUIRE(::send(a_peer.get(), "n", 1, 0) == 1);
    REQUIRE(::send(b_peer.get(), "x", 1, 0) == 1);
    map.call_soon([&] { map.stop(); });  // after the first pass's events
    {
      Watchdog watchdog(map, 10);
      map.run();
      CHECK_FALSE(watchdog.fired);
    }
    CHECK(first->reads == 1);
    CHECK(second->reads == 1);
    first->close(), second->close();
  });
}

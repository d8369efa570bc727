// The interest-set promise: a dispatcher that declares its interest (Interest::declared, as every
// library stream does) is asked readable()/writable() again only when it did something, so idle
// connections cost nothing per pass (10,000 of them with epoll); a plain (polled) one is asked
// before every wait, as asyncore does, and only the polled ones cost anything per pass. And the
// select backend refuses an fd >= FD_SETSIZE with a clear error while the loop goes on.
#include <sys/resource.h>
#include <sys/select.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include <asyncore/chat/async_chat.h>
#include <asyncore/stream/buffered_stream.h>
#include <asyncore/stream/dispatcher_with_send.h>
#include <asyncore/stream/file_dispatcher.h>
#include "test/core/core_testing.h"

using namespace coretest;
using testing::Client;

namespace {

void raise_fd_limit(rlim_t want) {
  rlimit lim{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &lim) == 0);
  if (lim.rlim_cur >= want) return;
  lim.rlim_cur = std::min(want, lim.rlim_max);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &lim) == 0);
  REQUIRE(lim.rlim_cur >= want);
}

// Counts the loop's questions. Declared interest by default (the library streams' path);
// `polled` keeps asyncore's rule.
class Counted : public Dispatcher {
 public:
  Counted(Fd socket, ChannelMap* map, Interest mode = Interest::declared) : Dispatcher(std::move(socket), map) {
    set_interest(mode);
  }
  bool readable() override {
    ++asks;
    return true;
  }
  bool writable() override {
    ++asks;
    return false;
  }
  void handle_read() override { received += recv(4096).size(); }
  long asks = 0;
  size_t received = 0;
};

struct Counts {
  long idle_asks = 0;
  long active_asks = 0;
};

// Accepts `idle` connections from `connect_idle` plus one active Client, then makes `rounds`
// passes in each of which the active connection delivers one byte.
template <class ConnectIdle>
Counts measure(ChannelMap& map, int idle, int rounds, ConnectIdle connect_idle,
               Dispatcher::Interest mode = Dispatcher::Interest::declared, long* passes = nullptr) {
  Listener listener(map, Address::ipv4("127.0.0.1", 0), 4096);
  std::vector<std::unique_ptr<Counted>> conns;
  conns.reserve(static_cast<size_t>(idle) + 1);
  listener.on_accept = [&](Fd s, const Address&) { conns.push_back(std::make_unique<Counted>(std::move(s), &map, mode)); };
  connect_idle(listener.port());
  REQUIRE(pump(map, [&] { return conns.size() == static_cast<size_t>(idle); }, 60.0));
  Client active(listener.port());
  REQUIRE(pump(map, [&] { return conns.size() == static_cast<size_t>(idle) + 1; }));
  Counted* hot = conns.back().get();
  for (int i = 0; i < 5; ++i) map.poll_once(0);  // let everything settle
  for (auto& c : conns) c->asks = 0;
  long pass_count = 0;
  BeforeWaitHook counter = map.before_wait([&] { ++pass_count; });
  for (int i = 0; i < rounds; ++i) {
    active.send_all("x");
    REQUIRE(pump(map, [&] { return hot->received == static_cast<size_t>(i) + 1; }));
  }
  if (passes) *passes = pass_count;
  Counts out;
  for (auto& c : conns) (c.get() == hot ? out.active_asks : out.idle_asks) += c->asks;
  return out;
}

}  // namespace

// Before issue 13 this was the rule for every dispatcher; it is now the declared-interest path
// the library's streams take (a plain subclass is polled: see the next case).
TEST_CASE("declared interest: only the active dispatcher is asked readable()/writable() again (every backend, 200 idle)") {
  each_backend([](ChannelMap& map, BackendKind) {
    std::vector<Client> idle;
    auto counts = measure(map, 200, 100, [&](int port) {
      for (int i = 0; i < 200; ++i) idle.emplace_back(port);
      return 0;
    });
    CHECK(counts.idle_asks == 0);
    CHECK(counts.active_asks >= 2 * (100 - 1));  // readable and writable after each of its events (the last is asked next pass)
    CHECK(counts.active_asks <= 2 * 100 * 2);
  });
}

// Rechecked interest (echo's handler): not even asked after its own read events, so a message
// costs no readable()/writable() calls; what it says through recheck(), from its handle_read()
// too, still reaches the backend before the next wait.
TEST_CASE("rechecked interest: not asked after its read events (every backend)") {
  each_backend([](ChannelMap& map, BackendKind) {
    auto counts = measure(map, 0, 100, [](int) { return 0; }, Dispatcher::Interest::rechecked);
    CHECK(counts.active_asks == 0);
  });
}

TEST_CASE("rechecked interest: a recheck() from handle_read() pauses reading at once, and end of stream stops the read events (every backend)") {
  // Reads one byte per event, then pauses: level-triggered readiness would deliver the other
  // bytes in the next passes if the recheck() were lost.
  class Pausing : public Dispatcher {
   public:
    Pausing(Fd socket, ChannelMap* map) : Dispatcher(std::move(socket), map) { set_interest(Interest::rechecked); }
    bool readable() override {
      ++asks;
      return !paused;
    }
    void handle_read() override {
      ++reads;
      received += recv(1);
      paused = pause_after_read;
      recheck();
    }
    void handle_eof() override { ++eofs; }  // stays open, half-closed: the loop must not spin
    bool paused = false, pause_after_read = true;
    int asks = 0, reads = 0, eofs = 0;
    std::string received;
  };
  each_backend([](ChannelMap& map, BackendKind) {
    Listener listener(map, Address::ipv4("127.0.0.1", 0), 16);
    std::unique_ptr<Pausing> conn;
    listener.on_accept = [&](Fd s, const Address&) { conn = std::make_unique<Pausing>(std::move(s), &map); };
    Client client(listener.port());
    REQUIRE(pump(map, [&] { return conn != nullptr; }));
    REQUIRE(conn->connected);
    CHECK(conn->interest() == Dispatcher::Interest::rechecked);
    client.send_all("abc");
    REQUIRE(pump(map, [&] { return conn->reads == 1; }));
    for (int i = 0; i < 20; ++i) map.poll_once(0.001);
    CHECK(conn->received == "a");
    CHECK(conn->reads == 1);
    const int asks = conn->asks;
    CHECK(asks >= 1);  // the recheck() asked it once
    conn->paused = false;
    conn->recheck();
    REQUIRE(pump(map, [&] { return conn->reads == 2; }));
    for (int i = 0; i < 20; ++i) map.poll_once(0.001);
    CHECK(conn->received == "ab");
    conn->paused = conn->pause_after_read = false;
    conn->recheck();
    client.shutdown_write();
    REQUIRE(pump(map, [&] { return conn->eofs == 1; }));
    for (int i = 0; i < 20; ++i) map.poll_once(0.001);
    CHECK(conn->received == "abc");
    CHECK(conn->eofs == 1);
    CHECK(conn->reads == 4);  // "c", then end of stream: no read event after that
  });
}

TEST_CASE("polled interest (a plain subclass): every polled dispatcher is asked before every wait, each pass costs two asks per polled channel") {
  each_backend([](ChannelMap& map, BackendKind) {
    std::vector<Client> idle;
    long passes = 0;
    auto counts = measure(
        map, 50, 40,
        [&](int port) {
          for (int i = 0; i < 50; ++i) idle.emplace_back(port);
          return 0;
        },
        Dispatcher::Interest::polled, &passes);
    CHECK(passes >= 40);
    CHECK(counts.idle_asks == 50 * 2 * passes);  // readable() and writable(), once per pass each
    CHECK(counts.active_asks >= 2 * passes);     // plus the re-check after each of its events
  });
}

TEST_CASE("epoll: 10,000 idle connections cost nothing per pass (declared interest)") {
  raise_fd_limit(12000);
  ChannelMap map;
  map.use_backend(BackendKind::epoll);
  auto start = SteadyClock::now();
  std::unique_ptr<testing::Child> holder;
  auto counts = measure(map, 10000, 300, [&](int port) {
    holder = std::make_unique<testing::Child>(
        std::vector<std::string>{testing::test_bin_path("hold-connections"), std::to_string(port), "10000"});
    return 0;
  });
  MESSAGE("10,000 connections set up and measured in " << seconds_since(start) << " s");
  CHECK(counts.idle_asks == 0);
  CHECK(counts.active_asks >= 2 * (300 - 1));
  CHECK(counts.active_asks <= 2 * 300 * 2);
  REQUIRE(holder->wait_for_line("connected ") == "connected 10000");

  // A pass with nothing ready is one epoll_wait that reports nothing, whatever the number of idle
  // channels (the time is shown, not checked: these machines are shared; make bench measures).
  auto passes = SteadyClock::now();
  size_t events = 0;
  for (int i = 0; i < 2000; ++i) events += map.poll_once(0);
  MESSAGE("2000 empty passes over 10,000 idle channels: " << seconds_since(passes) << " s");
  CHECK(events == 0);
  holder->close_stdin();
  CHECK(holder->wait(testing::Seconds(10)) == 0);
  map.close_all();
}

TEST_CASE("select refuses an fd >= FD_SETSIZE with a clear error; the loop continues") {
  raise_fd_limit(FD_SETSIZE + 64);
  ChannelMap map;
  map.use_backend(BackendKind::select);
  Listener listener(map);
  Client c(listener.port()), other(listener.port());
  REQUIRE(pump(map, [&] { return listener.accepted.size() == 2; }));
  // Move the accepted socket to an fd number >= FD_SETSIZE, as a busy process would get.
  int high = ::fcntl(listener.accepted[0].get(), F_DUPFD_CLOEXEC, FD_SETSIZE);
  REQUIRE(high >= FD_SETSIZE);
  listener.accepted[0].reset();
  Recorder big(Fd(high), &map);
  Recorder normal(std::move(listener.accepted[1]), &map);
  REQUIRE(big.is_open());
  {
    LogCapture log;
    REQUIRE(pump(map, [&] { return !big.is_open(); }));
    CHECK(big.errors == 1);
    INFO(big.last_error);
    CHECK(big.last_error.find("FD_SETSIZE") != std::string::npos);
    CHECK(big.last_error.find(std::to_string(high)) != std::string::npos);
  }
  CHECK(c.wait_closed(testing::Seconds(5)));
  other.send_all("fine");
  REQUIRE(pump(map, [&] { return normal.data == "fine"; }));

  // The default handle_error logs it as one line.
  Client c3(listener.port());
  REQUIRE(pump(map, [&] { return listener.accepted.size() == 3; }));
  int high2 = ::fcntl(listener.accepted[2].get(), F_DUPFD_CLOEXEC, FD_SETSIZE);
  REQUIRE(high2 >= FD_SETSIZE);
  listener.accepted[2].reset();
  Dispatcher plain(Fd(high2), &map);
  LogCapture log;
  REQUIRE(pump(map, [&] { return !plain.is_open(); }));
  auto lines = log.matching("FD_SETSIZE");
  CHECK(lines.size() == 1);
  CHECK(log.count() == 1);
}

TEST_CASE("poll and epoll serve an fd >= FD_SETSIZE") {
  raise_fd_limit(FD_SETSIZE + 64);
  for (BackendKind kind : {BackendKind::poll, BackendKind::epoll}) {
    INFO(std::string(backend_name(kind)));
    ChannelMap map;
    map.use_backend(kind);
    Listener listener(map);
    Client c(listener.port());
    REQUIRE(pump(map, [&] { return listener.accepted.size() == 1; }));
    int high = ::fcntl(listener.accepted[0].get(), F_DUPFD_CLOEXEC, FD_SETSIZE + 10);
    REQUIRE(high >= FD_SETSIZE);
    listener.accepted[0].reset();
    Recorder big(Fd(high), &map);
    c.send_all("high fd");
    REQUIRE(pump(map, [&] { return big.data == "high fd"; }));
  }
}

// epoll returns at most one batch of events per wait (64 at first, growing after a full one):
// what is left over must come in the next passes, each channel once per readiness, none lost.
TEST_CASE("more channels ready at once than one batch holds: every one is served, on every backend") {
  static constexpr size_t kChannels = 300;
  raise_fd_limit(4 * kChannels);
  each_backend([](ChannelMap& map, BackendKind) {
    std::vector<std::unique_ptr<Counted>> ours;
    std::vector<Fd> theirs;
    for (size_t i = 0; i < kChannels; ++i) {
      int sv[2];
      REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
      ours.push_back(std::make_unique<Counted>(Fd(sv[0]), &map));
      theirs.emplace_back(sv[1]);
    }
    map.poll_once(0);  // registered, nothing ready
    for (Fd& fd : theirs) REQUIRE(::write(fd.get(), "x", 1) == 1);
    size_t passes = 0, handled = 0;
    while (handled < kChannels && passes < 20) {
      handled += map.poll_once(1.0);
      ++passes;
    }
    CHECK(handled == kChannels);  // each readiness reported once: the byte is read at once
    CHECK(passes <= 4);           // 64, then 128, then the rest
    for (auto& c : ours) CHECK(c->received == 1);
  });
}

// Held connections' memory (issue 8: at most 256 resident bytes each for echo-server). Every
// connection carries a Dispatcher, and a stream an empty output queue (one pointer): on LP64 a
// make<T> BufferedStream (control block, object and malloc header) fits a 144-byte chunk.
TEST_CASE("a dispatcher and an idle stream stay small: every held connection carries one") {
  if constexpr (sizeof(void*) == 8) {
    CHECK(sizeof(Dispatcher) <= 88);
    CHECK(sizeof(BufferedStream) <= 120);
  }
  CHECK(sizeof(OutputQueue) == sizeof(void*));
}

// Held connections cost nothing per pass only because the library's streams take the declared
// path; a plain subclass (ported Python code) is polled.
TEST_CASE("the library's streams declare their interest; a plain subclass is polled") {
  struct Chat : AsyncChat {
    using AsyncChat::AsyncChat;
    void found_terminator() override {}
  };
  ChannelMap map;
  std::vector<Fd> peers;
  auto socket = [&] {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    peers.emplace_back(sv[1]);
    return Fd(sv[0]);
  };
  CHECK(DispatcherWithSend(socket(), &map).interest() == Dispatcher::Interest::declared);
  CHECK(BufferedStream(socket(), &map).interest() == Dispatcher::Interest::declared);
  CHECK(Chat(socket(), &map).interest() == Dispatcher::Interest::declared);
  CHECK(FileDispatcher(socket(), &map).interest() == Dispatcher::Interest::declared);
  CHECK(Recorder(socket(), &map).interest() == Dispatcher::Interest::polled);
}

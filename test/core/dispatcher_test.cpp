// Dispatcher basics through real sockets on 127.0.0.1, once per backend: listen/accept/connect,
// refusal, send/recv, end of stream, reset, close() from every kind of place, fd reuse inside
// one pass, ownership of make<T> dispatchers, size/close_all/loop.
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <system_error>

#include "test/core/core_testing.h"

using namespace coretest;
using testing::Client;

namespace {

class ClientRecorder : public Recorder {
 public:
  ClientRecorder(ChannelMap& map, const Address& to, std::string first = {}) : Recorder(&map), out(std::move(first)) {
    create_socket(to.family());
    connect(to);
  }
  bool writable() override { return !out.empty(); }
  void handle_write() override {
    ++writes;
    out.erase(0, send(out));
  }
  std::string out;
  int writes = 0;
};

}  // namespace

TEST_CASE("listen on port 0, accept, connect, handle_connect, send and recv both ways") {
  each_backend([](ChannelMap& map, BackendKind) {
    Listener listener(map);
    CHECK(listener.accepting);
    CHECK_FALSE(listener.connected);
    CHECK(listener.port() != 0);
    CHECK(listener.addr.host() == "127.0.0.1");

    std::unique_ptr<Recorder> server;
    Address peer_seen;
    listener.on_accept = [&](Fd s, const Address& peer) {
      peer_seen = peer;
      server = std::make_unique<Recorder>(std::move(s), &map);
    };
    ClientRecorder client(map, listener.addr, "hello from client");
    CHECK(client.connecting);
    CHECK_FALSE(client.accepting);
    REQUIRE(pump(map, [&] { return server && server->data == "hello from client"; }));
    CHECK(client.connects == 1);
    CHECK(client.connected);
    CHECK_FALSE(client.connecting);
    CHECK(server->connected);
    CHECK(server->addr == peer_seen);
    CHECK(peer_seen == Address::local_of(client.fileno()));
    CHECK(client.addr == listener.addr);

    CHECK(server->send("and back") == 8);
    REQUIRE(pump(map, [&] { return client.data == "and back"; }));
    CHECK(map.size() == 3);
    CHECK(map.find(client.fileno()) == &client);
    CHECK(map.find(listener.fileno()) == &listener);
  });
}

TEST_CASE("connect refused: handle_error (not handle_connect), and the loop keeps running") {
  each_backend([](ChannelMap& map, BackendKind) {
    int dead_port = testing::unused_port();
    std::unique_ptr<ClientRecorder> refused;
    bool thrown_at_once = false;
    try {
      refused = std::make_unique<ClientRecorder>(map, Address::ipv4("127.0.0.1", static_cast<uint16_t>(dead_port)));
    } catch (const std::system_error& e) {
      thrown_at_once = e.code().value() == ECONNREFUSED;  // also acceptable, as Python's connect
    }
    if (!thrown_at_once) {
      REQUIRE(refused);
      REQUIRE(pump(map, [&] { return !refused->is_open(); }));
      CHECK(refused->connects == 0);
      CHECK(refused->errors + refused->closes >= 1);
      if (refused->errors) CHECK(refused->last_error.find("refused") != std::string::npos);
      CHECK_FALSE(refused->connected);
    }
    // The same map still serves a working connection.
    Listener listener(map);
    std::unique_ptr<Recorder> server;
    listener.on_accept = [&](Fd s, const Address&) { server = std::make_unique<Recorder>(std::move(s), &map); };
    ClientRecorder ok(map, listener.addr, "still alive");
    REQUIRE(pump(map, [&] { return server && server->data == "still alive"; }));
    CHECK(ok.connects == 1);
  });
}

TEST_CASE("recv at end of stream calls handle_eof; default handle_eof closes") {
  each_backend([](ChannelMap& map, BackendKind) {
    Listener listener(map);
    Client c(listener.port());
    REQUIRE(pump(map, [&] { return listener.accepted.size() == 1; }));

    {
      // An overriding handle_eof that keeps the socket: the peer half-closed, we can still write.
      Recorder server(std::move(listener.accepted[0]), &map);
      server.close_on_eof = false;
      c.send_all("last words");
      c.shutdown_write();
      REQUIRE(pump(map, [&] { return server.eofs == 1; }));
      CHECK(server.data == "last words");
      CHECK(server.at_eof());
      CHECK(server.is_open());
      CHECK(server.closes == 0);
      CHECK(server.send("reply after eof") == 15);
      CHECK(c.recv_exact(15) == "reply after eof");
      // No more read events after EOF: handle_eof is not called again.
      for (int i = 0; i < 5; ++i) map.poll_once(0.01);
      CHECK(server.eofs == 1);
      server.close();
      CHECK(c.recv_some() == "");
    }

    // The default handle_eof is handle_close, which closes.
    struct Plain : Dispatcher {
      using Dispatcher::Dispatcher;
      void handle_read() override { got += recv(100); }
      std::string got;
    };
    Client c2(listener.port());
    REQUIRE(pump(map, [&] { return listener.accepted.size() == 2; }));
    Plain plain(std::move(listener.accepted[1]), &map);
    size_t before = map.size();
    c2.send_all("x");
    c2.shutdown_write();
    REQUIRE(pump(map, [&] { return !plain.is_open(); }));
    CHECK(plain.got == "x");
    CHECK(map.size() == before - 1);
    CHECK(c2.recv_some() == "");
  });
}

TEST_CASE("a reset from the peer (SO_LINGER 0) reaches handle_close") {
  each_backend([](ChannelMap& map, BackendKind) {
    Listener listener(map);
    Client c(listener.port());
    REQUIRE(pump(map, [&] { return listener.accepted.size() == 1; }));
    Recorder server(std::move(listener.accepted[0]), &map);
    c.reset();
    REQUIRE(pump(map, [&] { return !server.is_open(); }));
    CHECK(server.closes >= 1);
    CHECK(server.eofs == 0);
    CHECK(server.errors == 0);
  });
}

TEST_CASE("close() is idempotent and safe on a dispatcher that never had a socket") {
  each_backend([](ChannelMap& map, BackendKind) {
    Dispatcher never(&map);
    never.close();
    never.close();
    CHECK(map.size() == 0);

    Listener listener(map);
    Dispatcher d(&map);
    d.create_socket();
    CHECK(map.size() == 2);
    int fd = d.fileno();
    CHECK(fd >= 0);
    d.close();
    CHECK(d.fileno() == -1);
    CHECK_FALSE(d.is_open());
    CHECK(map.size() == 1);
    d.close();
    CHECK(map.size() == 1);
    CHECK(::fcntl(fd, F_GETFD) == -1);  // really closed
    map.poll_once(0);
    CHECK(listener.is_open());
  });
}

namespace {
// Calls `on_read` instead of reading (so readiness persists until someone reads).
class Hook : public Dispatcher {
 public:
  using Dispatcher::Dispatcher;
  void handle_read() override {
    ++reads;
    if (on_read) on_read(*this);
  }
  void handle_write() override { ++writes; }
  void handle_close() override {
    ++closes;
    close();
  }
  void handle_expt() override { ++expts; }
  std::function<void(Hook&)> on_read;
  int reads = 0, writes = 0, closes = 0, expts = 0;
};
}  // namespace

TEST_CASE("close from inside handle_read, from another dispatcher's callback, and from a timer") {
  each_backend([](ChannelMap& map, BackendKind) {
    Listener listener(map);
    Client c1(listener.port()), c2(listener.port()), c3(listener.port());
    REQUIRE(pump(map, [&] { return listener.accepted.size() == 3; }));
    Hook self(std::move(listener.accepted[0]), &map), victim(std::move(listener.accepted[1]), &map),
        timed(std::move(listener.accepted[2]), &map);

    // 1. From inside its own handle_read.
    self.on_read = [](Hook& h) { h.close(); };
    c1.send_all("a");
    REQUIRE(pump(map, [&] { return !self.is_open(); }));
    CHECK(self.reads == 1);
    CHECK(c1.recv_some() == "");

    // 2. From another dispatcher's callback (and the victim has unread data waiting).
    Client c4(listener.port());
    REQUIRE(pump(map, [&] { return listener.accepted.size() == 4; }));
    Hook closer(std::move(listener.accepted[3]), &map);
    closer.on_read = [&](Hook& h) {
      h.recv(10);
      victim.close();
    };
    c2.send_all("unread");
    REQUIRE(wait_readable(victim.fileno()));
    victim.on_read = [](Hook& h) { h.recv(10); };  // may run once if its event came first
    c4.send_all("go");
    REQUIRE(pump(map, [&] { return !victim.is_open(); }));
    int victim_reads = victim.reads;
    for (int i = 0; i < 3; ++i) map.poll_once(0.01);
    CHECK(victim.reads == victim_reads);
    CHECK(c2.wait_closed(testing::Seconds(5)));

    // 3. From a timer.
    auto start = SteadyClock::now();
    map.call_later(0.05, [&] { timed.close(); });
    REQUIRE(pump(map, [&] { return !timed.is_open(); }));
    CHECK(seconds_since(start) >= 0.04);
    CHECK(timed.reads == 0);
    CHECK(c3.wait_closed(testing::Seconds(5)));
    CHECK(map.size() == 2);  // the listener and `closer`
  });
}

TEST_CASE("a dispatcher closed earlier in the same pass gets no handler, nor does its fd's new owner") {
  each_backend([](ChannelMap& map, BackendKind) {
    Listener listener(map);
    Client ca(listener.port()), cb(listener.port());
    REQUIRE(pump(map, [&] { return listener.accepted.size() == 2; }));
    Hook a(std::move(listener.accepted[0]), &map), b(std::move(listener.accepted[1]), &map);
    map.poll_once(0);  // register both before they become ready

    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    Fd far_end(pair[1]);
    std::unique_ptr<Hook> newcomer;
    int first_reads = 0, reused_fd = -1;
    // Whichever of a and b is handled first closes the other and puts a new dispatcher on the
    // very same fd number, in the same pass.
    auto take_over = [&](Hook& me, Hook& other) {
      ++first_reads;
      if (newcomer) return;
      reused_fd = other.fileno();
      other.close();
      int moved = ::dup2(pair[0], reused_fd);
      REQUIRE(moved == reused_fd);
      ::close(pair[0]);
      newcomer = std::make_unique<Hook>(Fd(moved), &map);
      me.recv(10);
    };
    a.on_read = [&](Hook& h) { take_over(h, b); };
    b.on_read = [&](Hook& h) { take_over(h, a); };
    ca.send_all("A");
    cb.send_all("B");
    REQUIRE(wait_readable(a.fileno()));
    REQUIRE(wait_readable(b.fileno()));
    map.poll_once(1.0);
    REQUIRE(newcomer);
    CHECK(first_reads == 1);
    CHECK(newcomer->fileno() == reused_fd);
    CHECK(newcomer->reads == 0);
    CHECK(newcomer->writes == 0);
    CHECK(newcomer->closes == 0);
    for (int i = 0; i < 3; ++i) map.poll_once(0.01);
    CHECK(newcomer->reads == 0);
    CHECK(newcomer->closes == 0);
    // And the newcomer does get its own events.
    newcomer->on_read = [](Hook& h) { h.recv(10); };
    REQUIRE(::write(far_end.get(), "N", 1) == 1);
    REQUIRE(pump(map, [&] { return newcomer->reads == 1; }));
  });
}

namespace {
int g_destroyed = 0;
class Tracked : public Dispatcher {
 public:
  using Dispatcher::Dispatcher;
  ~Tracked() override { ++g_destroyed; }
  void handle_read() override {
    ++reads;
    if (recv(100).empty()) return;
    if (action) action(*this);
    alive_after_action = g_destroyed == destroyed_at_start;
  }
  std::function<void(Tracked&)> action;
  int reads = 0;
  int destroyed_at_start = 0;
  bool alive_after_action = false;
};
}  // namespace

TEST_CASE("make<T> dispatchers are destroyed after close, never during their own callback") {
  each_backend([](ChannelMap& map, BackendKind) {
    Listener listener(map);
    std::weak_ptr<Tracked> weak;
    listener.on_accept = [&](Fd s, const Address&) {
      auto t = make<Tracked>(std::move(s), &map);  // created and forgotten
      t->action = [](Tracked& self) { self.close(); };
      weak = t;
    };
    Client c(listener.port());
    REQUIRE(pump(map, [&] { return listener.accept_count == 1; }));
    for (int i = 0; i < 3; ++i) map.poll_once(0.01);
    REQUIRE_FALSE(weak.expired());  // the map keeps it alive while it is open
    weak.lock()->destroyed_at_start = g_destroyed;
    int before = g_destroyed;
    Tracked* raw = weak.lock().get();
    c.send_all("bye");
    REQUIRE(pump(map, [&] { return g_destroyed == before + 1; }));
    CHECK(weak.expired());
    (void)raw;
  });
}

TEST_CASE("close_all from inside a make<T> dispatcher's own callback does not destroy it there") {
  each_backend([](ChannelMap& map, BackendKind) {
    Listener listener(map);
    std::weak_ptr<Tracked> weak;
    bool survived = false;
    listener.on_accept = [&](Fd s, const Address&) {
      auto t = make<Tracked>(std::move(s), &map);
      t->destroyed_at_start = g_destroyed;
      t->action = [&](Tracked& self) {
        self.map().close_all();
        survived = g_destroyed == self.destroyed_at_start;
      };
      weak = t;
    };
    Client c(listener.port());
    REQUIRE(pump(map, [&] { return listener.accept_count == 1; }));
    weak.lock()->destroyed_at_start = g_destroyed;
    int before = g_destroyed;
    c.send_all("stop everything");
    REQUIRE(pump(map, [&] { return map.size() == 0; }));
    CHECK(survived);
    map.poll_once(0);
    CHECK(g_destroyed == before + 1);
    CHECK(weak.expired());
  });
}

namespace {
int g_pair_destroyed = 0;
class Partner : public Dispatcher {
 public:
  using Dispatcher::Dispatcher;
  ~Partner() override {
    ++g_pair_destroyed;
    if (auto p = partner.lock()) p->close();  // a proxy closing its other half
  }
  void handle_read() override {
    if (recv(100).empty()) return;
    close();
  }
  std::weak_ptr<Partner> partner;
};
}  // namespace

TEST_CASE("a destructor that closes another make<T> dispatcher: both are destroyed") {
  each_backend([](ChannelMap& map, BackendKind) {
    Listener listener(map);
    Client c1(listener.port()), c2(listener.port());
    REQUIRE(pump(map, [&] { return listener.accepted.size() == 2; }));
    g_pair_destroyed = 0;
    {
      auto p1 = make<Partner>(std::move(listener.accepted[0]), &map);
      auto p2 = make<Partner>(std::move(listener.accepted[1]), &map);
      p1->partner = p2;
    }
    CHECK(map.size() == 3);
    c1.send_all("x");  // p1 closes itself; its destructor closes p2
    REQUIRE(pump(map, [&] { return g_pair_destroyed >= 1; }));
    map.poll_once(0);
    CHECK(g_pair_destroyed == 2);
    CHECK(map.size() == 1);
    CHECK(c2.wait_closed(testing::Seconds(5)));
  });
}

TEST_CASE("map.size(), close_all, and loop() ending when the map is empty or after count passes") {
  each_backend([](ChannelMap& map, BackendKind kind) {
    CHECK(map.size() == 0);
    CHECK(map.empty());
    Listener listener(map);
    Client c1(listener.port()), c2(listener.port());
    REQUIRE(pump(map, [&] { return listener.accepted.size() == 2; }));
    CHECK(map.size() == 1);  // accepted Fds are not channels until a dispatcher takes them
    auto r1 = make<Recorder>(std::move(listener.accepted[0]), &map);
    Recorder r2(std::move(listener.accepted[1]), &map);
    CHECK(map.size() == 3);
    CHECK(map.channels().size() == 3);

    // loop(timeout, count) makes exactly `count` passes (here: each times out).
    auto start = SteadyClock::now();
    map.loop(0.05, 3);
    double took = seconds_since(start);
    CHECK(took >= 0.14);
    CHECK(took < 1.0);

    close_all(&map);
    CHECK(map.size() == 0);
    CHECK_FALSE(listener.is_open());
    CHECK_FALSE(r1->is_open());
    CHECK_FALSE(r2.is_open());
    CHECK(c1.wait_closed(testing::Seconds(5)));

    // loop() returns by itself once nothing is left.
    Listener again(map);
    Client c3(again.port());
    map.call_later(0.05, [&] { again.close(); });
    start = SteadyClock::now();
    map.loop(5.0);
    CHECK(seconds_since(start) < 2.0);
    CHECK(map.empty());

    // The free function asyncore::loop with a map.
    Dispatcher d(&map);
    d.create_socket();
    map.call_later(0.02, [&] { d.close(); });
    asyncore::loop(5.0, kind, &map);
    CHECK_FALSE(d.is_open());
  });
}

TEST_CASE("readable() that opens another channel (the map grows while it is asked) is safe") {
  struct Spawner : Dispatcher {
    using Dispatcher::Dispatcher;
    bool readable() override {
      if (!spawned) {
        // A socket on a high fd number makes the map's fd-indexed table grow (and move).
        int pair[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
        int high = ::fcntl(pair[0], F_DUPFD_CLOEXEC, 900 + 50 * round);
        ::close(pair[0]);
        peer_end.reset(pair[1]);
        spawned = std::make_unique<Recorder>(Fd(high), &map());
      }
      return true;
    }
    void handle_read() override { got += recv(100); }
    std::unique_ptr<Recorder> spawned;
    Fd peer_end;
    std::string got;
    int round = 0;
  };
  int round = 0;
  each_backend([&](ChannelMap& map, BackendKind) {
    Listener listener(map);
    testing::Client c(listener.port());
    REQUIRE(pump(map, [&] { return listener.accepted.size() == 1; }));
    Spawner s(std::move(listener.accepted[0]), &map);
    s.round = round++;
    map.poll_once(0);
    REQUIRE(s.spawned);
    c.send_all("to the spawner");
    REQUIRE(pump(map, [&] { return s.got == "to the spawner"; }));
    REQUIRE(::write(s.peer_end.get(), "to the spawned", 14) == 14);
    REQUIRE(pump(map, [&] { return s.spawned->data == "to the spawned"; }));
  });
}

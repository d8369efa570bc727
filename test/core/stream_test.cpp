// Stream behaviour at the edges: a peer that half-closes while we still write (the echo server
// keeps echoing, then closes after sending everything), clients that reset at once, a peer
// sending one byte at a time, bounded accept batches, and idle dispatchers that do not spin.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>

#include <fcntl.h>

#include <atomic>
#include <memory>
#include <thread>

#include <asyncore/stream/dispatcher_with_send.h>
#include "test/core/core_testing.h"

using namespace coretest;
using testing::Child;
using testing::Client;

namespace {

std::unique_ptr<Child> start_echo_server(BackendKind kind) {
  auto child = std::make_unique<Child>(std::vector<std::string>{testing::bin_path("echo-server"), "--port", "0",
                                                                "--backend", backend_name(kind)});
  return child;
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

}  // namespace

TEST_CASE("echo-server: the peer half-closes while the server still writes; everything comes back, then EOF") {
  for (BackendKind kind : kAllBackends) {
    INFO(std::string(backend_name(kind)));
    auto server = start_echo_server(kind);
    int port = server->listening_port("echo");
    Client c(port);
    const std::string payload = pattern(4 * 1024 * 1024);
    std::thread writer([&] {
      c.send_all(payload);
      c.shutdown_write();  // while most of the echo is still queued at the server
    });
    std::string back;
    try {
      back = c.recv_to_eof(testing::Seconds(30));
    } catch (const std::exception& e) {
      FAIL_CHECK("recv_to_eof: " << e.what());
    }
    writer.join();
    CHECK(back.size() == payload.size());
    CHECK(back == payload);
    CHECK(server->running());
    server->signal(SIGTERM);
    CHECK(server->wait() == 0);
  }
}

TEST_CASE("echo-server: clients that connect and reset at once never break it") {
  for (BackendKind kind : kAllBackends) {
    INFO(std::string(backend_name(kind)));
    auto server = start_echo_server(kind);
    int port = server->listening_port("echo");
    for (int i = 0; i < 200; ++i) {
      Client c(port);
      if (i % 2) c.send_all("half a request");
      c.reset();
    }
    Client fine(port);
    fine.send_all("still here");
    CHECK(fine.recv_exact(10) == "still here");
    CHECK(server->running());
    server->signal(SIGTERM);
    CHECK(server->wait() == 0);
    INFO(server->stderr_text());
    CHECK(server->stderr_text().find(" error ") == std::string::npos);
  }
}

TEST_CASE("echo-server: a peer sending one byte at a time gets every byte back in order") {
  for (BackendKind kind : kAllBackends) {
    INFO(std::string(backend_name(kind)));
    auto server = start_echo_server(kind);
    Client c(server->listening_port("echo"));
    const std::string payload = pattern(1500);
    std::string back;
    for (size_t i = 0; i < payload.size(); ++i) {
      c.send_all(payload.substr(i, 1));
      if (i % 100 == 99) back += c.recv_exact(back.size() < i + 1 ? i + 1 - back.size() : 0);
    }
    back += c.recv_exact(payload.size() - back.size());
    CHECK(back == payload);
    c.shutdown_write();
    CHECK(c.recv_to_eof() == "");
  }
}

TEST_CASE("a listener accepts a bounded batch per pass (accept_batch)") {
  each_backend([](ChannelMap& map, BackendKind) {
    Listener listener(map);
    listener.accept_batch = 3;
    map.poll_once(0);
    std::vector<Client> clients;
    for (int i = 0; i < 10; ++i) clients.emplace_back(listener.port());
    REQUIRE(wait_readable(listener.fileno()));
    std::vector<int> per_pass;
    while (listener.accept_count < 10 && per_pass.size() < 20) {
      int before = listener.accept_count;
      map.poll_once(1.0);
      per_pass.push_back(listener.accept_count - before);
    }
    CHECK(per_pass == std::vector<int>{3, 3, 3, 1});
  });
}

namespace {
class IdleClient : public Dispatcher {
 public:
  IdleClient(ChannelMap& map, const Address& to) : Dispatcher(&map) {
    create_socket();
    connect(to);
  }
  void handle_connect() override { ++connects; }
  void handle_read() override { ++reads; }
  void handle_write() override { ++writes; }
  int connects = 0, reads = 0, writes = 0;
};
}  // namespace

TEST_CASE("an idle connected plain Dispatcher does not spin: poll_once(0.2) waits the full 0.2 s") {
  each_backend([](ChannelMap& map, BackendKind) {
    Listener listener(map);
    IdleClient client(map, listener.addr);
    REQUIRE(pump(map, [&] { return client.connects == 1 && listener.accepted.size() == 1; }));
    Recorder server(std::move(listener.accepted[0]), &map);
    map.poll_once(0);
    map.poll_once(0);
    auto start = SteadyClock::now();
    size_t events = map.poll_once(0.2);
    double took = seconds_since(start);
    CHECK(events == 0);
    CHECK(took >= 0.19);
    CHECK(took < 1.0);

    // Over one second with loop(0.2): about five passes, not thousands.
    int passes = 0;
    start = SteadyClock::now();
    while (seconds_since(start) < 1.0) {
      map.loop(0.2, 1);
      ++passes;
    }
    CHECK(passes <= 7);
    CHECK(client.writes <= 1);  // the one right after connecting, as asyncore does
    CHECK(client.reads == 0);
  });
}

TEST_CASE("no spin after EOF when handle_eof keeps the socket, nor after a DispatcherWithSend drained") {
  each_backend([](ChannelMap& map, BackendKind) {
    Listener listener(map);
    Client c(listener.port()), c2(listener.port());
    REQUIRE(pump(map, [&] { return listener.accepted.size() == 2; }));
    Recorder half(std::move(listener.accepted[0]), &map);
    half.close_on_eof = false;
    struct Sender : DispatcherWithSend {
      using DispatcherWithSend::DispatcherWithSend;
      void handle_read() override { recv(100); }
    };
    Sender sender(std::move(listener.accepted[1]), &map);
    sender.send(pattern(300000));
    c.shutdown_write();
    REQUIRE(pump(map, [&] { return half.eofs == 1; }));
    std::string got = c2.recv_exact(300000, testing::Seconds(10));
    (void)got;
    REQUIRE(pump(map, [&] { return sender.pending() == 0; }));
    map.poll_once(0);
    auto start = SteadyClock::now();
    size_t events = map.poll_once(0.2);
    CHECK(events == 0);
    CHECK(seconds_since(start) >= 0.19);
    CHECK(half.is_open());
    CHECK(half.reads == 1);  // the read that found EOF
  });
}

namespace {
// Sends a request, half-closes, then reads the reply (4 KiB per handle_read) until EOF.
class HalfCloseClient : public Dispatcher {
 public:
  HalfCloseClient(ChannelMap& map, const Address& to) : Dispatcher(&map) {
    create_socket();
    connect(to);
  }
  void handle_connect() override {
    send("request");
    shutdown_write();
  }
  void handle_read() override {
    char buf[4096];
    got += std::string_view(buf, recv_into(buf, sizeof buf));
  }
  void handle_eof() override {
    ++eofs;
    close();
  }
  void handle_close() override {
    ++closes;
    close();
  }
  std::string got;
  int eofs = 0, closes = 0;
};
}  // namespace

TEST_CASE("after our own shutdown_write, a hangup does not cut off the unread rest of the reply") {
  // Both directions shut (our FIN and the peer's) makes epoll and poll report HUP together with
  // IN while reply bytes still wait in the socket: they must all be read, then handle_eof.
  each_backend([](ChannelMap& map, BackendKind) {
    Listener listener(map);
    HalfCloseClient client(map, listener.addr);
    REQUIRE(pump(map, [&] { return listener.accepted.size() == 1 && client.connected; }));
    Fd server = std::move(listener.accepted[0]);
    const std::string reply = pattern(100000);
    std::atomic<bool> sent{false};
    std::thread peer([&] {
      int flags = ::fcntl(server.get(), F_GETFL);
      ::fcntl(server.get(), F_SETFL, flags & ~O_NONBLOCK);
      char req[7];
      size_t have = 0;
      while (have < sizeof req) {
        ssize_t n = ::recv(server.get(), req + have, sizeof req - have, 0);
        if (n <= 0) break;
        have += static_cast<size_t>(n);
      }
      std::string_view rest = reply;
      while (!rest.empty()) {
        ssize_t n = ::send(server.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
        if (n <= 0) break;
        rest.remove_prefix(static_cast<size_t>(n));
      }
      server.reset();  // FIN after the whole reply
      sent = true;
    });
    // Let the whole reply and the FIN arrive before the loop reads any of it (bounded: if the
    // socket buffers cannot hold it all, the loop starts reading anyway).
    testing::eventually([&] { return sent.load(); }, testing::Seconds(3));
    REQUIRE(pump(map, [&] { return !client.is_open(); }, 10.0));
    peer.join();
    CHECK(client.got.size() == reply.size());
    CHECK((client.got == reply));
    CHECK(client.eofs == 1);
    CHECK(client.closes == 0);
  });
}

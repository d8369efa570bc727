// TcpServer: the socketserver hooks, the connection limits, IPv4, IPv6 and Unix-domain
// addresses, through real sockets. Blocking clients run on a thread while the loop runs here.
#include <asyncore/net/tcp_server.h>

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <asyncore/asyncore.h>
#include <asyncore/chat/async_chat.h>
#include "test/dispatchers/chat/chat_fixtures.h"
#include "test/dispatchers/loop_helpers.h"
#include "test/support/testing.h"

using namespace asyncore;
using namespace dispatcher_tests;

namespace {

// Echoes each line back.
class EchoLines : public AsyncChat {
 public:
  EchoLines(Fd socket, ChannelMap* map) : AsyncChat(std::move(socket), map) { set_terminator("\n"); }
  void found_terminator() override { push(get_data() + "\n"); }
};

// Runs `client` on a thread while the loop runs here; returns what it returned, or
// "error: ..." when it threw. Bounded by the client's own deadlines and `timeout`.
std::string with_client(ChannelMap& map, const std::function<std::string()>& client, double timeout = 20) {
  std::atomic<bool> done{false};
  std::string result;
  std::thread thread([&] {
    try {
      result = client();
    } catch (const std::exception& e) {
      result = std::string("error: ") + e.what();
    }
    done = true;
  });
  run_until(map, [&] { return done.load(); }, timeout);
  thread.join();
  return result;
}

// A blocking client from a chosen loopback source address (127.0.0.x are all local).
Fd connect_from(const std::string& source, int port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    throw std::runtime_error("connect_from " + source + " failed");
  }
  return fd;
}

// Sends a line and returns the echoed line, or "" when the server closed instead.
std::string echo_once(int fd, const std::string& line) {
  send_all(fd, line + "\n");
  return recv_exactly(fd, line.size() + 1, 10);
}

int port_of(const TcpServer& server) { return server.server_address.port(); }

}  // namespace

TEST_CASE("make_server: a working server in three lines") {
  ChannelMap map;
  auto server = make_server<EchoLines>(Address::ipv4("127.0.0.1", 0), &map);
  CHECK(port_of(*server) != 0);
  CHECK(server->accepting);
  const std::string reply = with_client(map, [&] {
    testing::Client client(port_of(*server));
    client.send_all("hello\nworld\n");
    return client.recv_exact(12);
  });
  CHECK(reply == "hello\nworld\n");
}

TEST_CASE("the hooks run in socketserver's order with the peer's address") {
  class Hooked : public TcpServer {
   public:
    Hooked(Address address, ChannelMap* map) : TcpServer(std::move(address), map) {}
    void server_bind() override {
      calls.push_back("server_bind");
      TcpServer::server_bind();
    }
    void server_activate() override {
      calls.push_back("server_activate backlog=" + std::to_string(request_queue_size));
      TcpServer::server_activate();
    }
    bool verify_request(const Fd& socket, const Address& peer) override {
      calls.push_back("verify_request " + peer.host() + (socket ? " open" : " closed"));
      return true;
    }
    void process_request(Fd socket, const Address& peer) override {
      calls.push_back("process_request " + peer.host());
      make<EchoLines>(std::move(socket), &map());
    }
    std::vector<std::string> calls;
  };
  ChannelMap map;
  auto server = std::make_shared<Hooked>(Address::ipv4("127.0.0.1", 0), &map);
  server->request_queue_size = 7;
  server->start();
  const std::string reply = with_client(map, [&] {
    testing::Client client(port_of(*server));
    return echo_once(client.fd(), "ping");
  });
  CHECK(reply == "ping\n");
  CHECK(server->calls == std::vector<std::string>{"server_bind", "server_activate backlog=7",
                                                  "verify_request 127.0.0.1 open", "process_request 127.0.0.1"});
}

TEST_CASE("allow_reuse_address sets SO_REUSEADDR, and only then") {
  ChannelMap map;
  for (bool reuse : {true, false}) {
    TcpServer server(Address::ipv4("127.0.0.1", 0), [](Fd, const Address&) {}, &map);
    server.allow_reuse_address = reuse;
    server.start();
    int value = -1;
    socklen_t len = sizeof value;
    REQUIRE(::getsockopt(server.fileno(), SOL_SOCKET, SO_REUSEADDR, &value, &len) == 0);
    CHECK((value != 0) == reuse);
  }
}

TEST_CASE("verify_request refuses some peers: closed, logged and counted") {
  class OnlyLocalhost : public TcpServer {
   public:
    using TcpServer::TcpServer;
    bool verify_request(const Fd&, const Address& peer) override { return peer.host() == "127.0.0.1"; }
  };
  LogCapture log;
  ChannelMap map;
  auto server = std::make_shared<OnlyLocalhost>(Address::ipv4("127.0.0.1", 0),
                                                [&map](Fd s, const Address&) { make<EchoLines>(std::move(s), &map); }, &map);
  server->start();
  const std::string replies = with_client(map, [&] {
    Fd refused = connect_from("127.0.0.2", port_of(*server));
    Fd accepted = connect_from("127.0.0.1", port_of(*server));
    return echo_once(refused.get(), "from .2") + "|" + echo_once(accepted.get(), "from .1");
  });
  CHECK(replies == "|from .1\n");
  CHECK(server->refused(Refusal::verify_request) == 1);
  CHECK(server->refused_total() == 1);
  CHECK(log.contains("refused 127.0.0.2:"));
  CHECK(log.contains(": verify_request"));
}

TEST_CASE("max_per_peer refuses a peer's extra connections, and admits again once one closes") {
  LogCapture log;
  ChannelMap map;
  auto server = make_server<EchoLines>(Address::ipv4("127.0.0.1", 0), &map);
  server->max_per_peer = 2;
  const int port = port_of(*server);
  std::vector<Fd> kept;
  const std::string first = with_client(map, [&] {
    std::string out;
    for (int i = 0; i < 2; ++i) {
      kept.push_back(connect_from("127.0.0.1", port));
      out += echo_once(kept.back().get(), "ok" + std::to_string(i));
    }
    Fd third = connect_from("127.0.0.1", port);
    out += "[" + echo_once(third.get(), "third") + "]";
    Fd other_peer = connect_from("127.0.0.3", port);
    out += echo_once(other_peer.get(), "other");
    return out;
  });
  CHECK(first == "ok0\nok1\n[]other\n");
  CHECK(server->refused(Refusal::max_per_peer) == 1);
  CHECK(log.contains("max_per_peer 2 reached"));
  kept.pop_back();  // one of 127.0.0.1's connections ends
  REQUIRE(run_until(map, [&] { return server->active_connections() == 1; }));
  const std::string again = with_client(map, [&] {
    Fd next = connect_from("127.0.0.1", port);
    return echo_once(next.get(), "again");
  });
  CHECK(again == "again\n");
  CHECK(server->refused(Refusal::max_per_peer) == 1);
}

TEST_CASE("max_connections refuses connections beyond the total") {
  LogCapture log;
  ChannelMap map;
  auto server = make_server<EchoLines>(Address::ipv4("127.0.0.1", 0), &map);
  server->max_connections = 3;
  const int port = port_of(*server);
  std::vector<Fd> kept;
  const std::string replies = with_client(map, [&] {
    std::string out;
    for (int i = 0; i < 3; ++i) {
      kept.push_back(connect_from("127.0.0." + std::to_string(i + 1), port));
      out += echo_once(kept.back().get(), std::to_string(i));
    }
    Fd fourth = connect_from("127.0.0.9", port);
    out += "[" + echo_once(fourth.get(), "fourth") + "]";
    return out;
  });
  CHECK(replies == "0\n1\n2\n[]");
  CHECK(server->active_connections() == 3);
  CHECK(server->refused(Refusal::max_connections) == 1);
  CHECK(log.contains("max_connections 3 reached"));
}

TEST_CASE("a process_request that throws drops that connection and the server goes on") {
  LogCapture log;
  ChannelMap map;
  int calls = 0;
  TcpServer server(Address::ipv4("127.0.0.1", 0), [&](Fd socket, const Address&) {
        if (++calls == 1) throw std::runtime_error("handler refused to start");
        make<EchoLines>(std::move(socket), &map);
      }, &map);
  server.start();
  const std::string replies = with_client(map, [&] {
    Fd first = connect_from("127.0.0.1", port_of(server));
    std::string out = "[" + echo_once(first.get(), "first") + "]";
    Fd second = connect_from("127.0.0.1", port_of(server));
    return out + echo_once(second.get(), "second");
  });
  CHECK(replies == "[]second\n");
  CHECK(server.request_errors() == 1);
  CHECK(server.is_open());
  CHECK(log.contains("failed: std::runtime_error: handler refused to start"));
}

TEST_CASE("a server on IPv6 loopback") {
  ChannelMap map;
  auto server = make_server<EchoLines>(Address::ipv6("::1", 0), &map);
  CHECK(server->address_family == AF_INET6);
  CHECK(server->server_address.to_string().starts_with("[::1]:"));
  const std::string reply = with_client(map, [&] {
    testing::Client client(port_of(*server), "::1");
    return echo_once(client.fd(), "over six");
  });
  CHECK(reply == "over six\n");
}

TEST_CASE("start() failures name the address") {
  ChannelMap map;
  auto first = make_server<EchoLines>(Address::ipv4("127.0.0.1", 0), &map);
  const std::string address = first->server_address.to_string();
  TcpServer second(first->server_address, [](Fd, const Address&) {}, &map);
  CHECK_THROWS_WITH_AS(second.start(), doctest::Contains(address.c_str()), std::system_error);
  CHECK_FALSE(second.is_open());
  CHECK_THROWS_AS(TcpServer(Address(), &map), std::invalid_argument);
}

TEST_CASE("serve_forever serves until the loop is stopped") {
  ChannelMap map;
  auto server = make_server<EchoLines>(Address::ipv4("127.0.0.1", 0), &map);
  std::string reply;
  std::thread client([&] {
    try {
      testing::Client c(port_of(*server));
      reply = echo_once(c.fd(), "forever");
    } catch (const std::exception& e) {
      reply = e.what();
    }
    map.stop();  // thread-safe
  });
  server->serve_forever();
  client.join();
  CHECK(reply == "forever\n");
}

// Unix-domain stream sockets through the same classes: TcpServer and an AsyncChat client.
TEST_CASE("Unix-domain echo through TcpServer and an AsyncChat client") {
  class UnixClient : public AsyncChat {
   public:
    UnixClient(const Address& server, ChannelMap* map) : AsyncChat(map) {
      create_socket(AF_UNIX, SOCK_STREAM);
      set_terminator("\n");
      connect(server);
    }
    void handle_connect() override {}
    void found_terminator() override { lines.push_back(get_data()); }
    std::vector<std::string> lines;
  };
  for (BackendKind backend : kAllBackends) {
    const std::string backend_label = backend_name(backend);
    CAPTURE(backend_label);
    testing::TempDir dir;
    const Address address = Address::unix_path(dir.file("echo.sock"));
    ChannelMap map;
    map.use_backend(backend);
    auto server = make_server<EchoLines>(address, &map);
    CHECK(server->server_address == address);
    UnixClient client(address, &map);
    client.push("one\ntw");
    client.push("o\n");
    REQUIRE(run_until(map, [&] { return client.lines.size() == 2; }));
    CHECK(client.lines == std::vector<std::string>{"one", "two"});
    client.close();
    struct stat st {};
    CHECK(::stat(address.path().c_str(), &st) == 0);
    server->server_close();
    CHECK(::stat(address.path().c_str(), &st) != 0);  // the socket file is removed
  }
}

TEST_CASE("a stale Unix socket file is replaced only with allow_reuse_address; a live one never") {
  testing::TempDir dir;
  const Address address = Address::unix_path(dir.file("stale.sock"));
  {
    // Bound, never listened on, closed: the file stays behind, and nobody accepts on it.
    Fd leftover(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto raw = address.raw();
    REQUIRE(::bind(leftover.get(), raw.get(), raw.length) == 0);
  }
  ChannelMap map;
  TcpServer strict(address, [](Fd, const Address&) {}, &map);
  strict.allow_reuse_address = false;
  CHECK_THROWS_WITH_AS(strict.start(), doctest::Contains(address.to_string().c_str()), std::system_error);

  auto live = make_server<EchoLines>(address, &map);  // allow_reuse_address: the default
  CHECK(live->accepting);
  TcpServer intruder(address, [](Fd, const Address&) {}, &map);
  CHECK_THROWS_AS(intruder.start(), std::system_error);  // someone listens: not stale
  CHECK(live->accepting);
}

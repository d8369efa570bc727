// TcpServer: the socketserver hooks, the connection limits, IPv4, IPv6 and Unix-domain
// addresses, through real sockets. Blocking clients run on a thread while the loop runs here.
#include <asyncore/net/tcp_server.h>

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
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

// --- ListenerOptions: what every program's listener sets -------------------------------------

TEST_CASE("make_server with ListenerOptions: name, caps, backlog, reuse_port and on_refused") {
  LogCapture log;
  ChannelMap map;
  std::vector<Refusal> told;
  ListenerOptions options;
  options.name = "probe listener";
  options.caps = {.max_connections = 0, .max_per_peer = 1};
  options.backlog = 9;
  options.accept_batch = 5;
  options.reuse_port = true;
  options.on_refused = [&](Refusal reason) { told.push_back(reason); };
  auto server = make_server(Address::ipv4("127.0.0.1", 0),
                            [&map](Fd s, const Address&) { make<EchoLines>(std::move(s), &map); }, options, &map);
  CHECK(server->request_queue_size == 9);
  CHECK(server->accept_batch == 5);
  int value = 0;
  socklen_t len = sizeof value;
  REQUIRE(::getsockopt(server->fileno(), SOL_SOCKET, SO_REUSEPORT, &value, &len) == 0);
  CHECK(value != 0);
  // A second listener with reuse_port shares the port (what device-server --workers relies on).
  options.on_refused = nullptr;
  auto sibling = make_server(server->server_address, [](Fd, const Address&) {}, options, &map);
  CHECK(sibling->server_address == server->server_address);
  sibling->server_close();

  const std::string replies = with_client(map, [&] {
    Fd first = connect_from("127.0.0.1", port_of(*server));
    std::string out = echo_once(first.get(), "one");
    Fd second = connect_from("127.0.0.1", port_of(*server));
    return out + "[" + echo_once(second.get(), "two") + "]";
  });
  CHECK(replies == "one\n[]");
  CHECK(told == std::vector<Refusal>{Refusal::max_per_peer});
  CHECK(log.contains("probe listener: refused 127.0.0.1:"));
  CHECK(log.contains("max_per_peer 1 reached"));
}

TEST_CASE("without reuse_port a second listener on the port fails, naming the address") {
  ChannelMap map;
  auto server = make_server(Address::ipv4("127.0.0.1", 0), [](Fd, const Address&) {}, {}, &map);
  CHECK_THROWS_WITH_AS(make_server(server->server_address, [](Fd, const Address&) {}, {}, &map),
                       doctest::Contains(server->server_address.to_string().c_str()), std::system_error);
  CHECK(map.size() == 1);  // the failed one left nothing behind
}

TEST_CASE("the accept batch bounds the connections accepted per readiness") {
  ChannelMap map;
  int made = 0;
  std::vector<std::shared_ptr<Dispatcher>> sessions;
  ListenerOptions options;
  options.accept_batch = 3;
  auto server = make_server(Address::ipv4("127.0.0.1", 0), [&](Fd s, const Address&) {
    ++made;
    make<EchoLines>(std::move(s), &map);
  }, options, &map);
  // Connected (the kernel completes the handshakes) before the loop runs at all.
  std::vector<testing::Client> clients;
  for (int i = 0; i < 10; ++i) clients.emplace_back(port_of(*server));
  map.poll_once(5);
  CHECK(made == 3);
  map.poll_once(5);
  CHECK(made == 6);
  REQUIRE(run_until(map, [&] { return made == 10; }));
  CHECK(server->active_connections() == 10);
}

// Out of fds (EMFILE): a child process with a lowered RLIMIT_NOFILE runs the listener, the parent
// connects more clients than it has fds for. The listener pauses accepting (one warning), keeps
// serving the connections it has, and accepts the waiting clients by itself once fds free up.
namespace {

// Reads what the child logged so far (non-blocking) into `text`.
void read_log(int fd, std::string& text) {
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<size_t>(n));
}

}  // namespace

TEST_CASE("out of fds the listener pauses, serves the open connections and resumes by itself") {
#ifdef TEST_SANITIZED
  MESSAGE("skipped in a sanitizer build: the sanitizer runtime itself fails without fds");
  return;
#endif
  int port_pipe[2], log_pipe[2];
  REQUIRE(::pipe2(port_pipe, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(log_pipe, O_CLOEXEC | O_NONBLOCK) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::alarm(60);  // bounded even if the parent vanishes
    set_log_sink([fd = log_pipe[1]](LogLevel, std::string_view line) {
      std::string text = std::string(line) + "\n";
      (void)!::write(fd, text.data(), text.size());
    });
    ChannelMap map;
    auto server = make_server<EchoLines>(Address::ipv4("127.0.0.1", 0), &map);
    // Room for 6 more fds: the limit sits just past the 6th free number (fds already open above
    // it stay usable; the harness may hold some high ones).
    int limit_at = 0;
    for (int free_seen = 0; free_seen < 6; ++limit_at) {
      if (::fcntl(limit_at, F_GETFD) == -1) ++free_seen;
    }
    const rlimit limit{static_cast<rlim_t>(limit_at), static_cast<rlim_t>(limit_at)};
    const uint16_t port = server->server_address.port();
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0 || ::write(port_pipe[1], &port, sizeof port) != sizeof port) ::_exit(2);
    map.run();
    ::_exit(0);
  }
  ::close(port_pipe[1]);
  ::close(log_pipe[1]);
  uint16_t port = 0;
  const bool got_port = ::read(port_pipe[0], &port, sizeof port) == sizeof port;
  ::close(port_pipe[0]);
  std::string log;
  if (got_port) {
    constexpr int kClients = 20;
    std::vector<testing::Client> clients;
    for (int i = 0; i < kClients; ++i) clients.emplace_back(port);  // all complete in the backlog
    int served = 0;
    while (served < kClients && testing::echoes(clients[static_cast<size_t>(served)], "hi " + std::to_string(served) + "\n",
                                                testing::Seconds(served == 0 ? 5 : 0.5))) {
      ++served;
    }
    CHECK(served >= 3);
    CHECK(served < kClients);
    read_log(log_pipe[0], log);
    CHECK(testing::occurrences(log, "pausing accepts") == 1);
    CHECK(testing::echoes(clients[0], "still served\n"));  // the open connections go on meanwhile

    // Free fds: the waiting clients are accepted without anything else happening.
    for (int i = 0; i < served; ++i) clients[static_cast<size_t>(i)].close();
    int late = 0;
    for (int i = served; i < kClients; ++i) {
      auto& client = clients[static_cast<size_t>(i)];
      // The first one waiting still has its unanswered "hi" in flight: that answer comes first.
      const std::string pending = i == served ? "hi " + std::to_string(i) + "\n" : "";
      try {
        client.send_all("late\n");
        if (client.recv_exact(pending.size() + 5, testing::Seconds(10)) == pending + "late\n") ++late;
      } catch (const std::exception&) {
      }
      clients[static_cast<size_t>(i)].close();  // make room for the next ones
    }
    CHECK(late == kClients - served);
    CHECK(testing::eventually([&] {
      read_log(log_pipe[0], log);
      return log.find("accepting again") != std::string::npos;
    }));
  }
  CHECK(got_port);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status));  // it was still running: nothing made it exit
  ::close(log_pipe[0]);
  INFO(log);
}

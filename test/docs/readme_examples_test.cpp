// The README's code examples, compiled and run, so the documentation cannot drift from the API.
#include <doctest/doctest.h>

#include <thread>

#include <asyncore/asyncore.h>
#include <asyncore/chat/async_chat.h>
#include <asyncore/stream/dispatcher_with_send.h>
#include <asyncore/http/http.h>
#include <asyncore/journal/journal.h>
#include <asyncore/json/json.h>
#include <asyncore/process/process.h>
#include <asyncore/redis/client.h>
#include <asyncore/twisted/protocol.h>
#include <asyncore/twisted/tcp_port.h>
#include <asyncore/net/tcp_server.h>
#include "test/support/redis_server.h"
#include "test/support/testing.h"

using namespace asyncore;

namespace {

// --- README: "A tour of the API: an echo server in 20 lines" ---
class EchoHandler : public DispatcherWithSend {
 public:
  using DispatcherWithSend::DispatcherWithSend;
  void handle_read() override {
    std::string data = recv(8192);
    if (!data.empty()) send(data);
  }
};

class EchoServer : public Dispatcher {
 public:
  explicit EchoServer(const Address& address) {
    create_socket(address.family());
    set_reuse_addr();
    bind(address);
    listen(5);
  }
  void handle_accepted(Fd socket, const Address&) override { make<EchoHandler>(std::move(socket)); }
};

// --- README: the toolkit, AsyncChat ---
class Command : public AsyncChat {  // a line protocol in a few lines
 public:
  Command(Fd s, ChannelMap* map) : AsyncChat(std::move(s), map) { set_terminator("\n"); }
  void found_terminator() override { push("you said: " + get_data() + "\n"); }
};

// --- README: the toolkit, Protocol ---
struct Echo : Protocol {
  void data_received(std::string_view d) override { transport->write(d); }
};

// Runs the default loop until `done` or a deadline, with a client thread doing its part.
template <class Client>
void serve_while(Client&& client) {
  bool finished = false;
  std::thread t([&] {
    client();
    socket_map().call_soon_threadsafe([&] { finished = true; });
  });
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!finished && Clock::now() < deadline) socket_map().poll_once(0.05);
  t.join();
  CHECK(finished);
}

}  // namespace

TEST_CASE("README: the echo server") {
  auto server = make<EchoServer>(Address::parse("127.0.0.1:0"));
  std::string echoed;
  serve_while([&] {
    testing::Client c(server->addr.port());
    c.send_all("hello");
    echoed = c.recv_exact(5);
  });
  CHECK(echoed == "hello");
  server->close();
}

TEST_CASE("README: AsyncChat line protocol with make_server") {
  auto server = make_server<Command>(Address::parse("127.0.0.1:0"));
  std::string reply;
  serve_while([&] {
    testing::Client c(server->server_address.port());
    c.send_all("hi\n");
    reply = c.recv_until("\n");
  });
  CHECK(reply == "you said: hi\n");
  server->close();
}

TEST_CASE("README: Twisted-style echo with listen_tcp") {
  auto port = listen_tcp(0, make_factory<Echo>());
  std::string echoed;
  serve_while([&] {
    testing::Client c(port->get_host().port());
    c.send_all("twisted");
    echoed = c.recv_exact(7);
  });
  CHECK(echoed == "twisted");
  port->stop_listening();
}

TEST_CASE("README: an HTTP route with a path parameter") {
  http::Router router;
  router.get("/devices/:imei", [](const http::Request& r) {
    return http::Response::json(json::Object{{"imei", std::string(r.param("imei"))}});
  });
  auto server = make<http::HttpServer>(Address::parse("127.0.0.1:0"), std::move(router));
  testing::HttpResponse response;
  serve_while([&] { response = testing::http(server->address().port(), "GET", "/devices/860000000000001"); });
  CHECK(response.status == 200);
  CHECK(json::parse(response.body) == json::Value(json::Object{{"imei", "860000000000001"}}));
  server->close();
}

TEST_CASE("README: the journal") {
  testing::TempDir dir;
  std::vector<std::string> replayed;
  {
    auto journal = Journal::open(dir.file("state.journal"), {}, [&](std::string_view record) { replayed.emplace_back(record); });
    journal.append(R"({"event":"online","imei":"860000000000001"})");  // on disk when this returns
  }
  auto journal = Journal::open(dir.file("state.journal"), {}, [&](std::string_view record) { replayed.emplace_back(record); });
  REQUIRE(replayed.size() == 1);
  CHECK(replayed[0] == R"({"event":"online","imei":"860000000000001"})");
}

TEST_CASE("README: the process runner") {
  std::vector<std::string> lines;
  std::optional<ExitStatus> status;
  ProcessOptions o;
  o.argv = {"/bin/sh", "-c", "echo one; echo two; exit 3"};
  o.timeout = 10;
  o.on_line = [&](OutputStream, std::string_view line) { lines.emplace_back(line); };
  o.on_exit = [&](const ExitStatus& st) { status = st; };
  Process sync(std::move(o));
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!status && Clock::now() < deadline) socket_map().poll_once(0.05);
  REQUIRE(status);
  CHECK(status->describe() == "exit 3");
  CHECK(lines == std::vector<std::string>{"one", "two"});
}

TEST_CASE("README: the Redis client") {
  testing::RedisServer server;
  const std::string redis_address = server.address();
  {
    redis::ClientOptions options;
    options.address = redis_address;  // "127.0.0.1:6379" or "unix:/run/redis/redis.sock"
    redis::Client client(options);
    client.start();
    client.command({"SET", "greeting", "hello"}, [](redis::Result& r) {
      if (!r.ok()) log_warning("SET: " + r.error_text());  // r.may_have_run() tells what to assume
    });
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (client.in_flight() + client.held() > 0 && Clock::now() < deadline) socket_map().poll_once(0.05);
  }
  CHECK(server.command({"GET", "greeting"}).str == "hello");
}

// The README's code examples, compiled and run, so the documentation cannot drift from the API.
// Each C++ block of README.md marked <!-- example: NAME --> is copied by the build into
// build/gen/readme/NAME.inc (test/docs/readme_examples.sh) and included here as it is, inside a
// test that supplies what the example takes as given (a redis_address, src and dst, a replay
// function) and then uses what it made the way a user would. The first example is a whole
// program: test/docs/readme-echo-server.main.cpp is built from it and run.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <asyncore/asyncore.h>
#include <asyncore/chat/async_chat.h>
#include <asyncore/http/http.h>
#include <asyncore/journal/journal.h>
#include <asyncore/json/json.h>
#include <asyncore/net/tcp_server.h>
#include <asyncore/process/process.h>
#include <asyncore/redis/client.h>
#include <asyncore/twisted/protocol.h>
#include <asyncore/twisted/tcp_port.h>
#include "test/support/redis_server.h"
#include "test/support/testing.h"

using namespace asyncore;

namespace {

// Runs the default loop until `client` (on a thread) is done, or a deadline.
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

// Runs the default loop until `done` holds, or a deadline.
bool run_until(const std::function<bool()>& done) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!done() && Clock::now() < deadline) socket_map().poll_once(0.05);
  return done();
}

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The journal example hands each replayed record to replay().
std::vector<std::string> replayed;
void replay(std::string_view record) { replayed.emplace_back(record); }

// The log lines written while it lives (the process example reports through the log).
class LogLines {
 public:
  LogLines() {
    set_log_sink([this](LogLevel, std::string_view line) { text += std::string(line) + "\n"; });
  }
  ~LogLines() { set_log_sink({}); }
  std::string text;
};

}  // namespace

TEST_CASE("every example the README marks is one a test here runs") {
  const std::string here = file_text(testing::source_path("test/docs/readme_examples_test.cpp")) +
                           file_text(testing::source_path("test/docs/readme-echo-server.main.cpp"));
  size_t examples = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(TEST_BUILD_DIR) + "/gen/readme")) {
    if (entry.path().extension() != ".inc") continue;
    ++examples;
    const std::string include = "\"readme/" + entry.path().filename().string() + "\"";
    INFO(include);
    CHECK(here.find("#include " + include) != std::string::npos);
  }
  CHECK(examples >= 7);
}

TEST_CASE("README: the echo server, a whole program") {
  testing::Child server({testing::test_bin_path("readme-echo-server"), "127.0.0.1:0"});
  const std::string announced = "echo server on 127.0.0.1:";
  int port = 0;
  REQUIRE(testing::eventually([&] {
    const std::string log = server.stderr_text();
    const auto at = log.find(announced);
    if (at != std::string::npos) port = std::atoi(log.c_str() + at + announced.size());
    return port != 0;
  }));
  testing::Client client(port);
  CHECK(testing::echoes(client, "hello"));
  testing::Client other(port);
  CHECK(testing::echoes(other, "another client"));
  server.signal(SIGTERM);
  CHECK(server.wait());
}

TEST_CASE("README: AsyncChat line protocol with make_server") {
#include "readme/async_chat.inc"
  std::string reply;
  serve_while([&] {
    testing::Client c(server->server_address.port());
    c.send_all("hi\n");
    reply = c.recv_until("\n");
  });
  CHECK(reply == "you said: hi\n");
  server->server_close();
}

TEST_CASE("README: Twisted-style echo with listen_tcp") {
#include "readme/twisted_echo.inc"
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
#include "readme/http_route.inc"
  testing::HttpResponse response;
  serve_while([&] { response = testing::http(server->address().port(), "GET", "/devices/860000000000001"); });
  CHECK(response.status == 200);
  CHECK(json::parse(response.body) == json::Value(json::Object{{"imei", "860000000000001"}}));
  server->server_close();
}

TEST_CASE("README: the journal") {
  // The example's path is relative: it runs in a fresh directory.
  testing::TempDir dir;
  const auto before = std::filesystem::current_path();
  std::filesystem::create_directory(dir.file("var"));
  std::filesystem::current_path(dir.path());
  replayed.clear();
  {
#include "readme/journal.inc"
  }
  CHECK(replayed.empty());  // a new journal has nothing to replay
  {
#include "readme/journal.inc"
  }
  std::filesystem::current_path(before);
  // The second run replayed what the first appended (and then appended it once more).
  CHECK(replayed == std::vector<std::string>{R"({"event":"online","imei":"860000000000001"})"});
}

TEST_CASE("README: the process runner") {
  testing::TempDir dir;
  const std::string src = dir.file("src"), dst = dir.file("dst");
  std::filesystem::create_directory(src);
  std::ofstream(src + "/data") << "copied\n";
  LogLines log;
#include "readme/process.inc"
  REQUIRE(run_until([&] { return log.text.find("sync ended: ") != std::string::npos; }));
  CHECK(log.text.find("sync ended: exit 0") != std::string::npos);
  CHECK(file_text(dst + "/data") == "copied\n");
}

TEST_CASE("README: the Redis client") {
  testing::RedisServer server;
  const std::string redis_address = server.address();
  {
#include "readme/redis_client.inc"
    REQUIRE(run_until([&] { return client.in_flight() + client.held() == 0; }));
  }
  CHECK(server.command({"GET", "greeting"}).str == "hello");
}

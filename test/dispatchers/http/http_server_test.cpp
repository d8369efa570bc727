#include <asyncore/http/server.h>

#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <thread>

#include <asyncore/channel_map.h>
#include <asyncore/http/auth.h>
#include <asyncore/http/operator.h>
#include <asyncore/json/json.h>
#include "test/support/testing.h"

using namespace asyncore;
using namespace asyncore::http;
using namespace std::chrono_literals;
using testing::Client;
using testing::eventually;

namespace {

// An HttpServer on 127.0.0.1:<ephemeral> served by its own loop on a thread.
class TestServer {
 public:
  explicit TestServer(Router router, HttpServerOptions options = {}) {
    server_ = make<HttpServer>(Address::parse("127.0.0.1:0"), std::move(router), std::move(options), &map_);
    port_ = server_->address().port();
    thread_ = std::thread([this] { map_.run(); });
    on_loop([] { return 0; });  // the loop runs: a stop() from here on cannot be lost
  }
  ~TestServer() {
    map_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  ChannelMap& map() { return map_; }
  std::string url(std::string_view path) const { return "http://127.0.0.1:" + std::to_string(port_) + std::string(path); }

  // Runs f on the loop's thread and returns what it returns.
  template <class F>
  auto on_loop(F f) -> decltype(f()) {
    std::promise<decltype(f())> result;
    auto future = result.get_future();
    map_.call_soon_threadsafe([&] { result.set_value(f()); });
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    return future.get();
  }
  size_t connections() { return on_loop([this] { return server_->connection_count(); }); }
  size_t refused(Refusal reason) { return on_loop([this, reason] { return server_->limits().refused(reason); }); }

 private:
  ChannelMap map_;
  std::shared_ptr<HttpServer> server_;
  int port_ = 0;
  std::thread thread_;
};

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// Reads one response (Content-Length framed) from a raw client.
Reply read_reply(Client& client, bool head_request = false) {
  std::string head = client.recv_until("\r\n\r\n");
  Reply reply;
  REQUIRE(head.starts_with("HTTP/1.1 "));
  reply.status = std::stoi(head.substr(9, 3));
  size_t pos = head.find("\r\n") + 2;
  while (pos < head.size() - 2) {
    size_t end = head.find("\r\n", pos);
    std::string line = head.substr(pos, end - pos);
    size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = line.substr(colon + 2);
    pos = end + 2;
  }
  if (!head_request && reply.headers.count("content-length")) {
    reply.body = client.recv_exact(std::stoul(reply.headers["content-length"]));
  }
  return reply;
}

std::string get(std::string_view path, std::string_view extra = {}) {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) + "\r\n";
}

// Runs curl; its stdout comes back line by line, each line ending in '\n'.
testing::RunResult curl(std::vector<std::string> args) {
  std::vector<std::string> argv{"curl", "-sS", "--max-time", "20"};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::run(argv, testing::Seconds(30));
}

struct Fetched {
  int code = -1;   // curl's exit code
  std::string head;  // the response head as received
  std::string body;  // byte for byte
};

std::string read_file(const std::string& path) {
  std::string out;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    char buffer[65536];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) out.append(buffer, n);
    std::fclose(f);
  }
  return out;
}

// curl with the head and body saved to files, so the body comes back exactly.
Fetched fetch(std::vector<std::string> args) {
  testing::TempDir dir;
  args.insert(args.begin(), {"-D", dir.file("head"), "-o", dir.file("body")});
  Fetched f;
  f.code = curl(args).code;
  f.head = read_file(dir.file("head"));
  f.body = read_file(dir.file("body"));
  return f;
}

Router demo_router() {
  Router router;
  router.get("/hello", [](const Request&) { return Response::json(R"({"hello":"world"})"); });
  router.post("/echo", [](Request& r) {
    return Response::json(json::Object{{"size", r.body().size()},
                                       {"body", r.body()},
                                       {"type", std::string(r.header("content-type"))},
                                       {"expect", std::string(r.header("expect"))},
                                       {"chunked", r.header("transfer-encoding") == "chunked"}});
  });
  router.get("/devices/:imei/commands", [](const Request& r) {
    return Response::json(json::Object{{"imei", std::string(r.param("imei"))}, {"mode", r.query_or("mode", "none")}});
  });
  router.get("/boom", [](const Request&) -> Response { throw std::runtime_error("handler failure"); });
  router.static_page("/page", "<h1>page</h1>", "text/html; charset=utf-8");
  return router;
}

}  // namespace

TEST_CASE("curl: GET and POST JSON, route parameters and a decoded query") {
  TestServer server(demo_router());
  auto hello = fetch({server.url("/hello")});
  REQUIRE(hello.code == 0);
  CHECK(hello.head.find("HTTP/1.1 200 OK\r\n") == 0);
  CHECK(hello.head.find("\r\nContent-Type: application/json\r\n") != std::string::npos);
  CHECK(hello.head.find("\r\nContent-Length: 17\r\n") != std::string::npos);
  CHECK(hello.head.find("\r\nDate: ") != std::string::npos);
  CHECK(hello.body == R"({"hello":"world"})");

  auto posted = fetch({"-H", "Content-Type: application/json", "--data-binary", R"({"cmd":"reboot"})", server.url("/echo")});
  REQUIRE(posted.code == 0);
  json::Value echoed = json::parse(posted.body);
  CHECK(echoed["body"].as_string() == R"({"cmd":"reboot"})");
  CHECK(echoed["type"].as_string() == "application/json");

  auto params = fetch({server.url("/devices/8612%2034/commands?mode=fast%20now&x=1")});
  REQUIRE(params.code == 0);
  CHECK(json::parse(params.body) == json::Value(json::Object{{"imei", "8612 34"}, {"mode", "fast now"}}));

  auto page = fetch({server.url("/page")});
  CHECK(page.head.find("Content-Type: text/html; charset=utf-8\r\n") != std::string::npos);
  CHECK(page.body == "<h1>page</h1>");
  CHECK(curl({"-o", "/dev/null", "-w", "%{http_code}\n", server.url("/missing")}).out == "404\n");
}

TEST_CASE("curl: a chunked upload and Expect: 100-continue") {
  TestServer server(demo_router());
  testing::TempDir dir;
  std::string data;
  for (int i = 0; data.size() < 100000; ++i) data += "line " + std::to_string(i) + "\n";
  {
    FILE* f = std::fopen(dir.file("data").c_str(), "wb");
    REQUIRE(f);
    std::fwrite(data.data(), 1, data.size(), f);
    std::fclose(f);
  }
  auto chunked = fetch({"-H", "Transfer-Encoding: chunked", "--data-binary", "@" + dir.file("data"), server.url("/echo")});
  REQUIRE(chunked.code == 0);
  json::Value got = json::parse(chunked.body);
  CHECK(got["chunked"].as_bool());
  CHECK(got["size"].as_int() == static_cast<int64_t>(data.size()));
  CHECK(got["body"].as_string() == data);

  // curl asks for 100-continue for bodies over 1 KiB; with a long expect timeout, a quick answer
  // shows the server sent "100 Continue" instead of letting curl wait it out.
  auto start = std::chrono::steady_clock::now();
  auto expect = fetch({"--expect100-timeout", "8", "-H", "Expect: 100-continue", "--data-binary",
                       "@" + dir.file("data"), server.url("/echo")});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE(expect.code == 0);
  CHECK(expect.head.find("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n") == 0);
  json::Value expected = json::parse(expect.body);
  CHECK(expected["expect"].as_string() == "100-continue");
  CHECK(expected["size"].as_int() == static_cast<int64_t>(data.size()));
  CHECK(seconds < 6);
}

TEST_CASE("curl: two URLs in one command reuse the keep-alive connection") {
  TestServer server(demo_router());
  auto both = curl({"-o", "/dev/null", "-o", "/dev/null", "-w", "%{num_connects}\n", server.url("/hello"),
                    server.url("/devices/1/commands")});
  REQUIRE(both.code == 0);
  CHECK(both.out == "1\n0\n");
}

TEST_CASE("HEAD, 405 with Allow, handler exceptions and HTTP/1.0 keep-alive on raw connections") {
  TestServer server(demo_router());
  Client c(server.port());
  c.send_all("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  Reply head = read_reply(c, true);
  CHECK(head.status == 200);
  CHECK(head.header("content-length") == "17");
  c.send_all("POST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  Reply refused = read_reply(c);  // also shows the HEAD answer carried no body
  CHECK(refused.status == 405);
  CHECK(refused.header("allow") == "GET, HEAD");
  c.send_all(get("/boom"));
  Reply boom = read_reply(c);
  CHECK(boom.status == 500);
  CHECK(boom.header("connection").empty());  // a failing handler does not cost the connection
  c.send_all(get("/hello"));
  CHECK(read_reply(c).body == R"({"hello":"world"})");

  Client old(server.port());
  old.send_all("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  Reply kept = read_reply(old);
  CHECK(kept.header("connection") == "keep-alive");
  old.send_all("GET /hello HTTP/1.0\r\n\r\n");
  Reply last = read_reply(old);
  CHECK(last.header("connection") == "close");
  CHECK(old.wait_closed(5s));
}

TEST_CASE("each limit is refused with its status and a closed connection; others keep working") {
  HttpServerOptions options;
  options.limits.max_head_bytes = 4096;
  options.limits.max_body_bytes = 64 * 1024;
  options.header_timeout = 0.4;
  TestServer server(demo_router(), options);
  Client bystander(server.port());
  bystander.send_all(get("/hello"));
  CHECK(read_reply(bystander).status == 200);

  struct Case {
    std::string name;
    std::string request;
    int status;
  };
  const Case cases[] = {
      {"smuggling", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"bad chunk", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", 400},
      {"folding", "GET /hello HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", 400},
      {"large head", "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(20000, 'x') + "\r\n\r\n", 431},
      {"large body", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 90000000\r\n\r\n" + std::string(16000000, 'b'), 413},
      {"slow head", "GET /hello HTTP/1.1\r\nHost: t\r\n", 408},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Client bad(server.port());
    bad.send_all(c.request);
    Reply reply = read_reply(bad);
    CHECK(reply.status == c.status);
    CHECK(reply.header("connection") == "close");
    CHECK(bad.wait_closed(5s));
    bystander.send_all(get("/hello"));
    CHECK(read_reply(bystander).body == R"({"hello":"world"})");
  }
  CHECK(eventually([&] { return server.connections() == 1; }, 5s));
}

TEST_CASE("pipelined requests are answered in order, an asynchronous one holding back later ones") {
  Router router = demo_router();
  ChannelMap* loop = nullptr;  // set once the server exists; handlers run only after that
  router.get("/slow/:n", [&](const Request& r, Responder responder) {
    auto shared = std::make_shared<Responder>(std::move(responder));
    loop->call_later(0.2, [shared, n = std::string(r.param("n"))] { shared->send(Response::text("slow " + n)); });
  });
  TestServer server(std::move(router));
  loop = &server.map();

  Client c(server.port());
  c.send_all(get("/slow/1") + get("/devices/a/commands") + "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n" + get("/slow/2") +
             get("/devices/b/commands?mode=m"));
  CHECK(read_reply(c).body == "slow 1");
  CHECK(read_reply(c).body == R"({"imei":"a","mode":"none"})");
  Reply head = read_reply(c, true);
  CHECK(head.header("content-length") == "17");
  CHECK(read_reply(c).body == "slow 2");
  CHECK(read_reply(c).body == R"({"imei":"b","mode":"m"})");

  // The same, with the requests arriving a byte at a time.
  Client slow(server.port());
  std::string requests = get("/slow/3") + get("/hello");
  for (char ch : requests) slow.send_all(std::string(1, ch));
  CHECK(read_reply(slow).body == "slow 3");
  CHECK(read_reply(slow).body == R"({"hello":"world"})");
}

TEST_CASE("asynchronous answers ready out of order go out in order: a later one waits, the first goes straight out") {
  Router router = demo_router();
  ChannelMap* loop = nullptr;  // set once the server exists; handlers run only after that
  router.get("/after/:ms", [&](const Request& r, Responder responder) {
    auto shared = std::make_shared<Responder>(std::move(responder));
    const std::string ms(r.param("ms"));
    loop->call_later(std::stod(ms) / 1000, [shared, ms] { shared->send(Response::text("after " + ms)); });
  });
  TestServer server(std::move(router));
  loop = &server.map();

  Client c(server.port());
  c.send_all(get("/after/300") + get("/after/20") + get("/hello") + get("/after/100"));
  CHECK(read_reply(c).body == "after 300");
  CHECK(read_reply(c).body == "after 20");
  CHECK(read_reply(c).body == R"({"hello":"world"})");
  CHECK(read_reply(c).body == "after 100");
  c.send_all(get("/after/10"));  // and on the same connection once all are out
  CHECK(read_reply(c).body == "after 10");
}

TEST_CASE("an asynchronous handler whose client vanished learns of it, and answering is a no-op") {
  Router router = demo_router();
  std::shared_ptr<Responder> kept;  // touched on the loop's thread only
  std::atomic<bool> told{false};
  router.get("/wait", [&](const Request&, Responder responder) {
    kept = std::make_shared<Responder>(std::move(responder));
    kept->on_client_gone([&] { told = true; });
  });
  router.get("/forget", [](const Request&, Responder) {});  // drops it: 500
  TestServer server(std::move(router));

  {
    Client c(server.port());
    c.send_all(get("/wait"));
    REQUIRE(eventually([&] { return server.on_loop([&] { return kept != nullptr; }); }, 5s));
    CHECK_FALSE(server.on_loop([&] { return kept->client_gone(); }));
    c.reset();
  }
  CHECK(eventually([&] { return told.load(); }, 5s));
  CHECK(server.on_loop([&] {
    kept->send(Response::text("too late"));  // harmless
    return kept->client_gone();
  }));
  CHECK(eventually([&] { return server.connections() == 0; }, 5s));

  Client c(server.port());
  c.send_all(get("/forget") + get("/hello"));
  CHECK(read_reply(c).status == 500);
  CHECK(read_reply(c).status == 200);
}

TEST_CASE("keep-alive idle timeout and max requests per connection") {
  HttpServerOptions options;
  options.idle_timeout = 0.3;
  options.max_requests_per_connection = 2;
  TestServer server(demo_router(), options);
  Client idle(server.port());
  idle.send_all(get("/hello"));
  CHECK(read_reply(idle).status == 200);
  auto start = std::chrono::steady_clock::now();
  CHECK(idle.wait_closed(5s));
  CHECK(std::chrono::steady_clock::now() - start >= 200ms);

  Client limited(server.port());
  limited.send_all(get("/hello") + get("/hello") + get("/hello"));
  CHECK(read_reply(limited).header("connection").empty());
  CHECK(read_reply(limited).header("connection") == "close");
  CHECK(limited.wait_closed(5s));  // the third request is not answered
}

TEST_CASE("output is bounded: a client that does not read pauses the server's reading") {
  HttpServerOptions options;
  options.output.high_water = 512 * 1024;
  options.output.low_water = 128 * 1024;
  options.output.max_output = 2 * 1024 * 1024;  // far below what 40 answers take
  Router router;
  const std::string big(256 * 1024, 'z');
  router.get("/big", [&](const Request&) { return Response::text(big); });
  TestServer server(std::move(router), options);
  Client c(server.port());
  std::string requests;
  for (int i = 0; i < 40; ++i) requests += get("/big");
  c.send_all(requests);
  std::this_thread::sleep_for(300ms);  // the server fills its queue and must stop reading
  for (int i = 0; i < 40; ++i) {
    CAPTURE(i);
    Reply r = read_reply(c);
    REQUIRE(r.body.size() == big.size());
  }
}

TEST_CASE("a bearer-token guard protects an admin API") {
  Router router = demo_router();
  router.guard(bearer_token_guard("tok"));
  TestServer server(std::move(router));
  auto refused = fetch({server.url("/hello")});
  CHECK(refused.head.find("HTTP/1.1 401 Unauthorized\r\n") == 0);
  CHECK(refused.head.find("\r\nWWW-Authenticate: Bearer\r\n") != std::string::npos);
  auto allowed = fetch({"-H", "Authorization: Bearer tok", server.url("/hello")});
  CHECK(allowed.body == R"({"hello":"world"})");
}

TEST_CASE("max_connections and max_per_peer close extra connections at accept; admitted ones keep working") {
  HttpServerOptions options;
  options.max_connections = 3;
  options.max_per_peer = 2;
  TestServer server(demo_router(), options);
  Client a1(server.port(), "127.0.0.1", "127.0.0.1");
  Client a2(server.port(), "127.0.0.1", "127.0.0.1");
  Client a3(server.port(), "127.0.0.1", "127.0.0.1");  // a third from the same host
  CHECK(a3.wait_closed(5s));
  CHECK(server.refused(Refusal::max_per_peer) == 1);

  Client b1(server.port(), "127.0.0.1", "127.0.0.2");
  b1.send_all(get("/hello"));
  CHECK(read_reply(b1).status == 200);
  Client c1(server.port(), "127.0.0.1", "127.0.0.3");  // a fourth in all
  CHECK(c1.wait_closed(5s));
  CHECK(server.refused(Refusal::max_connections) == 1);

  for (Client* admitted : {&a1, &a2, &b1}) {
    admitted->send_all(get("/hello"));
    CHECK(read_reply(*admitted).body == R"({"hello":"world"})");
  }
  CHECK(server.connections() == 3);

  // Once one goes, a newcomer gets in.
  a1.close();
  REQUIRE(eventually([&] { return server.connections() == 2; }, 5s));
  Client c2(server.port(), "127.0.0.1", "127.0.0.3");
  c2.send_all(get("/hello"));
  CHECK(read_reply(c2).status == 200);
  CHECK(server.refused(Refusal::max_connections) == 1);
  CHECK(server.refused(Refusal::max_per_peer) == 1);
}

TEST_CASE("slowloris: a head trickled a byte at a time is cut off by header_timeout and blocks no one") {
  HttpServerOptions options;
  options.header_timeout = 1.0;
  TestServer server(demo_router(), options);
  Client bystander(server.port());
  const std::string head = get("/hello", "X-Padding: " + std::string(80, 'p') + "\r\n");
  Client slow(server.port());
  size_t sent = 0;
  std::string answer;
  int bystander_answers = 0;
  // One byte every 0.1 s would take 10 s for the whole head; the server must not wait that long.
  while (sent < head.size() && answer.empty()) {
    try {
      slow.send_all(head.substr(sent, 1));
      ++sent;
    } catch (const std::exception&) {
      break;  // the server closed it
    }
    try {
      answer = slow.recv_some(4096, 100ms);
    } catch (const std::exception&) {
      // nothing yet
    }
    if (sent % 5 == 0) {
      bystander.send_all(get("/hello"));
      bystander_answers += read_reply(bystander).status == 200;
    }
  }
  INFO("sent " << sent << " of " << head.size() << " bytes");
  CHECK(sent < head.size());
  if (answer.empty()) answer = slow.recv_some(4096, 5s);
  CHECK(answer.starts_with("HTTP/1.1 408 "));
  CHECK(slow.wait_closed(5s));
  CHECK(bystander_answers == static_cast<int>(sent / 5));
  CHECK(bystander_answers >= 1);
}

TEST_CASE("a body trickled forever is cut off by the whole-body deadline (body_min_rate), and blocks no one") {
  HttpServerOptions options;
  options.body_timeout = 0.5;  // never reached between bytes: one goes every 0.2 s
  options.body_min_rate = 10;  // 0.5 s + 1 s per 10 bytes: at 5 bytes/s the deadline comes at ~1 s
  TestServer server(demo_router(), options);
  Client bystander(server.port());
  Client slow(server.port());
  slow.send_all("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n");
  std::string answer;
  int sent = 0, bystander_answers = 0;
  while (sent < 100 && answer.empty()) {
    try {
      slow.send_all("[");
      ++sent;
    } catch (const std::exception&) {
      break;  // the server closed it
    }
    try {
      answer = slow.recv_some(4096, 200ms);
    } catch (const std::exception&) {
      // nothing yet
    }
    bystander.send_all(get("/hello"));
    bystander_answers += read_reply(bystander).status == 200;
  }
  INFO("sent " << sent << " body bytes");
  CHECK(sent < 100);  // each byte used to re-arm body_timeout: it went on as long as the client liked
  if (answer.empty()) answer = slow.recv_some(4096, 5s);
  CHECK(answer.starts_with("HTTP/1.1 408 "));
  CHECK(answer.find("slower than 10 bytes/s") != std::string::npos);
  CHECK(slow.wait_closed(5s));
  CHECK(bystander_answers == sent);
}

TEST_CASE("operator routes: /health, /metrics with the program's and the process metrics; 404 and 405 are JSON") {
  Router router;
  add_operator_routes(router, [] { return std::string("# TYPE app_things_total counter\napp_things_total 7\n"); });
  TestServer server(std::move(router));

  testing::HttpResponse health = testing::http(server.port(), "GET", "/health");
  CHECK(health.status == 200);
  CHECK(health.body == R"({"status":"ok"})");

  testing::HttpResponse metrics = testing::http(server.port(), "GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.headers["content-type"].find("text/plain") == 0);
  CAPTURE(metrics.body);
  CHECK(metrics.body.find("# TYPE app_things_total counter\napp_things_total 7\n") == 0);  // the program's own come first
  std::map<std::string, double> values;
  std::istringstream lines(metrics.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    values[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  // Checked against what the kernel says of this very process.
  long pages = 0, resident_pages = 0;
  std::ifstream("/proc/self/statm") >> pages >> resident_pages;
  const double resident = static_cast<double>(resident_pages) * static_cast<double>(::sysconf(_SC_PAGESIZE));
  CHECK(values["process_resident_memory_bytes"] > resident / 2);
  CHECK(values["process_resident_memory_bytes"] < resident * 2);
  long fds = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++fds;
  CHECK(values["process_open_fds"] >= 3);
  CHECK(values["process_open_fds"] <= static_cast<double>(fds) + 4);  // the server's own sockets come and go
  CHECK(values["process_max_fds"] >= values["process_open_fds"]);
  CHECK(values.count("process_virtual_memory_bytes") == 1);
  CHECK(values["process_cpu_seconds_total"] >= 0);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(values["process_start_time_seconds"] <= now + 1);
  CHECK(values["process_start_time_seconds"] > now - 3600);  // this test process started moments ago

  testing::HttpResponse missing = testing::http(server.port(), "GET", "/no/such/path");
  CHECK(missing.status == 404);
  CHECK(missing.headers["content-type"].find("application/json") == 0);
  CHECK(json::parse(missing.body)["error"].as_string() == "no such path: /no/such/path");
  testing::HttpResponse wrong = testing::http(server.port(), "DELETE", "/health");
  CHECK(wrong.status == 405);
  CHECK(wrong.headers["allow"] == "GET, HEAD");
  CHECK(json::parse(wrong.body)["error"].as_string() == "DELETE is not allowed here; allowed: GET, HEAD");
}

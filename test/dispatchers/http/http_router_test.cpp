#include <asyncore/http/router.h>

#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include <asyncore/http/auth.h>
#include <asyncore/http/uri.h>
#include <asyncore/json/json.h>

using namespace asyncore::http;
namespace json = asyncore::json;

namespace {

// Runs a request through a router the way a connection does (without the asynchronous part).
Response answer(const Router& router, Request request) {
  auto lookup = router.find(request);
  if (lookup.kind == Router::Lookup::not_found) return Response::not_found();
  if (lookup.kind == Router::Lookup::wrong_method) return Response::error(405).set_header("Allow", lookup.allow);
  if (auto refusal = router.check_guards(request)) return *refusal;
  Response response;
  REQUIRE(lookup.route->sync);
  lookup.route->sync(request, response);
  return response;
}

// Records what a Responder delivers, standing in for a connection.
struct FakeSink : ResponseSink {
  bool waiting = true;
  std::optional<Response> got;
  std::function<void()> gone;
  void complete(uint64_t, Response&& response) override {
    got = std::move(response);
    waiting = false;
  }
  bool awaiting(uint64_t) const override { return waiting; }
  bool notify_gone(uint64_t, std::function<void()> callback) override {
    if (!waiting) return false;
    gone = std::move(callback);
    return true;
  }
};

}  // namespace

TEST_CASE("routes match literal segments and decoded parameters") {
  Router router;
  router.get("/devices/:imei/commands", [](const Request& r) { return Response::text("cmds of " + std::string(r.param("imei"))); });
  router.get("/devices/:imei", [](const Request& r, Response& out) { out = Response::text("dev " + std::string(r.param("imei"))); });
  router.get("/", [](const Request&) { return Response::text("root"); });
  router.get("/static/*file", [](const Request& r) { return Response::text("file " + std::string(r.param("file"))); });
  CHECK(answer(router, Request::make("GET", "/devices/86%2001/commands")).body == "cmds of 86 01");
  CHECK(answer(router, Request::make("GET", "/devices/42?x=1")).body == "dev 42");
  CHECK(answer(router, Request::make("GET", "/")).body == "root");
  CHECK(answer(router, Request::make("GET", "/static/css/a.css")).body == "file css/a.css");
  CHECK(answer(router, Request::make("GET", "/static/")).body == "file ");
  CHECK(answer(router, Request::make("GET", "/static")).status == 404);
  CHECK(answer(router, Request::make("GET", "/devices//commands")).status == 404);  // empty parameter
  CHECK(answer(router, Request::make("GET", "/devices/1/commands/extra")).status == 404);
  CHECK(answer(router, Request::make("GET", "/devices/1/")).status == 404);
  CHECK(answer(router, Request::make("GET", "/%64evices/7")).body == "dev 7");  // literals compare decoded
}

TEST_CASE("405 lists the allowed methods; GET routes answer HEAD") {
  Router router;
  router.get("/thing", [](const Request&) { return Response::text("got"); });
  router.post("/thing", [](const Request&) { return Response::text("posted"); });
  router.del("/thing/:id", [](const Request&) { return Response::no_content(); });
  Response refused = answer(router, Request::make("PUT", "/thing"));
  CHECK(refused.status == 405);
  CHECK(refused.header("Allow") == "GET, HEAD, POST");
  CHECK(answer(router, Request::make("HEAD", "/thing")).body == "got");
  CHECK(answer(router, Request::make("GET", "/thing/3")).header("allow") == "DELETE");
  CHECK(answer(router, Request::make("GET", "/other")).status == 404);
}

TEST_CASE("the route found is the first of the request's method; other methods' parameters do not leak into it") {
  Router router;
  router.get("/a/:x/events", [](const Request& r) { return Response::text("get " + std::string(r.param("x"))); });
  router.post("/a/:y/:z", [](const Request& r) {
    return Response::text("first " + std::string(r.param("y")) + std::string(r.param("z")) + "[" + std::string(r.param("x")) + "]");
  });
  router.post("/a/:w/commands", [](const Request&) { return Response::text("second"); });
  CHECK(answer(router, Request::make("POST", "/a/5/commands")).body == "first 5commands[]");
  CHECK(answer(router, Request::make("GET", "/a/6/events")).body == "get 6");
  CHECK(answer(router, Request::make("PUT", "/a/6/events")).header("Allow") == "GET, HEAD, POST");
}

TEST_CASE("bad patterns and duplicate routes are refused at setup") {
  Router router;
  auto handler = [](const Request&) { return Response::text(""); };
  CHECK_THROWS_AS(router.get("no-slash", handler), std::invalid_argument);
  CHECK_THROWS_AS(router.get("/a/:", handler), std::invalid_argument);
  CHECK_THROWS_AS(router.get("/a/*rest/b", handler), std::invalid_argument);
  CHECK_THROWS_AS(router.get("/a/:x/:x", handler), std::invalid_argument);
  router.get("/a/:x", handler);
  CHECK_THROWS_WITH_AS(router.get("/a/:x", handler), "route GET /a/:x is already defined", std::invalid_argument);
  router.post("/a/:x", handler);  // another method is another route
}

TEST_CASE("asynchronous handlers are routed with their Responder") {
  Router router;
  std::optional<Responder> kept;
  router.post("/later", [&](Request&, Responder responder) { kept.emplace(std::move(responder)); });
  Request request = Request::make("POST", "/later");
  auto lookup = router.find(request);
  REQUIRE(lookup.route);
  CHECK_FALSE(lookup.route->sync);
  auto sink = std::make_shared<FakeSink>();
  lookup.route->async(request, Responder(sink, 1));
  REQUIRE(kept.has_value());
  CHECK_FALSE(kept->answered());
  kept->send(Response::json(json::Object{{"ok", true}}, 202));
  REQUIRE(sink->got.has_value());
  CHECK(sink->got->status == 202);
  CHECK(sink->got->body == R"({"ok":true})");
  CHECK_THROWS_AS(kept->send(Response::text("again")), std::logic_error);
}

TEST_CASE("Responder: a dropped one answers 500; a gone client makes sending a no-op and is told") {
  auto sink = std::make_shared<FakeSink>();
  { Responder forgotten(sink, 1); }
  REQUIRE(sink->got.has_value());
  CHECK(sink->got->status == 500);

  auto second = std::make_shared<FakeSink>();
  Responder responder(second, 2);
  bool told = false;
  responder.on_client_gone([&] { told = true; });
  CHECK_FALSE(responder.client_gone());
  second->waiting = false;  // the connection dropped this answer: the client went away
  second->gone();
  CHECK(told);
  CHECK(responder.client_gone());
  responder.send(Response::text("late"));
  CHECK_FALSE(second->got.has_value());

  Responder orphan(std::weak_ptr<ResponseSink>(), 3);  // its connection no longer exists
  bool told_at_once = false;
  orphan.on_client_gone([&] { told_at_once = true; });
  CHECK(told_at_once);
  CHECK(orphan.client_gone());
  orphan.send(Response::text("nobody"));
}

TEST_CASE("guards and bearer tokens") {
  Router router;
  router.guard(bearer_token_guard("s3cret"));
  router.get("/admin", [](const Request&) { return Response::text("in"); });
  Response none = answer(router, Request::make("GET", "/admin"));
  CHECK(none.status == 401);
  CHECK(none.header("WWW-Authenticate") == "Bearer");
  CHECK(none.body == R"({"error":"a bearer token is required"})");
  CHECK(answer(router, Request::make("GET", "/admin", {{"Authorization", "Bearer wrong"}})).status == 401);
  CHECK(answer(router, Request::make("GET", "/admin", {{"Authorization", "Bearer s3cre"}})).status == 401);
  CHECK(answer(router, Request::make("GET", "/admin", {{"Authorization", "Basic s3cret"}})).status == 401);
  CHECK(answer(router, Request::make("GET", "/admin", {{"authorization", "bearer s3cret"}})).body == "in");
  Router open;
  open.guard(bearer_token_guard(""));  // no token configured: no check
  open.get("/admin", [](const Request&) { return Response::text("in"); });
  CHECK(answer(open, Request::make("GET", "/admin")).body == "in");
}

TEST_CASE("static pages keep their content type") {
  Router router;
  router.static_page("/", "<h1>hi</h1>", "text/html; charset=utf-8");
  Response page = answer(router, Request::make("GET", "/"));
  CHECK(page.body == "<h1>hi</h1>");
  CHECK(page.content_type == "text/html; charset=utf-8");
}

TEST_CASE("Response helpers and headers") {
  CHECK(Response::json(json::Value("x")).body == "\"x\"");
  CHECK(Response::json(R"({"a":1})").body == R"({"a":1})");
  CHECK(Response::json(std::string("[1]"), 201).status == 201);
  CHECK(Response::json_error(409, "busy \"now\"").body == R"({"error":"busy \"now\""})");
  CHECK(Response::not_found("no device 7").body == "404 Not Found: no device 7\n");
  CHECK(Response::html("<p>").content_type == "text/html; charset=utf-8");
  Response r = Response::text("x");
  r.set_header("X-A", "1").set_header("x-a", "2").add_header("Set-Cookie", "a=1").add_header("Set-Cookie", "b=2");
  CHECK(r.header("X-A") == "2");
  CHECK(r.headers().size() == 3);
  r.set_header("Content-Type", "text/csv");
  CHECK(r.content_type == "text/csv");
  // The library's own types are constants, any other text is kept: both survive copies.
  const Response json_copy = Response::json("1");
  CHECK(json_copy.header("Content-Type") == "application/json");
  const Response csv_copy = r;
  CHECK(csv_copy.header("content-type") == "text/csv");
  CHECK(Response(200, "", "").content_type.empty());
  CHECK_THROWS_AS(r.set_header("Content-Length", "5"), std::invalid_argument);
  CHECK_THROWS_AS(r.set_header("Connection", "close"), std::invalid_argument);
  CHECK_THROWS_AS(r.set_header("X-Evil", "a\r\nInjected: 1"), std::invalid_argument);
  CHECK_THROWS_AS(r.set_header("Bad Name", "v"), std::invalid_argument);
}

TEST_CASE("append_response frames keep-alive, close, HEAD and bodiless statuses") {
  std::string out;
  append_response(out, Response::text("hello"), {}, "DATE");
  CHECK(out ==
        "HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello");
  out.clear();
  append_response(out, Response::text("hello"), ResponseFraming{true, false, false}, "DATE", "asyncore");
  CHECK(out ==
        "HTTP/1.1 200 OK\r\nDate: DATE\r\nServer: asyncore\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 5\r\nConnection: close\r\n\r\n");
  out.clear();
  append_response(out, Response::no_content(), ResponseFraming{false, true, true}, "DATE");
  CHECK(out == "HTTP/1.1 204 No Content\r\nDate: DATE\r\nConnection: keep-alive\r\n\r\n");
  out.clear();
  Response odd(299, "x");
  append_response(out, odd, {}, "D");
  CHECK(out.starts_with("HTTP/1.1 299 Unknown\r\n"));
}

TEST_CASE("percent decoding: runs copied whole, escapes and '+' (in queries) decoded, broken escapes kept") {
  CHECK(percent_decoded("/devices/861000000000001/commands") == "/devices/861000000000001/commands");
  CHECK(percent_decoded("a%41b%2fc") == "aAb/c");
  CHECK(percent_decoded("a+b%20c", true) == "a b c");
  CHECK(percent_decoded("a+b", false) == "a+b");
  CHECK(percent_decoded("100%") == "100%");
  CHECK(percent_decoded("%4") == "%4");
  CHECK(percent_decoded("%zz%41") == "%zzA");
  CHECK(percent_decoded("") == "");
  std::string out = "x";
  append_percent_decoded(out, "+%2B+", true);
  CHECK(out == "x + ");
}

#include <asyncore/http/parser.h>

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

using asyncore::http::HttpLimits;
using asyncore::http::HttpRequestParser;
using asyncore::http::Request;

namespace {

// Feeds `raw` in pieces of `step` bytes (0: whole); returns the bytes consumed by the first request.
size_t feed_in_steps(HttpRequestParser& parser, std::string_view raw, size_t step) {
  size_t used = 0;
  while (used < raw.size() && !parser.complete() && !parser.failed()) {
    size_t n = step == 0 ? raw.size() - used : std::min(step, raw.size() - used);
    size_t took = parser.feed(raw.substr(used, n));
    CHECK(took <= n);
    used += took;
    if (took < n) break;
  }
  return used;
}

HttpRequestParser parse_whole(std::string_view raw, HttpLimits limits = {}) {
  HttpRequestParser parser(limits);
  parser.feed(raw);
  return parser;
}

int refusal_status(std::string_view raw, HttpLimits limits = {}) {
  HttpRequestParser parser = parse_whole(raw, limits);
  if (!parser.failed()) return parser.complete() ? 200 : 0;
  CHECK_FALSE(parser.error().message.empty());
  return parser.error().status;
}

}  // namespace

TEST_CASE("a GET request: method, target, path, query, headers in any case") {
  auto parser = parse_whole("GET /devices/42%2F7/x?mode=fast&n=1 HTTP/1.1\r\nHost: example\r\nX-Thing:  spaced value \t\r\n\r\n");
  REQUIRE(parser.complete());
  const Request& r = parser.request();
  CHECK(r.method() == "GET");
  CHECK(r.target() == "/devices/42%2F7/x?mode=fast&n=1");
  CHECK(r.raw_path() == "/devices/42%2F7/x");
  CHECK(r.path() == "/devices/42/7/x");
  CHECK(r.raw_query() == "mode=fast&n=1");
  CHECK(r.query("mode") == "fast");
  CHECK(r.header("host") == "example");
  CHECK(r.header("x-THING") == "spaced value");
  CHECK(r.header("missing").empty());
  CHECK_FALSE(r.has_header("missing"));
  CHECK(r.header_count() == 2);
  CHECK(r.header_at(1).first == "X-Thing");
  CHECK(r.keep_alive());
  CHECK(r.version_minor() == 1);
  CHECK(r.body().empty());
}

TEST_CASE("query strings are decoded per pair, '+' as space, first match wins") {
  auto parser = parse_whole("GET /q?a=1&b=x%20y&c=a+b&d&a=2&e%26f=%3D HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(parser.complete());
  const Request& r = parser.request();
  CHECK(r.query("a") == "1");
  CHECK(r.query("b") == "x y");
  CHECK(r.query("c") == "a b");
  CHECK(r.query("d") == "");
  CHECK(r.query("e&f") == "=");
  CHECK_FALSE(r.query("zz").has_value());
  CHECK_FALSE(r.query("aa").has_value());  // longer than every name but the encoded one
  CHECK_FALSE(r.query("e&").has_value());
  CHECK(r.query_or("zz", "fallback") == "fallback");
  auto all = r.query_params();
  REQUIRE(all.size() == 6);
  CHECK(all[4].first == "a");
  CHECK(all[4].second == "2");
}

TEST_CASE("a query's escapes are told apart per part: the name's, the value's, and '=' inside a value") {
  auto parser = parse_whole("GET /q?x%3Dy=1&p=a=b&q=%41=c&r+s=t&u=v%2B HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(parser.complete());
  const Request& r = parser.request();
  CHECK(r.query("x=y") == "1");  // an escaped name, a plain value
  CHECK_FALSE(r.query("x%3Dy").has_value());
  CHECK(r.query("p") == "a=b");  // a second '=' is the value's
  CHECK(r.query("q") == "A=c");
  CHECK(r.query("r s") == "t");
  CHECK(r.query("u") == "v+");  // a plain name, an escaped value
}

TEST_CASE("keep-alive: HTTP/1.1 by default, HTTP/1.0 only when asked, Connection: close ends it") {
  CHECK(parse_whole("GET / HTTP/1.1\r\nHost: h\r\n\r\n").request().keep_alive());
  CHECK_FALSE(parse_whole("GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n").request().keep_alive());
  CHECK_FALSE(parse_whole("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade, close\r\n\r\n").request().keep_alive());
  CHECK_FALSE(parse_whole("GET / HTTP/1.0\r\n\r\n").request().keep_alive());
  auto ten = parse_whole("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  REQUIRE(ten.complete());
  CHECK(ten.request().keep_alive());
  CHECK(ten.request().version_minor() == 0);
}

TEST_CASE("a Content-Length body, fed in every split, gives the same request") {
  const std::string raw = "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world";
  for (size_t step : {0, 1, 2, 3, 7, 50}) {
    CAPTURE(step);
    HttpRequestParser parser;
    CHECK(feed_in_steps(parser, raw, step) == raw.size());
    REQUIRE(parser.complete());
    CHECK(parser.request().body() == "hello world");
    CHECK(parser.request().method() == "POST");
  }
}

TEST_CASE("a chunked body with extensions and trailers") {
  const std::string raw =
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n6\r\n world\r\nA \t;x\r\n0123456789\r\n0\r\nX-Checksum: abc\r\n\r\n";
  for (size_t step : {0, 1, 4, 13}) {
    CAPTURE(step);
    HttpRequestParser parser;
    CHECK(feed_in_steps(parser, raw, step) == raw.size());
    REQUIRE(parser.complete());
    CHECK(parser.request().body() == "hello world0123456789");
    CHECK(parser.request().trailer("x-checksum") == "abc");
    CHECK(parser.request().trailer_count() == 1);
    CHECK(parser.request().header("X-Checksum").empty());
  }
}

TEST_CASE("pipelined requests come out one at a time") {
  const std::string raw =
      "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
      "\r\nGET /three HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  HttpRequestParser parser;
  std::vector<std::string> seen;
  std::string_view rest = raw;
  while (!rest.empty()) {
    rest.remove_prefix(parser.feed(rest));
    REQUIRE(parser.complete());
    seen.push_back(std::string(parser.request().path()) + ":" + parser.request().body());
    CHECK(parser.feed(rest) == 0);  // nothing more until reset
    parser.reset();
  }
  CHECK(seen == std::vector<std::string>{"/one:", "/two:abc", "/three:"});
  CHECK(parser.idle());
}

TEST_CASE("reset forgets the previous request's fields") {
  HttpRequestParser parser;
  parser.feed("GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Old: 1\r\n\r\n");
  REQUIRE(parser.complete());
  parser.reset();
  parser.feed("GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(parser.complete());
  CHECK(parser.request().path() == "/b");
  CHECK_FALSE(parser.request().query("x").has_value());
  CHECK_FALSE(parser.request().has_header("X-Old"));
}

TEST_CASE("Expect: 100-continue is reported while the body is awaited") {
  HttpRequestParser parser;
  parser.feed("PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  CHECK(parser.reading_body());
  CHECK(parser.expects_continue());
  parser.feed("data");
  REQUIRE(parser.complete());
  CHECK_FALSE(parser.expects_continue());
  // HTTP/1.0 clients know no interim responses.
  HttpRequestParser old;
  old.feed("PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  CHECK_FALSE(old.expects_continue());
  CHECK(refusal_status("PUT /f HTTP/1.1\r\nHost: h\r\nExpect: magic\r\n\r\n") == 417);
}

TEST_CASE("progress states: idle, head, body") {
  HttpRequestParser parser;
  CHECK(parser.idle());
  parser.feed("GE");
  CHECK(parser.reading_head());
  parser.feed("T / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nx");
  CHECK(parser.reading_body());
  parser.feed("y");
  CHECK(parser.complete());
}

TEST_CASE("empty lines before a request line are skipped; absolute-form targets give their path") {
  auto parser = parse_whole("\r\n\r\nGET http://example.com:8080/p/q?z=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
  REQUIRE(parser.complete());
  CHECK(parser.request().path() == "/p/q");
  CHECK(parser.request().query("z") == "1");
  auto bare = parse_whole("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
  REQUIRE(bare.complete());
  CHECK(bare.request().path() == "/");
  CHECK(refusal_status("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n") == 200);
  CHECK(refusal_status("GET * HTTP/1.1\r\nHost: h\r\n\r\n") == 400);
}

TEST_CASE("request smuggling shapes are refused with 400") {
  const char* cases[] = {
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x3\r\n\r\nabc",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\tfolded\r\n\r\n",
      "POST / HTTP/1.1\nHost: h\n\n",
      "POST / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n",
      "GET / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
      "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
      "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n",
      "G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET /x?a=%4 HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET relative HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET / HTTP/1.x\r\nHost: h\r\n\r\n",
      "GET / http/1.1\r\nHost: h\r\n\r\n",
      "GET / HTTP/1.1\r\n: empty-name\r\n\r\n",
      "GET / HTTP/1.1\r\nno colon\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n",
  };
  for (const char* raw : cases) {
    CAPTURE(raw);
    CHECK(refusal_status(raw) == 400);
  }
}

TEST_CASE("bad chunk framing is refused with 400") {
  const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  const char* bodies[] = {
      "zz\r\n",                    // not hex
      "-1\r\n",                    // sign
      "0x5\r\nhello\r\n0\r\n\r\n", // prefix
      "5 \r\nhello\r\n0\r\n\r\n",  // trailing whitespace without an extension
      "\r\n",                      // empty size
      "5\nhello\r\n0\r\n\r\n",     // bare LF
      "5\r\nhelloXY0\r\n\r\n",     // data not followed by CRLF
      "5\r\nhello\n0\r\n\r\n",     // data followed by a bare LF
      "10000000000000000\r\n",     // 17 hex digits
      "5;a\x01\r\nhello\r\n0\r\n\r\n",  // control character in an extension
  };
  for (const char* body : bodies) {
    CAPTURE(body);
    CHECK(refusal_status(head + body) == 400);
  }
}

TEST_CASE("limits: 431 for a large head or too many fields, 414 for a long line, 413 for a large body") {
  HttpLimits limits;
  limits.max_head_bytes = 256;
  limits.max_headers = 5;
  limits.max_body_bytes = 100;
  CHECK(refusal_status("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(300, 'a') + "\r\n\r\n", limits) == 431);
  CHECK(refusal_status("GET /" + std::string(300, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", limits) == 414);
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 6; ++i) many += "X" + std::to_string(i) + ": v\r\n";
  CHECK(refusal_status(many + "\r\n", limits) == 431);
  CHECK(refusal_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n", limits) == 413);
  CHECK(refusal_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'b'), limits) == 200);
  CHECK(refusal_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n50\r\n" + std::string(80, 'c') +
                           "\r\n20\r\n",
                       limits) == 413);
  CHECK(refusal_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", limits) == 400);
  // Trailers count against the head limit as well.
  CHECK(refusal_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " + std::string(300, 't') +
                           "\r\n\r\n",
                       limits) == 431);
}

TEST_CASE("other refusals: 505 for another HTTP version, 501 for an unknown transfer coding") {
  CHECK(refusal_status("GET / HTTP/2.0\r\nHost: h\r\n\r\n") == 505);
  CHECK(refusal_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n") == 501);
}

TEST_CASE("error messages name what was wrong and where") {
  auto parser = parse_whole("GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n");
  REQUIRE(parser.failed());
  CHECK(parser.error().message.find("header line 3") != std::string::npos);
  auto fold = parse_whole("GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n c\r\n\r\n");
  CHECK(fold.error().message.find("folding") != std::string::npos);
  auto both = parse_whole("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
  CHECK(both.error().message.find("both Content-Length and Transfer-Encoding") != std::string::npos);
  auto chunk = parse_whole("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nq\r\n");
  CHECK(chunk.error().message.find("chunk 2") != std::string::npos);
}

TEST_CASE("Request::make builds a request for handler tests") {
  Request r = Request::make("POST", "/a%20b?k=v", {{"Content-Type", "text/plain"}}, "body");
  CHECK(r.method() == "POST");
  CHECK(r.path() == "/a b");
  CHECK(r.query("k") == "v");
  CHECK(r.header("content-type") == "text/plain");
  CHECK(r.body() == "body");
  Request copy = r;  // a plain value: the copy stands alone
  r = Request::make("GET", "/other");
  CHECK(copy.header("Content-Type") == "text/plain");
  CHECK(copy.path() == "/a b");
  CHECK_THROWS_AS(Request::make("GET", "/%zz"), std::invalid_argument);
}

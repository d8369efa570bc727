// redis::Client against a real redis-server that each test starts for itself (test/support/
// redis_server.h): a Unix socket in a temporary folder, or a free loopback port.
#include <asyncore/redis/client.h>

#include <doctest/doctest.h>
#include <sys/socket.h>

#include <fstream>
#include <string>
#include <vector>

#include <asyncore/channel_map.h>
#include <asyncore/fd.h>
#include "test/dispatchers/loop_helpers.h"
#include "test/support/redis_server.h"

using namespace asyncore::redis;
using asyncore::ChannelMap;
using dispatcher_tests::run_until;
using testing::RedisServer;

namespace {

ClientOptions options_for(const std::string& address, Protocol protocol = Protocol::resp3) {
  ClientOptions options;
  options.address = address;
  options.protocol = protocol;
  options.backoff = {.initial_delay = 0.02, .factor = 1.5, .jitter = 0, .max_delay = 0.1};
  return options;
}

// One command, waited for (bounded).
Result call(ChannelMap& map, Client& client, std::initializer_list<std::string_view> args, double timeout = -1) {
  std::optional<Result> out;
  client.command(args, [&](Result& r) { out = std::move(r); }, timeout);
  REQUIRE(run_until(map, [&] { return out.has_value(); }));
  return std::move(*out);
}

std::string info_field(const RedisServer& server, const std::string& section, const std::string& field) {
  const std::string text = server.command({"INFO", section}).str;
  const size_t at = text.find(field + ":");
  if (at == std::string::npos) return "";
  const size_t start = at + field.size() + 1;
  return text.substr(start, text.find("\r\n", start) - start);
}

}  // namespace

TEST_CASE("pipelined commands are answered in order, in RESP3 and in RESP2") {
  RedisServer server;
  for (Protocol protocol : {Protocol::resp3, Protocol::resp2}) {
    CAPTURE(protocol == Protocol::resp3);
    ChannelMap map;
    Client client(options_for(server.address(), protocol), &map);
    client.start();
    // Given before the connection exists: held, then sent in order.
    std::vector<int64_t> seen;
    const std::string key = protocol == Protocol::resp3 ? "counter3" : "counter2";
    for (int i = 0; i < 1000; ++i) {
      REQUIRE(client.command({"INCR", key}, [&](Result& r) {
        CHECK(r.ok());
        seen.push_back(r.reply.integer);
      }));
    }
    REQUIRE(run_until(map, [&] { return seen.size() == 1000; }));
    for (int i = 0; i < 1000; ++i) REQUIRE(seen[static_cast<size_t>(i)] == i + 1);
    call(map, client, {"HSET", "h" + key, "f", "v"});
    Result hash = call(map, client, {"HGETALL", "h" + key});
    CHECK(hash.reply.type == (protocol == Protocol::resp3 ? Type::map : Type::array));
    CHECK(hash.reply.to_string().find("f") != std::string::npos);
    Result error = call(map, client, {"INCR", "h" + key});
    CHECK(error.outcome == Outcome::reply);
    CHECK_FALSE(error.ok());
    CHECK(error.error_text().find("WRONGTYPE") == 0);
    CHECK(client.stats().connects == 1);
    CHECK(client.in_flight() == 0);
  }
}

TEST_CASE("a TCP address works like a Unix one") {
  RedisServer server({.tcp = true, .extra_args = {}});
  ChannelMap map;
  Client client(options_for(server.tcp_address()), &map);
  client.start();
  CHECK(call(map, client, {"SET", "k", "over tcp"}).ok());
  CHECK(call(map, client, {"GET", "k"}).reply.str == "over tcp");
  CHECK_THROWS_WITH(resolve_endpoint("localhost"), doctest::Contains("expected host:port or unix:/path"));
  CHECK_THROWS_WITH(resolve_endpoint("127.0.0.1:99999"), doctest::Contains("bad port"));
}

TEST_CASE("AUTH from a password file and SETNAME at connect; commands wait until they worked") {
  RedisServer server({.tcp = false, .extra_args = {"--requirepass", "s3cret pass"}});
  for (Protocol protocol : {Protocol::resp3, Protocol::resp2}) {
    CAPTURE(protocol == Protocol::resp3);
    ChannelMap map;
    ClientOptions options = options_for(server.address(), protocol);
    options.password_file = server.dir().file("password");
    std::ofstream(options.password_file) << "s3cret pass\n";
    options.client_name = "tester";
    Client client(options, &map);
    client.start();
    CHECK(client.state() == State::connecting);
    Result name = call(map, client, {"CLIENT", "GETNAME"});
    CHECK(name.reply.str == "tester");
    CHECK(client.stats().connects == 1);
  }
  // A wrong password: every attempt fails with the server's words, commands stay held and then
  // time out as never sent.
  ChannelMap map;
  ClientOptions options = options_for(server.address());
  options.password_file = server.dir().file("wrong");
  std::ofstream(options.password_file) << "nope\n";
  options.command_timeout = 0.5;
  Client client(options, &map);
  std::vector<std::string> reasons;
  client.on_disconnect = [&](const std::string& why) { reasons.push_back(why); };
  client.start();
  Result held = call(map, client, {"PING"});
  CHECK(held.outcome == Outcome::not_run);
  CHECK(held.error.find("did not run") != std::string::npos);
  REQUIRE_FALSE(reasons.empty());
  CHECK(reasons[0].find("HELLO 3 failed: WRONGPASS") != std::string::npos);
  CHECK(reasons[0].find("nope") == std::string::npos);
  // A missing file is a clear error too.
  ClientOptions missing = options_for(server.address());
  missing.password_file = server.dir().file("absent");
  Client other(missing, &map);
  std::string why;
  other.on_disconnect = [&](const std::string& w) { why = w; };
  other.start();
  REQUIRE(run_until(map, [&] { return !why.empty(); }));
  CHECK(why.find("cannot read the password file") != std::string::npos);
}

TEST_CASE("kill -9 of Redis: in-flight commands fail as may-have-run, are never resent, and the client reconnects") {
  RedisServer server({.tcp = false, .extra_args = {"--appendonly", "yes", "--appendfsync", "always"}});
  ChannelMap map;
  Client client(options_for(server.address()), &map);
  client.start();
  REQUIRE(call(map, client, {"INCR", "n"}).reply.integer == 1);
  std::vector<Result> results;
  client.command({"DEBUG", "SLEEP", "5"}, [&](Result& r) { results.push_back(std::move(r)); });
  client.command({"INCR", "n"}, [&](Result& r) { results.push_back(std::move(r)); });
  // Both are written at the next pass; Redis sleeps on the first.
  for (int i = 0; i < 3; ++i) map.poll_once(0.01);
  CHECK(client.in_flight() == 2);
  server.kill9();
  REQUIRE(run_until(map, [&] { return results.size() == 2; }));
  for (const Result& r : results) {
    CHECK(r.outcome == Outcome::unknown);
    CHECK(r.error.find("may or may not have run") != std::string::npos);
  }
  CHECK(client.state() != State::ready);
  // Held while Redis is away, sent once it is back.
  std::optional<Result> later;
  client.command({"GET", "n"}, [&](Result& r) { later = std::move(r); });
  server.restart();
  REQUIRE(run_until(map, [&] { return later.has_value(); }));
  CHECK(later->reply.str == "1");  // the second INCR was not sent again
  CHECK(client.stats().connects == 2);
  CHECK(client.stats().disconnects >= 1);
}

TEST_CASE("DEBUG SLEEP: a command past its timeout fails at once, its late reply is dropped, the pipeline stays matched") {
  RedisServer server;
  ChannelMap map;
  ClientOptions options = options_for(server.address());
  options.command_timeout = 0.3;
  Client client(options, &map);
  client.start();
  REQUIRE(call(map, client, {"SET", "k", "before"}).ok());
  std::optional<Result> sleep, get;
  client.command({"DEBUG", "SLEEP", "1.5"}, [&](Result& r) { sleep = std::move(r); }, 10);
  client.command({"GET", "k"}, [&](Result& r) { get = std::move(r); });
  REQUIRE(run_until(map, [&] { return get.has_value(); }, 5));
  CHECK_FALSE(sleep.has_value());  // its own, longer, timeout
  CHECK(get->outcome == Outcome::unknown);
  CHECK(get->error.find("timed out waiting for the reply: the command may or may not have run") != std::string::npos);
  REQUIRE(run_until(map, [&] { return sleep.has_value(); }, 5));
  CHECK(sleep->ok());
  // The GET's reply arrived after the sleep and was dropped: the next replies are the right ones.
  CHECK(call(map, client, {"SET", "k", "after"}, 5).reply.str == "OK");
  CHECK(call(map, client, {"GET", "k"}, 5).reply.str == "after");
  CHECK(client.stats().timeouts == 1);
  CHECK(client.stats().connects == 1);
}

TEST_CASE("CLIENT KILL: the client notices, reconnects, and the next commands work") {
  RedisServer server;
  ChannelMap map;
  ClientOptions options = options_for(server.address());
  options.client_name = "victim";
  Client client(options, &map);
  int readies = 0;
  client.on_ready = [&] { ++readies; };
  client.start();
  const int64_t id = call(map, client, {"CLIENT", "ID"}).reply.integer;
  CHECK(server.command({"CLIENT", "KILL", "ID", std::to_string(id)}).integer == 1);
  REQUIRE(run_until(map, [&] { return readies == 2; }));
  CHECK(call(map, client, {"CLIENT", "GETNAME"}).reply.str == "victim");
  CHECK(call(map, client, {"CLIENT", "ID"}).reply.integer != id);
}

TEST_CASE("pub/sub: messages arrive, and after CLIENT KILL or a Redis restart the subscriptions come back") {
  RedisServer server;
  for (Protocol protocol : {Protocol::resp3, Protocol::resp2}) {
    CAPTURE(protocol == Protocol::resp3);
    ChannelMap map;
    ClientOptions sub_options = options_for(server.address(), protocol);
    sub_options.kind = Kind::pubsub;
    Client subscriber(sub_options, &map);
    Client publisher(options_for(server.address()), &map);
    std::vector<std::string> got;
    subscriber.on_message = [&](const Message& m) {
      got.push_back(std::string(m.pattern) + "|" + std::string(m.channel) + "|" + std::string(m.payload));
    };
    subscriber.subscribe("news");
    subscriber.psubscribe("dev.*");
    subscriber.start();
    publisher.start();
    REQUIRE(run_until(map, [&] { return subscriber.subscriptions_confirmed() == 2; }));
    CHECK(call(map, publisher, {"PUBLISH", "news", "one"}).reply.integer == 1);
    CHECK(call(map, publisher, {"PUBLISH", "dev.7", "two"}).reply.integer == 1);
    REQUIRE(run_until(map, [&] { return got.size() == 2; }));
    CHECK(got[0] == "|news|one");
    CHECK(got[1] == "dev.*|dev.7|two");
    // A subscriber takes no other command.
    std::optional<Result> refused;
    CHECK_FALSE(subscriber.command({"GET", "x"}, [&](Result& r) { refused = std::move(r); }));
    CHECK(refused->outcome == Outcome::refused);

    CHECK(server.command({"CLIENT", "KILL", "TYPE", "pubsub"}).integer == 1);
    REQUIRE(run_until(map, [&] { return subscriber.stats().connects == 2 && subscriber.subscriptions_confirmed() == 2; }));
    CHECK(call(map, publisher, {"PUBLISH", "news", "three"}).reply.integer == 1);
    REQUIRE(run_until(map, [&] { return got.size() == 3; }));
    CHECK(got[2] == "|news|three");
    subscriber.unsubscribe("news");
    REQUIRE(run_until(map, [&] { return subscriber.subscriptions_confirmed() == 1; }));
    CHECK(call(map, publisher, {"PUBLISH", "news", "unheard"}).reply.integer == 0);
  }
  ChannelMap map;
  ClientOptions sub_options = options_for(server.address());
  sub_options.kind = Kind::pubsub;
  Client subscriber(sub_options, &map);
  std::vector<std::string> got;
  subscriber.on_message = [&](const Message& m) { got.emplace_back(m.payload); };
  subscriber.subscribe("news");
  subscriber.start();
  REQUIRE(run_until(map, [&] { return subscriber.subscriptions_confirmed() == 1; }));
  server.kill9();
  REQUIRE(run_until(map, [&] { return subscriber.state() != State::ready; }));
  server.restart();
  REQUIRE(run_until(map, [&] { return subscriber.subscriptions_confirmed() == 1; }));
  CHECK(server.command({"PUBLISH", "news", "after restart"}).integer == 1);
  REQUIRE(run_until(map, [&] { return got.size() == 1; }));
  CHECK(got[0] == "after restart");
}

TEST_CASE("bounded: past max_pending or max_output a command is refused at once with a clear error") {
  RedisServer server;
  ChannelMap map;
  ClientOptions options = options_for(server.address());
  options.max_pending = 2;
  options.max_output = 200;
  Client client(options, &map);
  std::optional<Result> refused;
  CHECK_FALSE(client.command({"PING"}, [&](Result& r) { refused = std::move(r); }));
  CHECK(refused->error == "the redis client is not started");
  client.start();
  int answered = 0;
  CHECK(client.command({"PING"}, [&](Result&) { ++answered; }));
  CHECK_FALSE(client.command({"SET", "k", std::string(300, 'x')}, [&](Result& r) { refused = std::move(r); }));
  CHECK(refused->outcome == Outcome::refused);
  CHECK(refused->error.find("(max_output 200): the command was not sent") != std::string::npos);
  CHECK(client.command({"PING"}, [&](Result&) { ++answered; }));
  CHECK_FALSE(client.command({"PING"}, [&](Result& r) { refused = std::move(r); }));
  CHECK(refused->error == "2 commands already pending (max_pending): the command was not sent");
  REQUIRE(run_until(map, [&] { return answered == 2; }));
  CHECK(client.command({"PING"}, [&](Result&) { ++answered; }));  // room again
  REQUIRE(run_until(map, [&] { return answered == 3; }));
  CHECK(client.stats().failures == 3);
}

TEST_CASE("close() fails held commands as not run and in-flight ones as may-have-run") {
  RedisServer server;
  ChannelMap map;
  Client client(options_for(server.address()), &map);
  client.start();
  REQUIRE(call(map, client, {"PING"}).ok());
  std::vector<Result> results;
  client.command({"DEBUG", "SLEEP", "0.5"}, [&](Result& r) { results.push_back(std::move(r)); });
  map.poll_once(0.05);  // written
  client.close();
  REQUIRE(results.size() == 1);
  CHECK(results[0].outcome == Outcome::unknown);
  CHECK(results[0].error == "the client was closed: the command may or may not have run");
  Client idle(options_for(server.address()), &map);
  server.kill9();
  idle.start();
  idle.command({"PING"}, [&](Result& r) { results.push_back(std::move(r)); });
  idle.close();
  REQUIRE(results.size() == 2);
  CHECK(results[1].outcome == Outcome::not_run);
  CHECK(results[1].error == "the client was closed: the command was not sent");
}

TEST_CASE("a server that accepts but never answers: the connect timeout drops it and the client retries") {
  // A listening socket nobody accepts from: the kernel completes the connect, nothing answers HELLO.
  testing::TempDir dir;
  const auto address = asyncore::Address::unix_path(dir.file("silent.sock"));
  asyncore::Fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(::bind(listener.get(), address.raw().get(), address.raw().length) == 0);
  REQUIRE(::listen(listener.get(), 16) == 0);
  ChannelMap map;
  ClientOptions options = options_for(address.to_string());
  options.connect_timeout = 0.2;
  options.command_timeout = 0;
  Client client(options, &map);
  std::vector<std::string> reasons;
  client.on_disconnect = [&](const std::string& why) { reasons.push_back(why); };
  client.start();
  bool answered = false;
  client.command({"PING"}, [&](Result&) { answered = true; });
  REQUIRE(run_until(map, [&] { return reasons.size() >= 2; }));
  CHECK(reasons[0].find("no connection and handshake within 0.2") != std::string::npos);
  CHECK_FALSE(answered);  // held, not lost: it was never sent
  CHECK(client.held() == 1);
}

TEST_CASE("Script: whole (EVAL) on a connection's first run, EVALSHA after, and EVAL again once after NOSCRIPT") {
  RedisServer server;
  ChannelMap map;
  Client client(options_for(server.address()), &map);
  client.start();
  REQUIRE(run_until(map, [&] { return client.ready(); }));
  const Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  std::vector<int64_t> got;
  const std::vector<std::string> keys = {"total"}, args = {"5"};
  auto run_once = [&] {
    const size_t before = got.size();
    script.run(client, keys, args, [&](Result& r) {
      CHECK(r.ok());
      got.push_back(r.reply.integer);
    });
    REQUIRE(run_until(map, [&] { return got.size() == before + 1; }));
  };
  auto calls = [&](const char* command) { return info_field(server, "commandstats", command); };
  for (int i = 0; i < 3; ++i) run_once();
  CHECK(calls("cmdstat_eval").starts_with("calls=1,"));
  CHECK(calls("cmdstat_evalsha").starts_with("calls=2,"));
  server.command({"SCRIPT", "FLUSH"});
  run_once();  // EVALSHA answered NOSCRIPT, then EVAL
  run_once();  // whole again: the cache was lost
  run_once();
  CHECK(got == std::vector<int64_t>{5, 10, 15, 20, 25, 30});
  CHECK(calls("cmdstat_eval").starts_with("calls=3,"));
  CHECK(calls("cmdstat_evalsha").starts_with("calls=4,"));
}

TEST_CASE("Script: runs keep their order among other commands, on a fresh connection and after a reconnect") {
  RedisServer server;
  ChannelMap map;
  ClientOptions options = options_for(server.address());
  options.backoff = {.initial_delay = 0.05, .factor = 1, .jitter = 0, .max_delay = 0.05};
  Client client(options, &map);
  client.start();
  REQUIRE(run_until(map, [&] { return client.ready(); }));
  const Script push("return redis.call('RPUSH', KEYS[1], ARGV[1])");
  // Script, plain command, script, pipelined in one pass: a NOSCRIPT fallback would put the
  // first script's EVAL behind the plain command.
  auto pipeline = [&](const std::string& list) {
    int answered = 0;
    auto count = [&](Result& r) { CHECK_MESSAGE(r.ok(), r.error_text()); ++answered; };
    const std::vector<std::string> keys = {list};
    push.run(client, keys, std::vector<std::string>{"s1"}, count);
    client.command({"RPUSH", list, "c1"}, count);
    push.run(client, keys, std::vector<std::string>{"s2"}, count);
    REQUIRE(run_until(map, [&] { return answered == 3; }));
    CHECK(server.command({"LRANGE", list, "0", "-1"}).to_string() == "[s1, c1, s2]");
  };
  pipeline("fresh");
  server.command({"CLIENT", "KILL", "TYPE", "normal"});  // a new connection: the script must go whole again
  REQUIRE(run_until(map, [&] { return client.stats().connects == 2 && client.ready(); }));
  server.command({"SCRIPT", "FLUSH"});
  pipeline("reconnected");
}

TEST_CASE("a server that breaks the protocol: the connection is dropped with a clear reason, and so is an unasked reply") {
  testing::TempDir dir;
  const auto address = asyncore::Address::unix_path(dir.file("fake.sock"));
  asyncore::Fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  REQUIRE(::bind(listener.get(), address.raw().get(), address.raw().length) == 0);
  REQUIRE(::listen(listener.get(), 16) == 0);
  ChannelMap map;
  ClientOptions options = options_for(address.to_string());
  options.backoff = {.initial_delay = 5, .factor = 1, .jitter = 0, .max_delay = 5};  // one attempt per answer below
  Client client(options, &map);
  std::vector<std::string> reasons;
  client.on_disconnect = [&](const std::string& why) { reasons.push_back(why); };
  client.start();
  std::optional<Result> held;
  client.command({"GET", "k"}, [&](Result& r) { held = std::move(r); });
  // Accepts the client's connection and answers its HELLO with `answer`.
  auto serve = [&](std::string_view answer) {
    int fd = -1;
    REQUIRE(run_until(map, [&] { return (fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC)) >= 0; }));
    asyncore::Fd peer(fd);
    REQUIRE(::send(peer.get(), answer.data(), answer.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(answer.size()));
    const size_t before = reasons.size();
    REQUIRE(run_until(map, [&] { return reasons.size() > before; }));
  };
  serve("?garbage\r\n");
  CHECK(reasons.back().find("protocol error: RESP: unknown type byte '?'") != std::string::npos);
  client.close();
  client.start();
  serve("+OK\r\n+EXTRA\r\n");  // HELLO's answer, then one nobody asked for
  CHECK(reasons.back().find("a reply nobody asked for: EXTRA") != std::string::npos);
  // The GET was held behind the handshake the first time, then sent and lost the second time.
  REQUIRE(held.has_value());
  CHECK(held->outcome == Outcome::not_run);  // failed by close() while still held
}

// The Twisted-style layer over real loopback sockets: listen_tcp / connect_tcp, transports,
// factories' start/stop, connect failures, producers and water marks, reconnecting.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <asyncore/asyncore.h>
#include <asyncore/twisted/reconnecting_client_factory.h>
#include <asyncore/twisted/tcp_connector.h>
#include <asyncore/twisted/tcp_port.h>
#include "test/support/testing.h"

using namespace asyncore;
using Kind = Reason::Kind;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Runs the loop until `done` holds or `seconds` pass; returns done().
bool run_until(ChannelMap& map, const std::function<bool()>& done, double seconds = 10) {
  auto start = Clock::now();
  while (!done() && seconds_since(start) < seconds) map.poll_once(0.02);
  return done();
}

void run_for(ChannelMap& map, double seconds) {
  auto start = Clock::now();
  while (seconds_since(start) < seconds) map.poll_once(0.01);
}

// Byte i of a long test stream: a pattern that catches reordering and loss.
char pattern_byte(size_t i) { return static_cast<char>('a' + (i * 7 + i / 4099) % 26); }

std::string pattern(size_t offset, size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = pattern_byte(offset + i);
  return out;
}

// What a test wants to know about one end of a connection.
struct Record {
  int made = 0;
  std::string received;
  size_t received_bytes = 0;
  bool pattern_ok = true;
  std::optional<Reason> lost;
  Address peer, host;
};

class Echo : public Protocol {
 public:
  void data_received(std::string_view data) override { transport->write(data); }
};

// Reports into a Record owned by the test.
class Recording : public Protocol {
 public:
  explicit Recording(Record& record) : record_(record) {}
  void connection_made() override {
    ++record_.made;
    record_.peer = transport->get_peer();
    record_.host = transport->get_host();
  }
  void data_received(std::string_view data) override {
    for (size_t i = 0; i < data.size(); ++i) record_.pattern_ok &= data[i] == pattern_byte(record_.received_bytes + i);
    record_.received_bytes += data.size();
    if (record_.received.size() < 4096) record_.received.append(data.substr(0, 4096));
  }
  void connection_lost(const Reason& reason) override { record_.lost = reason; }

 protected:
  Record& record_;
};

// A client factory that builds protocols with a callable and records the connector's reports.
class TestClientFactory : public ClientFactory {
 public:
  std::function<std::shared_ptr<Protocol>()> make;
  int started = 0, factory_starts = 0, factory_stops = 0;
  std::vector<Reason> failed, lost;
  std::shared_ptr<Protocol> build_protocol(const Address&) override { return make ? make() : nullptr; }
  void start_factory() override { ++factory_starts; }
  void stop_factory() override { ++factory_stops; }
  void started_connecting(Connector&) override { ++started; }
  void client_connection_failed(Connector&, const Reason& reason) override { failed.push_back(reason); }
  void client_connection_lost(Connector&, const Reason& reason) override { lost.push_back(reason); }
};

class ServerFactory : public Factory {
 public:
  std::function<std::shared_ptr<Protocol>()> make;
  int starts = 0, stops = 0;
  std::shared_ptr<Protocol> build_protocol(const Address&) override { return make(); }
  void start_factory() override { ++starts; }
  void stop_factory() override { ++stops; }
};

uint16_t port_of(const std::shared_ptr<ListeningPort>& port) { return port->get_host().port(); }

}  // namespace

TEST_CASE("an echo protocol served by listen_tcp answers a client made by connect_tcp") {
  ChannelMap map;
  auto port = listen_tcp(0, make_factory<Echo>(), 50, "127.0.0.1", &map);
  REQUIRE(port->get_host().port() != 0);
  CHECK(port->get_host().host() == "127.0.0.1");

  struct Client : Recording {
    using Recording::Recording;
    void connection_made() override {
      Recording::connection_made();
      transport->write_sequence({"hello ", "twisted ", "world"});
    }
    void data_received(std::string_view data) override {
      record_.received.append(data);
      if (record_.received.size() == 19) {
        transport->lose_connection();
        transport->write("ignored after lose_connection");
      }
    }
  };
  Record client;
  auto factory = std::make_shared<TestClientFactory>();
  factory->make = [&] { return std::make_shared<Client>(client); };
  auto connector = connect_tcp("127.0.0.1", port_of(port), factory, 5, std::nullopt, &map);
  CHECK(connector->state() == Connector::State::connecting);
  CHECK(connector->get_destination().port == port_of(port));

  REQUIRE(run_until(map, [&] { return !factory->lost.empty(); }));
  CHECK(client.received == "hello twisted world");
  CHECK(client.peer == port->get_host());
  CHECK(client.host.port() != 0);
  REQUIRE(client.lost);
  CHECK(client.lost->kind == Kind::done);
  CHECK(factory->lost[0].kind == Kind::done);
  CHECK(factory->failed.empty());
  CHECK(factory->started == 1);
  CHECK(factory->factory_starts == 1);
  CHECK(factory->factory_stops == 1);
  CHECK(connector->state() == Connector::State::disconnected);
}

TEST_CASE("the server side hears the peer's close, and a transport used after the loss does nothing") {
  ChannelMap map;
  Record server;
  std::shared_ptr<Protocol> kept;
  auto server_factory = std::make_shared<ServerFactory>();
  server_factory->make = [&] { return kept = std::make_shared<Recording>(server); };
  auto port = listen_tcp(0, server_factory, 50, "127.0.0.1", &map);

  Record client;
  auto factory = std::make_shared<TestClientFactory>();
  struct Closer : Recording {
    using Recording::Recording;
    void connection_made() override {
      Recording::connection_made();
      transport->write(pattern(0, 1000));
      transport->lose_connection();
    }
  };
  factory->make = [&] { return std::make_shared<Closer>(client); };
  connect_tcp("127.0.0.1", port_of(port), factory, 5, std::nullopt, &map);

  REQUIRE(run_until(map, [&] { return server.lost.has_value() && client.lost.has_value(); }));
  CHECK(server.received_bytes == 1000);
  CHECK(server.pattern_ok);
  CHECK(server.lost->kind == Kind::done);
  CHECK(server.peer == client.host);
  CHECK(kept->factory == server_factory.get());
  CHECK_FALSE(kept->connected);
  // The protocol outlives its connection: its transport is inert but still answers.
  kept->transport->write("late");
  kept->transport->lose_connection();
  kept->transport->abort_connection();
  CHECK(kept->transport->disconnecting());
  CHECK(kept->transport->get_peer() == client.host);
  port->stop_listening();
}

TEST_CASE("start_factory and stop_factory run once around the first and last port") {
  ChannelMap map;
  auto factory = std::make_shared<ServerFactory>();
  factory->make = [] { return std::make_shared<Echo>(); };
  auto first = listen_tcp(0, factory, 50, "127.0.0.1", &map);
  auto second = listen_tcp(0, factory, 50, "127.0.0.1", &map);
  CHECK(port_of(first) != port_of(second));
  CHECK(factory->starts == 1);
  CHECK(factory->ports_in_use() == 2);

  first->stop_listening();
  first->stop_listening();  // idempotent
  CHECK_FALSE(first->listening());
  CHECK(factory->stops == 0);
  second->stop_listening();
  CHECK(factory->stops == 1);
  CHECK(factory->ports_in_use() == 0);

  auto again = listen_tcp(0, factory, 50, "127.0.0.1", &map);
  CHECK(factory->starts == 2);
  again->stop_listening();
  CHECK(factory->stops == 2);
  CHECK(map.empty());
}

TEST_CASE("listen_tcp on a port in use names the address") {
  ChannelMap map;
  auto first = listen_tcp(0, make_factory<Echo>(), 50, "127.0.0.1", &map);
  std::string message;
  try {
    // A second socket cannot listen on the same port (SO_REUSEADDR allows only TIME_WAIT reuse).
    listen_tcp(port_of(first), make_factory<Echo>(), 50, "127.0.0.1", &map);
  } catch (const std::system_error& error) {
    message = error.what();
  }
  CHECK(message.find("127.0.0.1:" + std::to_string(port_of(first))) != std::string::npos);
  CHECK(map.size() == 1);
}

TEST_CASE("lose_connection sends all 10 MB before closing") {
  ChannelMap map;
  constexpr size_t kTotal = 10 * 1024 * 1024;
  struct Bulk : Protocol {
    std::optional<Reason>* lost;
    void connection_made() override {
      for (size_t sent = 0; sent < kTotal; sent += 1024 * 1024) transport->write(pattern(sent, 1024 * 1024));
      CHECK(transport->write_buffer_size() > 0);  // the kernel cannot have taken 10 MB at once
      transport->lose_connection();
      CHECK(transport->disconnecting());
    }
    void connection_lost(const Reason& reason) override { *lost = reason; }
  };
  std::optional<Reason> server_lost;
  auto server_factory = std::make_shared<ServerFactory>();
  server_factory->make = [&] {
    auto bulk = std::make_shared<Bulk>();
    bulk->lost = &server_lost;
    return bulk;
  };
  auto port = listen_tcp(0, server_factory, 50, "127.0.0.1", &map);

  Record client;
  auto factory = std::make_shared<TestClientFactory>();
  factory->make = [&] { return std::make_shared<Recording>(client); };
  connect_tcp("127.0.0.1", port_of(port), factory, 5, std::nullopt, &map);

  REQUIRE(run_until(map, [&] { return client.lost.has_value() && server_lost.has_value(); }, 30));
  CHECK(client.received_bytes == kTotal);
  CHECK(client.pattern_ok);
  CHECK(client.lost->kind == Kind::done);
  CHECK(server_lost->kind == Kind::done);
}

TEST_CASE("abort_connection drops what is queued and resets the peer") {
  ChannelMap map;
  constexpr size_t kTotal = 32 * 1024 * 1024;
  struct Aborter : Protocol {
    std::optional<Reason>* lost;
    // Waits for the client's first bytes, so the client surely saw its connection made.
    void data_received(std::string_view) override {
      transport->write(pattern(0, kTotal));
      transport->abort_connection();
    }
    void connection_lost(const Reason& reason) override { *lost = reason; }
  };
  std::optional<Reason> server_lost;
  auto server_factory = std::make_shared<ServerFactory>();
  server_factory->make = [&] {
    auto aborter = std::make_shared<Aborter>();
    aborter->lost = &server_lost;
    return aborter;
  };
  auto port = listen_tcp(0, server_factory, 50, "127.0.0.1", &map);

  Record client;
  struct Greeter : Recording {
    using Recording::Recording;
    void connection_made() override { transport->write("go"); }
  };
  auto factory = std::make_shared<TestClientFactory>();
  factory->make = [&] { return std::make_shared<Greeter>(client); };
  connect_tcp("127.0.0.1", port_of(port), factory, 5, std::nullopt, &map);

  bool done = run_until(map, [&] { return client.lost.has_value() && server_lost.has_value(); });
  REQUIRE(done);
  CHECK(server_lost->kind == Kind::aborted);
  CHECK(client.lost->kind == Kind::lost);
  CHECK(client.received_bytes < kTotal);
  CHECK(client.pattern_ok);
}

TEST_CASE("a slow reader pauses the registered producer at the high-water mark and resumes it at the low") {
  ChannelMap map;
  constexpr size_t kTotal = 16 * 1024 * 1024, kChunk = 64 * 1024, kHigh = 256 * 1024, kLow = 64 * 1024;

  struct Streamer : Protocol, Producer {
    size_t sent = 0, max_buffered = 0;
    int pauses = 0, resumes = 0;
    bool paused = false;
    Clock::time_point first_pause{};
    std::optional<Reason> lost;
    void connection_made() override {
      transport->set_write_buffer_limits(kHigh, kLow);
      transport->register_producer(*this);
      produce();
    }
    void produce() {
      while (!paused && sent < kTotal) {
        transport->write(pattern(sent, kChunk));
        sent += kChunk;
        max_buffered = std::max(max_buffered, transport->write_buffer_size());
      }
      if (sent == kTotal && !paused) {
        transport->unregister_producer();
        transport->lose_connection();
      }
    }
    void pause_producing() override {
      if (pauses++ == 0) first_pause = Clock::now();
      paused = true;
    }
    void resume_producing() override {
      ++resumes;
      paused = false;
      produce();
    }
    void connection_lost(const Reason& reason) override { lost = reason; }
  };
  std::shared_ptr<Streamer> streamer;
  auto server_factory = std::make_shared<ServerFactory>();
  server_factory->make = [&] { return streamer = std::make_shared<Streamer>(); };
  auto port = listen_tcp(0, server_factory, 50, "127.0.0.1", &map);

  // The client stops reading (pause_producing on its transport) for half a second.
  struct SlowReader : Recording {
    ChannelMap* map;
    Clock::time_point resumed_at{}, first_data_at{};
    SlowReader(Record& record, ChannelMap* m) : Recording(record), map(m) {}
    void connection_made() override {
      Recording::connection_made();
      transport->pause_producing();
      map->call_later(0.5, [this] {
        resumed_at = Clock::now();
        transport->resume_producing();
      });
    }
    void data_received(std::string_view data) override {
      if (record_.received_bytes == 0) first_data_at = Clock::now();
      Recording::data_received(data);
    }
  };
  Record client;
  std::shared_ptr<SlowReader> reader;
  auto factory = std::make_shared<TestClientFactory>();
  factory->make = [&] { return reader = std::make_shared<SlowReader>(client, &map); };
  connect_tcp("127.0.0.1", port_of(port), factory, 5, std::nullopt, &map);

  REQUIRE(run_until(map, [&] { return client.lost.has_value(); }, 30));
  REQUIRE(streamer);
  CHECK(streamer->pauses >= 1);
  CHECK(streamer->resumes >= 1);
  CHECK(streamer->first_pause < reader->resumed_at);  // the buffer filled while the reader slept
  CHECK(reader->first_data_at >= reader->resumed_at);  // nothing was read while paused
  CHECK(streamer->max_buffered <= kHigh + kChunk);      // the producer obeyed
  CHECK(client.received_bytes == kTotal);
  CHECK(client.pattern_ok);
  CHECK(client.lost->kind == Kind::done);
}

TEST_CASE("a refused connection reaches client_connection_failed with Kind::refused") {
  ChannelMap map;
  auto factory = std::make_shared<TestClientFactory>();
  factory->make = [] { return std::make_shared<Echo>(); };
  int port = testing::unused_port();
  auto connector = connect_tcp("127.0.0.1", static_cast<uint16_t>(port), factory, 5, std::nullopt, &map);
  REQUIRE(run_until(map, [&] { return !factory->failed.empty(); }));
  CHECK(factory->failed[0].kind == Kind::refused);
  CHECK(factory->failed[0].message.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
  CHECK(factory->started == 1);
  CHECK(factory->factory_starts == 1);
  CHECK(factory->factory_stops == 1);
  CHECK(factory->lost.empty());
  CHECK(connector->state() == Connector::State::disconnected);
  CHECK(map.empty());
  CHECK_THROWS_AS(connector->stop_connecting(), std::logic_error);
}

TEST_CASE("a connect that does not finish in time fails with Kind::timeout") {
  // A listener with backlog 0 whose queue is full drops further SYNs, so connects hang.
  ChannelMap map;
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(listener);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(listener.get(), 0) == 0);
  socklen_t length = sizeof address;
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length);
  std::vector<Fd> fillers;
  for (int i = 0; i < 4; ++i) {
    fillers.emplace_back(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    ::connect(fillers.back().get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
  }
  run_for(map, 0.2);  // let the fillers' handshakes settle

  auto factory = std::make_shared<TestClientFactory>();
  factory->make = [] { return std::make_shared<Echo>(); };
  auto start = Clock::now();
  connect_tcp("127.0.0.1", ntohs(address.sin_port), factory, 0.5, std::nullopt, &map);
  REQUIRE(run_until(map, [&] { return !factory->failed.empty() || !factory->lost.empty(); }, 10));
  double elapsed = seconds_since(start);
  REQUIRE(factory->failed.size() == 1);
  CHECK(factory->failed[0].kind == Kind::timeout);
  CHECK(factory->failed[0].message.find("timed out") != std::string::npos);
  CHECK(elapsed >= 0.45);
  CHECK(elapsed < 2.0);
  CHECK(map.empty());
}

TEST_CASE("stop_connecting abandons an attempt with Kind::aborted; connect() while busy is refused") {
  ChannelMap map;
  auto port = listen_tcp(0, make_factory<Echo>(), 50, "127.0.0.1", &map);
  auto factory = std::make_shared<TestClientFactory>();
  factory->make = [] { return std::make_shared<Echo>(); };
  auto connector = connect_tcp("127.0.0.1", port_of(port), factory, 5, std::nullopt, &map);
  REQUIRE(connector->state() == Connector::State::connecting);
  CHECK_THROWS_AS(connector->connect(), std::logic_error);
  connector->stop_connecting();
  REQUIRE(run_until(map, [&] { return !factory->failed.empty(); }));
  CHECK(factory->failed[0].kind == Kind::aborted);
  CHECK(factory->lost.empty());

  // The same connector can try again, and disconnect() then closes the connection.
  connector->connect();
  REQUIRE(run_until(map, [&] { return connector->state() == Connector::State::connected; }));
  connector->disconnect();
  REQUIRE(run_until(map, [&] { return !factory->lost.empty(); }));
  CHECK(factory->lost[0].kind == Kind::done);
  CHECK(factory->started == 2);
}

TEST_CASE("an exception in a protocol callback drops that connection with Kind::error") {
  ChannelMap map;
  struct Faulty : Protocol {
    std::optional<Reason>* lost;
    void data_received(std::string_view) override { throw std::runtime_error("bad request"); }
    void connection_lost(const Reason& reason) override { *lost = reason; }
  };
  std::optional<Reason> server_lost;
  auto server_factory = std::make_shared<ServerFactory>();
  server_factory->make = [&] {
    auto faulty = std::make_shared<Faulty>();
    faulty->lost = &server_lost;
    return faulty;
  };
  auto port = listen_tcp(0, server_factory, 50, "127.0.0.1", &map);
  set_log_level(LogLevel::off);  // the error line is expected
  Record client;
  struct Sender : Recording {
    using Recording::Recording;
    void connection_made() override { transport->write("anything"); }
  };
  auto factory = std::make_shared<TestClientFactory>();
  factory->make = [&] { return std::make_shared<Sender>(client); };
  connect_tcp("127.0.0.1", port_of(port), factory, 5, std::nullopt, &map);
  bool done = run_until(map, [&] { return server_lost.has_value() && client.lost.has_value(); });
  set_log_level(LogLevel::info);
  REQUIRE(done);
  CHECK(server_lost->kind == Kind::error);
  CHECK(server_lost->message == "bad request");
  CHECK(port->listening());  // one bad connection does not stop the port
}

TEST_CASE("a factory that builds no protocol refuses the connection; the port goes on") {
  ChannelMap map;
  int asked = 0;
  auto server_factory = std::make_shared<ServerFactory>();
  server_factory->make = [&]() -> std::shared_ptr<Protocol> {
    ++asked;
    return nullptr;
  };
  auto port = listen_tcp(0, server_factory, 50, "127.0.0.1", &map);
  Record client;
  auto factory = std::make_shared<TestClientFactory>();
  factory->make = [&] { return std::make_shared<Recording>(client); };
  connect_tcp("127.0.0.1", port_of(port), factory, 5, std::nullopt, &map);
  REQUIRE(run_until(map, [&] { return factory->lost.size() + factory->failed.size() == 1; }));
  CHECK(asked == 1);
  CHECK(client.made + factory->failed.size() == 1);  // made, then closed; or closed before it was seen
  CHECK(port->listening());
  CHECK(map.size() == 1);  // only the port is left
}

// --- ReconnectingClientFactory --------------------------------------------------------------

namespace {

// A server that closes every connection as soon as it is made.
std::shared_ptr<ListeningPort> dropping_server(ChannelMap& map) {
  struct Dropper : Protocol {
    void connection_made() override { transport->lose_connection(); }
  };
  return listen_tcp(0, make_factory<Dropper>(), 50, "127.0.0.1", &map);
}

class CountingReconnector : public ReconnectingClientFactory {
 public:
  using ReconnectingClientFactory::ReconnectingClientFactory;
  int attempts = 0, connections = 0, stop_after = 1000;
  bool reset_on_connect = false;
  std::vector<double> delays;  // the delay chosen after each failure or loss
  std::vector<Clock::time_point> connected_at, lost_at;
  std::vector<Reason> failures;

  std::shared_ptr<Protocol> build_protocol(const Address&) override {
    if (reset_on_connect) reset_delay();  // Twisted's idiom: a good connection resets the backoff
    ++connections;
    connected_at.push_back(Clock::now());
    if (connections >= stop_after) stop_trying();
    return std::make_shared<Protocol>();
  }
  void started_connecting(Connector& connector) override {
    ++attempts;
    ReconnectingClientFactory::started_connecting(connector);
  }
  void client_connection_failed(Connector& connector, const Reason& reason) override {
    failures.push_back(reason);
    ReconnectingClientFactory::client_connection_failed(connector, reason);
    if (retry_scheduled()) delays.push_back(backoff().delay());
  }
  void client_connection_lost(Connector& connector, const Reason& reason) override {
    lost_at.push_back(Clock::now());
    ReconnectingClientFactory::client_connection_lost(connector, reason);
    if (retry_scheduled()) delays.push_back(backoff().delay());
  }
};

}  // namespace

TEST_CASE("ReconnectingClientFactory reconnects after the server drops it, waiting longer each time") {
  ChannelMap map;
  auto port = dropping_server(map);
  auto factory = std::make_shared<CountingReconnector>(BackoffPolicy{.initial_delay = 0.02, .factor = 2, .jitter = 0, .max_delay = 1});
  factory->stop_after = 4;
  connect_tcp("127.0.0.1", port_of(port), factory, 5, std::nullopt, &map);

  REQUIRE(run_until(map, [&] { return factory->connections == 4 && factory->lost_at.size() == 4; }));
  REQUIRE(factory->delays.size() == 3);
  CHECK(factory->delays[0] == doctest::Approx(0.04));
  CHECK(factory->delays[1] == doctest::Approx(0.08));
  CHECK(factory->delays[2] == doctest::Approx(0.16));
  for (size_t i = 0; i < 3; ++i) {
    double waited = std::chrono::duration<double>(factory->connected_at[i + 1] - factory->lost_at[i]).count();
    CAPTURE(i);
    CHECK(waited >= factory->delays[i] * 0.9);
    CHECK(waited < factory->delays[i] + 1.0);
  }
  // stop_trying() from the fourth connection: no retry after its loss.
  CHECK_FALSE(factory->continue_trying());
  CHECK_FALSE(factory->retry_scheduled());
  run_for(map, 0.4);
  CHECK(factory->connections == 4);
  CHECK(factory->attempts == 4);
}

TEST_CASE("ReconnectingClientFactory: reset_delay after a good connection keeps the delay at its start") {
  ChannelMap map;
  auto port = dropping_server(map);
  auto factory = std::make_shared<CountingReconnector>(BackoffPolicy{.initial_delay = 0.02, .factor = 2, .jitter = 0, .max_delay = 1});
  factory->reset_on_connect = true;
  factory->stop_after = 4;
  connect_tcp("127.0.0.1", port_of(port), factory, 5, std::nullopt, &map);
  REQUIRE(run_until(map, [&] { return factory->connections == 4; }));
  REQUIRE(factory->delays.size() == 3);
  for (double delay : factory->delays) CHECK(delay == doctest::Approx(0.04));
  CHECK(factory->backoff().retries() == 0);  // reset by the fourth connection
}

TEST_CASE("ReconnectingClientFactory gives up after max_retries") {
  ChannelMap map;
  auto factory = std::make_shared<CountingReconnector>(
      BackoffPolicy{.initial_delay = 0.01, .factor = 1.5, .jitter = 0, .max_delay = 1, .max_retries = 3});
  connect_tcp("127.0.0.1", static_cast<uint16_t>(testing::unused_port()), factory, 5, std::nullopt, &map);
  set_log_level(LogLevel::warning);  // "abandoning ... after 3 retries" is expected
  bool failed_four_times = run_until(map, [&] { return factory->failures.size() == 4; });
  run_for(map, 0.3);  // a fifth attempt would come within ~0.05 s
  set_log_level(LogLevel::info);
  REQUIRE(failed_four_times);
  CHECK(factory->attempts == 4);  // the first and three retries
  CHECK(factory->failures.size() == 4);
  for (const Reason& reason : factory->failures) CHECK(reason.kind == Kind::refused);
  CHECK(factory->delays.size() == 3);
  CHECK_FALSE(factory->retry_scheduled());
  CHECK(map.timer_count() == 0);
}

TEST_CASE("ReconnectingClientFactory::stop_trying cancels a scheduled retry and abandons an attempt") {
  ChannelMap map;
  SUBCASE("while waiting to retry") {
    auto factory = std::make_shared<CountingReconnector>(BackoffPolicy{.initial_delay = 10, .jitter = 0});
    connect_tcp("127.0.0.1", static_cast<uint16_t>(testing::unused_port()), factory, 5, std::nullopt, &map);
    REQUIRE(run_until(map, [&] { return factory->retry_scheduled(); }));
    factory->stop_trying();
    CHECK_FALSE(factory->retry_scheduled());
    CHECK(map.timer_count() == 0);
    run_for(map, 0.1);
    CHECK(factory->attempts == 1);
  }
  SUBCASE("while connecting") {
    auto port = listen_tcp(0, make_factory<Echo>(), 50, "127.0.0.1", &map);
    auto factory = std::make_shared<CountingReconnector>(BackoffPolicy{.initial_delay = 0.01, .jitter = 0});
    auto connector = connect_tcp("127.0.0.1", port_of(port), factory, 5, std::nullopt, &map);
    REQUIRE(connector->state() == Connector::State::connecting);
    factory->stop_trying();
    REQUIRE(run_until(map, [&] { return !factory->failures.empty(); }));
    CHECK(factory->failures[0].kind == Kind::aborted);
    run_for(map, 0.1);
    CHECK(factory->attempts == 1);
    CHECK(factory->connections == 0);
    CHECK_FALSE(factory->retry_scheduled());
  }
}

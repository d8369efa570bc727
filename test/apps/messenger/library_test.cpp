// MessengerServer / MessengerClient in one process: messages both ways, broadcast and multicast,
// probes, refused sends, the backlog bound, malformed frames from raw clients, failed connects.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "apps/messenger/client.h"
#include "apps/messenger/server.h"
#include "test/apps/messenger/messenger_testing.h"

using namespace asyncore;
using namespace asyncore::messenger;
using messenger_testing::pump_for;
using messenger_testing::pump_until;
using messenger_testing::read_frame;

namespace {

struct Received {
  std::string from;
  Header header;
  std::string body;
};

// A server and a record of everything its callbacks saw.
struct ServerFixture {
  ChannelMap map;
  MessengerServer server{"127.0.0.1", 0, &map};
  std::vector<Received> received;
  std::vector<std::string> connected, closed;
  std::vector<std::size_t> remaining;
  ServerFixture(MessengerLimits limits = {}) : server("127.0.0.1", 0, &map, limits) {
    server.on_connect = [this](const MessengerPtr& m) { connected.push_back(m->id()); };
    server.on_message = [this](const MessengerPtr& m, const Header& h, const std::string& body) {
      received.push_back({m->id(), h, body});
    };
    server.on_close = [this](const MessengerPtr& m, std::size_t left) {
      closed.push_back(m->close_reason());
      remaining.push_back(left);
    };
  }
  int port() const { return server.address().port(); }
};

std::string raw_frame(std::string_view header_text, std::string_view body = {}) {
  std::string out{static_cast<char>(header_text.size() & 0xff), static_cast<char>(header_text.size() >> 8)};
  return out + std::string(header_text) + std::string(body);
}

}  // namespace

TEST_CASE("client and server exchange messages and keep the last one on the messenger") {
  ServerFixture f;
  MessengerClient client(&f.map);
  std::vector<Received> client_got;
  MessengerPtr connected;
  client.on_connect_success = [&](const MessengerPtr& m) { connected = m; };
  client.on_message = [&](const MessengerPtr& m, const Header& h, const std::string& body) {
    client_got.push_back({m->id(), h, body});
  };
  MessengerPtr m = client.add_connection("127.0.0.1", static_cast<uint16_t>(f.port()));
  REQUIRE(pump_until(f.map, [&] { return connected && f.server.size() == 1; }));
  CHECK(connected == m);
  CHECK(client.messengers().size() == 1);
  CHECK(m->id() == "127.0.0.1:" + std::to_string(f.port()));

  CHECK(client.send(m, Header{{"TP", "Msg"}, {"Who", "client"}}, "hello"));
  REQUIRE(pump_until(f.map, [&] { return f.received.size() == 1; }));
  CHECK(f.received[0].header.get("Who") == "client");
  CHECK(f.received[0].body == "hello");
  MessengerPtr on_server = f.server.messengers().front();
  CHECK(on_server->id() == f.received[0].from);
  CHECK(on_server->body() == "hello");
  CHECK(on_server->header().get("TP") == "Msg");
  CHECK(on_server->recv_time() >= on_server->send_time());

  std::string binary(70000, '\0');
  for (std::size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i * 31);
  CHECK(f.server.send(on_server, Header{{"Reply", "1"}}, binary));
  REQUIRE(pump_until(f.map, [&] { return client_got.size() == 1; }));
  CHECK(client_got[0].body == binary);
  CHECK(m->header().get("Reply") == "1");
}

TEST_CASE("broadcast reaches every connection and multicast only the chosen ones") {
  ServerFixture f;
  MessengerClient client(&f.map);
  std::vector<std::string> got(4);
  std::vector<MessengerPtr> ms;
  for (int i = 0; i < 4; ++i) ms.push_back(client.add_connection("127.0.0.1", static_cast<uint16_t>(f.port())));
  client.on_message = [&](const MessengerPtr& m, const Header&, const std::string& body) {
    for (int i = 0; i < 4; ++i) {
      if (ms[static_cast<std::size_t>(i)] == m) got[static_cast<std::size_t>(i)] += body + ";";
    }
  };
  REQUIRE(pump_until(f.map, [&] { return f.server.size() == 4 && client.size() == 4; }));
  CHECK(f.server.broadcast(Header{{"B", "1"}}, "all") == 4);
  std::vector<MessengerPtr> two{f.server.messengers()[0], f.server.messengers()[2]};
  CHECK(f.server.multicast(two, Header{{"M", "1"}}, "some") == 2);
  REQUIRE(pump_until(f.map, [&] {
    std::size_t total = 0;
    for (auto& g : got) total += g.size();
    return total == 4 * 4 + 2 * 5;
  }));
  int with_some = 0;
  for (auto& g : got) {
    CHECK(g.rfind("all;", 0) == 0);
    if (g == "all;some;") ++with_some;
  }
  CHECK(with_some == 2);
  // Client-side broadcast too.
  CHECK(client.broadcast(Header{{"C", "1"}}, "up") == 4);
  REQUIRE(pump_until(f.map, [&] { return f.received.size() == 4; }));
}

TEST_CASE("TP:Check probes are swallowed but refresh the receive time") {
  ServerFixture f;
  MessengerClient client(&f.map);
  MessengerPtr m = client.add_connection("127.0.0.1", static_cast<uint16_t>(f.port()));
  REQUIRE(pump_until(f.map, [&] { return f.server.size() == 1 && client.size() == 1; }));
  auto before = f.server.messengers().front()->recv_time();
  CHECK(client.send_probe(m));
  CHECK(client.send(m, Header{{"TP", "Check"}, {"Extra", "x"}}, "probe body"));
  CHECK(client.send(m, Header{{"TP", "Msg"}}, "real"));
  REQUIRE(pump_until(f.map, [&] { return f.received.size() == 1; }));
  pump_for(f.map, 0.05);
  CHECK(f.received.size() == 1);
  CHECK(f.received[0].body == "real");
  CHECK(f.server.messengers().front()->recv_time() > before);
}

TEST_CASE("every refused send throws, writes nothing and keeps the connection") {
  ServerFixture f;
  testing::Client raw(f.port());
  REQUIRE(pump_until(f.map, [&] { return f.server.size() == 1; }));
  MessengerPtr m = f.server.messengers().front();
  std::vector<Header> refused = {
      Header{{"Bad:Key", "v"}}, Header{{"Bad;Key", "v"}}, Header{{"K", "bad:value"}}, Header{{"K", "bad;value"}},
      Header{{"CL", "5"}},      Header{{"", "v"}},        Header{{"K", std::string(70000, 'x')}},
      Header{{"K", std::string("\xff\xfe", 2)}},
  };
  for (const Header& header : refused) {
    CHECK_THROWS_AS(f.server.send(m, header, "body"), FrameError);
    CHECK_THROWS_AS(m->send(header, "body"), FrameError);
    CHECK_THROWS_AS(f.server.broadcast(header, "body"), FrameError);
    CHECK_THROWS_AS(f.server.multicast({m}, header), FrameError);
  }
  CHECK(m->pending() == 0);
  CHECK(m->is_open());
  // The first bytes the peer sees are the next valid frame: nothing leaked before it.
  CHECK(f.server.send(m, Header{{"OK", "1"}}, "fine"));
  REQUIRE(pump_until(f.map, [&] { return m->pending() == 0; }));
  Message first = read_frame(raw);
  CHECK(first.header.get("OK") == "1");
  CHECK(first.body == "fine");
  CHECK(f.closed.empty());

  // A closed connection refuses too, and says so with false.
  f.server.close(m, "test closes it");
  CHECK(f.closed == std::vector<std::string>{"test closes it"});
  CHECK_FALSE(f.server.send(m, Header{{"OK", "2"}}));
  CHECK_FALSE(m->send_probe());
  CHECK(f.server.broadcast(Header{{"OK", "3"}}) == 0);
}

TEST_CASE("a peer that stops reading is closed past the bound; the broadcast still reaches the rest") {
  MessengerLimits limits;
  limits.max_output = 512 * 1024;
  ServerFixture f(limits);
  testing::Client stalled(f.port());  // never reads
  MessengerClient client(&f.map);
  std::size_t bytes_received = 0;
  client.on_message = [&](const MessengerPtr&, const Header&, const std::string& body) { bytes_received += body.size(); };
  client.add_connection("127.0.0.1", static_cast<uint16_t>(f.port()));
  REQUIRE(pump_until(f.map, [&] { return f.server.size() == 2 && client.size() == 1; }));

  const std::string chunk(64 * 1024, 'z');
  std::size_t rounds = 0;
  while (f.closed.empty() && rounds < 2000) {
    f.server.broadcast(Header{{"N", std::to_string(rounds)}}, chunk);
    ++rounds;
    f.map.poll_once(0);  // lets the reading client drain
  }
  REQUIRE(f.closed.size() == 1);
  CHECK(f.closed[0].find("bound") != std::string::npos);
  CHECK(f.remaining == std::vector<std::size_t>{1});
  CHECK(f.server.size() == 1);
  // The reader gets every round, including the one during which the other was dropped.
  REQUIRE(pump_until(f.map, [&] { return bytes_received == rounds * chunk.size(); }, 20));
  CHECK(stalled.wait_closed(testing::Seconds(10)));
}

TEST_CASE("malformed frames close only their own connection") {
  const std::vector<std::string> bad_inputs = {
      raw_frame("TP:Msg"),                        // no CL
      raw_frame("CL:x"),                          // CL not decimal
      raw_frame("CL:0;K"),                        // item without ':'
      raw_frame("CL:0;K:1;K:2"),                  // duplicate key
      raw_frame("CL:0;K:\xff"),                   // not UTF-8
      raw_frame("CL:99999999999"),                // CL above max_body
      raw_frame(""),                              // empty header
      raw_frame("CL:0;A:1:2"),                    // two ':'
  };
  for (const std::string& bad : bad_inputs) {
    CAPTURE(bad);
    ServerFixture f;
    MessengerClient client(&f.map);
    std::vector<std::string> client_got;
    client.on_message = [&](const MessengerPtr&, const Header&, const std::string& body) { client_got.push_back(body); };
    client.add_connection("127.0.0.1", static_cast<uint16_t>(f.port()));
    testing::Client raw(f.port());
    REQUIRE(pump_until(f.map, [&] { return f.server.size() == 2 && client.size() == 1; }));
    // A good frame first (delivered), then the bad one split over two writes.
    raw.send_all(raw_frame("CL:4;TP:Msg", "good"));
    raw.send_all(bad.substr(0, 1));
    REQUIRE(pump_until(f.map, [&] { return f.received.size() == 1; }));
    raw.send_all(bad.substr(1));
    REQUIRE(pump_until(f.map, [&] { return f.closed.size() == 1; }));
    CHECK(f.closed[0].find("malformed") != std::string::npos);
    CHECK(raw.wait_closed(testing::Seconds(5)));
    // The other connection is untouched.
    CHECK(f.server.size() == 1);
    CHECK(f.server.broadcast(Header{{"After", "1"}}, "still here") == 1);
    REQUIRE(pump_until(f.map, [&] { return client_got.size() == 1; }));
    CHECK(client_got[0] == "still here");
  }
}

TEST_CASE("frames split at every byte and several per read are decoded") {
  ServerFixture f;
  testing::Client raw(f.port());
  REQUIRE(pump_until(f.map, [&] { return f.server.size() == 1; }));
  std::string stream = encode_frame(Header{{"A", "1"}}, "one") + encode_frame(Header{}, "") +
                       encode_frame(Header{{"Name", "报告"}}, std::string(1000, 'b'));
  for (char c : stream.substr(0, 20)) {
    raw.send_all(std::string(1, c));
    f.map.poll_once(0);
  }
  raw.send_all(stream.substr(20));
  REQUIRE(pump_until(f.map, [&] { return f.received.size() == 3; }));
  CHECK(f.received[0].body == "one");
  CHECK(f.received[1].header.empty());
  CHECK(f.received[2].header.get("Name") == "报告");
  CHECK(f.received[2].body.size() == 1000);
}

TEST_CASE("a refused connect calls on_connect_fail and adds nothing") {
  ChannelMap map;
  MessengerClient client(&map);
  std::string reason;
  bool succeeded = false;
  client.on_connect_fail = [&](const MessengerPtr&, const std::string& why) { reason = why; };
  client.on_connect_success = [&](const MessengerPtr&) { succeeded = true; };
  MessengerPtr m = client.add_connection("127.0.0.1", static_cast<uint16_t>(testing::unused_port()));
  CHECK(client.send(m, Header{{"Queued", "1"}}, "while connecting"));  // queued until the outcome
  REQUIRE(pump_until(map, [&] { return !reason.empty(); }));
  CHECK_FALSE(succeeded);
  CHECK(reason.find("refused") != std::string::npos);
  CHECK(client.size() == 0);
  CHECK(client.connecting() == 0);
  CHECK_FALSE(client.send(m, Header{{"After", "1"}}));
}

TEST_CASE("on_close reports how many connections remain, and a peer hang-up is a close") {
  ServerFixture f;
  std::vector<testing::Client> raws;
  for (int i = 0; i < 3; ++i) raws.emplace_back(f.port());
  REQUIRE(pump_until(f.map, [&] { return f.server.size() == 3; }));
  raws[1].close();
  REQUIRE(pump_until(f.map, [&] { return f.closed.size() == 1; }));
  raws[0].reset();
  REQUIRE(pump_until(f.map, [&] { return f.closed.size() == 2; }));
  CHECK(f.remaining == std::vector<std::size_t>{2, 1});
  f.server.stop();
  CHECK(f.remaining == std::vector<std::size_t>{2, 1, 0});
  CHECK(raws[2].wait_closed(testing::Seconds(5)));
}

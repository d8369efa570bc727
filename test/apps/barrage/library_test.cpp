// The client library embedded in a loop next to the simulator, in one process: states,
// callbacks, heartbeats, errors and reconnects as a program embedding it sees them.
#include <doctest/doctest.h>

#include <memory>

#include "apps/barrage/client.h"
#include "apps/barrage/output.h"
#include "apps/barrage/simulator.h"

using namespace asyncore;
using namespace asyncore::barrage;

namespace {

struct Fixture {
  explicit Fixture(ServerOptions server_options = {}) {
    set_log_level(LogLevel::warning);
    server_options.port = 0;
    server = std::make_shared<Simulator>(server_options, &map);
    options.port = server->address().port();
    options.room = "77";
  }
  ~Fixture() {
    server->shutdown();
    map.close_all();
  }
  // Runs the loop until `done` or the deadline; false on timeout.
  bool run_until(const std::function<bool()>& done, double seconds = 5) {
    auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    while (!done()) {
      if (Clock::now() > deadline) return false;
      map.poll_once(0.01);
    }
    return true;
  }
  ChannelMap map;
  std::shared_ptr<Simulator> server;
  ClientOptions options;
};

}  // namespace

TEST_CASE("states, chat callbacks and logout") {
  Fixture f;
  Client client(f.options, &f.map);
  std::vector<ClientState> states;
  std::vector<std::string> chats;
  std::vector<std::string> types;
  client.on_state = [&](ClientState s) { states.push_back(s); };
  client.on_message = [&](std::string_view type, const Fields&) { types.emplace_back(type); };
  client.on_chat = [&](const ChatMessage& m) {
    CHECK(m.room == "77");
    CHECK(m.fields.get("type") == "chatmsg");
    chats.push_back(std::string(m.nickname) + ": " + std::string(m.text));
  };
  client.start();
  REQUIRE(f.run_until([&] { return chats.size() >= 3; }));
  CHECK(chats[0] == "小明: 主播好厉害！ #0");
  CHECK(chats[1] == "观众/甲: 666666 #1");
  CHECK(types[0] == "loginres");
  CHECK(types[1] == "pingreq");
  client.logout();
  CHECK(client.state() == ClientState::closed);
  std::vector<ClientState> expected = {ClientState::connecting, ClientState::logging_in, ClientState::joining,
                                       ClientState::running, ClientState::logging_out, ClientState::closed};
  CHECK(states == expected);
  CHECK(f.run_until([&] { return f.server->session_count() == 0; }));
}

TEST_CASE("heartbeats on a loop timer; the server's mrkl comes back as a message") {
  Fixture f;
  f.options.heartbeat = 0.05;
  Client client(f.options, &f.map);
  int echoes = 0;
  client.on_message = [&](std::string_view type, const Fields&) { echoes += type == "mrkl"; };
  client.start();
  REQUIRE(f.run_until([&] { return echoes >= 4; }));
  CHECK(client.heartbeats_sent() >= 4);
}

TEST_CASE("error 204 reaches on_error with its code and closes for good") {
  ServerOptions served;
  served.rooms = {1};
  Fixture f(served);
  f.options.reconnect = true;  // a bad room is not worth retrying
  Client client(f.options, &f.map);
  std::vector<int> codes;
  client.on_error = [&](const ClientError& e) { codes.push_back(e.code); };
  client.start();
  REQUIRE(f.run_until([&] { return client.state() == ClientState::closed; }));
  REQUIRE(codes.size() == 1);
  CHECK(codes[0] == error_bad_room);
  CHECK(client.connections() == 1);
}

TEST_CASE("a lost connection reconnects with backoff; without it the client closes") {
  ServerOptions kicking;
  kicking.idle_timeout = 0.1;
  kicking.rate = 0;
  Fixture f(kicking);
  f.options.heartbeat = 0;
  f.options.backoff = {.initial_delay = 0.01, .factor = 2, .jitter = 0, .max_delay = 0.05};
  SUBCASE("reconnect") {
    f.options.reconnect = true;
    Client client(f.options, &f.map);
    int lost = 0;
    client.on_error = [&](const ClientError& e) { lost += !e.from_server(); };
    client.start();
    REQUIRE(f.run_until([&] { return client.connections() >= 3; }));
    CHECK(lost >= 2);
    client.close();
  }
  SUBCASE("refused until the policy's max_retries are used up") {
    f.server->shutdown();  // nobody listens on the port any more
    f.options.reconnect = true;
    f.options.backoff.max_retries = 2;
    Client client(f.options, &f.map);
    int refusals = 0;
    client.on_error = [&](const ClientError&) { ++refusals; };
    client.start();
    REQUIRE(f.run_until([&] { return client.state() == ClientState::closed; }));
    CHECK(refusals == 3);  // the first attempt and two retries
    CHECK(client.connections() == 0);
  }
  SUBCASE("no reconnect") {
    Client client(f.options, &f.map);
    client.start();
    REQUIRE(f.run_until([&] { return client.state() == ClientState::closed; }));
    CHECK(client.connections() == 1);
  }
}

TEST_CASE("no loginres in time is a lost connection") {
  // A listener that never accepts: the kernel completes the handshake, nobody answers.
  struct Deaf : Dispatcher {
    using Dispatcher::Dispatcher;
    bool readable() override { return false; }
  };
  ChannelMap map;
  auto silent = std::make_shared<Deaf>(&map);
  silent->create_socket();
  silent->bind(Address::ipv4("127.0.0.1", 0));
  silent->listen(8);
  ClientOptions options;
  options.port = silent->addr.port();
  options.room = "1";
  options.login_timeout = 0.2;
  Client client(options, &map);
  std::string why;
  client.on_error = [&](const ClientError& e) { why = e.text; };
  client.start();
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (client.state() != ClientState::closed && Clock::now() < deadline) map.poll_once(0.01);
  CHECK(client.state() == ClientState::closed);
  CHECK(why.find("loginres") != std::string::npos);
  map.close_all();
}

TEST_CASE("unknown types pass through as maps; framing across reads works") {
  Fixture f;
  Client client(f.options, &f.map);
  client.start();
  REQUIRE(f.run_until([&] { return client.state() == ClientState::running; }));
  REQUIRE(f.run_until([&] { return client.messages_received() >= 12; }));
  CHECK(client.state() == ClientState::running);
}

TEST_CASE("output lines: text and json") {
  Fields chat = decode_map("type@=chatmsg/rid@=9/nn@=a@Sb/txt@=line1\nline2/col@=1/col@=2/");
  std::string text, json;
  append_text_line(text, "1", chat);
  CHECK(text == "[9] a/b: line1 line2");
  append_json_line(json, chat);
  CHECK(json == R"({"type":"chatmsg","rid":"9","nn":"a/b","txt":"line1\nline2","col":"1"})");
  // el, one layer deeper, becomes a list of objects; an el that is not STT stays a string.
  json.clear();
  append_json_line(json, decode_map("type@=chatmsg/el@=eid@AA=1@ASetp@AA=2@AS@Seid@AA=3@AS@S/"));
  CHECK(json == R"({"type":"chatmsg","el":[{"eid":"1","etp":"2"},{"eid":"3"}]})");
  json.clear();
  append_json_line(json, decode_map("type@=chatmsg/el@=/"));
  CHECK(json == R"({"type":"chatmsg","el":[]})");
  Fields other = decode_map("type@=rankup/uid@=5/");
  text.clear();
  append_text_line(text, "3", other);
  CHECK(text == "[3] rankup uid=5");
  CHECK(is_control_type("mrkl"));
  CHECK_FALSE(is_control_type("chatmsg"));
}

TEST_CASE("a room is made for its first member and removed after the last left; a new one starts afresh") {
  Fixture f;
  CHECK(f.server->rooms().size() == 0);
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    Client client(f.options, &f.map);
    std::vector<std::string> chats;
    client.on_chat = [&](const ChatMessage& m) { chats.emplace_back(m.text); };
    client.start();
    REQUIRE(f.run_until([&] { return chats.size() >= 2; }));
    CHECK(f.server->rooms().size() == 1);
    CHECK(chats[0] == "主播好厉害！ #0");  // the room's clock started with this member
    client.logout();
    REQUIRE(f.run_until([&] { return f.server->rooms().size() == 0; }));
  }
  CHECK(f.server->deliveries() >= 4);  // the removed rooms' deliveries still count
}

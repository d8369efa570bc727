// The client frames packets in place in each read and carries only a packet split across reads:
// a stream cut into pieces of every size (inside the 12-byte header too) gives the same
// messages, and a bad length is reported with its real offset in the stream.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "apps/barrage/client.h"
#include "apps/barrage/packet.h"
#include <asyncore/stream/buffered_stream.h>

using namespace asyncore;
using namespace asyncore::barrage;

namespace {

// The stand-in server's side of the connection: the test writes; what the client says is dropped.
class Peer final : public BufferedStream {
 public:
  using BufferedStream::BufferedStream;
  void handle_read() override {
    char buffer[4096];
    recv_into(buffer, sizeof buffer);
  }
};

// A stand-in server: accepts one connection.
class Listener final : public Dispatcher {
 public:
  explicit Listener(ChannelMap* map) : Dispatcher(map) {
    create_socket(AF_INET);
    bind(Address::ipv4("127.0.0.1", 0));
    listen(4);
    addr = Address::local_of(fileno());
  }
  void handle_accepted(Fd socket, const Address&) override { peer = make<Peer>(std::move(socket), &map()); }
  std::shared_ptr<Peer> peer;
};

struct Run {
  std::vector<std::string> types;
  std::string error;
};

// Sends `stream` to a client in pieces of `piece` bytes, each read by the client on its own.
Run feed_in_pieces(const std::string& stream, size_t piece) {
  set_log_level(LogLevel::warning);
  ChannelMap map;
  Listener listener(&map);
  ClientOptions options;
  options.port = listener.addr.port();
  options.room = "5";
  options.heartbeat = 0;
  Client client(options, &map);
  Run run;
  client.on_message = [&](std::string_view type, const Fields&) { run.types.emplace_back(type); };
  client.on_error = [&](const ClientError& e) { run.error = e.text; };
  client.start();
  for (int i = 0; i < 500 && !listener.peer; ++i) map.poll_once(0.01);
  REQUIRE(listener.peer);
  for (size_t at = 0; at < stream.size() && client.state() != ClientState::closed; at += piece) {
    listener.peer->send(std::string_view(stream).substr(at, piece));
    map.poll_once(0.05);  // loopback: the bytes are there, so this pass reads them
  }
  for (int i = 0; i < 20; ++i) map.poll_once(0.01);
  client.close();
  map.close_all();
  return run;
}

}  // namespace

TEST_CASE("packets cut anywhere, one piece a read, come out whole; a bad length names its stream offset") {
  std::string stream;
  append_packet(stream, "type@=loginres/userid@=0/", server_message_type);
  for (int i = 0; i < 3; ++i) append_packet(stream, "type@=chatmsg/seq@=" + std::to_string(i) + "/txt@=" + std::string(40, 'x') + "/", server_message_type);
  const size_t good = stream.size();
  stream += std::string("\x08\x00\x00\x00\x08\x00\x00\x00\xb2\x02\x00\x00", 12);  // L = 8 < 9
  for (size_t piece : {1, 2, 3, 5, 7, 11, 13, 64, 4096}) {
    CAPTURE(piece);
    Run run = feed_in_pieces(stream, piece);
    CHECK(run.types == std::vector<std::string>{"loginres", "chatmsg", "chatmsg", "chatmsg"});
    CHECK(run.error.find("length 8 is below the minimum 9 at stream offset " + std::to_string(good)) != std::string::npos);
  }
}

// What the barrage tests share: starting the simulator on port 0, and a raw protocol client
// (testing::Client plus the packet framer) for talking to it byte by byte.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apps/barrage/packet.h"
#include "apps/barrage/stt.h"
#include "test/support/testing.h"

namespace barrage_testing {

using testing::Seconds;

// A running barrage-server and the port it listens on.
struct Server {
  explicit Server(std::vector<std::string> args) : child(command(std::move(args))), port(child.listening_port("barrage")) {}
  static std::vector<std::string> command(std::vector<std::string> args) {
    std::vector<std::string> argv{testing::bin_path("barrage-server"), "--port", "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  std::string port_text() const { return std::to_string(port); }
  testing::Child child;
  int port;
};

// Talks the protocol by hand: sends client packets, reads server packets with deadlines.
class RawClient {
 public:
  explicit RawClient(int port) : connection_(port) {}
  RawClient(int port, std::string_view source) : connection_(port, "127.0.0.1", source) {}  // from 127.0.0.x
  void send(std::string_view text) { connection_.send_all(asyncore::barrage::encode_packet(text)); }
  void send_bytes(std::string_view bytes) { connection_.send_all(bytes); }
  // The next packet's text; nullopt when the server closed. Throws when nothing comes in time.
  std::optional<std::string> next(Seconds timeout = Seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
    for (;;) {
      if (auto packet = decoder_.next_packet()) {
        CHECK(packet->type == asyncore::barrage::server_message_type);
        return packet->text;
      }
      auto left = std::chrono::duration_cast<Seconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) throw std::runtime_error("no packet from the server in time");
      std::string chunk = connection_.recv_some(65536, left);
      if (chunk.empty()) return std::nullopt;
      ++reads;
      decoder_.feed(chunk);
      packets_per_read_max = std::max(packets_per_read_max, complete_packets_buffered());
    }
  }
  // Skips messages until one of `type` arrives.
  asyncore::barrage::Fields next_of_type(std::string_view type, Seconds timeout = Seconds(5)) {
    for (;;) {
      auto text = next(timeout);
      if (!text) throw std::runtime_error("the server closed while waiting for " + std::string(type));
      auto fields = asyncore::barrage::decode_map(*text, asyncore::barrage::Mode::lenient);
      if (fields.get("type") == type) return fields;
    }
  }
  void login_and_join(std::string_view room) {
    send("type@=loginreq/roomid@=" + std::string(room) + "/");
    next_of_type("loginres");
    send("type@=joingroup/rid@=" + std::string(room) + "/gid@=-9999/");
  }
  bool wait_closed(Seconds timeout) { return connection_.wait_closed(timeout); }
  testing::Client& connection() { return connection_; }
  int reads = 0;
  size_t packets_per_read_max = 0;

 private:
  // Whole packets waiting in the decoder (peeked through a copy, which is cheap here).
  size_t complete_packets_buffered() const {
    asyncore::barrage::PacketDecoder copy = decoder_;
    size_t count = 0;
    while (copy.next()) ++count;
    return count;
  }
  testing::Client connection_;
  asyncore::barrage::PacketDecoder decoder_;
};

// Milliseconds of a log line's UTC time stamp ("2026-01-02T03:04:05.678Z ..."), within the day.
inline long long log_millis(std::string_view line) {
  auto two = [&](size_t at) { return (line[at] - '0') * 10 + (line[at + 1] - '0'); };
  return ((two(11) * 60LL + two(14)) * 60 + two(17)) * 1000 + (line[20] - '0') * 100 + (line[21] - '0') * 10 + (line[22] - '0');
}

inline std::vector<std::string> lines_of(const std::string& text, std::string_view containing = {}) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(begin, end - begin);
    if (line.find(containing) != std::string::npos) out.push_back(line);
    begin = end + 1;
  }
  return out;
}

}  // namespace barrage_testing

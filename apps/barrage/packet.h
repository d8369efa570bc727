// Douyu packet framing:
//   L (uint32 LE) | L again | type (uint16 LE) | 0 | 0 | text | NUL,  L = text bytes + 9
// A packet is L + 4 bytes on the wire.
//
//   std::string wire = encode_packet("type@=mrkl/");              // 689, client -> server
//   PacketDecoder decoder;
//   decoder.feed(received_bytes);
//   while (auto packet = decoder.next()) handle(packet->type, packet->text);
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace asyncore::barrage {

inline constexpr uint16_t client_message_type = 689;  // client -> server
inline constexpr uint16_t server_message_type = 690;  // server -> client
inline constexpr size_t packet_header_size = 12;      // both lengths, type, two zero bytes
inline constexpr size_t min_packet_length = 9;        // L of an empty text with its NUL
inline constexpr size_t default_max_packet_length = 1 << 20;

// Text that cannot be framed, or a stream that breaks the framing.
// offset: byte offset in the text (encoding) or in the stream (decoding).
class PacketError : public std::runtime_error {
 public:
  PacketError(const std::string& message, uint64_t offset) : std::runtime_error(message), offset_(offset) {}
  uint64_t offset() const { return offset_; }

 private:
  uint64_t offset_;
};

// Throws PacketError when the text holds a NUL byte (the receiver would cut
// the text there) or is too long for a 32-bit length.
std::string encode_packet(std::string_view text, uint16_t type = client_message_type);
void append_packet(std::string& out, std::string_view text, uint16_t type = client_message_type);

// A decoded packet whose text points into the decoder: valid until the next
// feed() or next() call.
struct PacketView {
  uint16_t type;
  std::string_view text;  // without the trailing NUL
};

struct Packet {
  uint16_t type;
  std::string text;
  bool operator==(const Packet&) const = default;
};

// The framing checks on the bytes at the front of `data`, whose first byte is at `offset` in the
// stream, for readers that frame packets in place (no copy into a decoder). Throws PacketError
// for a bad length exactly as PacketDecoder does.
struct Frame {
  size_t size = 0;        // the whole packet, header included; 0 while fewer than 4 bytes are there
  bool complete = false;  // all `size` bytes are there: packet_at() may take it
};
Frame frame_at(std::string_view data, size_t max_length, uint64_t offset);
PacketView packet_at(std::string_view data, const Frame& frame);  // a complete frame's packet

// Incremental receiver: feed() whatever arrived, then call next() until it
// returns nullopt. Packets may be split anywhere and many may arrive at once.
// A framing error throws PacketError (reason and stream offset); the decoder
// then stays failed and every later feed() or next() throws the same error.
class PacketDecoder {
 public:
  explicit PacketDecoder(size_t max_length = default_max_packet_length);

  void feed(std::string_view bytes);
  std::optional<PacketView> next();
  std::optional<Packet> next_packet();  // the same, with the text copied out

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  size_t buffered() const { return buffer_.size() - consumed_; }  // bytes not yet decoded
  size_t held() const { return buffer_.capacity(); }               // memory the buffer takes
  uint64_t stream_offset() const { return stream_offset_; }       // bytes decoded so far
  size_t max_length() const { return max_length_; }

 private:
  void compact();

  size_t max_length_;
  std::string buffer_;
  size_t consumed_ = 0;         // bytes of buffer_ already handed out as packets
  uint64_t stream_offset_ = 0;  // stream offset of buffer_[consumed_]
  std::string error_;
  uint64_t error_offset_ = 0;
};

}  // namespace asyncore::barrage

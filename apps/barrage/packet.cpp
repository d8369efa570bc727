#include "apps/barrage/packet.h"

#include <cstring>
#include <limits>

namespace asyncore::barrage {
namespace {

void put_u32(std::string& out, uint32_t value) {
  for (int shift = 0; shift < 32; shift += 8) out += static_cast<char>((value >> shift) & 0xff);
}

uint32_t get_u32(const char* data) {
  uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(data[i]);
  return value;
}

[[noreturn]] void bad_frame(const std::string& reason, uint64_t offset) {
  throw PacketError("packet decode: " + reason, offset);
}

uint16_t get_u16(const char* data) {
  return static_cast<uint16_t>(static_cast<unsigned char>(data[0]) | (static_cast<unsigned char>(data[1]) << 8));
}

}  // namespace

void append_packet(std::string& out, std::string_view text, uint16_t type) {
  if (auto* nul = static_cast<const char*>(std::memchr(text.data(), '\0', text.size()))) {
    auto offset = static_cast<uint64_t>(nul - text.data());
    throw PacketError("packet encode: NUL byte at byte " + std::to_string(offset) + " of the text", offset);
  }
  if (text.size() > std::numeric_limits<uint32_t>::max() - min_packet_length) {
    throw PacketError("packet encode: text of " + std::to_string(text.size()) + " bytes is too long", 0);
  }
  auto length = static_cast<uint32_t>(text.size() + min_packet_length);
  out.reserve(out.size() + length + 4);
  put_u32(out, length);
  put_u32(out, length);
  out += static_cast<char>(type & 0xff);
  out += static_cast<char>(type >> 8);
  out += '\0';  // encryption
  out += '\0';  // reserved
  out += text;
  out += '\0';
}

std::string encode_packet(std::string_view text, uint16_t type) {
  std::string out;
  append_packet(out, text, type);
  return out;
}

PacketDecoder::PacketDecoder(size_t max_length) : max_length_(max_length) {}

void PacketDecoder::feed(std::string_view bytes) {
  if (failed()) throw PacketError(error_, error_offset_);
  compact();
  buffer_.append(bytes);
}

// Drops decoded bytes only when they outweigh the rest, so each byte is moved
// a bounded number of times however the stream is split.
void PacketDecoder::compact() {
  if (consumed_ == 0) return;
  if (consumed_ == buffer_.size()) {
    // A large packet once is no reason to hold its size for the rest of the connection.
    if (buffer_.capacity() > 64 * 1024) std::string().swap(buffer_);
    else buffer_.clear();
  } else if (consumed_ >= buffer_.size() - consumed_) {
    buffer_.erase(0, consumed_);
  } else {
    return;
  }
  consumed_ = 0;
}

Frame frame_at(std::string_view data, size_t max_length, uint64_t offset) {
  if (data.size() < 4) return {};
  uint32_t length = get_u32(data.data());
  // Checked as soon as the first length arrives, so a bad length never makes us buffer.
  if (length < min_packet_length) {
    bad_frame("length " + std::to_string(length) + " is below the minimum " + std::to_string(min_packet_length) +
                  " at stream offset " + std::to_string(offset),
              offset);
  }
  if (length > max_length) {
    bad_frame("length " + std::to_string(length) + " is above the limit " + std::to_string(max_length) +
                  " at stream offset " + std::to_string(offset),
              offset);
  }
  const size_t size = size_t{length} + 4;
  if (data.size() < 8) return {size, false};
  uint32_t second_length = get_u32(data.data() + 4);
  if (second_length != length) {
    bad_frame("the lengths disagree: " + std::to_string(length) + " at stream offset " + std::to_string(offset) + ", " +
                  std::to_string(second_length) + " at stream offset " + std::to_string(offset + 4),
              offset + 4);
  }
  return {size, data.size() >= size};
}

PacketView packet_at(std::string_view data, const Frame& frame) {
  std::string_view text = data.substr(packet_header_size, frame.size - packet_header_size);
  if (!text.empty() && text.back() == '\0') text.remove_suffix(1);  // its absence is tolerated
  return PacketView{get_u16(data.data() + 8), text};
}

std::optional<PacketView> PacketDecoder::next() {
  if (failed()) throw PacketError(error_, error_offset_);
  const std::string_view data = std::string_view(buffer_).substr(consumed_);
  Frame frame;
  try {
    frame = frame_at(data, max_length_, stream_offset_);
  } catch (const PacketError& error) {
    error_ = error.what();  // the decoder stays failed
    error_offset_ = error.offset();
    throw;
  }
  if (!frame.complete) {
    // Everything handed out (the views of earlier packets die with this call): a large packet's
    // buffer is let go now rather than at the next feed, which may never come.
    if (consumed_ == buffer_.size()) compact();
    return std::nullopt;
  }
  consumed_ += frame.size;
  stream_offset_ += frame.size;
  return packet_at(data, frame);
}

std::optional<Packet> PacketDecoder::next_packet() {
  auto view = next();
  if (!view) return std::nullopt;
  return Packet{view->type, std::string(view->text)};
}

}  // namespace asyncore::barrage

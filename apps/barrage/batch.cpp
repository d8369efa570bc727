#include "apps/barrage/batch.h"

#include <charconv>

namespace asyncore::barrage {
bool parse_count(std::string_view text, uint64_t& out) {
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, out);
  return !text.empty() && error == std::errc() && ptr == end;
}

std::string encode_batch(uint64_t first, uint64_t count, std::string_view packets) {
  std::string out = std::to_string(first) + " " + std::to_string(count) + "\n";
  out += packets;
  return out;
}

BatchView decode_batch(std::string_view payload, size_t max_packet_length) {
  BatchView batch;
  const size_t newline = payload.find('\n');
  const size_t space = payload.find(' ');
  if (newline == std::string_view::npos || space > newline || !parse_count(payload.substr(0, space), batch.first) ||
      !parse_count(payload.substr(space + 1, newline - space - 1), batch.count)) {
    throw BatchError("no \"<first> <count>\" line");
  }
  batch.packets = payload.substr(newline + 1);
  for (size_t at = 0; at < batch.packets.size();) {
    Frame frame;
    try {
      frame = frame_at(batch.packets.substr(at), max_packet_length, at);
    } catch (const PacketError& error) {
      throw BatchError(std::string("packet ") + std::to_string(batch.ends.size() + 1) + ": " + error.what());
    }
    if (!frame.complete) throw BatchError("packet " + std::to_string(batch.ends.size() + 1) + " is cut short");
    at += frame.size;
    batch.ends.push_back(at);
  }
  if (batch.ends.size() != batch.count) {
    throw BatchError(std::to_string(batch.ends.size()) + " packets where the header says " + std::to_string(batch.count));
  }
  return batch;
}

}  // namespace asyncore::barrage

// The Douyu packet decoder never crashes, and chunking does not change what it
// decodes: the first two bytes choose chunk sizes, the rest is the stream, fed
// once whole and once in chunks; both runs must yield the same packets and the
// same error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "apps/barrage/packet.h"

using namespace asyncore::barrage;

namespace {

struct Outcome {
  std::vector<Packet> packets;
  std::string error;
};

void drain(PacketDecoder& decoder, Outcome& outcome) {
  try {
    while (auto packet = decoder.next_packet()) outcome.packets.push_back(std::move(*packet));
  } catch (const PacketError& error) {
    outcome.error = error.what();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uint32_t chunk_seed = data[0] | (data[1] << 8);
  std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  constexpr size_t small_cap = 4096;  // keeps the cap check reachable with small inputs

  PacketDecoder whole(small_cap);
  Outcome whole_outcome;
  whole.feed(stream);
  drain(whole, whole_outcome);

  PacketDecoder chunked(small_cap);
  Outcome chunked_outcome;
  size_t position = 0;
  while (position < stream.size() && chunked_outcome.error.empty()) {
    chunk_seed = chunk_seed * 1103515245u + 12345u;
    size_t chunk = 1 + (chunk_seed >> 16) % 64;
    chunked.feed(stream.substr(position, chunk));
    position += chunk;
    drain(chunked, chunked_outcome);
  }
  if (whole_outcome.packets != chunked_outcome.packets) __builtin_trap();
  if (whole_outcome.error != chunked_outcome.error) __builtin_trap();
  if (whole.failed() != chunked.failed()) __builtin_trap();
  if (!whole.failed() && whole.stream_offset() + whole.buffered() != stream.size()) __builtin_trap();
  for (const Packet& packet : whole_outcome.packets) {
    // Re-framing a decoded packet gives a packet that decodes to the same thing.
    if (packet.text.find('\0') != std::string::npos) continue;
    PacketDecoder again;
    again.feed(encode_packet(packet.text, packet.type));
    auto copy = again.next_packet();
    if (!copy || *copy != packet) __builtin_trap();
  }
  return 0;
}

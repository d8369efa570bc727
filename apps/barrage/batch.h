// A room's batch as barrage-server nodes pass it through Redis (docs/douyu.md): "<first>
// <count>\n", then the `count` packets exactly as clients receive them, back to back. `first`
// numbers the first message; the others follow.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "apps/barrage/packet.h"

namespace asyncore::barrage {

class BatchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct BatchView {
  uint64_t first = 0;
  uint64_t count = 0;
  std::string_view packets;  // into the decoded text
  std::vector<size_t> ends;  // where each packet ends in `packets`
};

// A decimal number and nothing else (the header's numbers, and those of the nodes' scripts).
bool parse_count(std::string_view text, uint64_t& out);

std::string encode_batch(uint64_t first, uint64_t count, std::string_view packets);
// Checks the header, the framing of every packet and that there are `count` of them; throws
// BatchError saying what is wrong.
BatchView decode_batch(std::string_view payload, size_t max_packet_length = default_max_packet_length);

}  // namespace asyncore::barrage

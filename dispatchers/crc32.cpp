#include "dispatchers/crc32.h"

#include <array>

namespace asyncore {
namespace {

constexpr std::uint32_t kReflectedPolynomial = 0xEDB88320u;

// One entry per byte value: the CRC remainder after shifting that byte through.
constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t byte = 0; byte < 256; ++byte) {
    std::uint32_t remainder = byte;
    for (int bit = 0; bit < 8; ++bit) {
      remainder = (remainder & 1u) ? (remainder >> 1) ^ kReflectedPolynomial : remainder >> 1;
    }
    table[byte] = remainder;
  }
  return table;
}

constexpr auto kTable = make_table();

}  // namespace

std::uint32_t crc32(std::string_view data, std::uint32_t crc) {
  // The standard pre- and post-inversion, undone/redone so results chain.
  crc = ~crc;
  for (unsigned char c : data) crc = kTable[(crc ^ c) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

}  // namespace asyncore

// CRC-32 (IEEE 802.3, the zlib/PNG polynomial 0xEDB88320 reflected), table-driven.
#pragma once
#include <cstdint>
#include <string_view>

namespace asyncore {

// CRC of `data`; pass a previous result as `crc` to continue over split input,
// so crc32(b, crc32(a)) == crc32(a + b).
std::uint32_t crc32(std::string_view data, std::uint32_t crc = 0);

}  // namespace asyncore

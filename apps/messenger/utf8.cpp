#include "apps/messenger/utf8.h"

namespace asyncore::messenger {

std::optional<std::size_t> first_invalid_utf8(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  auto byte_at = [&](std::size_t at) { return static_cast<unsigned char>(text[at]); };
  while (i < n) {
    unsigned char lead = byte_at(i);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    // Allowed range of the second byte per lead byte (RFC 3629 table); the
    // narrowed ranges are what exclude overlongs, surrogates and > U+10FFFF.
    std::size_t length;
    unsigned char low = 0x80, high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead == 0xe0) low = 0xa0;
      if (lead == 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead == 0xf0) low = 0x90;
      if (lead == 0xf4) high = 0x8f;
    } else {
      return i;
    }
    if (i + length > n) return i;
    if (byte_at(i + 1) < low || byte_at(i + 1) > high) return i;
    for (std::size_t k = 2; k < length; ++k) {
      if ((byte_at(i + k) & 0xc0) != 0x80) return i;
    }
    i += length;
  }
  return std::nullopt;
}

}  // namespace asyncore::messenger

// The header text of a messenger frame, "CL:<n>;KEY:VALUE;KEY:VALUE" (UTF-8,
// no trailing ';'), as the original Python module writes and reads it.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "apps/messenger/header.h"

namespace asyncore::messenger {

// The length prefix is a uint16, so this is the largest header text a frame carries.
inline constexpr std::size_t kMaxHeaderBytes = 65535;
// The body length item; always written first, by the encoder only.
inline constexpr std::string_view kLengthKey = "CL";

// The header text for `user_header` and a body of `body_size` bytes, CL first.
// Throws FrameError (naming the key and the reason) for an empty key, the key
// CL, a key or value containing ':' or ';' or not UTF-8, or text above kMaxHeaderBytes.
std::string format_header_text(const Header& user_header, std::size_t body_size);

struct ParsedHeader {
  Header header;           // every item but CL, in wire order
  std::size_t body_size = 0;  // the CL value
};

// Parses received header text. Throws FrameError for text that is not UTF-8,
// an item that is not exactly KEY:VALUE (one ':', non-empty key), a repeated
// key, a missing or non-decimal CL, or CL above `max_body`.
ParsedHeader parse_header_text(std::string_view text, std::size_t max_body);

}  // namespace asyncore::messenger

// The pieces of "plain" JSON the device server's fast paths read straight from bytes (heartbeats,
// acks, flat integer bodies, admin commands; the journal's lines are written with the same rule):
// text each of them accepts is exactly what json::dump writes back, so the fast path and the JSON
// parser always agree. One definition here, so the readers cannot drift apart.
#pragma once
#include <cstddef>

namespace asyncore::device {

// A byte a key or string may hold without escaping: printable ASCII but the quote and the
// backslash.
constexpr bool plain_byte(unsigned char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; }

// The number at `p` (at most `max_digits` <= 9 digits, no sign, no leading zero), moving `p` past
// its digits; -1 when there is none or it has a leading zero. A longer number stops on a digit,
// which the callers refuse (only ',' or '}' may follow), so the loop tests one bound.
inline int plain_number(const char*& p, const char* end, std::size_t max_digits) {
  const char* const digits = p;
  const char* const stop = static_cast<std::size_t>(end - p) < max_digits ? end : p + max_digits;
  unsigned value = 0;
  for (unsigned d; p != stop && (d = static_cast<unsigned char>(*p) - '0') < 10; ++p) value = value * 10 + d;
  return p != digits && !(*digits == '0' && p - digits > 1) ? static_cast<int>(value) : -1;
}

}  // namespace asyncore::device

// Internal (not installed): the byte classes of HTTP/1.1 heads (RFC 9110, 9112), in one place for
// the request parser and the response writer. The scans look at 8 bytes per step while none of
// them needs attention (the bit tricks of "Bit Twiddling Hacks", exact for the question "is there
// one"), then find the byte itself one at a time: a head is read at a byte or two per instruction.
#pragma once
#include <cstdint>
#include <cstring>
#include <string_view>

namespace asyncore::http::chars {

// RFC 9110 token characters (methods, header names).
struct TokenTable {
  bool allowed[256] = {};
  constexpr TokenTable() {
    for (int c = '0'; c <= '9'; ++c) allowed[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) allowed[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) allowed[c] = true;
    for (char c : std::string_view("!#$%&'*+-.^_`|~")) allowed[static_cast<unsigned char>(c)] = true;
  }
};
inline constexpr TokenTable kToken;

inline bool is_token_char(char c) { return kToken.allowed[static_cast<unsigned char>(c)]; }

// The length of the run of token characters at the start of s.
inline size_t token_length(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && is_token_char(s[i])) ++i;
  return i;
}

inline bool is_token(std::string_view s) { return !s.empty() && token_length(s) == s.size(); }

namespace detail {
constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kHigh = 0x8080808080808080ull;
inline uint64_t load8(const char* p) {
  uint64_t word;
  std::memcpy(&word, p, sizeof word);
  return word;
}
// Nonzero when some byte of x is below n (n <= 128).
inline uint64_t has_less(uint64_t x, unsigned n) { return (x - kOnes * n) & ~x & kHigh; }
// Nonzero when some byte of x equals b.
inline uint64_t has_byte(uint64_t x, unsigned b) {
  const uint64_t v = x ^ (kOnes * b);
  return (v - kOnes) & ~v & kHigh;
}
// The first index at or after `from` whose byte satisfies bad(c), or npos. `maybe(word)` is a
// cheap over-approximation for 8 bytes: zero only when none of them is bad.
template <class Maybe, class Bad>
inline size_t find_first(std::string_view s, Maybe maybe, Bad bad) {
  auto scan = [&](size_t from, size_t to) {
    for (size_t j = from; j < to; ++j) {
      if (bad(static_cast<unsigned char>(s[j]))) return j;
    }
    return std::string_view::npos;
  };
  if (s.size() < 8) return scan(0, s.size());
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    if (!maybe(load8(s.data() + i))) [[likely]] continue;
    if (size_t j = scan(i, i + 8); j != std::string_view::npos) return j;
  }
  // The rest as one more word, overlapping the last one read.
  if (i < s.size() && maybe(load8(s.data() + s.size() - 8))) return scan(i, s.size());
  return std::string_view::npos;
}
}  // namespace detail

// A control character other than tab, or DEL: not allowed in a field value.
inline bool bad_value_byte(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }
// The first byte of a field value that is not allowed there, or npos.
inline size_t find_bad_value_byte(std::string_view value) {
  using namespace detail;
  return find_first(value, [](uint64_t w) { return has_less(w, 0x20) | has_byte(w, 0x7f); }, bad_value_byte);
}
inline bool valid_value(std::string_view value) { return find_bad_value_byte(value) == std::string_view::npos; }

// Space, controls, DEL, non-ASCII and '#': not allowed in a request target.
inline bool bad_target_byte(unsigned char c) { return c <= 0x20 || c >= 0x7f || c == '#'; }
inline size_t find_bad_target_byte(std::string_view target) {
  using namespace detail;
  return find_first(
      target, [](uint64_t w) { return has_less(w, 0x21) | (w & kHigh) | has_byte(w, 0x7f) | has_byte(w, '#'); },
      bad_target_byte);
}

}  // namespace asyncore::http::chars

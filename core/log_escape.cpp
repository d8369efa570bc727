#include <asyncore/log_escape.h>

namespace asyncore {
namespace {

// Length of the valid UTF-8 sequence starting at text[i] (2-4), or 0 when it is not one.
size_t utf8_sequence_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = lead >= 0xf0 && lead <= 0xf4 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 && lead <= 0xdf ? 2 : 0;
  if (length == 0 || i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  }
  // Overlong three- and four-byte forms, surrogates, and code points past U+10FFFF.
  const unsigned char second = byte(i + 1);
  if (lead == 0xe0 && second < 0xa0) return 0;
  if (lead == 0xed && second >= 0xa0) return 0;
  if (lead == 0xf0 && second < 0x90) return 0;
  if (lead == 0xf4 && second >= 0x90) return 0;
  return length;
}

}  // namespace

void append_log_escaped(std::string& out, std::string_view value, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  const size_t shown = value.size() > max_bytes ? max_bytes : value.size();
  out.reserve(out.size() + shown + 16);
  size_t i = 0;
  while (i < shown) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c == '\\') {
      out += "\\\\";
      ++i;
    } else if (size_t length = c >= 0x80 ? utf8_sequence_length(value, i) : 0; length && i + length <= shown) {
      out.append(value.substr(i, length));
      i += length;
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
      ++i;
    }
  }
  if (value.size() > shown) out += "...(+" + std::to_string(value.size() - shown) + " bytes)";
}

std::string log_escape(std::string_view value, size_t max_bytes) {
  std::string out;
  append_log_escaped(out, value, max_bytes);
  return out;
}

}  // namespace asyncore

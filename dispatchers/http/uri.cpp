#include <asyncore/http/uri.h>

namespace asyncore::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

}  // namespace

size_t find_bad_percent_escape(std::string_view text) {
  for (size_t i = text.find('%'); i != std::string_view::npos; i = text.find('%', i + 1)) {
    if (i + 2 >= text.size()) return i;
    if (hex_value(text[i + 1]) < 0 || hex_value(text[i + 2]) < 0) return i;
  }
  return std::string_view::npos;
}

void append_percent_decoded(std::string& out, std::string_view text, bool plus_is_space) {
  size_t i = 0;
  while (i < text.size()) {
    // A run with nothing to decode (most of any path or query) is copied in one append.
    size_t special = i;
    if (plus_is_space) {
      while (special < text.size() && text[special] != '%' && text[special] != '+') ++special;
    } else {
      while (special < text.size() && text[special] != '%') ++special;
    }
    out.append(text.data() + i, special - i);
    if (special == text.size()) return;
    i = special;
    char c = text[i];
    if (c == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 3;
    } else {
      out.push_back(plus_is_space && c == '+' ? ' ' : c);
      ++i;
    }
  }
}

std::string percent_decoded(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  append_percent_decoded(out, text, plus_is_space);
  return out;
}

void append_percent_encoded(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (unreserved(u)) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
}

}  // namespace asyncore::http

// STT decoding, one layer at a time, into Fields / Items (one buffer each).
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstring>

#include "apps/barrage/stt.h"

namespace asyncore::barrage {
namespace {

std::string printable(char c) {
  if (c >= 0x20 && c < 0x7f) return std::string(1, c);
  static constexpr char hex[] = "0123456789abcdef";
  auto byte = static_cast<unsigned char>(c);
  return std::string("\\x") + hex[byte >> 4] + hex[byte & 0xf];
}

[[noreturn]] void fail(const std::string& what, size_t offset) {
  throw SttError("STT decode: " + what + " at byte " + std::to_string(offset), offset);
}

// Out of line, so the hot loops below carry no string temporaries.
[[noreturn, gnu::cold, gnu::noinline]] void fail_lone_at(size_t offset) {
  fail("lone '@' at the end of a key, value or item", offset);
}
[[noreturn, gnu::cold, gnu::noinline]] void fail_unknown_escape(char code, size_t offset) {
  fail("unknown escape '@" + printable(code) + "'", offset);
}

// Where in the eight bytes at p the first '@' or '/' is (8: none). SWAR: x ^ pattern has a
// zero byte exactly where x holds the pattern's byte, and the lowest flagged byte is exact.
size_t first_special8(const char* p) {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  const std::uint64_t at = x ^ (ones * '@'), slash = x ^ (ones * '/');
  const std::uint64_t mask = (((at - ones) & ~at) | ((slash - ones) & ~slash)) & highs;
  if (mask == 0) return 8;
  if constexpr (std::endian::native == std::endian::little) return static_cast<size_t>(std::countr_zero(mask)) / 8;
  return static_cast<size_t>(std::countl_zero(mask)) / 8;
}

// Writes text[begin, limit) unescaped at `out` (room for limit - begin bytes: unescaping never
// grows the text) and returns where the output ended. kItem: a '/' ends the range early (a list
// item or a map value runs to the next '/'); `stopped` gets where the input ended.
// Plain runs are copied eight bytes at a time up to the next '@' or '/' (not memchr: values are
// short and dense with escapes, as in nested `el`); every message a client receives comes here.
template <bool kItem>
char* unescape_until(char* out, std::string_view text, size_t begin, size_t limit, Mode mode, size_t& stopped) {
  const char* data = text.data();
  size_t i = begin;
  while (i < limit) {
    if (i + 8 <= limit) {
      // out never runs ahead of i (unescaping only shrinks), so eight bytes fit wherever eight
      // are read; only the plain ones count.
      const size_t run = first_special8(data + i);
      std::memcpy(out, data + i, 8);
      out += run;
      i += run;
      if (run == 8) continue;
    } else if (data[i] != '@' && data[i] != '/') {
      *out++ = data[i++];
      continue;
    }
    const char c = data[i];
    if (c == '/') {
      if (kItem) break;
      *out++ = c;
      ++i;
      continue;
    }
    if (i + 1 == limit || (kItem && data[i + 1] == '/')) {  // c is '@'
      if (mode != Mode::lenient) fail_lone_at(i);
      *out++ = '@';
      ++i;
      continue;  // the next byte ends the range
    }
    const char code = data[i + 1];
    if (code == 'A' || code == 'S') {
      *out++ = code == 'A' ? '@' : '/';
      i += 2;
    } else {
      if (mode != Mode::lenient) fail_unknown_escape(code, i);
      *out++ = '@';  // lenient: kept literally; the next byte is read as ordinary text
      ++i;
    }
  }
  stopped = i;
  return out;
}

// Copies the plain bytes of text from `begin` to `out` up to the first '@' or '/' (or the end)
// and returns where that is. Same room rule as unescape_until.
size_t copy_plain(char*& out, std::string_view text, size_t begin) {
  const char* data = text.data();
  size_t i = begin;
  for (;;) {
    if (i + 8 <= text.size()) {
      const size_t run = first_special8(data + i);
      std::memcpy(out, data + i, 8);
      out += run;
      i += run;
      if (run < 8) return i;
    } else {
      while (i < text.size() && data[i] != '@' && data[i] != '/') *out++ = data[i++];
      return i;
    }
  }
}

void reject_nul(std::string_view text, Mode mode) {
  if (mode == Mode::lenient) return;
  if (auto* nul = static_cast<const char*>(std::memchr(text.data(), '\0', text.size()))) {
    fail("NUL byte", static_cast<size_t>(nul - text.data()));
  }
}

// The first "@=" of the map item starting at `begin` (found), or the item's end: its '/' or the
// end of the text (not found). escaped: an '@' came before it (the key needs unescaping).
// For keys with escapes; plain ones take copy_plain.
size_t find_separator(std::string_view text, size_t begin, bool& found, bool& escaped) {
  const char* data = text.data();
  const size_t size = text.size();
  escaped = false;
  size_t i = begin;
  for (; i < size && data[i] != '/'; ++i) {
    if (data[i] != '@') continue;
    if (i + 1 < size && data[i + 1] == '=') {
      found = true;
      return i;
    }
    escaped = true;
  }
  found = false;
  return i;
}

}  // namespace

std::string unescape(std::string_view text, Mode mode) {
  reject_nul(text, mode);
  std::string out(text.size(), '\0');
  size_t stopped = 0;
  out.resize(static_cast<size_t>(unescape_until<false>(out.data(), text, 0, text.size(), mode, stopped) - out.data()));
  return out;
}

// Items end at '/' (the final one is optional); '/' never occurs inside one, escaped as @S.
void decode_map_into(std::string_view text, Fields& out, Mode mode) {
  out.clear();
  try {
    reject_nul(text, mode);
    out.text_.resize(text.size());  // trimmed at the end
    char* const base = out.text_.data();
    char* cursor = base;
    size_t begin = 0;
    const char* data = text.data();
    while (begin < text.size()) {
      // The usual key is plain text followed by "@=": copied while it is looked for.
      char* key = cursor;
      size_t separator = copy_plain(cursor, text, begin);
      bool found = false, escaped = false;
      if (separator < text.size() && data[separator] == '@') {
        found = separator + 1 < text.size() && data[separator + 1] == '=';
        if (!found) {  // an escape in the key (rare): the general path
          cursor = key;
          separator = find_separator(text, begin, found, escaped);
        }
      }
      if (!found && separator == begin) {
        if (mode == Mode::strict) fail("empty map item", begin);
        begin = separator + 1;
        continue;
      }
      if (!found && mode != Mode::lenient) fail("map item without '@='", begin);
      size_t end = separator;  // without a separator the whole item is the key
      if (escaped) cursor = unescape_until<false>(cursor, text, begin, separator, mode, end);
      char* value = cursor;
      if (found) cursor = unescape_until<true>(cursor, text, separator + 2, text.size(), mode, end);
      out.spans_.push_back({static_cast<size_t>(key - base), static_cast<size_t>(value - key), static_cast<size_t>(cursor - value)});
      begin = end + 1;
    }
    out.text_.resize(static_cast<size_t>(cursor - base));
  } catch (...) {
    out.clear();
    throw;
  }
}

// The end of the text ends the last item, so "a//" yields "a" and "" but never a phantom item
// after the final '/'.
void decode_list_into(std::string_view text, Items& out, Mode mode) {
  out.clear();
  try {
    reject_nul(text, mode);
    out.text_.resize(text.size());
    char* const base = out.text_.data();
    char* cursor = base;
    size_t begin = 0;
    while (begin < text.size()) {
      char* item = cursor;
      size_t end = begin;
      cursor = unescape_until<true>(cursor, text, begin, text.size(), mode, end);
      out.spans_.push_back({static_cast<size_t>(item - base), static_cast<size_t>(cursor - item)});
      begin = end + 1;
    }
    out.text_.resize(static_cast<size_t>(cursor - base));
  } catch (...) {
    out.clear();
    throw;
  }
}

Fields decode_map(std::string_view text, Mode mode) {
  Fields fields;
  decode_map_into(text, fields, mode);
  return fields;
}

Items decode_list(std::string_view text, Mode mode) {
  Items items;
  decode_list_into(text, items, mode);
  return items;
}

// ---- Fields ----

Fields::Entry Fields::operator[](size_t index) const {
  const Span& span = spans_.at(index);
  std::string_view text(text_);
  return Entry{text.substr(span.key_begin, span.key_size),
               text.substr(span.key_begin + span.key_size, span.value_size)};
}

std::optional<std::string_view> Fields::find(std::string_view key) const {
  std::string_view text(text_);
  for (const Span& span : spans_) {
    if (text.substr(span.key_begin, span.key_size) == key) {
      return text.substr(span.key_begin + span.key_size, span.value_size);
    }
  }
  return std::nullopt;
}

std::string_view Fields::get(std::string_view key, std::string_view fallback) const {
  return find(key).value_or(fallback);
}

std::optional<long long> Fields::get_int(std::string_view key) const {
  auto value = find(key);
  if (!value || value->empty()) return std::nullopt;
  long long number = 0;
  auto result = std::from_chars(value->data(), value->data() + value->size(), number);
  if (result.ec != std::errc() || result.ptr != value->data() + value->size()) return std::nullopt;
  return number;
}

Map Fields::to_map() const {
  Map map;
  for (Entry entry : *this) map.add(std::string(entry.key), Value(entry.value));
  return map;
}

void Fields::clear() {
  text_.clear();
  spans_.clear();
}

// ---- Items ----

std::string_view Items::operator[](size_t index) const {
  const Span& span = spans_.at(index);
  return std::string_view(text_).substr(span.begin, span.size);
}

List Items::to_list() const {
  List list;
  list.reserve(spans_.size());
  for (std::string_view item : *this) list.emplace_back(item);
  return list;
}

void Items::clear() {
  text_.clear();
  spans_.clear();
}

}  // namespace asyncore::barrage

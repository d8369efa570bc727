// STT decoding, one layer at a time, into Fields / Items (one buffer each).
#include <charconv>
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

// Appends text[begin, end) unescaped to `out` in runs between '@'s.
void append_unescaped(std::string& out, std::string_view text, size_t begin, size_t end, Mode mode) {
  const char* data = text.data();
  size_t position = begin;
  while (position < end) {
    auto* at = static_cast<const char*>(std::memchr(data + position, '@', end - position));
    if (at == nullptr) break;
    size_t at_offset = static_cast<size_t>(at - data);
    out.append(data + position, at_offset - position);
    if (at_offset + 1 == end) {
      if (mode == Mode::strict) fail("lone '@' at the end of a key, value or item", at_offset);
      out += '@';
      position = end;
      break;
    }
    char code = data[at_offset + 1];
    if (code == 'A' || code == 'S') {
      out += code == 'A' ? '@' : '/';
      position = at_offset + 2;
    } else {
      if (mode == Mode::strict) fail("unknown escape '@" + printable(code) + "'", at_offset);
      out += '@';  // lenient: kept literally; the next byte is read as ordinary text
      position = at_offset + 1;
    }
  }
  out.append(data + position, end - position);
}

void reject_nul(std::string_view text, Mode mode) {
  if (mode != Mode::strict) return;
  if (auto* nul = static_cast<const char*>(std::memchr(text.data(), '\0', text.size()))) {
    fail("NUL byte", static_cast<size_t>(nul - text.data()));
  }
}

// Calls item(begin, end) for each '/'-terminated item; the final '/' is optional.
template <typename OnItem>
void for_each_item(std::string_view text, OnItem&& item) {
  size_t begin = 0;
  while (begin < text.size()) {
    auto* slash = static_cast<const char*>(std::memchr(text.data() + begin, '/', text.size() - begin));
    size_t end = slash ? static_cast<size_t>(slash - text.data()) : text.size();
    item(begin, end);
    begin = end + 1;
  }
}

// The first "@=" in text[begin, end), or end.
size_t find_separator(std::string_view text, size_t begin, size_t end) {
  const char* data = text.data();
  size_t position = begin;
  while (position + 1 < end) {
    auto* at = static_cast<const char*>(std::memchr(data + position, '@', end - 1 - position));
    if (at == nullptr) return end;
    size_t at_offset = static_cast<size_t>(at - data);
    if (data[at_offset + 1] == '=') return at_offset;
    position = at_offset + 1;
  }
  return end;
}

}  // namespace

std::string unescape(std::string_view text, Mode mode) {
  reject_nul(text, mode);
  std::string out;
  out.reserve(text.size());
  append_unescaped(out, text, 0, text.size(), mode);
  return out;
}

void decode_map_into(std::string_view text, Fields& out, Mode mode) {
  out.clear();
  try {
    reject_nul(text, mode);
    out.text_.reserve(text.size());  // unescaping never grows the text
    for_each_item(text, [&](size_t begin, size_t end) {
      if (begin == end) {
        if (mode == Mode::strict) fail("empty map item", begin);
        return;
      }
      size_t separator = find_separator(text, begin, end);
      if (separator == end && mode == Mode::strict) fail("map item without '@='", begin);
      size_t key_begin = out.text_.size();
      append_unescaped(out.text_, text, begin, separator, mode);
      size_t key_size = out.text_.size() - key_begin;
      if (separator != end) append_unescaped(out.text_, text, separator + 2, end, mode);
      out.spans_.push_back({key_begin, key_size, out.text_.size() - key_begin - key_size});
    });
  } catch (...) {
    out.clear();
    throw;
  }
}

void decode_list_into(std::string_view text, Items& out, Mode mode) {
  out.clear();
  try {
    reject_nul(text, mode);
    out.text_.reserve(text.size());
    for_each_item(text, [&](size_t begin, size_t end) {
      size_t item_begin = out.text_.size();
      append_unescaped(out.text_, text, begin, end, mode);
      out.spans_.push_back({item_begin, out.text_.size() - item_begin});
    });
    // for_each_item stops at the end of the text, so "a//" yields "a" and "" but
    // never a phantom item after the final '/'.
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

// STT encoding: escape, then one more escaping level per nesting level.
#include <bit>
#include <cstdint>
#include <cstring>

#include "apps/barrage/stt.h"

namespace asyncore::barrage {
namespace {

constexpr size_t no_nul = std::string::npos;

// Where in the eight bytes at p the first byte escaping cares about ('@', '/' or NUL) is (8:
// none). SWAR, as in decoding: x ^ pattern has a zero byte exactly where x holds the pattern's.
size_t first_special8(const char* p) {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  const std::uint64_t at = x ^ (ones * '@'), slash = x ^ (ones * '/');
  const std::uint64_t mask = (((at - ones) & ~at) | ((slash - ones) & ~slash) | ((x - ones) & ~x)) & highs;
  if (mask == 0) return 8;
  if constexpr (std::endian::native == std::endian::little) return static_cast<size_t>(std::countr_zero(mask)) / 8;
  return static_cast<size_t>(std::countl_zero(mask)) / 8;
}

// Appends `text` escaped and returns no_nul, or stops at a NUL byte and returns its offset (what
// came before it stays appended). Written through a pointer into room for the worst case (every
// byte escaped), trimmed after: no append per run or per escape; plain runs go eight bytes at a
// time (a simulator room encodes every message it broadcasts).
size_t append_escaped_checked(std::string& out, std::string_view text) {
  const size_t start = out.size();
  out.resize(start + 2 * text.size());
  char* const base = out.data() + start;
  char* cursor = base;
  const char* data = text.data();
  size_t i = 0, nul = no_nul;
  while (i < text.size()) {
    if (i + 8 <= text.size()) {  // the output never lags the input by less than nothing: eight fit
      const size_t run = first_special8(data + i);
      std::memcpy(cursor, data + i, 8);
      cursor += run;
      i += run;
      if (run == 8) continue;
    } else if (data[i] != '@' && data[i] != '/' && data[i] != '\0') {
      *cursor++ = data[i++];
      continue;
    }
    if (data[i] == '\0') {
      nul = i;
      break;
    }
    *cursor++ = '@';
    *cursor++ = data[i] == '@' ? 'A' : 'S';
    ++i;
  }
  out.resize(start + static_cast<size_t>(cursor - base));
  return nul;
}

[[noreturn]] void throw_nul(size_t offset, const std::string& where) {
  throw SttError("STT encode: NUL byte at byte " + std::to_string(offset) + " of " + where, offset);
}

// Descriptions are only built on the error path, so encoding allocates nothing per field.
std::string key_label(const std::string& key, size_t index) {
  // A key holding NUL is not printable as is; it is named by position instead.
  if (key.find('\0') != std::string::npos) return "key #" + std::to_string(index);
  return "key '" + key + "'";
}

void append_value(std::string& out, const Value& value, const auto& describe);

void append_map(std::string& out, const Map& map) {
  size_t index = 0;
  for (const Field& field : map) {
    size_t nul = append_escaped_checked(out, field.key);
    if (nul != no_nul) throw_nul(nul, "key #" + std::to_string(index));
    out += "@=";
    append_value(out, field.value, [&] { return "the value of " + key_label(field.key, index); });
    out += '/';
    ++index;
  }
}

void append_list(std::string& out, const List& list) {
  for (size_t index = 0; index < list.size(); ++index) {
    append_value(out, list[index], [&] { return "list item " + std::to_string(index); });
    out += '/';
  }
}

// A nested map or list is serialized on its own and escaped once more as a whole.
void append_value(std::string& out, const Value& value, const auto& describe) {
  if (value.is_text()) {
    size_t nul = append_escaped_checked(out, value.text());
    if (nul != no_nul) throw_nul(nul, describe());
    return;
  }
  std::string nested;
  try {
    if (value.is_map()) {
      append_map(nested, value.map());
    } else {
      append_list(nested, value.list());
    }
  } catch (const SttError& error) {
    throw SttError(std::string(error.what()) + " inside " + describe(), error.offset());
  }
  append_escaped_checked(out, nested);  // cannot hold NUL: every leaf was checked
}

// Leaves `out` as it was when encoding fails.
template <typename Container>
void append_or_restore(std::string& out, const Container& container, void (*append)(std::string&, const Container&)) {
  size_t original_size = out.size();
  try {
    append(out, container);
  } catch (...) {
    out.resize(original_size);
    throw;
  }
}

}  // namespace

void append_escaped(std::string& out, std::string_view text) {
  size_t original_size = out.size();
  size_t nul = append_escaped_checked(out, text);
  if (nul != no_nul) {
    out.resize(original_size);
    throw_nul(nul, "the text");
  }
}

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_escaped(out, text);
  return out;
}

void append_encoded(std::string& out, const Map& map) { append_or_restore(out, map, append_map); }
void append_encoded(std::string& out, const List& list) { append_or_restore(out, list, append_list); }

std::string encode(const Map& map) {
  std::string out;
  append_map(out, map);
  return out;
}

std::string encode(const List& list) {
  std::string out;
  append_list(out, list);
  return out;
}

}  // namespace asyncore::barrage

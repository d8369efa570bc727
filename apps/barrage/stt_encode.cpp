// STT encoding: escape, then one more escaping level per nesting level.
#include "apps/barrage/stt.h"

namespace asyncore::barrage {
namespace {

constexpr size_t no_nul = std::string::npos;

// Appends `text` escaped and returns no_nul, or stops at a NUL byte and returns its offset.
size_t append_escaped_checked(std::string& out, std::string_view text) {
  size_t run_begin = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '@' && c != '/' && c != '\0') continue;
    if (c == '\0') return i;
    out.append(text.data() + run_begin, i - run_begin);
    out += c == '@' ? "@A" : "@S";
    run_begin = i + 1;
  }
  out.append(text.data() + run_begin, text.size() - run_begin);
  return no_nul;
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

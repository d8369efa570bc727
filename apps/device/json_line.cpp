#include "apps/device/json_line.h"

#include <algorithm>
#include <charconv>

#include "apps/device/plain_json.h"
#include <asyncore/json/json.h>

namespace asyncore::device {

namespace {
// The longest key written into the buffer (longer ones go straight to the string), and the
// longest plain string value.
constexpr std::size_t kShortKey = 64;
constexpr std::size_t kShortText = 64;
}  // namespace

void JsonLine::key(std::string_view name, std::size_t value_size) {
  // Keys are this program's own literals (plain ASCII names): nothing to escape.
  if (name.size() > kShortKey) [[unlikely]] return long_key(name, value_size);
  room(name.size() + 4 + value_size);
  // A local pointer: stores through char* could change at_ itself, so the compiler would
  // reload and store it for every byte.
  char* p = at_;
  if (!first_) *p++ = ',';
  first_ = false;
  *p++ = '"';
  for (char c : name) *p++ = c;  // a few bytes: no call
  *p++ = '"';
  *p++ = ':';
  at_ = p;
}

void JsonLine::long_key(std::string_view name, std::size_t value_size) {
  flush();
  out_.append(first_ ? "\"" : ",\"").append(name).append("\":");
  first_ = false;
  room(value_size);
}

JsonLine& JsonLine::operator()(std::string_view name, std::string_view text) {
  // Most values are short names ("ev", "battery"): printable ASCII needs no escaping.
  bool plain = text.size() <= kShortText;
  for (std::size_t i = 0; plain && i < text.size(); ++i) plain = plain_byte(static_cast<unsigned char>(text[i]));
  if (!plain) {
    key(name, 0);
    flush();
    json::append_quoted(out_, text);
    return *this;
  }
  key(name, text.size() + 2);
  char* p = at_;
  *p++ = '"';
  for (char c : text) *p++ = c;
  *p++ = '"';
  at_ = p;
  return *this;
}

JsonLine& JsonLine::operator()(std::string_view name, double number) {
  key(name, json::kMaxDoubleText);
  at_ = json::write_double(at_, number);  // exactly as json::dump writes it
  return *this;
}

JsonLine& JsonLine::integer(std::string_view name, long long number) {
  key(name, 24);
  at_ = std::to_chars(at_, at_ + 24, number).ptr;
  return *this;
}

JsonLine& JsonLine::operator()(std::string_view name, std::uint64_t number) {
  key(name, 24);
  at_ = std::to_chars(at_, at_ + 24, number).ptr;
  return *this;
}

JsonLine& JsonLine::operator()(std::string_view name, bool value) {
  key(name, 5);
  const std::string_view text = value ? "true" : "false";
  at_ = std::copy(text.begin(), text.end(), at_);
  return *this;
}

JsonLine& JsonLine::operator()(std::string_view name, Imei imei) {
  key(name, Imei::kDigits + 2);
  char* p = at_;
  *p++ = '"';
  p = imei.write_to(p);  // digits only: nothing to escape
  *p++ = '"';
  at_ = p;
  return *this;
}

JsonLine& JsonLine::raw(std::string_view name, std::string_view json) {
  key(name, 0);
  flush();
  out_.append(json);
  return *this;
}

}  // namespace asyncore::device

#include "apps/device/json_line.h"

#include <charconv>

#include <asyncore/json/json.h>

namespace asyncore::device {

void JsonLine::key(std::string_view name) {
  // Keys are this program's own literals (plain ASCII names): nothing to escape.
  // One append per key: `,"name":` put together on the stack (names are short).
  char text[64];
  if (name.size() > sizeof text - 4) {
    out_.append(first_ ? "\"" : ",\"").append(name).append("\":");
    first_ = false;
    return;
  }
  char* p = text;
  if (!first_) *p++ = ',';
  first_ = false;
  *p++ = '"';
  p = std::copy(name.begin(), name.end(), p);
  *p++ = '"';
  *p++ = ':';
  out_.append(text, static_cast<std::size_t>(p - text));
}

JsonLine& JsonLine::operator()(std::string_view name, std::string_view text) {
  key(name);
  // Most values are short names ("ev", "battery"): printable ASCII needs no escaping, one append.
  bool plain = text.size() <= 64;
  for (std::size_t i = 0; plain && i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
  }
  if (!plain) {
    json::append_quoted(out_, text);
    return *this;
  }
  char quoted[66];
  quoted[0] = '"';
  std::copy(text.begin(), text.end(), quoted + 1);
  quoted[text.size() + 1] = '"';
  out_.append(quoted, text.size() + 2);
  return *this;
}

JsonLine& JsonLine::operator()(std::string_view name, double number) {
  key(name);
  json::append_double(out_, number);  // exactly as json::dump writes it
  return *this;
}

JsonLine& JsonLine::integer(std::string_view name, long long number) {
  key(name);
  char buffer[24];
  out_.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, number).ptr);
  return *this;
}

JsonLine& JsonLine::operator()(std::string_view name, std::uint64_t number) {
  key(name);
  char buffer[24];
  out_.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, number).ptr);
  return *this;
}

JsonLine& JsonLine::operator()(std::string_view name, bool value) {
  key(name);
  out_.append(value ? "true" : "false");
  return *this;
}

JsonLine& JsonLine::operator()(std::string_view name, Imei imei) {
  key(name);
  out_.push_back('"');
  imei.append_to(out_);  // digits only: nothing to escape
  out_.push_back('"');
  return *this;
}

JsonLine& JsonLine::raw(std::string_view name, std::string_view json) {
  key(name);
  out_.append(json);
  return *this;
}

}  // namespace asyncore::device

#include "apps/barrage/output.h"

#include <algorithm>
#include <array>

#include <asyncore/json/json.h>

namespace asyncore::barrage {
namespace {

void append_one_line(std::string& out, std::string_view value) {
  for (char c : value) out += (c == '\n' || c == '\r') ? ' ' : c;
}

// Fills "{name}" markers from the fields; everything else is copied.
void append_template(std::string& out, std::string_view pattern, const Fields& fields) {
  while (!pattern.empty()) {
    size_t open = pattern.find('{');
    if (open == std::string_view::npos) break;
    size_t close = pattern.find('}', open);
    out.append(pattern.substr(0, open));
    append_one_line(out, fields.get(pattern.substr(open + 1, close - open - 1)));
    pattern.remove_prefix(close + 1);
  }
  out.append(pattern);
}

}  // namespace

bool is_control_type(std::string_view type) {
  constexpr std::array<std::string_view, 5> control = {"loginres", "pingreq", "mrkl", "keeplive", "error"};
  return std::find(control.begin(), control.end(), type) != control.end();
}

void append_text_line(std::string& out, std::string_view room, const Fields& fields) {
  out += '[';
  append_one_line(out, fields.get("rid", room));
  out += "] ";
  const std::string_view type = fields.get("type");
  if (type == "chatmsg") {
    append_template(out, "{nn}: {txt}", fields);
  } else if (type == "uenter") {
    append_template(out, "{nn} entered (level {level})", fields);
  } else if (type == "dgb") {
    append_template(out, "{nn} sent gift {gfid} x{gfcnt}", fields);
  } else if (type == "spbc") {
    append_template(out, "{sn} gave {dn} {gn} x{gc}", fields);
  } else {
    append_one_line(out, type.empty() ? "(no type)" : type);
    for (auto [key, value] : fields) {
      if (key == "type" || key == "rid") continue;
      out += ' ';
      append_one_line(out, key);
      out += '=';
      append_one_line(out, value);
    }
  }
}

namespace {

void append_json_object(std::string& out, const Fields& fields);

// `el` carries a list of maps, one escaping layer deeper: decoded to a JSON array of objects so a
// script need not know STT. A value that does not decode stays the string it was.
void append_json_value(std::string& out, std::string_view key, std::string_view value) {
  if (key == "el") {
    try {
      std::string nested = "[";
      for (std::string_view item : decode_list(value, Mode::lenient)) {
        if (nested.size() > 1) nested += ',';
        append_json_object(nested, decode_map(item, Mode::lenient));
      }
      out += nested;
      out += ']';
      return;
    } catch (const std::exception&) {
    }
  }
  json::append_quoted(out, value);
}

// The first of duplicate keys wins, as Fields::get does.
void append_json_object(std::string& out, const Fields& fields) {
  out += '{';
  bool first = true;
  for (size_t i = 0; i < fields.size(); ++i) {
    const auto entry = fields[i];
    bool repeated = false;
    for (size_t j = 0; j < i && !repeated; ++j) repeated = fields[j].key == entry.key;
    if (repeated) continue;
    if (!first) out += ',';
    first = false;
    json::append_quoted(out, entry.key);
    out += ':';
    append_json_value(out, entry.key, entry.value);
  }
  out += '}';
}

}  // namespace

void append_json_line(std::string& out, const Fields& fields) { append_json_object(out, fields); }

}  // namespace asyncore::barrage

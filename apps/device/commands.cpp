#include "apps/device/commands.h"

#include <charconv>
#include <cstring>

#include "apps/device/fields.h"
#include "apps/device/plain_json.h"

namespace asyncore::device {
namespace {

// What each command type carries: adding a command is adding a line here. Both paths read it:
// check_command_json through a FieldReader, plain_command from the bytes.
enum class FieldKind { none, interval, text, flag, action };
struct CommandSpec {
  int type;
  std::string_view field;  // the one it requires
  FieldKind kind;
};

constexpr CommandSpec kCommands[] = {
    {set_heartbeat, "interval", FieldKind::interval},
    {locate_now, {}, FieldKind::none},
    {message, "text", FieldKind::text},
    {lock, "locked", FieldKind::flag},
    {control, "action", FieldKind::action},
};

const CommandSpec* find_spec(std::int64_t type) {
  for (const CommandSpec& s : kCommands) {
    if (s.type == type) return &s;
  }
  return nullptr;
}

void check_field(const CommandSpec& spec, FieldReader& f) {
  switch (spec.kind) {
    case FieldKind::none: break;
    case FieldKind::interval: f.integer(spec.field, kMinHeartbeat, kMaxHeartbeat, Need::required); break;
    case FieldKind::text: f.string(spec.field, Need::required); break;
    case FieldKind::flag: f.boolean(spec.field, Need::required); break;
    case FieldKind::action: f.choice(spec.field, kControlActions, Need::required); break;
  }
}

// One member of a plain body: its key and its value's text as sent.
struct PlainMember {
  std::string_view key;
  std::string_view value;
  bool is_integer() const { return !value.empty() && value[0] >= '0' && value[0] <= '9'; }
  bool is_string() const { return !value.empty() && value[0] == '"'; }
  std::string_view string() const { return value.substr(1, value.size() - 2); }
  int integer() const {  // at most 9 digits: fits
    int n = 0;
    std::from_chars(value.data(), value.data() + value.size(), n);
    return n;
  }
};

// At most this many members on the fast path; more go to the parser.
constexpr std::size_t kMaxPlainMembers = 8;

}  // namespace

std::optional<Command> plain_command(std::string_view body) {
  if (body.size() < 2 || body.front() != '{' || body.back() != '}') return std::nullopt;
  const char* p = body.data() + 1;
  const char* const end = body.data() + body.size() - 1;  // the closing brace
  PlainMember members[kMaxPlainMembers];
  std::size_t n = 0;
  const PlainMember* type = nullptr;
  while (true) {
    if (p == end || *p != '"') return std::nullopt;  // also "{}" and a trailing comma
    const char* key = ++p;
    while (p != end && plain_byte(static_cast<unsigned char>(*p))) ++p;
    if (end - p < 2 || *p != '"' || p[1] != ':') return std::nullopt;
    const std::string_view name(key, static_cast<std::size_t>(p - key));
    p += 2;
    const char* value = p;
    if (p == end) return std::nullopt;
    if (*p == '"') {
      ++p;
      while (p != end && plain_byte(static_cast<unsigned char>(*p))) ++p;
      if (p == end || *p != '"') return std::nullopt;
      ++p;
    } else if (*p >= '0' && *p <= '9') {
      if (plain_number(p, end, 9) < 0) return std::nullopt;  // a tenth digit is refused below
    } else if (end - p >= 4 && std::memcmp(p, "true", 4) == 0) {
      p += 4;
    } else if (end - p >= 5 && std::memcmp(p, "false", 5) == 0) {
      p += 5;
    } else {
      return std::nullopt;
    }
    if (n == kMaxPlainMembers) return std::nullopt;
    for (std::size_t i = 0; i < n; ++i) {
      if (members[i].key == name) return std::nullopt;  // which one counts is the parser's call
    }
    members[n] = {name, std::string_view(value, static_cast<std::size_t>(p - value))};
    if (name == "type") type = &members[n];
    ++n;
    if (p == end) break;
    if (*p++ != ',') return std::nullopt;
  }
  if (!type || !type->is_integer()) return std::nullopt;
  const CommandSpec* spec = find_spec(type->integer());
  if (!spec || type->integer() < 100) return std::nullopt;
  Command command;
  command.type = spec->type;
  bool required_found = spec->kind == FieldKind::none;
  for (std::size_t i = 0; i < n; ++i) {
    const PlainMember& m = members[i];
    if (m.key == "type" || m.key == "ident") continue;
    if (!required_found && m.key == spec->field) {
      switch (spec->kind) {
        case FieldKind::none: break;
        case FieldKind::interval:
          if (!m.is_integer() || m.integer() < kMinHeartbeat || m.integer() > kMaxHeartbeat) return std::nullopt;
          command.interval = m.integer();
          break;
        case FieldKind::text:
          if (!m.is_string()) return std::nullopt;
          break;
        case FieldKind::flag:
          if (m.value != "true" && m.value != "false") return std::nullopt;
          break;
        case FieldKind::action: {
          bool known = false;
          for (std::string_view a : kControlActions) known = known || (m.is_string() && m.string() == a);
          if (!known) return std::nullopt;
          break;
        }
      }
      required_found = true;
    }
    if (!command.members.empty()) command.members.push_back(',');
    command.members.push_back('"');
    command.members.append(m.key);
    command.members.append("\":", 2);
    command.members.append(m.value);
  }
  if (!required_found) return std::nullopt;
  return command;
}

CommandCheck check_command_json(std::string_view body) {
  json::ParseResult parsed = json::try_parse(body);
  if (!parsed) return {std::nullopt, "invalid JSON: " + std::string(parsed.error->what())};
  if (!parsed.value->is_object()) return {std::nullopt, "the command must be a JSON object"};
  FieldReader fields(*parsed.value);
  std::optional<std::int64_t> type = fields.integer("type", 100, 65535, Need::required);
  if (!type) return {std::nullopt, fields.problem()};
  const CommandSpec* spec = find_spec(*type);
  if (!spec) return {std::nullopt, "unknown command type " + std::to_string(*type)};
  check_field(*spec, fields);
  if (!fields.ok()) return {std::nullopt, fields.problem()};
  return {command_from_json(*parsed.value), {}};
}

CommandCheck check_command(std::string_view body) {
  if (std::optional<Command> command = plain_command(body)) return {std::move(command), {}};
  return check_command_json(body);
}

std::optional<Command> command_from_json(const json::Value& object) {
  const json::Value* type = object.get("type");
  if (!type || !type->is_int() || type->as_int() < 1 || type->as_int() > 65535) return std::nullopt;
  Command command;
  command.type = static_cast<int>(type->as_int());
  if (const json::Value* interval = object.get("interval"); command.type == set_heartbeat && interval && interval->is_int()) {
    command.interval = clamp_heartbeat(interval->as_int());
  }
  // Written member by member as json::dump writes them, the command's own "type" and "ident"
  // left out: the frame puts its type first and the server's ident after it.
  for (const json::Member& m : object.as_object()) {
    if (m.key == "type" || m.key == "ident") continue;
    if (!command.members.empty()) command.members.push_back(',');
    json::append_quoted(command.members, m.key);
    command.members.push_back(':');
    json::dump_to(command.members, m.value);
  }
  return command;
}

std::string command_text(const Command& command) {
  std::string out = "{\"type\":" + std::to_string(command.type);
  if (!command.members.empty()) out += ',';
  out += command.members;
  out += '}';
  return out;
}

std::string command_body(const Command& command, int ident) {
  std::string out;
  out.reserve(128);  // most commands fit: one allocation, not one per doubling
  append_command_body(out, command, ident);
  return out;
}

void append_command_body(std::string& out, const Command& command, int ident) {
  char number[16];
  out += "{\"type\":";
  out.append(number, std::to_chars(number, number + sizeof number, command.type).ptr);
  out += ",\"ident\":";
  out.append(number, std::to_chars(number, number + sizeof number, ident).ptr);
  if (!command.members.empty()) out += ',';
  out += command.members;
  out.push_back('}');
}

}  // namespace asyncore::device

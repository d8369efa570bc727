#include "apps/device/commands.h"

#include "apps/device/fields.h"

namespace asyncore::device {
namespace {

// One checker per command type: adding a command is adding a line here.
using Checker = void (*)(FieldReader&);
struct CommandSpec {
  int type;
  Checker check;
};

constexpr CommandSpec kCommands[] = {
    {set_heartbeat, [](FieldReader& f) { f.integer("interval", kMinHeartbeat, kMaxHeartbeat, Need::required); }},
    {locate_now, [](FieldReader&) {}},
    {message, [](FieldReader& f) { f.string("text", Need::required); }},
    {lock, [](FieldReader& f) { f.boolean("locked", Need::required); }},
    {control, [](FieldReader& f) { f.choice("action", kControlActions, Need::required); }},
};

}  // namespace

CommandCheck check_command(std::string_view body) {
  json::ParseResult parsed = json::try_parse(body);
  if (!parsed) return {std::nullopt, "invalid JSON: " + std::string(parsed.error->what())};
  if (!parsed.value->is_object()) return {std::nullopt, "the command must be a JSON object"};
  FieldReader fields(*parsed.value);
  std::optional<std::int64_t> type = fields.integer("type", 100, 65535, Need::required);
  if (!type) return {std::nullopt, fields.problem()};
  const CommandSpec* spec = nullptr;
  for (const CommandSpec& s : kCommands) {
    if (s.type == *type) spec = &s;
  }
  if (!spec) return {std::nullopt, "unknown command type " + std::to_string(*type)};
  spec->check(fields);
  if (!fields.ok()) return {std::nullopt, fields.problem()};
  parsed.value->as_object().erase("ident");  // the server numbers its own commands
  return {std::move(parsed.value), {}};
}

std::string command_body(const json::Value& command, int ident) {
  std::string out;
  out.reserve(128);  // most commands fit: one allocation, not one per doubling
  append_command_body(out, command, ident);
  return out;
}

void append_command_body(std::string& out, const json::Value& command, int ident) {
  // Written as text member by member (the same text json::dump gives), without copying the
  // command into a new object first: this is on every command sent.
  out += "{\"type\":";
  json::dump_to(out, command["type"]);
  out += ",\"ident\":";
  out += std::to_string(ident);
  for (const json::Member& m : command.as_object()) {
    if (m.key == "type" || m.key == "ident") continue;
    out.push_back(',');
    json::append_quoted(out, m.key);
    out.push_back(':');
    json::dump_to(out, m.value);
  }
  out.push_back('}');
}

}  // namespace asyncore::device

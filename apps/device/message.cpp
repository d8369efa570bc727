#include "apps/device/message.h"

namespace asyncore::device {

std::variant<Message, BadBody> parse_message(std::string_view body) {
  json::ParseResult parsed = json::try_parse(body);
  if (!parsed) return BadBody{"invalid JSON: " + std::string(parsed.error->what())};
  if (!parsed.value->is_object()) return BadBody{"body is not a JSON object"};
  const json::Value* type = parsed.value->get("type");
  if (!type) return BadBody{"missing type"};
  if (!type->is_int() || type->as_int() < 1 || type->as_int() > 65535) {
    return BadBody{"type must be an integer 1..65535"};
  }
  Message message;
  message.type = static_cast<int>(type->as_int());
  if (const json::Value* ident = parsed.value->get("ident");
      ident && ident->is_int() && ident->as_int() >= 1 && ident->as_int() <= 65535) {
    message.ident = static_cast<int>(ident->as_int());
  }
  message.body = std::move(*parsed.value);
  return message;
}

std::string status_reply(int type, int ident, int status, std::string_view extra_members) {
  std::string out = "{\"type\":" + std::to_string(type) + ",\"ident\":" + std::to_string(ident) +
                    ",\"status\":" + std::to_string(status);
  out.append(extra_members);
  out.push_back('}');
  return out;
}

std::string error_reply(int type, int ident, int status, std::string_view error) {
  std::string extra = ",\"error\":";
  json::append_quoted(extra, error);
  return status_reply(type, ident, status, extra);
}

}  // namespace asyncore::device

#include "apps/device/message.h"

#include <charconv>
#include <cstring>

#include "apps/device/frame.h"
#include "apps/device/plain_json.h"

namespace asyncore::device {

namespace {

// A body of small non-negative integers only, such as every ack, {"type":104,"ident":5,"status":200}:
// the object is built member by member without the JSON parser (a fifth of the cost). nullopt
// for anything else (white space, escapes, non-ASCII keys, other values, a repeated key), which
// the JSON parser then reads.
// Bytes a key may hold here (plain_byte), as a table.
struct PlainKeyTable {
  bool plain[256] = {};
  constexpr PlainKeyTable() {
    for (int c = 0; c < 256; ++c) plain[c] = plain_byte(static_cast<unsigned char>(c));
  }
};
constexpr PlainKeyTable kPlainKey;

std::optional<json::Value> flat_integers(std::string_view body) {
  if (body.size() < 3 || body.front() != '{' || body.back() != '}') return std::nullopt;
  const char* p = body.data() + 1;
  const char* const end = body.data() + body.size() - 1;  // the closing brace
  json::Object object;
  object.reserve(4);
  while (true) {
    if (*p != '"') return std::nullopt;  // also "{}" and a trailing comma: *end is '}'
    const char* key = ++p;
    while (p != end && kPlainKey.plain[static_cast<unsigned char>(*p)]) ++p;
    if (end - p < 2 || *p != '"' || p[1] != ':') return std::nullopt;
    const std::string_view name(key, static_cast<std::size_t>(p - key));
    p += 2;
    const int value = plain_number(p, end, 9);  // a tenth digit is refused below, as not ','
    if (value < 0) return std::nullopt;
    if (object.size() == 8 || object.contains(name)) return std::nullopt;
    object.append(std::string(name), json::Value(value));
    if (p == end) break;
    if (*p++ != ',') return std::nullopt;
  }
  return json::Value(std::move(object));
}

}  // namespace

std::variant<Message, BadBody> parse_message(std::string_view body) {
  json::ParseResult parsed;
  parsed.value = flat_integers(body);
  // What the flat reader accepts (no white space, no escapes, plain ASCII keys, integers without
  // sign or leading zero, no repeated key) is written back byte for byte by json::dump.
  const bool canonical = static_cast<bool>(parsed);
  if (!parsed) parsed = json::try_parse(body);
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
  message.canonical = canonical;
  return message;
}

std::optional<HeartbeatFrame> parse_heartbeat(std::string_view body) {
  // {"type":3,"ident":I} or {"type":3,"ident":I,"battery":B}, numbers as JSON writes them (no
  // sign, no leading zero); the keys in this order, as devices write them.
  constexpr std::string_view kBattery = ",\"battery\":";
  const char* p = body.data();
  const char* const end = p + body.size();
  if (body.size() < kHeartbeatHead.size() + 2 || std::memcmp(p, kHeartbeatHead.data(), kHeartbeatHead.size()) != 0) {
    return std::nullopt;
  }
  p += kHeartbeatHead.size();
  HeartbeatFrame frame;
  frame.ident = plain_number(p, end, 5);
  if (frame.ident < 1 || frame.ident > 65535) return std::nullopt;
  frame.ident_digits = static_cast<std::uint8_t>(p - body.data() - kHeartbeatHead.size());
  if (static_cast<std::size_t>(end - p) > kBattery.size() && std::memcmp(p, kBattery.data(), kBattery.size()) == 0) {
    p += kBattery.size();
    const int battery = plain_number(p, end, 3);
    if (battery < 0 || battery > 100) return std::nullopt;
    frame.battery = battery;
  }
  if (p + 1 != end || *p != '}') return std::nullopt;
  return frame;
}

std::optional<AckFrame> parse_ack(std::string_view body) {
  const char* p = body.data();
  const char* const end = p + body.size();
  // `key` then a number of at most `max_digits` digits, no leading zero; -1 when not.
  auto member = [&p, end]<std::size_t N>(const char(&key)[N], std::size_t max_digits) {
    if (static_cast<std::size_t>(end - p) < N || std::memcmp(p, key, N - 1) != 0) return -1;
    p += N - 1;
    return plain_number(p, end, max_digits);
  };
  AckFrame ack;
  ack.type = member("{\"type\":", 5);
  if (ack.type < 100 || ack.type > 65535) return std::nullopt;
  ack.ident = member(",\"ident\":", 5);
  if (ack.ident < 1 || ack.ident > 65535) return std::nullopt;
  ack.status = member(",\"status\":", 9);
  // A sixth (tenth) digit is left unread and then refused here, as the closing brace is not.
  if (ack.status < 0 || p + 1 != end || *p != '}') return std::nullopt;
  return ack;
}

std::size_t heartbeat_reply(char* out, std::string_view body, const HeartbeatFrame& heartbeat) {
  // The body begins with {"type":3,"ident":I, I's digits as the reply writes them (no sign, no
  // leading zero): copied as they are, so no number is written.
  constexpr std::string_view kStatus = ",\"status\":200}";
  const std::size_t head = kHeartbeatHead.size() + heartbeat.ident_digits;
  char* p = out + kFrameHeaderSize;
  std::memcpy(p, kHeartbeatHead.data(), kHeartbeatHead.size());  // constant sizes: a few moves
  for (std::size_t i = kHeartbeatHead.size(); i < head; ++i) p[i] = body[i];  // at most 5 digits
  std::memcpy(p + head, kStatus.data(), kStatus.size());
  write_be32(out, static_cast<std::uint32_t>(head + kStatus.size()));
  return kFrameHeaderSize + head + kStatus.size();
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

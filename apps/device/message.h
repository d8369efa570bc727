// One frame body as a message: a JSON object with an integer `type` (1..65535) and, normally,
// an `ident`. parse_message() says exactly why a body is refused, for the 400 reply and the log.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <asyncore/json/json.h>

namespace asyncore::device {

struct Message {
  int type = 0;
  std::optional<int> ident;  // nullopt when missing or not an integer 1..65535
  json::Value body;          // always an object
  bool canonical = false;    // the frame's text is exactly json::dump(body): it may be passed on as is
};

// A body the connection cannot survive (the contract's "bad frame").
struct BadBody {
  std::string reason;
};

std::variant<Message, BadBody> parse_message(std::string_view body);

// The frame every connected device sends every few seconds, {"type":3,"ident":I} with an
// optional "battery":B, keys in this order: read without building a JSON tree (a tenth of the
// cost). Anything unusual (white space, escapes, other keys, a value out of range) gives nullopt
// and takes parse_message(), so this accepts only what parse_message reads the same way.
struct HeartbeatFrame {
  int ident = 0;
  std::optional<int> battery;
  std::uint8_t ident_digits = 0;  // how many digits the ident has in the body
};
inline constexpr std::string_view kHeartbeatHead = "{\"type\":3,\"ident\":";
std::optional<HeartbeatFrame> parse_heartbeat(std::string_view body);
// The reply to a heartbeat `body` that parse_heartbeat read: the frame of
// {"type":3,"ident":I,"status":200} (status_reply's text), written into `out` (kMaxHeartbeatReply
// bytes); returns its size. Sent on every heartbeat, so it copies the ident's digits from the body.
inline constexpr std::size_t kMaxHeartbeatReply = 48;
std::size_t heartbeat_reply(char* out, std::string_view body, const HeartbeatFrame& heartbeat);

// The ack every device sends for a command, {"type":T,"ident":I,"status":S} in this order (as
// status_reply writes it), T 100..65535, I 1..65535, S 0..999999999 without sign or leading zero:
// read without building a JSON object, which is most of an ack's cost. The text is then exactly
// json::dump of what parse_message would give, so it is passed on as the ack itself. Anything
// else gives nullopt and takes parse_message(): this accepts only what it reads the same way.
struct AckFrame {
  int type = 0;
  int ident = 0;
  int status = 0;
};
std::optional<AckFrame> parse_ack(std::string_view body);

// A reply or command body with the common keys first: {"type":T,"ident":I,"status":S<extra>}.
// `extra_members` is either empty or starts with ',' (already-encoded members).
std::string status_reply(int type, int ident, int status, std::string_view extra_members = {});
// The bad-frame / bad-request reply with an "error" member.
std::string error_reply(int type, int ident, int status, std::string_view error);

}  // namespace asyncore::device

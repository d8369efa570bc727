// libFuzzer target for the device frame extractor and message parser (and its fast paths). The input is split into
// chunks (lengths taken from the first bytes), and whatever comes out of the chunked stream must
// be exactly what comes out of the whole stream in one feed: no byte lost, none invented.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "apps/device/commands.h"
#include "apps/device/frame.h"
#include "apps/device/message.h"

using namespace asyncore::device;

namespace {

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "device_frame_fuzz: %s\n", what);
    std::abort();
  }
}

// parse_message must never crash, whatever the body; parse_heartbeat, the fast path, may only
// accept a heartbeat that parse_message reads the same way (type 3, that ident and battery, no
// other member).
void check_heartbeat_paths(std::string_view body) {
  const std::variant<Message, BadBody> general = parse_message(body);
  const std::optional<HeartbeatFrame> fast = parse_heartbeat(body);
  if (!fast) return;
  const Message* m = std::get_if<Message>(&general);
  require(m && m->type == 3 && m->ident == fast->ident, "the heartbeat fast path accepted what the parser reads otherwise");
  const asyncore::json::Value* battery = m->body.get("battery");
  require(fast->battery ? battery && battery->is_int() && battery->as_int() == *fast->battery && m->body.size() == 3
                        : !battery && m->body.size() == 2,
          "the heartbeat fast path read another battery or missed a member");
  char reply[kMaxHeartbeatReply];
  require(std::string_view(reply, heartbeat_reply(reply, body, *fast)) == encode_frame(status_reply(3, fast->ident, 200)),
          "the heartbeat's reply is not status_reply's text");
}

// parse_ack, the acks' fast path, may only accept an ack that parse_message reads the same way:
// canonical (its text is passed on as the ack), that type, ident and status, no other member.
void check_ack_paths(std::string_view body) {
  const std::optional<AckFrame> fast = parse_ack(body);
  if (!fast) return;
  const std::variant<Message, BadBody> general = parse_message(body);
  const Message* m = std::get_if<Message>(&general);
  require(m && m->canonical && m->type == fast->type && m->ident == fast->ident && m->body.size() == 3,
          "the ack fast path accepted what the parser reads otherwise");
  const asyncore::json::Value* status = m->body.get("status");
  require(status && status->is_int() && status->as_int() == fast->status && asyncore::json::dump(m->body) == body,
          "the ack fast path read another status or text");
}

// The same for an admin's command body (read from frames here only to reach it with fuzzed
// bytes): plain_command may only accept what check_command_json reads the same way.
void check_command_paths(std::string_view body) {
  const std::optional<Command> fast = plain_command(body);
  const CommandCheck general = check_command_json(body);
  if (!fast) return;
  require(general.command && general.command->type == fast->type && general.command->interval == fast->interval &&
              general.command->members == fast->members,
          "the command fast path accepted what the general path reads otherwise");
}

struct Outcome {
  std::vector<std::string> bodies;
  FrameEvent::Kind end = FrameEvent::need_more;
  std::size_t leftover = 0;
};

Outcome extract(std::string_view stream, const std::vector<std::size_t>& cuts, std::uint32_t max_frame) {
  Outcome out;
  FrameExtractor extractor(max_frame);
  std::size_t at = 0;
  for (std::size_t i = 0; i <= cuts.size() && out.end == FrameEvent::need_more; ++i) {
    std::size_t n = i < cuts.size() ? std::min(cuts[i], stream.size() - at) : stream.size() - at;
    extractor.feed(stream.substr(at, n));
    at += n;
    for (;;) {
      FrameEvent event = extractor.next();
      if (event.kind != FrameEvent::frame) {
        out.end = event.kind;
        break;
      }
      require(event.body.size() == event.length && event.length > 0 && event.length <= max_frame, "bad frame size");
      out.bodies.emplace_back(event.body);
      check_heartbeat_paths(event.body);
      check_ack_paths(event.body);
      check_command_paths(event.body);
    }
  }
  out.leftover = extractor.leftover();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint32_t max_frame = 1u + (data[0] % 200);  // small, so oversize paths are reached
  const std::size_t cut_count = data[1] % 16;
  std::vector<std::size_t> cuts;
  std::size_t header = 2;
  for (std::size_t i = 0; i < cut_count && header < size; ++i, ++header) cuts.push_back(data[header] % 64);
  const std::string_view stream(reinterpret_cast<const char*>(data) + header, size - header);

  const Outcome whole = extract(stream, {}, max_frame);
  const Outcome chunked = extract(stream, cuts, max_frame);
  require(whole.bodies == chunked.bodies, "chunking changed the frames");
  require(whole.end == chunked.end, "chunking changed how the stream ends");
  if (whole.end == FrameEvent::need_more) {
    std::size_t consumed = 0;
    for (const std::string& b : whole.bodies) consumed += kFrameHeaderSize + b.size();
    require(consumed + whole.leftover == stream.size(), "bytes lost or invented");
    require(chunked.leftover == whole.leftover, "chunking changed the leftover");
  }
  return 0;
}

// Frame bodies as messages: the reasons a body is refused, and the reply shapes.
#include <doctest/doctest.h>

#include <random>
#include <variant>

#include "apps/device/commands.h"
#include "apps/device/event.h"
#include "apps/device/frame.h"
#include "apps/device/message.h"

using namespace asyncore;
using namespace asyncore::device;

namespace {

std::string refusal(std::string_view body) {
  auto parsed = parse_message(body);
  if (auto* bad = std::get_if<BadBody>(&parsed)) return bad->reason;
  return "accepted";
}

}  // namespace

TEST_CASE("bodies the connection cannot survive") {
  CHECK(refusal("not json").starts_with("invalid JSON: json: at byte 0"));
  CHECK(refusal("\"\xff\"").starts_with("invalid JSON"));
  CHECK(refusal("[1,2]") == "body is not a JSON object");
  CHECK(refusal("{\"ident\":1}") == "missing type");
  CHECK(refusal("{\"type\":\"3\"}") == "type must be an integer 1..65535");
  CHECK(refusal("{\"type\":3.0}") == "type must be an integer 1..65535");
  CHECK(refusal("{\"type\":0}") == "type must be an integer 1..65535");
  CHECK(refusal("{\"type\":65536}") == "type must be an integer 1..65535");
  CHECK(refusal("{\"type\":65535,\"ident\":1}") == "accepted");
}

TEST_CASE("ident is read when valid") {
  auto ok = std::get<Message>(parse_message(R"({"type":3,"ident":7})"));
  CHECK(ok.type == 3);
  CHECK(ok.ident == 7);
  CHECK_FALSE(std::get<Message>(parse_message(R"({"type":3})")).ident);
  CHECK_FALSE(std::get<Message>(parse_message(R"({"type":3,"ident":0})")).ident);
  CHECK_FALSE(std::get<Message>(parse_message(R"({"type":3,"ident":"1"})")).ident);
}

namespace {

// `body` with up to two bytes replaced, inserted or dropped (from `alphabet`): a near miss for a
// fast path, or the body itself.
std::string near_miss(std::string body, std::string_view alphabet, std::mt19937& rng) {
  for (int edits = static_cast<int>(rng() % 3); edits-- > 0;) {
    const std::size_t at = rng() % (body.size() + 1);
    const char c = alphabet[rng() % alphabet.size()];
    switch (rng() % 3) {
      case 0: if (at < body.size()) body[at] = c; break;
      case 1: body.insert(body.begin() + static_cast<long>(at), c); break;
      case 2: if (at < body.size()) body.erase(at, 1); break;
    }
  }
  return body;
}

// The fast path may only accept what the general parser reads the same way: a type 3 message
// with that ident, that battery (or none), and no other member.
bool paths_agree(std::string_view body, const std::optional<HeartbeatFrame>& fast) {
  if (!fast) return true;  // the general parser decides
  auto general = parse_message(body);
  const Message* m = std::get_if<Message>(&general);
  if (!m || m->type != 3 || m->ident != fast->ident) return false;
  const json::Value* battery = m->body.get("battery");
  if (fast->battery) return battery && battery->is_int() && battery->as_int() == *fast->battery && m->body.size() == 3;
  return !battery && m->body.size() == 2;
}

// parse_message reads integer-only bodies (acks) without the JSON parser: it must read every body
// exactly as the JSON parser does.
bool same_as_json_parser(std::string_view body) {
  auto parsed = parse_message(body);
  const Message* m = std::get_if<Message>(&parsed);
  json::ParseResult j = json::try_parse(body);
  const json::Value* type = j && j.value->is_object() ? j.value->get("type") : nullptr;
  if (!type || !type->is_int() || type->as_int() < 1 || type->as_int() > 65535) return !m;
  return m && m->type == type->as_int() && json::dump(m->body) == json::dump(*j.value);
}

}  // namespace

TEST_CASE("the heartbeat fast path reads the shapes devices send, and only what the JSON parser reads the same") {
  auto fast = parse_heartbeat(R"({"type":3,"ident":12,"battery":97})");
  REQUIRE(fast);
  CHECK(fast->ident == 12);
  CHECK(fast->battery == 97);
  fast = parse_heartbeat(R"({"type":3,"ident":65535})");
  REQUIRE(fast);
  CHECK(fast->ident == 65535);
  CHECK_FALSE(fast->battery);
  CHECK(parse_heartbeat(R"({"type":3,"ident":1,"battery":0})")->battery == 0);
  CHECK(parse_heartbeat(R"({"type":3,"ident":1,"battery":100})")->battery == 100);
  // Left to the general parser: it answers these 400, or reads them with other keys or spacing.
  for (std::string_view body : {R"({"type":3,"ident":0})", R"({"type":3,"ident":65536})", R"({"type":3,"ident":01})",
                                R"({"type":3,"ident":1,"battery":101})", R"({"type":3,"ident":1,"battery":-1})",
                                R"({"type":3,"ident":1,"battery":1.5})", R"({"type":3,"ident":1,"battery":"9"})",
                                R"({"type":3,"ident":1,"battery":9,"battery":8})", R"({"type":3,"ident":1,"x":1})",
                                R"({"type":3, "ident":1})", R"({"ident":1,"type":3})", R"({"type":3,"ident":1} )",
                                R"({"type":3,"ident":1}})", R"({"type":4,"ident":1})", R"({"type":3,"ident":1e0})",
                                R"({"type":3,"ident":1234567})", R"({"type":3})", R"({"type":3,"ident":})", "{}", ""}) {
    CAPTURE(body);
    CHECK_FALSE(parse_heartbeat(body));
  }

  // Many inputs: heartbeats and near misses (bytes replaced, inserted, dropped), both paths.
  const std::vector<std::string> seeds = {R"({"type":3,"ident":7,"battery":55})", R"({"type":3,"ident":65535})",
                                          R"({"type":3,"ident":100,"battery":100})", R"({"type":3,"ident":9,"battery":0})",
                                          R"({"type":104,"ident":5,"status":200})", R"({"type":100,"ident":65535,"status":400})"};
  const std::string alphabet = "0123456789{}\",:-.e \\typeidntbarx";
  std::mt19937 rng(19);
  int accepted = 0, checked = 0;
  for (int i = 0; i < 200000; ++i) {
    const std::string body = near_miss(seeds[rng() % seeds.size()], alphabet, rng);
    const std::optional<HeartbeatFrame> fast = parse_heartbeat(body);
    accepted += fast ? 1 : 0;
    ++checked;
    if (!paths_agree(body, fast)) FAIL_CHECK("the paths disagree on " << body);
    if (!same_as_json_parser(body)) FAIL_CHECK("parse_message reads otherwise than the JSON parser: " << body);
  }
  CHECK(checked == 200000);
  CHECK(accepted > 10000);  // the unedited seeds and the harmless edits (a digit for a digit)
}

namespace {

// The ack fast path may only accept what parse_message reads the same way: a canonical message
// (its text passed on as the ack) with that type, ident and status, and no other member.
bool ack_paths_agree(std::string_view body, const std::optional<AckFrame>& fast) {
  if (!fast) return true;  // the general parser decides
  auto general = parse_message(body);
  const Message* m = std::get_if<Message>(&general);
  if (!m || !m->canonical || m->type != fast->type || m->ident != fast->ident || m->body.size() != 3) return false;
  const json::Value* status = m->body.get("status");
  return status && status->is_int() && status->as_int() == fast->status && json::dump(m->body) == body;
}

}  // namespace

TEST_CASE("the ack fast path reads acks as devices write them, and only what parse_message reads the same") {
  auto fast = parse_ack(R"({"type":104,"ident":5,"status":200})");
  REQUIRE(fast);
  CHECK(fast->type == 104);
  CHECK(fast->ident == 5);
  CHECK(fast->status == 200);
  fast = parse_ack(R"({"type":65535,"ident":65535,"status":999999999})");
  REQUIRE(fast);
  CHECK(fast->status == 999999999);
  CHECK(parse_ack(R"({"type":100,"ident":1,"status":0})")->status == 0);
  CHECK(parse_ack(status_reply(111, 9, 400))->status == 400);
  // Left to the general parser: it drops or refuses these, or reads them with other keys or spacing.
  for (std::string_view body : {R"({"type":99,"ident":1,"status":200})", R"({"type":65536,"ident":1,"status":200})",
                                R"({"type":104,"ident":0,"status":200})", R"({"type":104,"ident":65536,"status":200})",
                                R"({"type":104,"ident":1,"status":1000000000})", R"({"type":104,"ident":1,"status":0200})",
                                R"({"type":104,"ident":1,"status":-1})", R"({"type":104,"ident":1,"status":"200"})",
                                R"({"type":104,"ident":1,"status":200.0})", R"({"type":104,"ident":1,"status":200,"x":1})",
                                R"({"type":104,"ident":1,"status":200,"status":200})", R"({"type":104, "ident":1,"status":200})",
                                R"({"ident":1,"type":104,"status":200})", R"({"type":104,"ident":1,"status":200} )",
                                R"({"type":104,"ident":1})", R"({"type":104,"ident":1,"status":})", R"({"type":0104,"ident":1,"status":2})",
                                R"({"type":104,"ident":1,"status":200}})", "{}", ""}) {
    CAPTURE(body);
    CHECK_FALSE(parse_ack(body));
  }

  // Many inputs: acks and near misses (bytes replaced, inserted, dropped), both paths.
  const std::vector<std::string> seeds = {R"({"type":104,"ident":5,"status":200})", R"({"type":100,"ident":65535,"status":400})",
                                          R"({"type":65535,"ident":1,"status":0})", R"({"type":111,"ident":12,"status":999999999})",
                                          R"({"type":3,"ident":7,"battery":55})"};
  const std::string alphabet = "0123456789{}\",:-.e \\typeidntsaux";
  std::mt19937 rng(104);
  int accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    const std::string body = near_miss(seeds[rng() % seeds.size()], alphabet, rng);
    const std::optional<AckFrame> ack = parse_ack(body);
    accepted += ack ? 1 : 0;
    if (!ack_paths_agree(body, ack)) FAIL_CHECK("the paths disagree on " << body);
  }
  CHECK(accepted > 10000);  // the unedited seeds and the harmless edits (a digit for a digit)
}

TEST_CASE("replies") {
  CHECK(status_reply(3, 9, 200) == R"({"type":3,"ident":9,"status":200})");
  // A heartbeat's reply copies the ident's digits from the heartbeat: the same text.
  for (std::string_view body : {R"({"type":3,"ident":65535,"battery":100})", R"({"type":3,"ident":1})",
                                R"({"type":3,"ident":407,"battery":9})"}) {
    CAPTURE(body);
    const std::optional<HeartbeatFrame> heartbeat = parse_heartbeat(body);
    REQUIRE(heartbeat);
    char frame[kMaxHeartbeatReply];
    const std::size_t n = heartbeat_reply(frame, body, *heartbeat);
    CHECK(std::string_view(frame, n) == encode_frame(status_reply(3, heartbeat->ident, 200)));
  }
  CHECK(error_reply(0, 0, 400, "zero \"length\"") == R"({"type":0,"ident":0,"status":400,"error":"zero \"length\""})");
}

TEST_CASE("commands are checked against the table") {
  CHECK(check_command(R"({"type":104,"text":"hi"})").command);
  CHECK(check_command(R"({"type":104})").error == "text is required");
  CHECK(check_command(R"({"type":100,"interval":5})").error == "interval must be an integer 10..1800");
  CHECK(check_command(R"({"type":105,"locked":1})").error == "locked must be true or false");
  CHECK(check_command(R"({"type":111,"action":"explode"})").error == "action must be one of reboot, poweroff, relogin");
  CHECK(check_command(R"({"type":3})").error == "type must be an integer 100..65535");
  CHECK(check_command(R"({"type":150})").error == "unknown command type 150");
  CHECK(check_command("[]").error == "the command must be a JSON object");
  auto checked = check_command(R"({"type":104,"ident":77,"text":"hi"})");
  REQUIRE(checked.command);
  CHECK(command_body(*checked.command, 5) == R"({"type":104,"ident":5,"text":"hi"})");
  std::string frame = "head";  // appended after what the buffer holds, as a frame is built
  append_command_body(frame, *checked.command, 65535);
  CHECK(frame == R"(head{"type":104,"ident":65535,"text":"hi"})");
}

namespace {

bool same_command(const Command& a, const Command& b) {
  return a.type == b.type && a.interval == b.interval && a.members == b.members;
}

// The command fast path may only accept what the general path accepts, read the same way.
bool command_paths_agree(std::string_view body, const std::optional<Command>& fast) {
  if (!fast) return true;  // the general path decides
  const CommandCheck general = check_command_json(body);
  return general.command && same_command(*fast, *general.command);
}

}  // namespace

TEST_CASE("the command fast path reads the usual bodies, and only what the general path reads the same") {
  // What an admin usually sends, of every type, each read by the fast path.
  const std::vector<std::string> usual = {R"({"type":104,"text":"bench"})", R"({"type":100,"interval":60})",
                                          R"({"type":101})", R"({"type":105,"locked":true})",
                                          R"({"type":105,"locked":false})", R"({"type":111,"action":"relogin"})",
                                          R"({"text":"first","type":104,"ident":7,"n":0,"x":false})"};
  for (const std::string& body : usual) {
    CAPTURE(body);
    const std::optional<Command> fast = plain_command(body);
    REQUIRE(fast);
    CHECK(command_paths_agree(body, fast));
    CHECK(same_command(*check_command(body).command, *fast));
  }
  CHECK(plain_command(R"({"type":100,"interval":60})")->interval == 60);
  CHECK(plain_command(R"({"text":"first","type":104,"ident":7,"n":0,"x":false})")->members ==
        R"("text":"first","n":0,"x":false)");
  CHECK(command_text(*plain_command(R"({"text":"a","type":104})")) == R"({"type":104,"text":"a"})");
  CHECK(command_text(*plain_command(R"({"type":101,"ident":3})")) == R"({"type":101})");
  // Left to the general path: refused there with its reason, or read with escapes, spacing,
  // other kinds of value or a repeated key.
  for (std::string_view body : {R"({"type":104})", R"({"type":104,"text":5})", R"({"type":100,"interval":9})",
                                R"({"type":100,"interval":1801})", R"({"type":100,"interval":"60"})",
                                R"({"type":105,"locked":1})", R"({"type":111,"action":"explode"})", R"({"type":150})",
                                R"({"type":3})", R"({"type":104,"text":"a"b"})", R"({"type":104,"text":"é"})",
                                R"({"type":104, "text":"a"})", R"({"type":104,"text":"a","text":"b"})",
                                R"({"type":104,"text":"a","n":-1})", R"({"type":104,"text":"a","n":1.5})",
                                R"({"type":104,"text":"a","n":null})", R"({"type":104,"text":"a","n":[1]})",
                                R"({"type":0104,"text":"a"})", R"({"type":104,"text":"a",})", R"({"type":104.0,"text":"a"})",
                                R"({"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"type":101})", "{}", "[]", ""}) {
    CAPTURE(body);
    CHECK_FALSE(plain_command(body));
    const CommandCheck general = check_command_json(body);
    const CommandCheck both = check_command(body);
    CHECK(both.error == general.error);
    CHECK(both.command.has_value() == general.command.has_value());
  }

  // Many inputs: the usual bodies and near misses (bytes replaced, inserted, dropped), both paths.
  const std::string alphabet = "0123456789{}\",:-.e \\typeidntlockarfsux";
  std::mt19937 rng(111);
  int accepted = 0, refused = 0;
  for (int i = 0; i < 200000; ++i) {
    const std::string body = near_miss(usual[rng() % usual.size()], alphabet, rng);
    const std::optional<Command> fast = plain_command(body);
    accepted += fast ? 1 : 0;
    refused += check_command(body).command ? 0 : 1;
    if (!command_paths_agree(body, fast)) FAIL_CHECK("the paths disagree on " << body);
  }
  CHECK(accepted > 20000);  // the unedited bodies and the harmless edits
  CHECK(refused > 20000);   // and enough bad ones for the refusals to be compared too
}

TEST_CASE("events round-trip through their JSON form") {
  Event location;
  location.t = 1700000000.5;
  location.kind = EventKind::location;
  location.lat = 22.5;
  location.lon = 114.1;
  location.code = 2;
  location.flags = Event::has_position | Event::has_loc_type;
  for (const Event& e : {location, Event::online(5, 60), Event::offline(6, OfflineReason::takeover), Event::battery(7, 42)}) {
    json::Value v = event_json(e);
    auto back = event_from_json(v);
    REQUIRE(back);
    CHECK(json::dump(event_json(*back)) == json::dump(v));
  }
  CHECK(json::dump(event_json(Event::offline(6, OfflineReason::idle))) == R"({"t":6.0,"kind":"offline","reason":"idle"})");
}

TEST_CASE("event history keeps the newest, newest first") {
  EventHistory history;
  for (int i = 0; i < 10; ++i) history.push(Event::battery(i, i), 4);
  REQUIRE(history.size() == 4);
  CHECK(history.newest(0).percent == 9);
  CHECK(history.newest(3).percent == 6);
}

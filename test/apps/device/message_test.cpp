// Frame bodies as messages: the reasons a body is refused, and the reply shapes.
#include <doctest/doctest.h>

#include <variant>

#include "apps/device/commands.h"
#include "apps/device/event.h"
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

TEST_CASE("replies") {
  CHECK(status_reply(3, 9, 200) == R"({"type":3,"ident":9,"status":200})");
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

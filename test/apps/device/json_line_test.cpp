// JsonLine writes the journal's lines without a json::Object: its text must be exactly what
// json::dump writes for the same members (replay parses it with the same parser).
#include <doctest/doctest.h>

#include <limits>

#include "apps/device/event.h"
#include "apps/device/json_line.h"

using namespace asyncore;
using namespace asyncore::device;

TEST_CASE("JsonLine writes what json::dump writes") {
  const Imei imei = *Imei::parse("012345678901234");
  for (double d : {0.0, 1.0, -2.5, 1763800000.123456, 1e-7, 1e21, 0.1 + 0.2, std::numeric_limits<double>::quiet_NaN()}) {
    std::string line;
    { JsonLine{line}("r", "ev")("imei", imei)("t", d)("n", 42)("big", std::uint64_t{18446744073709551615u})("ok", true); }
    const json::Object expected{{"r", "ev"}, {"imei", "012345678901234"}, {"t", d}, {"n", 42},
                                {"big", std::uint64_t{18446744073709551615u}}, {"ok", true}};
    CHECK(line == json::dump(expected));
  }
  std::string line;
  { JsonLine{line}("text", "quote \" backslash \\ newline \n tab \t \x01 é").raw("cmd", R"({"type":104,"text":"hi"})")("f", false); }
  CHECK(line == json::dump(json::Object{{"text", "quote \" backslash \\ newline \n tab \t \x01 é"},
                                        {"cmd", json::parse(R"({"type":104,"text":"hi"})")},
                                        {"f", false}}));
  CHECK(json::parse(line)["text"] == "quote \" backslash \\ newline \n tab \t \x01 é");
  // Plain names take a shortcut, anything else (long, a quote, a control byte, non-ASCII) the escaper.
  for (std::string text : {std::string(), std::string("battery"), std::string(64, 'x'), std::string(65, 'y'),
                           std::string(63, 'z') + "\"", std::string("a\x7f"), std::string("~ !#")}) {
    std::string one;
    { JsonLine{one}("s", text); }
    CHECK(one == json::dump(json::Object{{"s", text}}));
  }
  std::string empty;
  { JsonLine{empty}; }
  CHECK(empty == "{}");
  // The line is put together in a buffer of its own: lines longer than it, and a key longer
  // than the shortcut takes, come out whole and in order, after what the string held.
  std::string longer = "kept\n";
  json::Object expected;
  {
    JsonLine line(longer);
    for (int i = 0; i < 40; ++i) {
      const std::string key = (i % 7 == 6 ? std::string(70, 'k') : "member") + std::to_string(i);
      const std::string text(static_cast<std::size_t>(i) * 3 % 65, static_cast<char>('a' + i % 26));
      line(key, text)(key + "n", i * 1000003)(key + "d", 1700000000.5 + i)(key + "i", imei);
      expected.append(key, text);
      expected.append(key + "n", i * 1000003);
      expected.append(key + "d", 1700000000.5 + i);
      expected.append(key + "i", "012345678901234");
    }
  }
  CHECK(longer.size() > 2000);
  CHECK(longer == "kept\n" + json::dump(expected));
}

TEST_CASE("an event written member by member equals its admin JSON, for every kind and option") {
  Event location;
  location.t = 1700000000.25;
  location.kind = EventKind::location;
  location.lat = -33.865;
  location.lon = 151.2094;
  location.ts = 1699999999.0;
  location.code = 3;
  location.flags = Event::has_position | Event::has_ts | Event::has_loc_type;
  Event alarm;
  alarm.t = 12;
  alarm.kind = EventKind::alarm;
  alarm.code = static_cast<std::uint8_t>(Alarm::fence);
  Event plain_location = location;
  plain_location.flags = Event::has_position;
  for (const Event& e : {location, plain_location, alarm, Event::online(5, 60), Event::offline(6, OfflineReason::takeover),
                         Event::battery(7, 42)}) {
    std::string line;
    {
      JsonLine out(line);
      for_each_event_member(e, [&out](std::string_view key, auto value) { out(key, value); });
    }
    CHECK(line == json::dump(event_json(e)));
    auto back = event_from_json(json::parse(line));
    REQUIRE(back);
    CHECK(json::dump(event_json(*back)) == line);
  }
}

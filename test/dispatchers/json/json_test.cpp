#include <asyncore/json/json.h>

#include <doctest/doctest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

namespace json = asyncore::json;
using json::Value;

namespace {

// The error a malformed text gives (fails the test when it parses).
json::ParseError parse_error(std::string_view text, const json::ParseOptions& options = {}) {
  json::ParseResult result = json::try_parse(text, options);
  REQUIRE_MESSAGE(!result, "parsed but should not have: " << std::string(text));
  REQUIRE(result.error.has_value());
  return *result.error;
}

std::uint64_t bits_of(double d) { return std::bit_cast<std::uint64_t>(d); }

// ---- random documents ----

std::string random_utf8_string(std::mt19937_64& rng) {
  std::string s;
  const int length = static_cast<int>(rng() % 12);
  for (int i = 0; i < length; ++i) {
    std::uint32_t cp;
    switch (rng() % 5) {
      case 0: cp = static_cast<std::uint32_t>(rng() % 0x20); break;           // control chars
      case 1: cp = "\"\\/ azAZ09"[rng() % 10]; break;                         // specials
      case 2: cp = 0x80 + static_cast<std::uint32_t>(rng() % (0x800 - 0x80)); break;
      case 3: cp = 0x800 + static_cast<std::uint32_t>(rng() % (0x10000 - 0x800)); break;
      default: cp = 0x10000 + static_cast<std::uint32_t>(rng() % (0x110000 - 0x10000)); break;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;  // surrogates are not characters
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return s;
}

double random_finite_double(std::mt19937_64& rng) {
  for (;;) {
    const double d = std::bit_cast<double>(rng());
    if (std::isfinite(d)) return d;
  }
}

Value random_value(std::mt19937_64& rng, int depth) {
  const int kinds = depth > 0 ? 9 : 7;
  switch (rng() % kinds) {
    case 0: return Value();
    case 1: return Value(rng() % 2 == 0);
    case 2: return Value(static_cast<std::int64_t>(rng()));
    case 3: return Value(static_cast<std::uint64_t>(rng() | (1ULL << 63)));
    case 4: return Value(random_finite_double(rng));
    case 5: return Value(static_cast<double>(static_cast<int>(rng() % 2001) - 1000) / 8);
    case 6: return Value(random_utf8_string(rng));
    case 7: {
      json::Array elements;
      for (int n = static_cast<int>(rng() % 5); n > 0; --n) elements.push_back(random_value(rng, depth - 1));
      return Value(std::move(elements));
    }
    default: {
      json::Object members;
      for (int n = static_cast<int>(rng() % 5); n > 0; --n) {
        members.append(random_utf8_string(rng), random_value(rng, depth - 1));
      }
      return Value(std::move(members));
    }
  }
}

}  // namespace

TEST_CASE("RFC 8259 section 13 examples parse to the expected structure") {
  const char* image = R"({
      "Image": {
          "Width":  800,
          "Height": 600,
          "Title":  "View from 15th Floor",
          "Thumbnail": {
              "Url":    "http://www.example.com/image/481989943",
              "Height": 125,
              "Width":  100
          },
          "Animated" : false,
          "IDs": [116, 943, 234, 38793]
        }
    })";
  const Value doc = json::parse(image);
  const Value& img = doc["Image"];
  CHECK(img["Width"].as_int() == 800);
  CHECK(img["Title"].as_string() == "View from 15th Floor");
  CHECK(img["Thumbnail"]["Url"].as_string() == "http://www.example.com/image/481989943");
  CHECK(img["Animated"].as_bool() == false);
  CHECK(img["IDs"] == Value(json::Array{116, 943, 234, 38793}));
  CHECK(img.as_object().members()[0].key == "Width");  // insertion order kept

  const char* places = R"([
        {
           "precision": "zip",
           "Latitude":  37.7668,
           "Longitude": -122.3959,
           "Address":   "",
           "City":      "SAN FRANCISCO",
           "State":     "CA",
           "Zip":       "94107",
           "Country":   "US"
        },
        {
           "precision": "zip",
           "Latitude":  37.371991,
           "Longitude": -122.026020,
           "Address":   "",
           "City":      "SUNNYVALE",
           "State":     "CA",
           "Zip":       "94085",
           "Country":   "US"
        }
      ])";
  const Value list = json::parse(places);
  REQUIRE(list.size() == 2);
  CHECK(list[1]["Latitude"].as_double() == 37.371991);
  CHECK(list[1]["Longitude"].as_double() == -122.026020);
  CHECK(list[0]["Address"].as_string().empty());

  CHECK(json::parse("\"Hello world!\"") == Value("Hello world!"));
  CHECK(json::parse("42") == Value(42));
  CHECK(json::parse("true") == Value(true));
  CHECK(json::parse(" \t\r\nnull \t\r\n").is_null());
}

TEST_CASE("every escape sequence decodes") {
  CHECK(json::parse(R"("\"\\\/\b\f\n\r\t")").as_string() == "\"\\/\b\f\n\r\t");
  CHECK(json::parse(R"("\u0041\u00e9\u20AC\u0000x")").as_string() ==
        std::string("A\xC3\xA9\xE2\x82\xAC\0x", 8));
  CHECK(json::parse(R"("\u001f\u007F\uFFFF")").as_string() == "\x1F\x7F\xEF\xBF\xBF");
}

TEST_CASE("surrogate pairs decode to one code point; lone surrogates are errors") {
  CHECK(json::parse(R"("\uD83D\uDE00")").as_string() == "\xF0\x9F\x98\x80");
  CHECK(json::parse(R"("\ud834\udd1e")").as_string() == "\xF0\x9D\x84\x9E");
  CHECK(json::parse(R"("\uDBFF\uDFFF")").as_string() == "\xF4\x8F\xBF\xBF");

  json::ParseError e = parse_error(R"("\uD800")");
  CHECK(e.offset() == 1);
  CHECK(std::string(e.what()) ==
        "json: at byte 1: lone high surrogate \\uD800 (expected a \\uDC00-\\uDFFF escape to follow)");
  CHECK(parse_error(R"("\uD800\u0041")").offset() == 1);
  CHECK(parse_error(R"("\uD800\uD800")").offset() == 1);
  CHECK(parse_error(R"("\uD800x")").offset() == 1);
  e = parse_error(R"("ab\uD83D\uDE00\uDE00")");
  CHECK(e.offset() == 15);
  CHECK(e.detail() == "lone low surrogate \\uDE00 in string");
}

TEST_CASE("integers at the int64 and uint64 limits stay exact") {
  const Value max64 = json::parse("9223372036854775807");
  CHECK(max64.is_int());
  CHECK(max64.as_int() == std::numeric_limits<std::int64_t>::max());
  const Value min64 = json::parse("-9223372036854775808");
  CHECK(min64.as_int() == std::numeric_limits<std::int64_t>::min());

  const Value above = json::parse("9223372036854775808");
  CHECK_FALSE(above.is_int());
  CHECK(above.is_uint());
  CHECK(above.as_uint() == 9223372036854775808ULL);
  CHECK_THROWS_AS(above.as_int(), json::TypeError);
  const Value umax = json::parse("18446744073709551615");
  CHECK(umax.as_uint() == std::numeric_limits<std::uint64_t>::max());

  // Beyond both integer types: a double, as other parsers do.
  CHECK(json::parse("18446744073709551616").is_double());
  CHECK(json::parse("18446744073709551616").as_double() == 18446744073709551616.0);
  CHECK(json::parse("-9223372036854775809").is_double());

  for (const char* text : {"9223372036854775807", "-9223372036854775808", "9223372036854775808",
                           "18446744073709551615", "0", "-1"}) {
    CHECK(json::dump(json::parse(text)) == text);
  }
  CHECK(json::dump(Value(std::numeric_limits<std::uint64_t>::max())) == "18446744073709551615");
  CHECK(Value(5u).is_int());  // small unsigned values share the int64 representation
  CHECK(Value(5u) == Value(5));
  CHECK(json::parse("-0").as_int() == 0);
  CHECK(json::parse("1.0").is_double());
  CHECK(json::parse("1e2").is_double());
  CHECK(Value(1) != Value(1.0));
}

TEST_CASE("doubles are written shortest and read back to the same bits") {
  CHECK(json::dump(Value(0.1)) == "0.1");
  CHECK(json::dump(Value(1.0)) == "1.0");
  CHECK(json::dump(Value(-0.0)) == "-0.0");
  CHECK(json::dump(Value(1e300)) == "1e+300");
  CHECK(json::dump(Value(std::nan(""))) == "null");
  CHECK(json::dump(Value(-std::numeric_limits<double>::infinity())) == "null");

  std::mt19937_64 rng(20240611);
  for (int i = 0; i < 20000; ++i) {
    const double d = random_finite_double(rng);
    const std::string text = json::dump(Value(d));
    const Value back = json::parse(text);
    REQUIRE_MESSAGE(back.is_double(), text);
    REQUIRE_MESSAGE(bits_of(back.as_double()) == bits_of(d), text);
  }
  for (double d : {-0.0, 5e-324, 2.2250738585072014e-308, std::numeric_limits<double>::max(),
                   std::numeric_limits<double>::lowest(), 9007199254740993.0}) {
    CHECK(bits_of(json::parse(json::dump(Value(d))).as_double()) == bits_of(d));
  }

  // Too small for a double rounds to zero with its sign; too large is refused.
  CHECK(bits_of(json::parse("1e-400").as_double()) == bits_of(0.0));
  CHECK(bits_of(json::parse("-0.0000000001e-400").as_double()) == bits_of(-0.0));
  const json::ParseError e = parse_error("[1e400]");
  CHECK(e.offset() == 1);
  CHECK(e.detail() == "number 1e400 is out of double range");
  CHECK(parse_error("-123456789e99999999999999999999").offset() == 0);
  // Exponents at the edge of a long long (found by the json fuzz target: the sum overflowed).
  CHECK(parse_error("1e9223372036854775807").detail() == "number 1e9223372036854775807 is out of double range");
  CHECK(parse_error("123.5e9223372036854775806").offset() == 0);
  CHECK(bits_of(json::parse("1e-9223372036854775807").as_double()) == bits_of(0.0));
  CHECK(bits_of(json::parse("-0.001e-9223372036854775807").as_double()) == bits_of(-0.0));
}

TEST_CASE("nesting deeper than the limit is refused with the offset of the first extra level") {
  CHECK(json::parse(std::string(64, '[') + std::string(64, ']')).is_array());
  const json::ParseError e = parse_error(std::string(65, '[') + std::string(65, ']'));
  CHECK(e.offset() == 64);
  CHECK(std::string(e.what()) == "json: at byte 64: nesting deeper than 64 levels");

  // A nesting attack fails fast instead of exhausting the stack.
  CHECK(parse_error(std::string(1'000'000, '[')).offset() == 64);
  std::string objects;
  for (int i = 0; i < 10; ++i) objects += "{\"k\":";
  CHECK(parse_error(objects, {.max_depth = 3}).offset() == 15);
  CHECK(json::parse(objects + "1" + std::string(10, '}'), {.max_depth = 10}).is_object());
}

TEST_CASE("each kind of malformed input names the offset and what was expected") {
  struct Case {
    std::string text;
    std::size_t offset;
    std::string detail;
  };
  const Case cases[] = {
      {"", 0, "expected a value, found end of input"},
      {"   ", 3, "expected a value, found end of input"},
      {R"({"a":1 "b":2})", 7, "expected ',' or '}' after object member, found '\"'"},
      {"[1 2]", 3, "expected ',' or ']' after array element, found '2'"},
      {"[1,]", 3, "expected a value, found ']'"},
      {R"({"a":1,})", 7, "expected '\"' to start an object key, found '}'"},
      {"{a:1}", 1, "expected '\"' to start an object key, found 'a'"},
      {R"({"a" 1})", 5, "expected ':' after object key, found '1'"},
      {R"({"a")", 4, "expected ':' after object key, found end of input"},
      {R"({"a":)", 5, "expected a value, found end of input"},
      {"[", 1, "expected a value, found end of input"},
      {R"({"a":1}})", 7, "expected end of input after value, found '}'"},
      {"1 2", 2, "expected end of input after value, found '2'"},
      {"01", 0, "leading zeros are not allowed in numbers"},
      {"[-012]", 1, "leading zeros are not allowed in numbers"},
      {"-", 1, "expected a digit after '-', found end of input"},
      {"-Infinity", 1, "expected a digit after '-', found 'I'"},
      {"1.", 2, "expected a digit after '.', found end of input"},
      {"1.e5", 2, "expected a digit after '.', found 'e'"},
      {"1e", 2, "expected a digit in exponent, found end of input"},
      {"1e+", 3, "expected a digit in exponent, found end of input"},
      {".5", 0, "expected a value, found '.'"},
      {"+1", 0, "expected a value, found '+'"},
      {"NaN", 0, "expected a value, found 'N'"},
      {"Infinity", 0, "expected a value, found 'I'"},
      {"nul", 0, "invalid literal, expected 'null'"},
      {"[tru]", 1, "invalid literal, expected 'true'"},
      {"[truex]", 5, "expected ',' or ']' after array element, found 'x'"},
      {"False", 0, "expected a value, found 'F'"},
      {"\"abc", 0, "unterminated string"},
      {"[\"abc\\", 5, "unterminated escape sequence"},
      {"\"a\\u12\"", 6, "expected 4 hex digits after \\u, found '\"'"},
      {"\"\\x\"", 1, "invalid escape '\\x' in string"},
      {"\"\\'\"", 1, "invalid escape '\\'' in string"},
      {"\"a\tb\"", 2, "control character 0x09 in string must be escaped"},
      {"\"a\nb\"", 2, "control character 0x0A in string must be escaped"},
      {std::string("[1,\0]", 5), 3, "expected a value, found byte 0x00"},
      {"\"\xC0\x80\"", 1, "invalid UTF-8 (0xC0) in string"},          // overlong NUL
      {"\"ab\xE0\x80\xAF\"", 3, "invalid UTF-8 (0xE0) in string"},    // overlong '/'
      {"\"\xED\xA0\x80\"", 1, "invalid UTF-8 (0xED) in string"},      // encoded surrogate
      {"\"\xF4\x90\x80\x80\"", 1, "invalid UTF-8 (0xF4) in string"},  // above U+10FFFF
      {"\"\xF5\x80\x80\x80\"", 1, "invalid UTF-8 (0xF5) in string"},
      {"\"ab\xE2\x82\"", 3, "invalid UTF-8 (0xE2) in string"},        // truncated
      {"\"\x80\"", 1, "invalid UTF-8 (0x80) in string"},              // stray continuation
      {"\xEF\xBB\xBF{}", 0, "byte order mark is not allowed"},
      {"\x0B" "1", 0, "expected a value, found byte 0x0B"},           // only RFC whitespace
      {"1\x0C", 1, "expected end of input after value, found byte 0x0C"},
      {"\xC2\xA0" "1", 0, "expected a value, found byte 0xC2"},       // no-break space
      {"'a'", 0, "expected a value, found '''"},
      {"[1,2", 4, "expected ',' or ']' after array element, found end of input"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    const json::ParseError e = parse_error(c.text);
    CHECK(e.offset() == c.offset);
    CHECK(e.detail() == c.detail);
    CHECK(std::string(e.what()) == "json: at byte " + std::to_string(c.offset) + ": " + c.detail);
    CHECK_THROWS_AS(json::parse(c.text), json::ParseError);
  }
  // ParseError is a runtime_error so generic handlers report it.
  CHECK_THROWS_AS(json::parse("[1 2]"), std::runtime_error);
}

TEST_CASE("valid multi-byte UTF-8 is kept as is") {
  const std::string text = "\"\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xEF\xBF\xBF \xF4\x8F\xBF\xBF\"";
  const Value v = json::parse(text);
  CHECK(v.as_string() == text.substr(1, text.size() - 2));
  CHECK(json::dump(v) == text);
}

TEST_CASE("duplicate keys: first wins on lookup, or rejected in strict mode") {
  const std::string text = R"({"a":1,"b":2,"a":3})";
  const Value v = json::parse(text);
  CHECK(v["a"].as_int() == 1);
  CHECK(v.size() == 3);
  CHECK(json::dump(v) == text);  // nothing received is lost

  const json::ParseError e = parse_error(text, {.reject_duplicate_keys = true});
  CHECK(e.offset() == 13);
  CHECK(e.detail() == "duplicate object key \"a\"");
  CHECK(json::parse(R"({"a":{"a":1},"b":[{"a":2}]})", {.reject_duplicate_keys = true}).is_object());
}

TEST_CASE("values are built from C++ values and read back through typed accessors") {
  Value v = json::Object{{"type", "hello"}, {"id", 7}, {"ok", true}, {"ratio", 0.5},
                         {"none", nullptr}, {"tags", json::Array{"a", 2, false}}};
  CHECK(json::dump(v) ==
        R"({"type":"hello","id":7,"ok":true,"ratio":0.5,"none":null,"tags":["a",2,false]})");
  CHECK(v.is_object());
  CHECK(v["id"].is_int());
  CHECK(v["id"].as_double() == 7.0);
  CHECK(v["ratio"].is_double());
  CHECK(v["none"].is_null());
  CHECK(v["tags"][0].as_string() == "a");
  CHECK(v["tags"][std::size_t{1}].as_int() == 2);
  CHECK(v.get("missing") == nullptr);
  REQUIRE(v.get("id") != nullptr);
  CHECK(v.get("id")->as_int() == 7);
  CHECK(Value(3).get("id") == nullptr);

  v.set("id", 8);
  v["new"] = "x";
  v["tags"].push_back(json::Object{{"k", -1}});
  CHECK(v["id"].as_int() == 8);
  CHECK(v.as_object().members().back().key == "new");
  CHECK(v["tags"].size() == 4);
  CHECK(v.as_object().erase("new") == 1);
  CHECK_FALSE(v.as_object().contains("new"));

  // A null grows into the container its first use asks for.
  Value list;
  list.push_back(1);
  list.push_back("two");
  CHECK(json::dump(list) == R"([1,"two"])");
  Value record;
  record.set("a", 1);
  record["b"]["c"] = true;
  CHECK(json::dump(record) == R"({"a":1,"b":{"c":true}})");

  const Value& read_only = v;
  CHECK_THROWS_WITH_AS(read_only["absent"], "json: object has no member \"absent\"", json::TypeError);
  CHECK_THROWS_WITH_AS(v["id"].as_string(), "json: expected string, got integer", json::TypeError);
  CHECK_THROWS_WITH_AS(v["tags"][9], "json: array index 9 out of range (size 4)", json::TypeError);
  CHECK_THROWS_AS(Value(-1).as_uint(), json::TypeError);
  CHECK_THROWS_AS(Value(1.5).as_int(), json::TypeError);
  CHECK_THROWS_AS(Value("s").push_back(1), json::TypeError);

  CHECK(Value(json::Array{1, 2}) != Value(json::Array{2, 1}));
  CHECK(Value(json::Object{{"a", 1}}) == json::parse(R"({"a":1})"));
  CHECK(Value(std::string_view("sv")) == Value(std::string("sv")));
  CHECK(Value(std::int8_t{-5}).as_int() == -5);
  CHECK(Value(2.5f).as_double() == 2.5);
}

TEST_CASE("try_parse reports errors without throwing") {
  const json::ParseResult ok = json::try_parse(R"({"x":[1]})");
  REQUIRE(ok);
  CHECK((*ok.value)["x"][0].as_int() == 1);
  CHECK_FALSE(ok.error);

  const json::ParseResult bad = json::try_parse(R"({"x":[1})");
  CHECK_FALSE(bad);
  REQUIRE(bad.error);
  CHECK(bad.error->offset() == 7);
  CHECK(std::string(bad.error->what()) ==
        "json: at byte 7: expected ',' or ']' after array element, found '}'");
}

TEST_CASE("the writer's compact and pretty layouts") {
  const Value v = json::Object{{"a", 1},
                               {"b", json::Array{true, nullptr, "x"}},
                               {"c", json::Object{}},
                               {"d", json::Array{}}};
  CHECK(json::dump(v) == R"({"a":1,"b":[true,null,"x"],"c":{},"d":[]})");
  CHECK(json::dump(v, 2) ==
        "{\n"
        "  \"a\": 1,\n"
        "  \"b\": [\n"
        "    true,\n"
        "    null,\n"
        "    \"x\"\n"
        "  ],\n"
        "  \"c\": {},\n"
        "  \"d\": []\n"
        "}");
  CHECK(json::parse(json::dump(v, 0)) == v);

  std::string out = "prefix:";
  json::dump_to(out, Value(json::Array{1}));
  CHECK(out == "prefix:[1]");
}

TEST_CASE("append_quoted escapes what JSON requires and nothing else") {
  std::string out;
  json::append_quoted(out, std::string("a\"b\\c/\n\r\t\b\f\x01\x1F\x7F \xC3\xA9\0z", 19));
  CHECK(out == "\"a\\\"b\\\\c/\\n\\r\\t\\b\\f\\u0001\\u001f\x7F \xC3\xA9\\u0000z\"");

  // Invalid UTF-8 cannot be written as JSON: each bad byte becomes U+FFFD.
  out.clear();
  json::append_quoted(out, "ok\xFF\xC3(\xED\xA0\x80");
  CHECK(out == "\"ok\xEF\xBF\xBD\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
  CHECK(json::parse(out).is_string());

  out = "x=";
  json::append_quoted(out, "");
  CHECK(out == "x=\"\"");

  // Every control character round trips through its escape.
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls += static_cast<char>(c);
  out.clear();
  json::append_quoted(out, controls);
  CHECK(json::parse(out).as_string() == controls);
}

TEST_CASE("random documents survive dump and parse unchanged") {
  std::mt19937_64 rng(8259);
  for (int i = 0; i < 2000; ++i) {
    const Value original = random_value(rng, 4);
    const std::string compact = json::dump(original);
    CAPTURE(compact);
    REQUIRE(json::parse(compact) == original);
    REQUIRE(json::parse(json::dump(original, 2)) == original);
    REQUIRE(json::dump(json::parse(compact)) == compact);
  }
}

TEST_CASE("append_double writes what to_chars writes, also on its shortcut for values with up to three decimals") {
  auto reference = [](double d) {
    char buffer[32];
    std::string text(buffer, std::to_chars(buffer, buffer + sizeof buffer, d).ptr);
    if (text.find_first_of(".e") == std::string::npos) text += ".0";
    return text;
  };
  std::mt19937_64 rng(19);
  std::vector<double> values = {1.001, 1.5, 1764757958.123, 1764757958.1, 1764757958.01, 999.999, 4398046511103.999,
                                4398046511104.5, 0.5, 0.001, -1764757958.123, 1e21, 123456789012.345, 1.0, 2.25};
  for (int i = 0; i < 100000; ++i) {
    const auto ms = static_cast<long long>(rng() % 4398046511104000ULL);
    values.push_back(static_cast<double>(ms) / 1000);                        // to the millisecond
    values.push_back(std::round(static_cast<double>(rng() % 2000000000) * 1.37) / 1000);  // times
    values.push_back(std::bit_cast<double>(rng() & 0x7fefffffffffffffULL));  // any finite double
  }
  int mismatches = 0;
  for (double d : values) {
    std::string out;
    json::append_double(out, d);
    if (out != reference(d) && ++mismatches < 5) FAIL_CHECK(out << " for " << reference(d));
    if (json::parse(out).as_double() != d && ++mismatches < 5) FAIL_CHECK(out << " does not read back as " << reference(d));
  }
  CHECK(mismatches == 0);
}

#include <doctest/doctest.h>

#include <random>
#include <stdexcept>
#include <string>

#include "apps/barrage/stt.h"
#include "test/apps/barrage/stt_vectors.h"
#include "test/support/testing.h"

using namespace asyncore::barrage;

namespace {

std::vector<stt_vectors::Vector> shared_vectors() {
  return stt_vectors::load(testing::source_path("test/apps/barrage/douyu-stt-serialize-vectors.json"));
}

std::string encode_value(const Value& value) { return value.is_map() ? encode(value.map()) : encode(value.list()); }

void check_layer(std::string_view text, const Value& expected, Mode mode, const std::string& path);

// A decoded value is text; it matches an expected map or list once decoded in turn.
void check_decoded_value(std::string_view decoded, const Value& expected, Mode mode, const std::string& path) {
  if (expected.is_text()) {
    INFO("at ", path);
    CHECK(decoded == expected.text());
  } else {
    check_layer(decoded, expected, mode, path);
  }
}

// Decodes `text` one layer at a time, following the shape of `expected`.
void check_layer(std::string_view text, const Value& expected, Mode mode, const std::string& path) {
  INFO("at ", path, " decoding '", std::string(text), "'");
  if (expected.is_map()) {
    Fields fields = decode_map(text, mode);
    REQUIRE(fields.size() == expected.map().size());
    for (size_t i = 0; i < fields.size(); ++i) {
      const Field& want = expected.map().fields()[i];
      CHECK(fields[i].key == want.key);
      check_decoded_value(fields[i].value, want.value, mode, path + "." + want.key);
    }
  } else {
    Items items = decode_list(text, mode);
    REQUIRE(items.size() == expected.list().size());
    for (size_t i = 0; i < items.size(); ++i) {
      check_decoded_value(items[i], expected.list()[i], mode, path + "[" + std::to_string(i) + "]");
    }
  }
}

template <typename Call>
SttError stt_error_of(Call&& call) {
  try {
    call();
  } catch (const SttError& error) {
    return error;
  }
  FAIL("expected an SttError");
  return SttError("", 0);
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// Random text rich in the characters STT treats specially.
std::string random_text(std::mt19937& rng) {
  static const char* pieces[] = {"@", "/", "=", "A", "S", "a", "b", "你", " ", "@A", "@S", "@=", "//", "\x01"};
  std::string text;
  int count = std::uniform_int_distribution<int>(0, 6)(rng);
  for (int i = 0; i < count; ++i) text += pieces[std::uniform_int_distribution<size_t>(0, std::size(pieces) - 1)(rng)];
  return text;
}

Value random_value(std::mt19937& rng, int depth) {
  int kind = depth == 0 ? 0 : std::uniform_int_distribution<int>(0, 3)(rng);
  if (kind <= 1) return Value(random_text(rng));
  int count = std::uniform_int_distribution<int>(0, 4)(rng);
  if (kind == 2) {
    Map map;
    for (int i = 0; i < count; ++i) map.add(random_text(rng), random_value(rng, depth - 1));
    return Value(std::move(map));
  }
  List list;
  for (int i = 0; i < count; ++i) list.push_back(random_value(rng, depth - 1));
  return Value(std::move(list));
}

}  // namespace

TEST_CASE("the shared vectors file is read completely") {
  auto vectors = shared_vectors();
  CHECK(vectors.size() == 22);
  CHECK(vectors.front().name == "loginreq");
  CHECK(vectors.back().name == "duplicate_keys");
}

TEST_CASE("every shared vector serializes exactly") {
  for (const auto& vector : shared_vectors()) {
    INFO("vector ", vector.name);
    CHECK(encode_value(vector.input) == vector.serialized);
    std::string appended = "prefix|";
    if (vector.input_is_list) {
      append_encoded(appended, vector.input.list());
    } else {
      append_encoded(appended, vector.input.map());
    }
    CHECK(appended == "prefix|" + vector.serialized);
  }
}

TEST_CASE("every shared vector decodes back, layer by layer, in both modes") {
  for (const auto& vector : shared_vectors()) {
    for (Mode mode : {Mode::strict, Mode::lenient}) {
      check_layer(vector.serialized, vector.input, mode, vector.name);
    }
  }
}

TEST_CASE("derived decoding cases") {
  SUBCASE("the uenter el field is a list holding one map") {
    Fields uenter = decode_map("type@=uenter/rid@=1/el@=eid@AA=1@ASetp@AA=1@ASsc@AA=1@AS@S/");
    CHECK(uenter.get("el") == "eid@A=1@Setp@A=1@Ssc@A=1@S/");
    Items el = decode_list(uenter.get("el"));
    REQUIRE(el.size() == 1);
    CHECK(el[0] == "eid@=1/etp@=1/sc@=1/");
    Fields badge = decode_map(el[0]);
    CHECK(badge.size() == 3);
    CHECK(badge.get("etp") == "1");
  }
  SUBCASE("duplicate keys keep every pair; lookup returns the first") {
    Fields spbc = decode_map("type@=spbc/gfid@=1/gfid@=2/");
    REQUIRE(spbc.size() == 3);
    CHECK(spbc.get("gfid") == "1");
    CHECK(spbc[2].key == "gfid");
    CHECK(spbc[2].value == "2");
    CHECK(spbc.to_map().fields().size() == 3);
    CHECK(encode(spbc.to_map()) == "type@=spbc/gfid@=1/gfid@=2/");
  }
  SUBCASE("a missing final slash is tolerated") {
    Fields fields = decode_map("type@=mrkl/tick@=5");
    CHECK(fields.size() == 2);
    CHECK(fields.get_int("tick") == 5);
    Items items = decode_list("a/b");
    REQUIRE(items.size() == 2);
    CHECK(items[1] == "b");
  }
  SUBCASE("empty values, empty text and empty list items") {
    Fields fields = decode_map("el@=/lk@=/");
    CHECK(fields.size() == 2);
    CHECK(fields.contains("lk"));
    CHECK(fields.find("lk") == std::string_view(""));
    CHECK_FALSE(fields.find("missing").has_value());
    CHECK(fields.get("missing", "none") == "none");
    CHECK(decode_map("").empty());
    CHECK(decode_list("").empty());
    Items items = decode_list("/a//");
    REQUIRE(items.size() == 3);
    CHECK(items[0] == "");
    CHECK(items[1] == "a");
    CHECK(items[2] == "");
    CHECK(items.to_list() == List{"", "a", ""});
  }
  SUBCASE("splitting happens at the first '@=' and escapes are undone once") {
    Fields fields = decode_map("a@Sb@=1/c@Ad@=2/txt@=@AS/");
    CHECK(fields[0].key == "a/b");
    CHECK(fields[1].key == "c@d");
    CHECK(fields.get("txt") == "@S");
  }
  SUBCASE("Chinese text passes through") {
    Fields fields = decode_map("type@=chatmsg/nn@=张三/txt@=你好@S世界/");
    CHECK(fields.get("nn") == "张三");
    CHECK(fields.get("txt") == "你好/世界");
  }
  SUBCASE("iteration follows wire order") {
    std::string seen;
    for (auto [key, value] : decode_map("b@=1/a@=2/c@=3/")) seen += std::string(key) + "=" + std::string(value) + ";";
    CHECK(seen == "b=1;a=2;c=3;");
    std::string items;
    for (std::string_view item : decode_list("x/y/")) items += std::string(item) + ";";
    CHECK(items == "x;y;");
  }
  SUBCASE("get_int accepts only whole decimal integers") {
    Fields fields = decode_map("gid@=-9999/uid@=12x/empty@=/big@=99999999999999999999/");
    CHECK(fields.get_int("gid") == -9999);
    CHECK_FALSE(fields.get_int("uid").has_value());
    CHECK_FALSE(fields.get_int("empty").has_value());
    CHECK_FALSE(fields.get_int("big").has_value());
    CHECK_FALSE(fields.get_int("missing").has_value());
  }
}

TEST_CASE("integers serialize as decimal text") {
  CHECK(encode(Map{{"type", "keeplive"}, {"tick", 1439802131}}) == "type@=keeplive/tick@=1439802131/");
  CHECK(encode(Map{{"gid", -9999}, {"port", uint16_t{8601}}, {"zero", 0LL}}) == "gid@=-9999/port@=8601/zero@=0/");
  CHECK(Value(std::numeric_limits<long long>::min()).text() == "-9223372036854775808");
}

TEST_CASE("escape and unescape") {
  CHECK(escape("@S/x") == "@AS@Sx");
  CHECK(unescape("@AS@Sx") == "@S/x");
  CHECK(unescape("a@Bb", Mode::lenient) == "a@Bb");
  CHECK(unescape("a@", Mode::lenient) == "a@");
  CHECK(unescape("@@A", Mode::lenient) == "@@");
  CHECK(stt_error_of([] { unescape("a@Bb"); }).offset() == 1);
}

TEST_CASE("encoding refuses a NUL byte and names where it is") {
  SttError in_value = stt_error_of([] { encode(Map{{"type", "chatmsg"}, {"txt", std::string("ab\0c", 4)}}); });
  CHECK(in_value.offset() == 2);
  CHECK(contains(in_value.what(), "key 'txt'"));
  CHECK(contains(in_value.what(), "byte 2"));

  SttError in_key = stt_error_of([] { encode(Map{{"ok", "1"}, {std::string("k\0", 2), "v"}}); });
  CHECK(contains(in_key.what(), "key #1"));
  CHECK(in_key.offset() == 1);

  SttError nested = stt_error_of([] {
    encode(Map{{"el", List{Map{{"eid", "1"}}, Map{{"eid", std::string("\0", 1)}}}}});
  });
  CHECK(contains(nested.what(), "key 'eid'"));
  CHECK(contains(nested.what(), "list item 1"));
  CHECK(contains(nested.what(), "key 'el'"));

  SttError in_list = stt_error_of([] { encode(List{"a", std::string("b\0", 2)}); });
  CHECK(contains(in_list.what(), "list item 1"));

  CHECK_THROWS_AS(escape(std::string("\0", 1)), SttError);

  std::string out = "kept";
  CHECK_THROWS_AS(append_encoded(out, Map{{"a", "1"}, {"b", std::string("\0", 1)}}), SttError);
  CHECK(out == "kept");
}

TEST_CASE("malformed input: strict rejects with the byte offset, lenient keeps it") {
  struct Case {
    std::string text;
    size_t offset;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> lenient;
  };
  const std::vector<Case> cases = {
      {"a@=b@B/", 4, "unknown escape '@B'", {{"a", "b@B"}}},
      {"a@=b@", 4, "lone '@'", {{"a", "b@"}}},
      {"a@=b@/c@=d/", 4, "lone '@'", {{"a", "b@"}, {"c", "d"}}},
      {"k@@=v/", 1, "lone '@'", {{"k@", "v"}}},
      {"a@=1/junk/", 5, "without '@='", {{"a", "1"}, {"junk", ""}}},
      {"a@=1//b@=2/", 5, "empty map item", {{"a", "1"}, {"b", "2"}}},
      {"a@=b@=c/", 4, "unknown escape '@='", {{"a", "b@=c"}}},
      {std::string("a@=x\0y/", 7), 4, "NUL byte", {{"a", std::string("x\0y", 3)}}},
      {"t@=@\x01/", 3, "unknown escape '@\\x01'", {{"t", "@\x01"}}},
  };
  for (const Case& c : cases) {
    INFO("input '", c.text, "'");
    SttError error = stt_error_of([&] { decode_map(c.text, Mode::strict); });
    CHECK(error.offset() == c.offset);
    CHECK(contains(error.what(), c.reason));
    CHECK(contains(error.what(), "at byte " + std::to_string(c.offset)));

    Fields fields = decode_map(c.text, Mode::lenient);
    REQUIRE(fields.size() == c.lenient.size());
    for (size_t i = 0; i < fields.size(); ++i) {
      CHECK(fields[i].key == c.lenient[i].first);
      CHECK(fields[i].value == c.lenient[i].second);
    }
  }
  SUBCASE("lists") {
    CHECK(stt_error_of([] { decode_list("a/b@Bc/"); }).offset() == 3);
    CHECK(stt_error_of([] { decode_list("a/b@"); }).offset() == 3);
    CHECK(decode_list("a/b@Bc/", Mode::lenient).to_list() == List{"a", "b@Bc"});
    CHECK(decode_list("x@=y/", Mode::lenient).to_list() == List{"x@=y"});
  }
}

TEST_CASE("decode_into reuses the object and is left empty after an error") {
  Fields fields;
  decode_map_into("type@=chatmsg/txt@=one/", fields);
  CHECK(fields.get("txt") == "one");
  decode_map_into("type@=uenter/", fields);
  CHECK(fields.size() == 1);
  CHECK_FALSE(fields.contains("txt"));
  CHECK_THROWS_AS(decode_map_into("type@=x/bad@=@B/", fields), SttError);
  CHECK(fields.empty());

  Items items;
  decode_list_into("a/b/", items);
  CHECK(items.size() == 2);
  CHECK_THROWS_AS(decode_list_into("@", items), SttError);
  CHECK(items.empty());
}

TEST_CASE("asking a value for the wrong kind is a clear error") {
  Value text("x");
  CHECK_THROWS_WITH_AS(text.map(), "STT value is text, not a map", std::logic_error);
  Value list(List{"a"});
  CHECK_THROWS_WITH_AS(list.text(), "STT value is a list, not text", std::logic_error);
  CHECK(Map{{"a", "1"}, {"a", "2"}}.find("a")->text() == "1");
  CHECK(Map{{"a", "1"}}.find("b") == nullptr);
}

TEST_CASE("random nested structures round trip") {
  std::mt19937 rng(20240611);
  for (int round = 0; round < 3000; ++round) {
    Value value = random_value(rng, 4);
    if (value.is_text()) value = Value(List{value});
    std::string text = encode_value(value);
    INFO("round ", round, " text '", text, "'");
    check_layer(text, value, Mode::strict, "root");
    check_layer(text, value, Mode::lenient, "root");
  }
}

TEST_CASE("nesting depth costs no recursion: each decode peels exactly one layer, however deep") {
  // A peer can nest values as deep as it likes; decoding never descends by itself, so depth is
  // bounded by what the caller asks for (the client and server decode only the top layer).
  constexpr int kDepth = 300;
  std::string text = "leaf@=bottom/";
  for (int level = 0; level < kDepth; ++level) text = "type@=nest/k@=" + escape(text) + "/";
  Fields top = decode_map(text);
  CHECK(top.get("type") == "nest");
  CHECK(top.get("k").size() > text.size() / 2);  // still text: nothing below was decoded
  std::string layer = text;
  int depth = 0;
  for (;;) {
    Fields fields = decode_map(layer);
    if (!fields.contains("k")) {
      CHECK(fields.get("leaf") == "bottom");
      break;
    }
    layer = std::string(fields.get("k"));
    ++depth;
  }
  CHECK(depth == kDepth);
  CHECK(decode_map(text, Mode::lenient).get("type") == "nest");
}

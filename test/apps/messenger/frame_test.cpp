#include "apps/messenger/frame.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "test/support/testing.h"

using namespace asyncore::messenger;

namespace {

// The wire prefix for a header text of `size` bytes.
std::string length_prefix(std::size_t size) {
  return {static_cast<char>(size & 0xff), static_cast<char>(size >> 8)};
}

// A raw frame with arbitrary header text, for feeding malformed input.
std::string raw_frame(std::string_view header_text, std::string_view body = {}) {
  return length_prefix(header_text.size()) + std::string(header_text) + std::string(body);
}

std::vector<Message> drain(FrameDecoder& decoder) {
  std::vector<Message> out;
  while (auto message = decoder.next()) out.push_back(std::move(*message));
  return out;
}

std::vector<Message> sample_messages() {
  Header hub_report{{"ID", "alice"}};
  hub_report.set_int("Port", 9001);
  std::string binary_body;
  for (int i = 0; i < 300; ++i) binary_body += static_cast<char>(i * 7);
  return {
      {Header{}, ""},
      {Header{{"TP", "Msg"}}, "hello"},
      {hub_report, ""},
      {Header{{"Broadcast", ""}}, "alice,127.0.0.1,9001;bob,127.0.0.1,9002"},
      {Header{{"TP", "File"}, {"Name", "报告.txt"}, {"Offset", "0"}}, binary_body},
      {probe_header(), ""},
      {Header{{"Body", "nul"}}, std::string("\0\0;:\xff", 5)},
  };
}

std::string encode_all(const std::vector<Message>& messages) {
  std::string stream;
  for (const auto& message : messages) append_frame(stream, message.header, message.body);
  return stream;
}

// Feeds `frame` and returns what the decoder refused it with.
std::string refusal(std::string_view frame, std::size_t max_body = kDefaultMaxBody) {
  FrameDecoder decoder(max_body);
  try {
    decoder.feed(frame);
  } catch (const FrameError& error) {
    CHECK(decoder.failed());
    CHECK(decoder.error() == error.what());
    return error.what();
  }
  FAIL("frame was accepted: ", quoted_for_error(frame));
  return {};
}

}  // namespace

TEST_CASE("encode_frame writes uint16 LE length, CL first, ';'-separated items, no trailing ';'") {
  CHECK(encode_frame(Header{{"TP", "Msg"}, {"ID", "x"}}, "hi") == std::string("\x10\x00" "CL:2;TP:Msg;ID:x" "hi", 20));
  CHECK(encode_frame(Header{}) == std::string("\x04\x00" "CL:0", 6));
  CHECK(encode_frame(Header{{"Broadcast", ""}}) == std::string("\x0f\x00" "CL:0;Broadcast:", 17));
}

TEST_CASE("round trip of every sample message") {
  for (const auto& message : sample_messages()) {
    FrameDecoder decoder;
    decoder.feed(encode_frame(message.header, message.body));
    auto decoded = decoder.next();
    REQUIRE(decoded);
    CHECK(*decoded == message);
    CHECK_FALSE(decoder.next());
    CHECK_FALSE(decoder.mid_frame());
  }
}

TEST_CASE("frames split at every offset decode the same") {
  const auto messages = sample_messages();
  const std::string stream = encode_all(messages);
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameDecoder decoder;
    decoder.feed(std::string_view(stream).substr(0, cut));
    auto first = drain(decoder);
    decoder.feed(std::string_view(stream).substr(cut));
    auto rest = drain(decoder);
    first.insert(first.end(), rest.begin(), rest.end());
    REQUIRE_MESSAGE(first == messages, "cut at byte ", cut);
  }
  SUBCASE("one byte at a time") {
    FrameDecoder decoder;
    std::vector<Message> got;
    for (char byte : stream) {
      decoder.feed(std::string_view(&byte, 1));
      for (auto& message : drain(decoder)) got.push_back(std::move(message));
    }
    CHECK(got == messages);
  }
  SUBCASE("mid_frame tells a cut frame from a clean boundary") {
    FrameDecoder decoder;
    decoder.feed(stream.substr(0, 7));
    CHECK(decoder.mid_frame());
    decoder.feed(stream.substr(7));
    CHECK_FALSE(decoder.mid_frame());
  }
}

TEST_CASE("many frames in one feed come out in order") {
  std::string stream;
  for (int i = 0; i < 5000; ++i) {
    Header header;
    header.set_int("Seq", i);
    append_frame(stream, header, std::string(static_cast<std::size_t>(i % 17), 'a' + i % 26));
  }
  FrameDecoder decoder;
  decoder.feed(stream);
  REQUIRE(decoder.ready() == 5000);
  for (int i = 0; i < 5000; ++i) {
    auto message = decoder.next();
    REQUIRE(message);
    REQUIRE(message->header.get_int("Seq") == i);
    REQUIRE(message->body == std::string(static_cast<std::size_t>(i % 17), 'a' + i % 26));
  }
  CHECK_FALSE(decoder.next());
}

TEST_CASE("malformed headers are refused with the reason") {
  struct Case {
    std::string header_text;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"", "header is empty: the CL item is missing"},
      {"CL:0;TP:\xff", "not valid UTF-8 at byte 8"},
      {"CL:0;TP:\xc0\x80", "not valid UTF-8"},          // overlong NUL
      {"CL:0;TP:\xed\xa0\x80", "not valid UTF-8"},      // surrogate
      {"CL:0;TP:\xf4\x90\x80\x80", "not valid UTF-8"},  // above U+10FFFF
      {"CL:0;TP:\xe6\x8a", "not valid UTF-8"},          // truncated sequence
      {"CL:0;TP", "header item #2 (byte 5) 'TP' is not KEY:VALUE (it has 0 ':')"},
      {"CL:0;TP:a:b", "header item #2 (byte 5) 'TP:a:b' is not KEY:VALUE (it has 2 ':')"},
      {"CL:0;", "header item #2 (byte 5) '' is not KEY:VALUE (it has 0 ':')"},
      {";CL:0", "header item #1 (byte 0) '' is not KEY:VALUE"},
      {"CL:0;;TP:a", "header item #2 (byte 5) '' is not KEY:VALUE"},
      {"CL:0;:v", "header item #2 (byte 5) ':v' has an empty key"},
      {"TP:Msg", "header has no CL (body length) item"},
      {"CL:", "CL value '' is not a decimal number"},
      {"CL:x", "CL value 'x' is not a decimal number"},
      {"CL:-1", "CL value '-1' is not a decimal number"},
      {"CL:+1", "CL value '+1' is not a decimal number"},
      {"CL: 1", "CL value ' 1' is not a decimal number"},
      {"CL:1.0", "CL value '1.0' is not a decimal number"},
      {"CL:\xd9\xa1", "CL value '\\xd9\\xa1' is not a decimal number"},  // Arabic-Indic one: Python int() takes it
      {"CL:0;TP:a;TP:b", "header item #3 (byte 10): duplicate key 'TP'"},
      {"CL:0;CL:1", "header item #2 (byte 5): CL '1' repeated with a different value (first 0)"},
      {"CL:0;CL:0;TP:a;TP:a", "header item #4 (byte 15): duplicate key 'TP'"},
      {"CL:16777217", "CL '16777217' is above max_body 16777216"},
      {"CL:99999999999999999999999999", "is above max_body 16777216"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.header_text);
    std::string reason = refusal(raw_frame(c.header_text));
    CHECK_MESSAGE(reason.find(c.reason) != std::string::npos, reason);
    CHECK(reason.rfind("frame #1 (stream byte 0): ", 0) == 0);
  }
}

TEST_CASE("a failed decoder keeps earlier messages and refuses further input") {
  FrameDecoder decoder;
  std::string stream = encode_frame(Header{{"TP", "Msg"}}, "ok") + raw_frame("CL:0;bad") + encode_frame(Header{});
  CHECK_THROWS_WITH_AS(decoder.feed(stream), doctest::Contains("frame #2 (stream byte 15)"), FrameError);
  CHECK(decoder.failed());
  auto earlier = decoder.next();
  REQUIRE(earlier);
  CHECK(earlier->body == "ok");
  CHECK_FALSE(decoder.next());  // the frame after the bad one is never decoded
  CHECK_THROWS_WITH_AS(decoder.feed(encode_frame(Header{})), doctest::Contains("already failed"), FrameError);
  CHECK_THROWS_AS(decoder.feed(""), FrameError);
}

TEST_CASE("refused sends name the key and produce nothing") {
  struct Case {
    Header header;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {Header{{"", "v"}}, "empty key"},
      {Header{{"CL", "5"}}, "key 'CL' is reserved"},
      {Header{{"A:B", "v"}}, "key 'A:B' contains ':'"},
      {Header{{"A;B", "v"}}, "key 'A;B' contains ';'"},
      {Header{{"Name", "a:b"}}, "value of key 'Name' contains ':'"},
      {Header{{"Name", "a;b"}}, "value of key 'Name' contains ';'"},
      {Header{{"K\xff", "v"}}, "key 'K\\xff' is not UTF-8 (byte 1)"},
      {Header{{"Name", "ok\xc3"}}, "value of key 'Name' is not UTF-8 (byte 2)"},
      {Header{{"Good", "1"}, {"Bad;", "2"}}, "key 'Bad;' contains ';'"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.reason);
    std::string out = "existing bytes";
    CHECK_THROWS_WITH_AS(append_frame(out, c.header, "body"), doctest::Contains(c.reason.c_str()), FrameError);
    CHECK(out == "existing bytes");
    CHECK_THROWS_AS(encode_frame(c.header, "body"), FrameError);
  }
}

TEST_CASE("the header bound is 65535 bytes exactly") {
  // "CL:0;V:" is 7 bytes, so a value of 65528 bytes makes the header exactly 65535.
  const std::string exact_value(65528, 'x');
  std::string frame = encode_frame(Header{{"V", exact_value}});
  REQUIRE(frame.size() == 2 + 65535);
  CHECK(frame.substr(0, 2) == "\xff\xff");
  FrameDecoder decoder;
  decoder.feed(frame);
  auto message = decoder.next();
  REQUIRE(message);
  CHECK(message->header.get("V") == exact_value);

  std::string out;
  CHECK_THROWS_WITH_AS(append_frame(out, Header{{"V", exact_value + "x"}}),
                       "cannot send header: it is 65536 bytes, above the 65535 a frame can carry", FrameError);
  CHECK(out.empty());
  // The body length counts too: CL:10 is one byte longer than CL:0.
  CHECK_THROWS_AS(encode_frame(Header{{"V", exact_value}}, "0123456789"), FrameError);
}

TEST_CASE("a 16 MiB body is accepted at the limit and refused one byte over") {
  std::string body(kDefaultMaxBody, '\0');
  for (std::size_t i = 0; i < body.size(); i += 4096) body[i] = static_cast<char>(i >> 12);
  std::string frame = encode_frame(Header{{"TP", "File"}}, body);
  FrameDecoder decoder;
  constexpr std::size_t kChunk = 65536 + 3;  // odd size so chunk edges wander over the frame
  for (std::size_t at = 0; at < frame.size(); at += kChunk) {
    decoder.feed(std::string_view(frame).substr(at, kChunk));
  }
  auto message = decoder.next();
  REQUIRE(message);
  CHECK(message->body.size() == kDefaultMaxBody);
  CHECK(message->body == body);

  body.push_back('!');
  // Sending is not bounded by the receiver's limit, but a default receiver refuses it at the header.
  std::string over = encode_frame(Header{{"TP", "File"}}, body);
  std::string header_only = over.substr(0, 2 + static_cast<unsigned char>(over[0]));
  CHECK(refusal(header_only).find("CL '16777217' is above max_body 16777216") != std::string::npos);
}

TEST_CASE("max_body is configurable") {
  FrameDecoder decoder(10);
  CHECK(decoder.max_body() == 10);
  decoder.feed(encode_frame(Header{}, "0123456789"));
  CHECK(decoder.next()->body == "0123456789");
  CHECK(refusal(encode_frame(Header{}, "0123456789A"), 10).find("CL '11' is above max_body 10") != std::string::npos);
}

TEST_CASE("CL with leading zeros is still decimal") {
  FrameDecoder decoder;
  decoder.feed(raw_frame("TP:Msg;CL:007", "1234567"));
  auto message = decoder.next();
  REQUIRE(message);
  CHECK(message->body == "1234567");
  CHECK(message->header == Header{{"TP", "Msg"}});
}

TEST_CASE("probe detection") {
  FrameDecoder decoder;
  decoder.feed(encode_frame(probe_header()));
  decoder.feed(raw_frame("ID:a;TP:Check;CL:0"));
  decoder.feed(encode_frame(Header{{"TP", "Msg"}}));
  decoder.feed(encode_frame(Header{{"TP", "check"}}));
  decoder.feed(encode_frame(Header{{"Check", "TP"}}));
  auto messages = drain(decoder);
  REQUIRE(messages.size() == 5);
  CHECK(messages[0].is_probe());
  CHECK(messages[1].is_probe());
  CHECK_FALSE(messages[2].is_probe());
  CHECK_FALSE(messages[3].is_probe());
  CHECK_FALSE(messages[4].is_probe());
}

namespace {

std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char byte : bytes) {
    out += kHex[byte >> 4];
    out += kHex[byte & 0xf];
  }
  return out;
}

// The original module's sender: CL (an int) first, then the caller's items
// (str or int values) as "KEY:VALUE" joined by ';', UTF-8, with a uint16 LE
// length in front. argv: body hex, then key, kind ("s" or "i"), value triples.
constexpr const char* kPythonEncode = R"PY(
import struct, sys
body = bytes.fromhex(sys.argv[1])
header = {'CL': len(body)}
rest = sys.argv[2:]
for i in range(0, len(rest), 3):
    key, kind, value = rest[i:i + 3]
    header[key] = int(value) if kind == 'i' else value
text = ';'.join('%s:%s' % (k, v) for k, v in header.items()).encode('utf-8')
print((struct.pack('<H', len(text)) + text + body).hex())
)PY";

// The original module's receiver: split on ';' then ':' into exactly two
// parts, int(CL) bytes of body. Prints "key-hex value-hex" lines, then the body.
constexpr const char* kPythonDecode = R"PY(
import struct, sys
data = bytes.fromhex(sys.argv[1])
size = struct.unpack('<H', data[:2])[0]
text = data[2:2 + size].decode('utf-8')
header = {}
for item in text.split(';'):
    key, value = item.split(':')
    header[key] = value
body = data[2 + size:2 + size + int(header['CL'])]
assert len(body) == int(header['CL'])
for key, value in header.items():
    print(key.encode().hex(), value.encode().hex())
print('body', body.hex())
)PY";

struct PythonCase {
  std::vector<std::vector<std::string>> items;  // key, kind, value
  std::string body;
};

}  // namespace

TEST_CASE("wire format matches the original Python module both ways") {
  const std::vector<PythonCase> cases = {
      {{}, ""},
      {{{"TP", "s", "Msg"}}, "hello"},
      {{{"ID", "s", "alice"}, {"Port", "i", "9001"}}, ""},
      {{{"Broadcast", "s", ""}}, "alice,127.0.0.1,9001"},
      {{{"TP", "s", "File"}, {"Name", "s", "报告 final.txt"}, {"Size", "i", "-3"}}, std::string("\0\x01\xff;:", 5)},
      {{{"TP", "s", "Check"}}, ""},
  };
  for (const auto& c : cases) {
    Header header;
    std::vector<std::string> argv = {"python3", "-c", kPythonEncode, to_hex(c.body)};
    for (const auto& item : c.items) {
      if (item[1] == "i") {
        header.set_int(item[0], std::stoll(item[2]));
      } else {
        header.set(item[0], item[2]);
      }
      argv.insert(argv.end(), item.begin(), item.end());
    }
    const std::string ours = encode_frame(header, c.body);
    CAPTURE(to_hex(ours));

    auto python_encoded = testing::run(argv);
    REQUIRE_MESSAGE(python_encoded.code == 0, python_encoded.err);
    CHECK(python_encoded.out == to_hex(ours) + "\n");

    auto python_decoded = testing::run({"python3", "-c", kPythonDecode, to_hex(ours)});
    REQUIRE_MESSAGE(python_decoded.code == 0, python_decoded.err);
    std::string expected = to_hex("CL") + " " + to_hex(std::to_string(c.body.size())) + "\n";
    for (const auto& [key, value] : header) expected += to_hex(key) + " " + to_hex(value) + "\n";
    expected += "body " + to_hex(c.body) + "\n";
    CHECK(python_decoded.out == expected);

    FrameDecoder decoder;
    decoder.feed(ours);
    auto message = decoder.next();
    REQUIRE(message);
    CHECK(message->header == header);
    CHECK(message->body == c.body);
    CHECK(message->is_probe() == (header.get("TP") == "Check"));
  }
}

TEST_CASE("quoted_for_error escapes and cuts hostile text") {
  CHECK(quoted_for_error("plain") == "'plain'");
  CHECK(quoted_for_error(std::string("a\0'\\\n", 5)) == "'a\\x00\\x27\\x5c\\x0a'");
  CHECK(quoted_for_error(std::string(100, 'k')) == "'" + std::string(48, 'k') + "'... (100 bytes)");
}

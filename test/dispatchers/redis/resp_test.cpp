#include <asyncore/redis/resp.h>

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "dispatchers/redis/sha1.h"

using namespace asyncore::redis;

namespace {

// Every reply in `bytes`, fed at once.
std::vector<Reply> parse_all(std::string_view bytes, ParserLimits limits = {}) {
  ReplyParser parser(limits);
  parser.feed(bytes);
  std::vector<Reply> replies;
  while (auto reply = parser.next()) replies.push_back(std::move(*reply));
  CHECK(parser.buffered() == 0);
  return replies;
}

// The same, fed one byte at a time (asking for replies after every byte).
std::vector<Reply> parse_bytewise(std::string_view bytes) {
  ReplyParser parser;
  std::vector<Reply> replies;
  for (char c : bytes) {
    parser.feed(std::string_view(&c, 1));
    while (auto reply = parser.next()) replies.push_back(std::move(*reply));
  }
  return replies;
}

std::string parse_error(std::string_view bytes, ParserLimits limits = {}) {
  ReplyParser parser(limits);
  parser.feed(bytes);
  try {
    while (parser.next()) {
    }
  } catch (const ProtocolError& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("every RESP3 type parses, whole or one byte at a time") {
  const std::string stream =
      "+OK\r\n-ERR bad thing\r\n:-42\r\n$5\r\nhe\r\no\r\n$0\r\n\r\n*2\r\n:1\r\n+two\r\n_\r\n,3.25\r\n,inf\r\n"
      "#t\r\n#f\r\n(3492890328409238509324850943850943825024385\r\n=15\r\ntxt:Some string\r\n"
      "%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n~2\r\n+x\r\n+y\r\n>3\r\n+message\r\n+ch\r\n$2\r\nhi\r\n!9\r\nSYNTAX x\n\r\n"
      "$-1\r\n*-1\r\n*0\r\n";
  const std::vector<Reply> replies = parse_all(stream);
  REQUIRE(replies.size() == 20);
  CHECK(replies[0].type == Type::simple_string);
  CHECK(replies[0].str == "OK");
  CHECK(replies[1].is_error());
  CHECK(replies[1].str == "ERR bad thing");
  CHECK(replies[2].integer == -42);
  CHECK(replies[3].type == Type::bulk_string);
  CHECK(replies[3].str == "he\r\no");  // binary-safe
  CHECK(replies[4].str.empty());
  CHECK(replies[5].to_string() == "[(integer) 1, two]");
  CHECK(replies[6].is_null());
  CHECK(replies[7].number == 3.25);
  CHECK(replies[8].number > 1e308);
  CHECK(replies[9].type == Type::boolean);
  CHECK(replies[9].integer == 1);
  CHECK(replies[10].integer == 0);
  CHECK(replies[11].type == Type::big_number);
  CHECK(replies[11].str == "3492890328409238509324850943850943825024385");
  CHECK(replies[12].type == Type::verbatim);
  CHECK(std::string(replies[12].format) == "txt");
  CHECK(replies[12].str == "Some string");
  CHECK(replies[13].type == Type::map);
  CHECK(replies[13].to_string() == "{a: (integer) 1, b: (integer) 2}");
  CHECK(replies[14].type == Type::set);
  CHECK(replies[15].type == Type::push);
  CHECK(replies[15].elements[2].str == "hi");
  CHECK(replies[16].is_error());
  CHECK(replies[16].str == "SYNTAX x\n");
  CHECK(replies[17].is_null());  // RESP2's null bulk
  CHECK(replies[18].is_null());  // RESP2's null array
  CHECK(replies[19].type == Type::array);
  CHECK(replies[19].elements.empty());
  CHECK(parse_bytewise(stream) == replies);
}

TEST_CASE("an attribute is attached to the value that follows it, at any level") {
  const auto replies = parse_all("|1\r\n+ttl\r\n:3600\r\n+value\r\n*2\r\n:1\r\n|1\r\n+key-popularity\r\n,0.5\r\n:2\r\n");
  REQUIRE(replies.size() == 2);
  CHECK(replies[0].str == "value");
  REQUIRE(replies[0].attributes.size() == 2);
  CHECK(replies[0].attributes[0].str == "ttl");
  CHECK(replies[0].attributes[1].integer == 3600);
  REQUIRE(replies[1].elements.size() == 2);
  CHECK(replies[1].elements[0].attributes.empty());
  CHECK(replies[1].elements[1].integer == 2);
  CHECK(replies[1].elements[1].attributes.size() == 2);
}

TEST_CASE("nested aggregates complete in order and a pipelined stream splits into replies") {
  std::string stream;
  for (int i = 0; i < 100; ++i) stream += "*2\r\n*1\r\n:" + std::to_string(i) + "\r\n%1\r\n+k\r\n$1\r\nv\r\n";
  const auto replies = parse_all(stream);
  REQUIRE(replies.size() == 100);
  CHECK(replies[57].elements[0].elements[0].integer == 57);
  CHECK(replies[57].elements[1].elements[1].str == "v");
  CHECK(parse_bytewise(stream) == replies);
}

TEST_CASE("an incomplete reply waits for more bytes and keeps what it parsed") {
  ReplyParser parser;
  parser.feed("*3\r\n:1\r\n$10\r\n01234");
  CHECK_FALSE(parser.next().has_value());
  parser.feed("56789\r");
  CHECK_FALSE(parser.next().has_value());
  parser.feed("\n+end\r\n+next");
  auto reply = parser.next();
  REQUIRE(reply.has_value());
  CHECK(reply->to_string() == "[(integer) 1, 0123456789, end]");
  CHECK_FALSE(parser.next().has_value());
  CHECK(parser.buffered() == 5);
}

TEST_CASE("bad input is refused with a clear error") {
  CHECK(parse_error("?x\r\n").find("unknown type byte '?'") != std::string::npos);
  CHECK(parse_error("\x01x\r\n").find("unknown type byte 0x01") != std::string::npos);
  CHECK(parse_error(":12a\r\n").find("bad integer \"12a\"") != std::string::npos);
  CHECK(parse_error(":99999999999999999999\r\n").find("bad integer") != std::string::npos);
  CHECK(parse_error("+OK\n").find("LF without CR") != std::string::npos);
  CHECK(parse_error("$3\r\nabcd\r\n").find("not followed by CRLF") != std::string::npos);
  CHECK(parse_error("$-2\r\n").find("bad length") != std::string::npos);
  CHECK(parse_error("%-1\r\n").find("bad element count") != std::string::npos);
  CHECK(parse_error("#x\r\n").find("bad boolean") != std::string::npos);
  CHECK(parse_error(",1.5x\r\n").find("bad double") != std::string::npos);
  CHECK(parse_error("(12a\r\n").find("bad big number") != std::string::npos);
  CHECK(parse_error("_x\r\n").find("null with a value") != std::string::npos);
  CHECK(parse_error("=2\r\nab\r\n").find("verbatim string without its format") != std::string::npos);
  CHECK(parse_error("$?\r\n").find("streamed strings are not supported") != std::string::npos);
  CHECK(parse_error("*?\r\n").find("streamed aggregates are not supported") != std::string::npos);
  // After an error the parser says so again rather than resynchronising on garbage.
  ReplyParser parser;
  parser.feed("?\r\n+OK\r\n");
  CHECK_THROWS_AS(parser.next(), ProtocolError);
  CHECK_THROWS_WITH(parser.next(), doctest::Contains("already failed"));
  parser.reset();
  parser.feed("+OK\r\n");
  CHECK(parser.next()->str == "OK");
}

TEST_CASE("the limits bound bulk length, element count, nesting depth and line length") {
  ParserLimits limits{.max_bulk = 10, .max_elements = 5, .max_depth = 3, .max_line = 20};
  CHECK(parse_error("$11\r\n", limits).find("a string of 11 bytes (at most 10)") != std::string::npos);
  CHECK(parse_all("$10\r\n0123456789\r\n", limits).size() == 1);
  // Refused as announced, before the bytes arrive.
  CHECK(parse_error("*6\r\n", limits).find("more than 5 elements") != std::string::npos);
  CHECK(parse_error("%3\r\n", limits).find("more than 5 elements") != std::string::npos);
  CHECK(parse_error("*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*3\r\n", limits).find("more than 5 elements") != std::string::npos);
  CHECK(parse_all("*2\r\n*2\r\n:1\r\n:2\r\n*2\r\n:3\r\n:4\r\n", limits).size() == 1);
  CHECK(parse_error("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", limits).find("nested deeper than 3") != std::string::npos);
  CHECK(parse_all("*1\r\n*1\r\n*1\r\n:1\r\n", limits).size() == 1);
  CHECK(parse_error("+" + std::string(30, 'a'), limits).find("longer than 20 bytes") != std::string::npos);
  // The element budget is per reply: many small replies are fine.
  std::string many;
  for (int i = 0; i < 20; ++i) many += "*3\r\n:1\r\n:2\r\n:3\r\n";
  CHECK(parse_all(many, limits).size() == 20);
}

TEST_CASE("append_reply writes what parses back to an equal reply") {
  const std::string stream =
      "|1\r\n+a\r\n:1\r\n%2\r\n+k\r\n~1\r\n#t\r\n$3\r\nx\ny\r\n>2\r\n,-0.5\r\n(-12\r\n*3\r\n_\r\n=7\r\nmkd:abc\r\n!4\r\na\r\nb\r\n";
  const auto replies = parse_all(stream);
  std::string encoded;
  for (const Reply& reply : replies) append_reply(encoded, reply);
  CHECK(parse_all(encoded) == replies);
}

TEST_CASE("commands are arrays of bulk strings") {
  CHECK(encode_command({"SET", "key", ""}) == "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$0\r\n\r\n");
  std::string out;
  std::vector<std::string> args = {"GET", std::string("a\r\nb\0c", 6)};
  append_command(out, std::span<const std::string>(args));
  CHECK(out == std::string("*2\r\n$3\r\nGET\r\n$6\r\na\r\nb\0c\r\n", 25));
}

TEST_CASE("sha1_hex matches the FIPS 180 examples") {
  using asyncore::sha1_hex;
  CHECK(sha1_hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(sha1_hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  CHECK(sha1_hex(std::string(1000000, 'a')) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

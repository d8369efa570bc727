// The strict UTF-8 checks the JSON parser/writer, the messenger (headers must decode with
// Python's bytes.decode('utf-8')) and the sync relay (commands, stored program output) share.
#include <asyncore/json/utf8.h>

#include <doctest/doctest.h>

#include <string>

using namespace asyncore;

namespace {

std::string encode(char32_t code_point) {  // plain bit packing, surrogates included
  std::string out;
  append_utf8(out, code_point);
  return out;
}

}  // namespace

// Moved from test/apps/sync/parsing_test.cpp when the relay's copy was replaced by this one.
TEST_CASE("UTF-8: well-formed text only; output made valid with U+FFFD") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain"));
  CHECK(valid_utf8("\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  for (const char* bad : {"\xff", "\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82"}) CHECK(!valid_utf8(bad));
  CHECK(to_valid_utf8("a\xffz") == "a\xEF\xBF\xBDz");
  CHECK(to_valid_utf8("ok \xC3\xA9") == "ok \xC3\xA9");
}

TEST_CASE("first_invalid_utf8 gives the offset of the first bad sequence's lead byte") {
  CHECK(!first_invalid_utf8(""));
  CHECK(!first_invalid_utf8("CL:0;TP:\xe6\x8a\xa5"));
  CHECK(first_invalid_utf8("CL:0;TP:\xff") == 8u);
  CHECK(first_invalid_utf8("CL:0;TP:\xc0\x80") == 8u);          // overlong NUL
  CHECK(first_invalid_utf8("CL:0;TP:\xed\xa0\x80") == 8u);      // surrogate
  CHECK(first_invalid_utf8("CL:0;TP:\xf4\x90\x80\x80") == 8u);  // above U+10FFFF
  CHECK(first_invalid_utf8("CL:0;TP:\xe6\x8a") == 8u);          // truncated sequence
  CHECK(first_invalid_utf8("ok\xc3") == 2u);
  CHECK(first_invalid_utf8("ab\xE0\x80\xAF") == 2u);  // overlong '/'
  CHECK(first_invalid_utf8("\xF5\x80\x80\x80") == 0u);
  CHECK(first_invalid_utf8("\x80") == 0u);  // stray continuation
  CHECK(first_invalid_utf8("\xC3\xA9\xE2\x28\xA1") == 2u);  // bad continuation byte
}

TEST_CASE("utf8_sequence_length looks at the sequence at an offset and never past the end") {
  const std::string text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
  CHECK(utf8_sequence_length(text) == 1);
  CHECK(utf8_sequence_length(text, 1) == 2);
  CHECK(utf8_sequence_length(text, 3) == 3);
  CHECK(utf8_sequence_length(text, 6) == 4);
  CHECK(utf8_sequence_length(text, 2) == 0);  // a continuation byte
  CHECK(utf8_sequence_length(std::string_view(text).substr(0, 9), 6) == 0);  // cut short
}

TEST_CASE("every scalar value round-trips; surrogates and overlong forms do not") {
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const std::string bytes = encode(cp);
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    if (valid_utf8(bytes) == surrogate) {
      CAPTURE(cp);
      FAIL("wrong verdict");
    }
  }
  CHECK(!valid_utf8(encode(0x110000)));
  // Overlong: the same code point packed into one more byte than it needs.
  CHECK(!valid_utf8("\xC1\xBF"));          // U+007F
  CHECK(!valid_utf8("\xE0\x9F\xBF"));      // U+07FF
  CHECK(!valid_utf8("\xF0\x8F\xBF\xBF"));  // U+FFFF
  CHECK(valid_utf8("\xE0\xA0\x80"));       // U+0800, the smallest 3-byte form
  CHECK(valid_utf8("\xF0\x90\x80\x80"));   // U+10000, the smallest 4-byte form
  CHECK(valid_utf8("\xF4\x8F\xBF\xBF"));   // U+10FFFF
}

TEST_CASE("to_valid_utf8 replaces each bad byte and keeps the good sequences after it") {
  CHECK(to_valid_utf8("") == "");
  CHECK(to_valid_utf8("\xE2\x82") == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(to_valid_utf8("\xED\xA0\x80x") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDx");
  CHECK(to_valid_utf8("\xC3\xC3\xA9") == "\xEF\xBF\xBD\xC3\xA9");
}

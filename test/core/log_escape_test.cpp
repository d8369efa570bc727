// log_escape: what a peer sends can neither forge log lines nor reach the operator's terminal.
#include <doctest/doctest.h>

#include <string>

#include <asyncore/log_escape.h>

using asyncore::log_escape;

TEST_CASE("printable ASCII and valid UTF-8 are kept as they are") {
  CHECK(log_escape("room 9999 ok") == "room 9999 ok");
  CHECK(log_escape("\xe5\xbc\xb9\xe5\xb9\x95") == "\xe5\xbc\xb9\xe5\xb9\x95");  // 弹幕
  CHECK(log_escape("\xf0\x9f\x98\x80") == "\xf0\x9f\x98\x80");                  // an emoji
}

TEST_CASE("newlines, ESC and other control bytes become \\xNN; the backslash is doubled") {
  CHECK(log_escape("9999\n2026-12-03T00:00:00Z error forged") == "9999\\x0a2026-12-03T00:00:00Z error forged");
  CHECK(log_escape("\x1b[31mred") == "\\x1b[31mred");
  CHECK(log_escape(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(log_escape("\r\t\x7f") == "\\x0d\\x09\\x7f");
  CHECK(log_escape("a\\x0ab") == "a\\\\x0ab");  // an escape written by the peer stays tellable
}

TEST_CASE("bytes that are not valid UTF-8 are escaped one by one") {
  CHECK(log_escape("\xff\xfe") == "\\xff\\xfe");
  CHECK(log_escape("\xe5\xbc") == "\\xe5\\xbc");                // a cut sequence
  CHECK(log_escape("\xc0\xaf") == "\\xc0\\xaf");                // overlong '/'
  CHECK(log_escape("\xed\xa0\x80") == "\\xed\\xa0\\x80");       // a surrogate
  CHECK(log_escape("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // past U+10FFFF
}

TEST_CASE("long values are cut with a count of what was left out") {
  CHECK(log_escape(std::string(300, 'a')) == std::string(256, 'a') + "...(+44 bytes)");
  CHECK(log_escape("abcdef", 3) == "abc...(+3 bytes)");
  // A UTF-8 sequence straddling the cut is not split into a broken character.
  CHECK(log_escape("ab\xe5\xbc\xb9", 3) == "ab\\xe5...(+2 bytes)");
  CHECK(log_escape("", 0).empty());
}

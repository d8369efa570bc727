#include "dispatchers/crc32.h"

#include <doctest/doctest.h>

#include <string>

using asyncore::crc32;

TEST_CASE("crc32 matches the IEEE/zlib check values") {
  CHECK(crc32("") == 0x00000000u);
  CHECK(crc32("123456789") == 0xCBF43926u);  // the standard check value
  CHECK(crc32("The quick brown fox jumps over the lazy dog") == 0x414FA339u);
  CHECK(crc32(std::string(1, '\0')) == 0xD202EF8Du);
  CHECK(crc32(std::string(32, '\xff')) == 0xFF6CAB0Bu);
}

TEST_CASE("crc32 continues over split input") {
  std::string text = "asyncore journal record";
  for (std::size_t split = 0; split <= text.size(); ++split) {
    CAPTURE(split);
    CHECK(crc32(text.substr(split), crc32(text.substr(0, split))) == crc32(text));
  }
}

#include <asyncore/journal/crc32.h>

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

TEST_CASE("crc32 (eight bytes at a time) equals the bit-by-bit definition at every length and alignment") {
  auto bitwise = [](std::string_view data) {
    std::uint32_t crc = 0xFFFFFFFFu;
    for (unsigned char c : data) {
      crc ^= c;
      for (int bit = 0; bit < 8; ++bit) crc = (crc & 1u) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
    }
    return ~crc;
  };
  std::string bytes;
  std::uint32_t seed = 12345;
  for (int i = 0; i < 300; ++i) {
    seed = seed * 1103515245u + 12345u;
    bytes.push_back(static_cast<char>(seed >> 16));
  }
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t length = 0; offset + length <= bytes.size(); length += 1 + length / 16) {
      const std::string_view slice = std::string_view(bytes).substr(offset, length);
      CAPTURE(offset);
      CAPTURE(length);
      CHECK(crc32(slice) == bitwise(slice));
    }
  }
}

// SHA-256 (FIPS 180-4), incremental, for checking transferred files end to end.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace asyncore::messenger {

class Sha256 {
 public:
  using Digest = std::array<std::uint8_t, 32>;

  Sha256();
  void update(std::string_view data);
  // The digest of everything fed so far; the object must not be updated afterwards.
  Digest finish();
  // finish() as 64 lower-case hex digits.
  std::string hex_finish();

  static std::string hex(std::string_view data);  // one-shot

 private:
  void compress(const std::uint8_t* block);
  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> block_{};
  std::size_t block_used_ = 0;
  std::uint64_t total_bytes_ = 0;
};

std::string to_hex(const Sha256::Digest& digest);

}  // namespace asyncore::messenger

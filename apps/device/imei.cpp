#include "apps/device/imei.h"

#include <array>
#include <cstring>

namespace asyncore::device {

std::optional<Imei> Imei::parse(std::string_view digits) {
  if (digits.size() != 15) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return Imei(value);
}

std::string Imei::str() const {
  std::string out;
  append_to(out);
  return out;
}

void Imei::append_to(std::string& out) const {
  char digits[kDigits];
  out.append(digits, write_to(digits));
}

char* Imei::write_to(char* out) const {
  // Two digits per division, from a table: every journal line carries an IMEI.
  static constexpr auto kPairs = [] {
    std::array<char, 200> pairs{};
    for (int i = 0; i < 100; ++i) {
      pairs[2 * i] = static_cast<char>('0' + i / 10);
      pairs[2 * i + 1] = static_cast<char>('0' + i % 10);
    }
    return pairs;
  }();
  std::uint64_t v = value_;
  char* p = out + kDigits;
  for (int i = 0; i < 7; ++i, v /= 100) {
    p -= 2;
    std::memcpy(p, &kPairs[2 * (v % 100)], 2);
  }
  *--p = static_cast<char>('0' + v % 10);
  return out + kDigits;
}

}  // namespace asyncore::device

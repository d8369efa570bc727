#include "apps/device/imei.h"

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
  std::string out(15, '0');
  std::uint64_t v = value_;
  for (int i = 14; i >= 0 && v > 0; --i, v /= 10) out[static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
  return out;
}

}  // namespace asyncore::device

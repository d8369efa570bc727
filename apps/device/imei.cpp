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
  std::string out;
  append_to(out);
  return out;
}

void Imei::append_to(std::string& out) const {
  // Into a local buffer, then one append: every journal line carries an IMEI.
  char digits[15];
  std::uint64_t v = value_;
  for (std::size_t i = 15; i-- > 0; v /= 10) digits[i] = static_cast<char>('0' + v % 10);
  out.append(digits, sizeof digits);
}

}  // namespace asyncore::device

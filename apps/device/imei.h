// An IMEI: exactly 15 decimal digits, kept as a number so the model cache stays small.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace asyncore::device {

class Imei {
 public:
  Imei() = default;
  static std::optional<Imei> parse(std::string_view digits);  // nullopt unless 15 digits
  static Imei from_number(std::uint64_t n) { return Imei(n); }
  std::uint64_t number() const { return value_; }
  std::string str() const;  // 15 digits, leading zeros kept
  void append_to(std::string& out) const;  // the same, appended (no temporary)
  static constexpr std::size_t kDigits = 15;
  char* write_to(char* out) const;  // the same into `out` (kDigits bytes); returns the end
  friend bool operator==(Imei, Imei) = default;
  friend auto operator<=>(Imei, Imei) = default;

 private:
  explicit Imei(std::uint64_t value) : value_(value) {}
  std::uint64_t value_ = 0;
};

inline constexpr std::uint64_t kImeiLimit = 1'000'000'000'000'000ULL;  // 10^15

struct ImeiHash {
  std::size_t operator()(Imei imei) const { return std::hash<std::uint64_t>()(imei.number()); }
};

}  // namespace asyncore::device

// The records the crash tests write: "<n> <filler>", where the filler's length and
// letters are derived from n, so a reader can check every byte of record n.
// Every seventh record is large (tens of KiB) so that a kill can land mid-write.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace journal_testing {

inline std::string numbered_record(std::size_t n, bool small_only = false) {
  std::size_t filler = (n % 7 == 0 && !small_only) ? 40000 + (n * 7919) % 120000 : (n * 31) % 200;
  return std::to_string(n) + ' ' + std::string(filler, static_cast<char>('a' + n % 26));
}

// The number of a record, or nullopt when its bytes are not exactly what record n holds.
inline std::optional<std::size_t> record_number(std::string_view payload, bool small_only = false) {
  auto space = payload.find(' ');
  if (space == std::string_view::npos || space == 0) return std::nullopt;
  std::size_t n = 0;
  for (char c : payload.substr(0, space)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  if (payload != numbered_record(n, small_only)) return std::nullopt;
  return n;
}

}  // namespace journal_testing

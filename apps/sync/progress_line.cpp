#include "apps/sync/progress_line.h"

#include <charconv>
#include <cstdint>

namespace asyncore::sync {
namespace {

std::optional<std::uint64_t> number(std::string_view text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<int> parse_progress(std::string_view line) {
  constexpr std::string_view kPrefix = "PROGRESS ";
  if (!line.starts_with(kPrefix)) return std::nullopt;
  line.remove_prefix(kPrefix.size());
  if (line.ends_with('\r')) line.remove_suffix(1);  // a program writing CRLF
  const std::size_t slash = line.find('/');
  if (slash == std::string_view::npos) {
    auto percent = number(line);
    if (!percent || *percent > 100) return std::nullopt;
    return static_cast<int>(*percent);
  }
  auto step = number(line.substr(0, slash));
  auto steps = number(line.substr(slash + 1));
  if (!step || !steps || *steps == 0 || *step > *steps) return std::nullopt;
  return static_cast<int>(*step * 100 / *steps);
}

}  // namespace asyncore::sync

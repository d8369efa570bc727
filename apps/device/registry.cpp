#include "apps/device/registry.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_set>

namespace asyncore::device {
namespace {

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
  while (i < line.size()) {
    while (i < line.size() && space(line[i])) ++i;
    std::size_t start = i;
    while (i < line.size() && !space(line[i])) ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

}  // namespace

std::vector<RegistryEntry> parse_registry(std::string_view text, std::string_view file_name) {
  std::vector<RegistryEntry> entries;
  std::unordered_set<std::uint64_t> seen;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    auto fail = [&](const std::string& reason) {
      throw RegistryError(std::string(file_name) + ":" + std::to_string(line_number) + ": " + reason);
    };
    std::vector<std::string_view> words = split_words(line);
    if (words.empty() || words[0].front() == '#') continue;
    if (words.size() < 2) fail("expected 'IMEI SECRET' or 'IMEI SECRET locked'");
    if (words.size() > 3) fail("too many fields (expected 'IMEI SECRET [locked]')");
    if (words.size() == 3 && words[2] != "locked") fail("third field must be 'locked', not '" + std::string(words[2]) + "'");
    std::optional<Imei> imei = Imei::parse(words[0]);
    if (!imei) fail("IMEI must be 15 digits, not '" + std::string(words[0]) + "'");
    if (!seen.insert(imei->number()).second) fail("IMEI " + imei->str() + " is listed twice");
    entries.push_back({*imei, std::string(words[1]), words.size() == 3});
  }
  return entries;
}

std::vector<RegistryEntry> load_registry(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RegistryError(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw RegistryError(path + ": cannot read");
  return parse_registry(text.str(), path);
}

}  // namespace asyncore::device

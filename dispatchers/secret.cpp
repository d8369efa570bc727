#include <asyncore/secret.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>

namespace asyncore {

std::string read_secret_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read '" + path + "'");
  std::string line;
  std::getline(in, line);
  const auto first = line.find_first_not_of(" \t\r");
  const auto last = line.find_last_not_of(" \t\r");
  if (first == std::string::npos) throw std::runtime_error("'" + path + "' holds no secret on its first line");
  return line.substr(first, last - first + 1);
}

bool tokens_equal(std::string_view presented, std::string_view secret) {
  const std::size_t n = std::max(presented.size(), secret.size());
  unsigned char difference = presented.size() == secret.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char a = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    const unsigned char b = i < secret.size() ? static_cast<unsigned char>(secret[i]) : 0;
    difference |= static_cast<unsigned char>(a ^ b);
  }
  return difference == 0;
}

}  // namespace asyncore

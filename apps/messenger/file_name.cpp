#include "apps/messenger/file_name.h"

namespace asyncore::messenger {

std::optional<std::string> file_name_problem(std::string_view name) {
  if (name.empty()) return "empty file name";
  if (name == "." || name == "..") return "file name is a directory reference";
  if (name.size() > kMaxFileNameBytes) return "file name longer than " + std::to_string(kMaxFileNameBytes) + " bytes";
  if (name.front() == '.') return "file name starts with '.'";
  for (unsigned char c : name) {
    if (c == '/' || c == '\\') return "file name contains a path separator";
    if (c < 0x20 || c == 0x7f) return "file name contains a control character";
  }
  return std::nullopt;
}

std::string base_name(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  std::size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

}  // namespace asyncore::messenger

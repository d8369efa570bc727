#include "apps/common/node_id.h"

#include <unistd.h>

#include <cctype>
#include <cstdio>

namespace asyncore {

std::string default_node_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "node");
  return std::string(host) + "-" + std::to_string(::getpid());
}

std::optional<std::string> node_id_problem(std::string_view name) {
  if (name.empty()) return "empty";
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return "letters, digits, '-', '_' and '.' only";
    }
  }
  return std::nullopt;
}

}  // namespace asyncore

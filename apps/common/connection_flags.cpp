#include "apps/common/connection_flags.h"

#include <stdexcept>
#include <string>

namespace asyncore {
namespace {

std::size_t parse_cap(std::string_view text) {
  if (text.empty() || text.size() > 8 || text.find_first_not_of("0123456789") != std::string_view::npos) {
    throw std::invalid_argument("must be a whole number 0.." + std::to_string(kMaxConnectionCap));
  }
  const std::size_t value = std::stoul(std::string(text));
  if (value > kMaxConnectionCap) throw std::out_of_range("must be 0.." + std::to_string(kMaxConnectionCap));
  return value;
}

std::string default_text(std::size_t value) {
  return value == 0 ? "default 0: no limit" : "default " + std::to_string(value) + "; 0: no limit";
}

}  // namespace

void add_connection_cap_flags(Cli& cli, ConnectionCaps& caps, std::string_view what) {
  cli.option("--max-connections", "N",
             std::string(what) + " open at once; more are closed at accept (" + default_text(caps.max_connections) + ")",
             [&caps](std::string_view v) { caps.max_connections = parse_cap(v); });
  cli.option("--max-per-peer", "N", std::string(what) + " from one peer host (" + default_text(caps.max_per_peer) + ")",
             [&caps](std::string_view v) { caps.max_per_peer = parse_cap(v); });
}

}  // namespace asyncore

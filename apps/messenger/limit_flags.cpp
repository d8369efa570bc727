#include "apps/messenger/limit_flags.h"

#include <asyncore/secret.h>

#include <stdexcept>
#include <string>

namespace asyncore::messenger {

void add_frame_limit_flags(Cli& cli, MessengerLimits& limits) {
  cli.option("--frame-timeout", "S",
             "a frame must be complete S seconds after its first byte, or its connection is closed (default 60)",
             [&limits](std::string_view v) {
               std::size_t used = 0;
               const double seconds = std::stod(std::string(v), &used);
               if (used != v.size() || !(seconds >= 0.01 && seconds <= 86400)) throw std::out_of_range("must be 0.01..86400");
               limits.frame_timeout = seconds;
             });
  cli.option("--max-partial-input", "BYTES",
             "memory unfinished frames may hold over all connections; past it the one holding the most is closed "
             "(default 64 MiB)",
             [&limits](std::string_view v) {
               if (v.empty() || v.size() > 15 || v.find_first_not_of("0123456789") != std::string_view::npos) {
                 throw std::invalid_argument("must be a whole number of bytes");
               }
               const std::size_t bytes = std::stoull(std::string(v));
               if (bytes < 65536) throw std::out_of_range("must be at least 65536");
               limits.max_partial_input = bytes;
             });
}

std::string read_token_flag(const Cli& cli, std::string_view flag, const std::string& path) {
  std::string token;
  try {
    token = read_secret_file(path);
  } catch (const std::exception& e) {
    cli.fail(std::string(flag) + ": " + e.what());
  }
  if (token.find_first_of(":;") != std::string::npos) cli.fail(std::string(flag) + ": the token must not contain ':' or ';'");
  return token;
}

}  // namespace asyncore::messenger

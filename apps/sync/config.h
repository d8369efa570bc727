// What runs a sync of each record type: `--config FILE`, one type a line,
//   TYPE TIMEOUT_SECONDS PROGRAM ARG...
// with "{type}" and "{id}" in an argument replaced by the record's. Blank lines and lines
// starting with '#' are skipped. Without a config the built-in `demo` type runs this very
// binary with a hidden flag (see demo.h), so the relay works out of the box.
#pragma once
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace asyncore::sync {

struct SyncProgram {
  double timeout_seconds = 0;
  std::vector<std::string> argv;  // templates with {type} and {id}
};

using SyncPrograms = std::map<std::string, SyncProgram, std::less<>>;

// "FILE:LINE: reason", or "FILE: reason" when the file cannot be read.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

SyncPrograms load_config(const std::string& path);
SyncPrograms parse_config(std::string_view text, std::string_view file_name);
// The `demo` type: `self DEMO_FLAG {type} {id}`.
SyncPrograms demo_programs(const std::string& self);

// The program's argv for one record.
std::vector<std::string> expand_argv(const SyncProgram& program, std::string_view type, std::string_view id);

}  // namespace asyncore::sync

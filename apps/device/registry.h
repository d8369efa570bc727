// The device registry file: one device a line, "IMEI SECRET" or "IMEI SECRET locked",
// separated by white space; blank lines and lines starting with '#' are ignored.
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "apps/device/imei.h"
#include <asyncore/secret.h>

namespace asyncore::device {

struct RegistryEntry {
  Imei imei;
  std::string secret;
  bool locked = false;
};

// what(): "<file>:<line>: <reason>", the message start-up prints before exiting 2.
class RegistryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::vector<RegistryEntry> parse_registry(std::string_view text, std::string_view file_name);
std::vector<RegistryEntry> load_registry(const std::string& path);  // throws RegistryError

using asyncore::tokens_equal;  // device tokens are compared like every other secret

}  // namespace asyncore::device

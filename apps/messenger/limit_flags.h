// The command-line flags msg-hub and msg-peer share: what a peer's frames may hold, the hub token.
#pragma once
#include <string>
#include <string_view>

#include "apps/messenger/messenger.h"
#include "apps/common/cli.h"

namespace asyncore::messenger {

// --frame-timeout S and --max-partial-input BYTES, into `limits`.
void add_frame_limit_flags(Cli& cli, MessengerLimits& limits);

// The hub token in `path` (given with `flag`), fit to travel as a header value; on a problem the
// program fails as for a bad flag.
std::string read_token_flag(const Cli& cli, std::string_view flag, const std::string& path);

}  // namespace asyncore::messenger

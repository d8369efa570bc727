// The command-line flags msg-hub and msg-peer share for what a peer's frames may hold.
#pragma once
#include "apps/messenger/messenger.h"
#include "dispatchers/cli.h"

namespace asyncore::messenger {

// --frame-timeout S and --max-partial-input BYTES, into `limits`.
void add_frame_limit_flags(Cli& cli, MessengerLimits& limits);

}  // namespace asyncore::messenger

// The --max-connections N and --max-per-peer N flags every server program takes, with the
// same wording and checks everywhere. `caps` holds the program's defaults and receives the
// values given; `what` names what is counted in the help ("device connections").
#pragma once
#include <string_view>

#include "apps/common/cli.h"
#include <asyncore/net/connection_limits.h>

namespace asyncore {

inline constexpr std::size_t kMaxConnectionCap = 10'000'000;

void add_connection_cap_flags(Cli& cli, ConnectionCaps& caps, std::string_view what = "connections");

}  // namespace asyncore

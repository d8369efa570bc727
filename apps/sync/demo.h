// The built-in `demo` sync: sync-server started again as `sync-server --demo-sync TYPE ID`
// runs this instead of the server, so the demo really is a separate process with output:
// about ten steps over a few seconds, each a log line and a PROGRESS line.
#pragma once
#include <string_view>

namespace asyncore::sync {

inline constexpr std::string_view kDemoFlag = "--demo-sync";

// Returns the exit status for main().
int run_demo(std::string_view type, std::string_view id, double step_seconds = 0.3);

}  // namespace asyncore::sync

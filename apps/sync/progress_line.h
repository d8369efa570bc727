// A sync program reports progress with an output line "PROGRESS P" (0..100) or "PROGRESS I/M"
// (step I of M); such a line moves the bar and is not a log line.
#pragma once
#include <optional>
#include <string_view>

namespace asyncore::sync {

// The percentage a progress line sets (rounded down), or nullopt when the line is not one
// (then it is an ordinary log line).
std::optional<int> parse_progress(std::string_view line);

}  // namespace asyncore::sync

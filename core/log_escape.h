// How a value that came from a peer is written into a log line: a peer must not be able to
// forge whole log lines (a newline) or drive the operator's terminal (ESC sequences), nor fill
// the log with one enormous value.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace asyncore {

// Control bytes (below 0x20, 0x7f), bytes that are not part of valid UTF-8, and the backslash
// are written as \xNN (\\ for the backslash); printable ASCII and valid UTF-8 stay as they are.
// A value longer than `max_bytes` is cut there and ends with "...(+N bytes)".
std::string log_escape(std::string_view value, size_t max_bytes = 256);
void append_log_escaped(std::string& out, std::string_view value, size_t max_bytes = 256);

}  // namespace asyncore

// One-line logging to stderr with a level; programs set the level from --quiet / --verbose.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <typeinfo>

namespace asyncore {

enum class LogLevel { debug = 0, info = 1, warning = 2, error = 3, off = 4 };

void set_log_level(LogLevel level);
LogLevel log_level();
inline bool log_enabled(LogLevel level) { return level >= log_level(); }

// Replaces the sink (default: write_log_line); empty restores it.
void set_log_sink(std::function<void(LogLevel, std::string_view)> sink);
// The default sink: "<UTC time> <level> <message>\n" on stderr (a sink may add to it, e.g. clear
// a terminal's status line first).
void write_log_line(LogLevel level, std::string_view message);

void log(LogLevel level, std::string_view message);
inline void log_debug(std::string_view m) { if (log_enabled(LogLevel::debug)) log(LogLevel::debug, m); }
inline void log_info(std::string_view m) { if (log_enabled(LogLevel::info)) log(LogLevel::info, m); }
inline void log_warning(std::string_view m) { if (log_enabled(LogLevel::warning)) log(LogLevel::warning, m); }
inline void log_error(std::string_view m) { if (log_enabled(LogLevel::error)) log(LogLevel::error, m); }

const char* level_name(LogLevel level);

// A duration as people write it in a log line: "10 s", "2.5 s", "0.125 s" (at most three
// decimals, no trailing zeros), never "10.000000 s".
std::string describe_seconds(double seconds);
// A number as people write it in a message: "5", "0.25", "1e+06" (printf's %g).
std::string describe_number(double value);

// The readable name of a type (demangled), for error lines that name a class.
std::string type_name(const std::type_info& type);

}  // namespace asyncore

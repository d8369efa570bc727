// Which received file names may be written into the inbox: one plain path component, so a
// sender can never reach outside the inbox ("..", "/etc/x", "a/b") or hide among our own
// temporary files (names starting with '.').
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace asyncore::messenger {

inline constexpr std::size_t kMaxFileNameBytes = 200;

// The reason `name` is refused, or nullopt when it is a safe inbox file name.
std::optional<std::string> file_name_problem(std::string_view name);

// The last component of a local path ("dir/report.pdf" -> "report.pdf").
std::string base_name(std::string_view path);

}  // namespace asyncore::messenger

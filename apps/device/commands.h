// Server -> device commands: the table of what each type carries, checked before anything is
// sent (an admin's bad body gets 400, never reaches a device), and the wire body with an ident.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include <asyncore/json/json.h>

namespace asyncore::device {

enum CommandType : int { set_heartbeat = 100, locate_now = 101, message = 104, lock = 105, control = 111 };

inline constexpr int kMinHeartbeat = 10;
inline constexpr int kMaxHeartbeat = 1800;
inline int clamp_heartbeat(long long seconds) {
  return static_cast<int>(seconds < kMinHeartbeat ? kMinHeartbeat : seconds > kMaxHeartbeat ? kMaxHeartbeat : seconds);
}

inline constexpr std::string_view kControlActions[] = {"reboot", "poweroff", "relogin"};

struct CommandCheck {
  std::optional<json::Value> command;  // the checked object, any "ident" removed
  std::string error;                   // why not
};
CommandCheck check_command(std::string_view body);

// {"type":T,"ident":I,<the command's other members>}
std::string command_body(const json::Value& command, int ident);
// The same appended to `out` (a buffer kept between commands: no allocation per command).
void append_command_body(std::string& out, const json::Value& command, int ident);

}  // namespace asyncore::device

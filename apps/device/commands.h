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

// A command as the hub, the cluster and a session pass it on: what they read of it, and the rest
// as JSON text, written into the device's frame as it is. Not a JSON object: building one (and
// taking it apart again) was most of what a command cost.
struct Command {
  int type = 0;
  int interval = 0;     // set_heartbeat: the interval it asks for
  std::string members;  // its members but "type" and "ident", compact JSON: "" or `"k":v,"k2":v2`
};

struct CommandCheck {
  std::optional<Command> command;  // checked, any "ident" dropped (the server numbers its own)
  std::string error;               // why not
};
// An admin's command body: plain_command() when it can, else check_command_json().
CommandCheck check_command(std::string_view body);
// The general path: the JSON parser, the table's checks and the error saying why not.
CommandCheck check_command_json(std::string_view body);
// The fast path, for a body of the usual shape: an object of plain members (ASCII keys without
// escapes; values integers without sign or leading zero, strings of printable ASCII without
// escapes, true, false), no white space, no repeated key, that passes the table's checks. It is
// read straight from the bytes, which are then exactly what json::dump writes. Anything else
// (and every refusal) gives nullopt: check_command_json then decides and says why.
std::optional<Command> plain_command(std::string_view body);
// A stored command (journal, Redis) read back: an object with an integer type; not checked again.
std::optional<Command> command_from_json(const json::Value& object);

// {"type":T,<members>}: how a command is stored and sent to another node.
std::string command_text(const Command& command);
// {"type":T,"ident":I,<members>}
std::string command_body(const Command& command, int ident);
// The same appended to `out` (a buffer kept between commands: no allocation per command).
void append_command_body(std::string& out, const Command& command, int ident);

}  // namespace asyncore::device

// The commands msg-peer reads from stdin, one a line:
//   peers                 the directory as last received from the hub
//   connect NAME          open a connection to peer NAME
//   msg NAME TEXT         send TEXT to NAME (connecting first when needed)
//   broadcast TEXT        send TEXT to every other peer in the directory
//   send NAME PATH        send the file at PATH to NAME
//   quit                  finish what is queued and exit
// Each prints exactly one result line, "ok <command> ..." or "error <command> ...".
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace asyncore::messenger {

struct PeerCommand {
  enum class Kind { peers, connect, msg, broadcast, send, quit, help };
  Kind kind = Kind::help;
  std::string name;  // connect, msg, send
  std::string text;  // msg, broadcast: the text; send: the path
};

// nullopt for a blank line; throws std::invalid_argument with a one-line reason otherwise.
std::optional<PeerCommand> parse_peer_command(std::string_view line);
std::string_view command_word(PeerCommand::Kind kind);
std::string_view peer_command_help();

// `text` made safe for one output line: control characters become \n, \t, \xNN, backslash \\.
std::string one_line(std::string_view text);

}  // namespace asyncore::messenger

#include "apps/messenger/peer_command.h"

#include <stdexcept>

namespace asyncore::messenger {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && (is_space(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Splits off the first word; `rest` keeps the remainder with leading blanks removed.
std::string_view next_word(std::string_view& rest) {
  rest = trim(rest);
  std::size_t end = 0;
  while (end < rest.size() && !is_space(rest[end])) ++end;
  std::string_view word = rest.substr(0, end);
  rest = trim(rest.substr(end));
  return word;
}

}  // namespace

std::optional<PeerCommand> parse_peer_command(std::string_view line) {
  std::string_view rest = trim(line);
  if (rest.empty()) return std::nullopt;
  std::string_view word = next_word(rest);
  PeerCommand command;
  auto need_name = [&] {
    command.name = std::string(next_word(rest));
    if (command.name.empty()) throw std::invalid_argument(std::string(word) + ": missing NAME");
  };
  auto need_text = [&](const char* what) {
    if (rest.empty()) throw std::invalid_argument(std::string(word) + ": missing " + what);
    command.text = std::string(rest);
    rest = {};
  };
  if (word == "peers") {
    command.kind = PeerCommand::Kind::peers;
  } else if (word == "connect") {
    command.kind = PeerCommand::Kind::connect;
    need_name();
  } else if (word == "msg") {
    command.kind = PeerCommand::Kind::msg;
    need_name();
    need_text("TEXT");
  } else if (word == "broadcast") {
    command.kind = PeerCommand::Kind::broadcast;
    need_text("TEXT");
  } else if (word == "send") {
    command.kind = PeerCommand::Kind::send;
    need_name();
    need_text("PATH");
  } else if (word == "quit") {
    command.kind = PeerCommand::Kind::quit;
  } else if (word == "help") {
    command.kind = PeerCommand::Kind::help;
  } else {
    throw std::invalid_argument("unknown command '" + one_line(word) + "' (try help)");
  }
  if (!rest.empty()) throw std::invalid_argument(std::string(word) + ": unexpected '" + one_line(rest) + "'");
  return command;
}

std::string_view command_word(PeerCommand::Kind kind) {
  switch (kind) {
    case PeerCommand::Kind::peers: return "peers";
    case PeerCommand::Kind::connect: return "connect";
    case PeerCommand::Kind::msg: return "msg";
    case PeerCommand::Kind::broadcast: return "broadcast";
    case PeerCommand::Kind::send: return "send";
    case PeerCommand::Kind::quit: return "quit";
    case PeerCommand::Kind::help: return "help";
  }
  return "?";
}

std::string_view peer_command_help() {
  return "commands: peers | connect NAME | msg NAME TEXT | broadcast TEXT | send NAME PATH | quit";
}

std::string one_line(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) out += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    else out += static_cast<char>(c);
  }
  return out;
}

}  // namespace asyncore::messenger

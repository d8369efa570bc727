#include "apps/messenger/directory.h"

#include <charconv>

namespace asyncore::messenger {
namespace {

std::optional<std::uint16_t> parse_port_text(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::optional<std::string> peer_name_problem(std::string_view name) {
  if (name.empty()) return "empty name";
  if (name.size() > 200) return "name longer than 200 bytes";
  for (unsigned char c : name) {
    if (c == ',' || c == ';' || c == ':') return "name contains ',', ';' or ':'";
    if (c <= ' ' || c == 0x7f) return "name contains a space or control character";
  }
  return std::nullopt;
}

Header report_header(std::string_view name, std::uint16_t port, std::string_view token) {
  Header header{{"ID", std::string(name)}};
  header.set_int("Port", port);
  if (!token.empty()) header.set(kTokenKey, std::string(token));
  return header;
}

std::optional<Report> parse_report(const Header& header, std::string* why) {
  const std::string* name = header.find("ID");
  const std::string* port_text = header.find("Port");
  if (!name || !port_text) {
    if (why) *why = "not a report (no ID and Port)";
    return std::nullopt;
  }
  if (auto problem = peer_name_problem(*name)) {
    if (why) *why = "bad ID: " + *problem;
    return std::nullopt;
  }
  auto port = parse_port_text(*port_text);
  if (!port) {
    if (why) *why = "bad Port '" + *port_text + "'";  // a peer's text: escaped where it is logged
    return std::nullopt;
  }
  return Report{*name, *port};
}

std::string encode_directory(const std::vector<PeerEntry>& peers) {
  std::string body;
  for (const PeerEntry& peer : peers) {
    if (!body.empty()) body += ';';
    body += peer.name + ',' + peer.ip + ',' + std::to_string(peer.port);
  }
  return body;
}

std::vector<PeerEntry> parse_directory(std::string_view body, std::size_t* skipped) {
  std::vector<PeerEntry> peers;
  std::size_t bad = 0;
  while (!body.empty()) {
    std::size_t end = body.find(';');
    std::string_view item = body.substr(0, end);
    body = end == std::string_view::npos ? std::string_view() : body.substr(end + 1);
    std::size_t first = item.find(','), last = item.rfind(',');
    if (first == std::string_view::npos || first == last) {
      ++bad;
      continue;
    }
    std::string_view name = item.substr(0, first), ip = item.substr(first + 1, last - first - 1);
    auto port = parse_port_text(item.substr(last + 1));
    if (peer_name_problem(name) || ip.empty() || !port) {
      ++bad;
      continue;
    }
    peers.push_back({std::string(name), std::string(ip), *port});
  }
  if (skipped) *skipped = bad;
  return peers;
}

std::string_view Directory::describe(Outcome outcome) {
  switch (outcome) {
    case Outcome::listed: return "listed";
    case Outcome::moved: return "moved";
    case Outcome::unchanged: return "unchanged";
    case Outcome::name_taken: return "the name belongs to another live connection";
    case Outcome::directory_full: return "the directory is full (--max-peers)";
    case Outcome::host_full: return "this host holds too many names (--max-names-per-host)";
  }
  return "?";
}

Directory::Outcome Directory::report(PeerEntry entry, const std::string& connection_id, Clock::time_point when) {
  auto it = records_.find(entry.name);
  if (it != records_.end() && it->second.connection_id != connection_id) {
    const auto hold = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limits_.name_hold));
    if (when - it->second.last_report <= hold) return Outcome::name_taken;
    erase(it);  // the owner went silent: its connection is as good as gone
    it = records_.end();
  }
  if (it != records_.end()) {
    it->second.last_report = when;
    if (it->second.entry == entry) return Outcome::unchanged;
    // Same connection, so same host: the per-host count does not change.
    it->second.entry = std::move(entry);
    return Outcome::moved;
  }
  // A new name from this connection: checked against the bounds with its old name released.
  auto held = names_by_connection_.find(connection_id);
  const Record* old = held == names_by_connection_.end() ? nullptr : &records_.at(held->second);
  const bool same_host = old && old->entry.ip == entry.ip;
  if (!old && records_.size() >= limits_.max_peers) return Outcome::directory_full;
  auto host = names_per_host_.find(entry.ip);
  if (!same_host && host != names_per_host_.end() && host->second >= limits_.max_per_host) return Outcome::host_full;
  if (old) erase(records_.find(old->entry.name));
  names_by_connection_[connection_id] = entry.name;
  ++names_per_host_[entry.ip];
  std::string name = entry.name;
  records_.emplace(std::move(name), Record{std::move(entry), connection_id, when});
  return Outcome::listed;
}

void Directory::erase(std::map<std::string, Record, std::less<>>::iterator it) {
  names_by_connection_.erase(it->second.connection_id);
  auto host = names_per_host_.find(it->second.entry.ip);
  if (host != names_per_host_.end() && --host->second == 0) names_per_host_.erase(host);
  records_.erase(it);
}

void Directory::forget_connection(const std::string& connection_id) {
  auto held = names_by_connection_.find(connection_id);
  if (held == names_by_connection_.end()) return;
  erase(records_.find(held->second));
}

const Directory::Record* Directory::find(std::string_view name) const {
  auto it = records_.find(name);
  return it == records_.end() ? nullptr : &it->second;
}

std::string Directory::name_of(const std::string& connection_id) const {
  auto held = names_by_connection_.find(connection_id);
  return held == names_by_connection_.end() ? std::string() : held->second;
}

std::vector<Directory::Record> Directory::alive(Clock::time_point now, double window_seconds) {
  const auto window = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(window_seconds));
  std::vector<Record> out;
  for (auto it = records_.begin(); it != records_.end();) {
    auto next = std::next(it);
    if (now - it->second.last_report > window) {
      erase(it);
    } else {
      out.push_back(it->second);
    }
    it = next;
  }
  return out;
}

}  // namespace asyncore::messenger

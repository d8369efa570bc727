// The hub's directory of peers and its wire form, the body of a `Broadcast:` message:
// "ID,ip,port;ID,ip,port" (UTF-8). Peers report with a header "ID:<name>;Port:<port>".
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asyncore/timer_queue.h>
#include "apps/messenger/header.h"

namespace asyncore::messenger {

struct PeerEntry {
  std::string name;
  std::string ip;
  std::uint16_t port = 0;
  bool operator==(const PeerEntry&) const = default;
};

// Why `name` cannot be a peer name (it must fit in the header and in the body), or nullopt.
std::optional<std::string> peer_name_problem(std::string_view name);

// The header a peer reports itself with; `token` (the hub's --token-file) is added when not empty.
inline constexpr std::string_view kTokenKey = "Token";
Header report_header(std::string_view name, std::uint16_t port, std::string_view token = {});
// A report's name and port; nullopt with `why` filled when the header is not a valid report.
struct Report {
  std::string name;
  std::uint16_t port = 0;
};
std::optional<Report> parse_report(const Header& header, std::string* why);

inline constexpr std::string_view kBroadcastKey = "Broadcast";
std::string encode_directory(const std::vector<PeerEntry>& peers);
// Entries in body order; entries that are not "name,ip,port" are skipped (counted in `skipped`).
std::vector<PeerEntry> parse_directory(std::string_view body, std::size_t* skipped = nullptr);

// The most bytes one directory entry can take in the Broadcast body: a name (200), an IPv6
// address (45), a port (5), two commas and the ';'. --max-peers is bounded so that the whole
// directory stays under the body limit every peer enforces.
inline constexpr std::size_t kMaxDirectoryEntryBytes = 200 + 45 + 5 + 3;

struct DirectoryLimits {
  std::size_t max_peers = 1024;     // names listed at once
  std::size_t max_per_host = 64;    // names held by connections from one host
  // An owner silent this long (a connection dead without a close the hub saw) loses its name to
  // the next claimant; a live peer reports every second or so.
  double name_hold = 30.0;
};

// Who reported when. A name belongs to the live connection that reported it until that
// connection closes (forget_connection), stops reporting for the alive window, or another
// connection claims it after the owner was silent for name_hold; one connection holds one name
// (reporting another renames it).
class Directory {
 public:
  struct Record {
    PeerEntry entry;
    std::string connection_id;  // the connection that owns the name
    Clock::time_point last_report;
  };
  enum class Outcome {
    listed,          // a new name
    moved,           // the owner reported another address
    unchanged,       // the owner reported again
    name_taken,      // another live connection owns the name: refused
    directory_full,  // max_peers names are listed: refused
    host_full,       // max_per_host names come from this host: refused
  };
  static bool accepted(Outcome outcome) { return outcome <= Outcome::unchanged; }
  static std::string_view describe(Outcome outcome);

  explicit Directory(DirectoryLimits limits = {}) : limits_(limits) {}
  Outcome report(PeerEntry entry, const std::string& connection_id, Clock::time_point when);
  // The connection closed: the name it held (if any) is free again.
  void forget_connection(const std::string& connection_id);
  // The owner of `name`, or nullptr.
  const Record* find(std::string_view name) const;
  // The name `connection_id` holds, or "".
  std::string name_of(const std::string& connection_id) const;
  // Alive records ordered by name; older ones are forgotten.
  std::vector<Record> alive(Clock::time_point now, double window_seconds);
  std::size_t size() const { return records_.size(); }

 private:
  void erase(std::map<std::string, Record, std::less<>>::iterator it);

  DirectoryLimits limits_;
  std::map<std::string, Record, std::less<>> records_;  // by name
  std::map<std::string, std::string, std::less<>> names_by_connection_;
  std::map<std::string, std::size_t, std::less<>> names_per_host_;
};

}  // namespace asyncore::messenger

// The hub's directory of peers and its wire form, the body of a `Broadcast:` message:
// "ID,ip,port;ID,ip,port" (UTF-8). Peers report with a header "ID:<name>;Port:<port>".
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/timer_queue.h"
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

// The header a peer reports itself with.
Header report_header(std::string_view name, std::uint16_t port);
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

// Who reported when. Alive means reported within the window.
class Directory {
 public:
  struct Record {
    PeerEntry entry;
    std::string connection_id;  // the connection that reported last
    Clock::time_point last_report;
  };

  // Returns true when the peer is new or its address changed.
  bool report(PeerEntry entry, std::string connection_id, Clock::time_point when);
  // Alive records ordered by name; older ones are forgotten.
  std::vector<Record> alive(Clock::time_point now, double window_seconds);
  std::size_t size() const { return records_.size(); }

 private:
  std::map<std::string, Record> records_;
};

}  // namespace asyncore::messenger

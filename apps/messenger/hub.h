// The directory hub (the original ip_server): records the peers' reports and every `interval`
// seconds multicasts the list of alive peers to each of them. A connection that sends no valid
// report within `identify_timeout` seconds is closed (it would hold an fd and never be listed);
// connections past `caps` are closed at accept. A name belongs to the live connection that
// reported it: a second claimant is refused (logged, rate-limited) until the owner's connection
// closes, which frees the name at once; the directory is bounded by `limits` so that its
// multicast always stays under the body limit every peer enforces. With options.shared.redis set,
// several hubs share one directory (see shared_directory.h).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "apps/messenger/directory.h"
#include "apps/messenger/server.h"
#include "apps/messenger/shared_directory.h"
#include <asyncore/rate_limited_log.h>

namespace asyncore::messenger {

struct HubOptions {
  double interval = 2.0;           // seconds between directory multicasts
  double alive = 3000.0;           // a peer is listed while its last report is at most this old
  double identify_timeout = 30.0;  // seconds a new connection has to send its first report
  ConnectionCaps caps{.max_connections = 1024, .max_per_peer = 64};
  DirectoryLimits limits;
  MessengerLimits connection;  // what one peer's frames may hold, and for how long
  // When set (--token-file), a report must also carry Token:<this>; others are refused.
  std::string token;
  SharedDirectoryOptions shared;  // --redis, --node-id, --lease; no redis: this hub alone
};

// --max-peers past this could make the directory body larger than a peer accepts.
inline constexpr std::size_t kMaxPeersBound = kDefaultMaxBody / kMaxDirectoryEntryBytes;

class Hub {
 public:
  Hub(std::string_view host, std::uint16_t port, HubOptions options, ChannelMap* map = nullptr);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  const Address& address() const { return server_.address(); }
  void stop();  // stops accepting, closes every peer, stops the timer
  // After stop(): lets the shared directory go (its names are free at once); `done` runs once
  // Redis answered or failed, or at once for a hub alone.
  void leave(std::function<void()> done);
  // For the stop line: "connections 3 refused (max_per_peer 3); 2 closed without a report".
  std::string limits_summary() const;

 private:
  void handle_message(const MessengerPtr& m, const Header& header);
  void multicast_directory();
  void send_directory(const std::vector<PeerEntry>& entries);
  // Another hub holds the name `connection_id` claimed here: this hub forgets it.
  void refused_elsewhere(const std::string& connection_id, const std::string& name, Directory::Outcome outcome);
  void identify_deadline_passed(const std::string& connection_id);

  HubOptions options_;
  MessengerServer server_;
  Directory directory_;
  std::unordered_map<std::string, MessengerPtr> connections_;  // by connection id
  std::unordered_map<std::string, ScopedTimer> unidentified_;  // connections yet to report, by id
  std::size_t never_identified_ = 0;
  std::size_t refused_reports_ = 0;
  // Lines any peer can trigger at will: one in full, then a summary per 10 s.
  RateLimitedLog connection_log_;
  RateLimitedLog refused_log_;
  ScopedTimer timer_;
  std::unique_ptr<SharedDirectory> shared_;  // last: its callbacks use everything above
  bool sync_in_flight_ = false;
  // What a peer can make this hub ask Redis is bounded: one claim in flight per connection (a
  // connection waiting for its answer gets no directory: it may be refused; a new name meanwhile
  // is checked by the next sync), and a name the shared directory refused to a connection is
  // refused here, without asking again, until the next sync.
  std::unordered_set<std::string> claiming_;
  std::unordered_map<std::string, std::string> held_elsewhere_;  // connection id -> name
};

}  // namespace asyncore::messenger

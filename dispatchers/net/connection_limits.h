// ConnectionLimits: admission control for one listener, shared by every server in the tree.
// At most `caps.max_connections` connections open at once and `caps.max_per_peer` from one
// peer host (0: no limit; all Unix-domain clients are one peer). A connection counts while the
// dispatcher made for it is open in the map: the limits follow (fd, generation) pairs, so
// nothing has to report a close, and a reused fd number is never taken for the old connection.
//
// Refusals are counted by reason and logged without flooding the log (a RateLimitedLog): the
// first one of an episode in full, then at most one summary line per `log_interval` seconds, with
// the count by reason, while they go on.
//
//   ConnectionLimits limits("echo listener", map(), {.max_connections = 1000, .max_per_peer = 50});
//   void handle_accepted(Fd socket, const Address& peer) override {
//     if (!limits.admit(peer)) return;  // refused: counted and logged; the socket closes here
//     const int fd = socket.get();
//     make<Handler>(std::move(socket), &map());
//     limits.track(fd, peer);
//   }
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <asyncore/address.h>
#include <asyncore/channel_map.h>
#include <asyncore/rate_limited_log.h>

namespace asyncore {

enum class Refusal { verify_request, max_connections, max_per_peer };
inline constexpr std::size_t kRefusalKinds = 3;
const char* refusal_name(Refusal reason);  // "verify_request", "max_connections", "max_per_peer"

struct ConnectionCaps {
  std::size_t max_connections = 0;  // 0: no limit
  std::size_t max_per_peer = 0;     // 0: no limit
};

class ConnectionLimits {
 public:
  ConnectionLimits(std::string name, ChannelMap& map, ConnectionCaps caps = {});
  ~ConnectionLimits();  // logs the refusals not yet told
  ConnectionLimits(const ConnectionLimits&) = delete;
  ConnectionLimits& operator=(const ConnectionLimits&) = delete;

  std::string name;          // starts each log line ("device listener: refused ...")
  ConnectionCaps caps;       // may change at any time; applies to the next connection
  double log_interval = 10;  // seconds between summary lines; <= 0 logs every refusal
  // Told of every refusal as it is counted (e.g. to feed a program's metrics).
  std::function<void(Refusal)> on_refused;

  // Why a connection from `peer` may not be admitted now; nullopt: it may.
  std::optional<Refusal> check(const Address& peer);
  // check(), and a refusal is counted and logged. True: admitted (then track() it).
  bool admit(const Address& peer);
  // A refusal decided here or elsewhere (e.g. verify_request): counted and logged.
  void refuse(const Address& peer, Refusal reason);
  void count_refusal(Refusal reason);
  void log_refusal(const Address& peer, Refusal reason);
  // Logs the refusals not yet told and ends the episode (e.g. when the listener closes).
  void flush_log();
  // Counts the dispatcher now registered under `fd` as a connection from `peer`. A connection
  // that is already closed (not in the map) is not counted.
  void track(int fd, const Address& peer);

  std::size_t active();                          // connections open now
  std::size_t active_from(std::string_view host);  // of them, from this peer host
  std::size_t refused(Refusal reason) const { return refused_[static_cast<std::size_t>(reason)]; }
  std::size_t refused_total() const;
  // "0 refused", or "7 refused (max_connections 5, max_per_peer 2)": for a program's stop line.
  std::string refusal_summary() const;
  std::string describe(Refusal reason) const;  // "max_per_peer 2 reached"
  // True from a refusal logged in full until an interval passes without refusals.
  bool in_refusal_episode() const { return log_.in_window(); }

 private:
  struct Connection {
    int fd;
    std::uint32_t generation;  // the map slot's generation: a reused fd number is another connection
  };
  bool still_open(const Connection& c) const;
  std::size_t prune(std::vector<Connection>& list);  // drops closed ones, returns how many remain
  void prune_all();
  std::string summary_line();  // of the refusals not told yet, which are then told

  ChannelMap& map_;
  std::unordered_map<std::string, std::vector<Connection>> by_host_;
  std::size_t tracked_ = 0;  // entries in by_host_, some maybe closed since
  std::size_t prune_at_;
  std::array<std::size_t, kRefusalKinds> refused_{};
  std::array<std::size_t, kRefusalKinds> unlogged_{};  // refusals since the last log line
  RateLimitedLog log_;
};

}  // namespace asyncore

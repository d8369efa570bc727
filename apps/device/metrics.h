// The server's counters, and their Prometheus text form for GET /metrics.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace asyncore::device {

// A node of several (--redis): its name, its Redis client's and its presence work's figures.
struct ClusterGauges {
  std::string node;
  std::uint64_t redis_commands = 0, redis_replies = 0, redis_failures = 0, redis_timeouts = 0;
  std::uint64_t redis_connects = 0, redis_disconnects = 0;
  std::size_t redis_in_flight = 0, redis_held = 0;
  std::uint64_t claims = 0, releases = 0, stale_releases = 0, remote_takeovers = 0, write_failures = 0;
  std::uint64_t fenced = 0, reaped = 0;
  std::size_t events_unsent = 0;     // events kept for Redis (away, or not yet answered)
  std::uint64_t events_dropped = 0;  // kept ones dropped past the bound
};

struct Gauges {
  std::size_t online = 0;
  std::size_t known = 0;
  std::size_t connections = 0;
  std::size_t queued_commands = 0;
  std::size_t pending_interactions = 0;
  std::uint64_t journal_records = 0;
  std::uint64_t compactions = 0;
  // Bounds (ServerOptions): how close the server is to them.
  std::size_t auto_registered = 0;
  std::uint64_t log_lines_suppressed = 0;  // rate-limited lines counted into summaries
  std::optional<ClusterGauges> cluster;
};

class Metrics {
 public:
  void count_login() { ++logins_; }
  void count_login_failure(std::string_view reason) { ++login_failures_[std::string(reason)]; }
  void count_frame_in() { ++frames_in_; }
  void count_frame_out() { ++frames_out_; }
  void count_bad_frame(std::string_view kind) { ++bad_frames_[std::string(kind)]; }
  void count_bad_request() { ++bad_requests_; }
  void count_unknown_instruction() { ++unknown_instructions_; }
  void count_dropped_ack() { ++dropped_acks_; }
  void count_sent_ack() { ++sent_acks_; }
  void count_command(std::string_view mode, std::string_view result);  // on every command: no allocation
  void count_accepted() { ++accepted_; }
  // A connection closed at accept by a listener's caps ("device" or "admin"; "max_connections", ...).
  void count_refused(std::string_view listener, std::string_view reason) {
    ++refused_["listener=\"" + std::string(listener) + "\",reason=\"" + std::string(reason) + "\""];
  }
  void count_offline(std::string_view reason) { ++offline_[std::string(reason)]; }
  void count_takeover() { ++takeovers_; }

  std::uint64_t logins() const { return logins_; }
  std::uint64_t frames_in() const { return frames_in_; }
  std::uint64_t dropped_acks() const { return dropped_acks_; }
  std::uint64_t bad_frames_total() const;

  std::string prometheus(const Gauges& gauges) const;

 private:
  // By labels; both listeners' cap reasons start at 0 so the series exist before a refusal.
  std::map<std::string, std::uint64_t> refused_{{"listener=\"admin\",reason=\"max_connections\"", 0},
                                                {"listener=\"admin\",reason=\"max_per_peer\"", 0},
                                                {"listener=\"device\",reason=\"max_connections\"", 0},
                                                {"listener=\"device\",reason=\"max_per_peer\"", 0}};
  std::uint64_t logins_ = 0, frames_in_ = 0, frames_out_ = 0, bad_requests_ = 0, unknown_instructions_ = 0,
                dropped_acks_ = 0, sent_acks_ = 0, accepted_ = 0, takeovers_ = 0;
  // Every label value the server can count starts at 0, so a dashboard sees each series from the start.
  std::map<std::string, std::uint64_t> login_failures_{{"timeout", 0},      {"bad_frame", 0},      {"not_first", 0},
                                                       {"bad_request", 0},  {"unknown_device", 0}, {"auto_register_limit", 0},
                                                       {"bad_token", 0},    {"locked", 0},         {"registry_unavailable", 0}};
  std::map<std::string, std::uint64_t> bad_frames_{
      {"zero_length", 0}, {"oversized", 0}, {"invalid_json", 0}, {"not_object", 0}, {"bad_type", 0}};
  std::map<std::string, std::uint64_t, std::less<>> commands_{
      {"interact\",result=\"OK", 0},     {"interact\",result=\"TIMEOUT", 0}, {"interact\",result=\"NO", 0},
      {"send\",result=\"SENT", 0},       {"send\",result=\"NO", 0},          {"queue\",result=\"QUEUED", 0},
      {"queue\",result=\"OK", 0},        {"queue\",result=\"TIMEOUT", 0},    {"queue\",result=\"QUEUE_FULL", 0},
      {"queue\",result=\"NO", 0}};
  // The pair counted last (a node of the map above, whose nodes stay put): the next command is
  // almost always counted the same, and one comparison is cheaper than a search of the map. A
  // copy of the Metrics starts without it (it would point into the original's map).
  struct LastCommand {
    LastCommand() = default;
    LastCommand(const LastCommand&) {}
    LastCommand& operator=(const LastCommand&) {
      counter = nullptr;
      return *this;
    }
    std::string_view key;
    std::uint64_t* counter = nullptr;
  } last_command_;
  std::map<std::string, std::uint64_t> offline_{{"closed", 0},   {"poweroff", 0}, {"idle", 0},  {"takeover", 0}, {"shutdown", 0},
                                                {"restart", 0},  {"bad_frame", 0}, {"error", 0}, {"control", 0}};
};

}  // namespace asyncore::device

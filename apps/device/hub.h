// DeviceHub: what the device connections share (the seed's run.py and device.py module state):
// the model cache and journal, who is online on which connection, online/offline actions,
// the commands waiting for acks (interact / sendtodev / queue), group commit and metrics.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "apps/device/commands.h"
#include "apps/device/device_store.h"
#include "apps/device/metrics.h"
#include <asyncore/rate_limited_log.h>
#include <asyncore/channel_map.h>
#include <asyncore/json/json.h>

namespace asyncore::device {

struct ServerOptions {
  std::uint32_t max_frame = 65536;
  double login_timeout = 30;
  double heartbeat_grace = 30;
  bool auto_register = false;
  // Bounds on what peers and admins can make the server keep (see README, Reliability).
  std::size_t max_queued_per_device = 100;   // stored commands per device; a queue request past it is refused
  std::size_t max_auto_registered = 100000;  // with auto_register: new devices past it are refused
  double log_summary_interval = 10;          // lines any peer can trigger: one summary per interval
  double battery_sync_interval = 5;          // longest a heartbeat's battery level waits for a sync
};

enum class CommandMode { interact, send, queue };
// unavailable: the node that holds the device could not be asked (Redis away, --redis only).
enum class CommandOutcome { ok, timeout, no, sent, queued, queue_full, unavailable };
std::string_view to_string(CommandMode mode);
std::string_view to_string(CommandOutcome outcome);

struct CommandResult {
  CommandResult() = default;
  // {outcome, ack, error} as before; ack_text is optional.
  CommandResult(CommandOutcome outcome, json::Value ack = {}, std::string error = {}, std::string_view ack_text = {})
      : outcome(outcome), ack(std::move(ack)), error(std::move(error)), ack_text(ack_text) {}
  CommandOutcome outcome = CommandOutcome::no;
  json::Value ack;  // outcome ok: the device's ack, unless ack_text holds it (then null)
  std::string error;  // outcome queue_full or unavailable: why, for the admin
  // outcome ok: the ack as the device sent it when that is exactly its json::dump, else "" (saves
  // reading it into an object and writing it again). It points into the frame being read: valid
  // while the callback runs, not after.
  std::string_view ack_text;
  // The ack's JSON text appended to `out`, from whichever of the two holds it.
  void append_ack(std::string& out) const;
};
// An ack as the session read it: accepted is its status 200; body or text as in CommandResult.
struct CommandAck {
  bool accepted = false;
  json::Value body;
  std::string_view text;
};
using CommandCallback = std::function<void(CommandResult)>;
// QUEUE_FULL's error, the same text whether one node or several (Redis) keep the queue.
std::string queue_full_error(std::size_t cap, Imei imei);

// A command sent to a device that an ack may complete.
struct PendingCommand {
  std::uint64_t waiter = 0;    // an interact/queue caller waiting, 0: none
  std::uint64_t queue_id = 0;  // the stored copy to delete on ack, 0: none
  std::uint16_t type = 0;
  std::uint16_t ident = 0;
  std::uint16_t heartbeat = 0;  // set_heartbeat: the interval it asks for
};

class ClusterNode;
class DeviceSession;

class DeviceHub {
 public:
  DeviceHub(ChannelMap& map, ServerOptions options, DeviceStore& store, Metrics& metrics);
  ~DeviceHub();
  DeviceHub(const DeviceHub&) = delete;
  DeviceHub& operator=(const DeviceHub&) = delete;

  ChannelMap& map() { return map_; }
  const ServerOptions& options() const { return options_; }
  DeviceStore& store() { return store_; }
  Metrics& metrics() { return metrics_; }
  // One read buffer for every connection: frames are handled straight out of it.
  char* scratch() { return scratch_.data(); }
  std::size_t scratch_size() const { return scratch_.size(); }
  // One buffer every connection writes a command's frame into: it keeps its capacity, so a
  // command costs no allocation for its text.
  std::string& command_frame() { return command_frame_; }
  static double unix_now();

  // --- sessions ------------------------------------------------------------------------------
  void session_opened() { ++connections_; }
  std::size_t connections() const { return connections_; }
  void session_destroyed(DeviceSession& session);
  // Makes `session` the device's connection (closing an older one) and records it online.
  void go_online(DeviceSession& session, Imei imei, DeviceRecord& record, int heartbeat);
  // Records the device offline, but only if `session` is still its connection.
  void go_offline(DeviceSession& session, OfflineReason reason);
  void record_event(Imei imei, DeviceRecord& record, const Event& event);
  // A reading the device repeats with every heartbeat (its battery level): journaled like an
  // event, but no reply waits for it, so it goes with the next group commit or at the latest
  // battery_sync_interval later. A crash can lose that stretch; the next heartbeat says it again.
  void record_sample(Imei imei, DeviceRecord& record, const Event& event);
  // The session holds its replies until what was appended so far is durable.
  void hold_until_durable(DeviceSession& session);
  void ack_received(DeviceSession& session, const PendingCommand& pending, CommandAck ack);

  // --- interact / sendtodev / queue -------------------------------------------------------------
  // `command` passed check_command(). The callback runs exactly once, maybe before this returns.
  // With --redis, a command for a device not online here goes to the node holding it.
  void command(Imei imei, const Command& command, CommandMode mode, double timeout, CommandCallback done);
  // The same, on this node only (a command routed here from another node).
  void command_here(Imei imei, const Command& command, CommandMode mode, double timeout, CommandCallback done);
  void deliver_queued(DeviceSession& session);
  // --redis: a command stored in Redis, in the cluster's copy of the device's queue under
  // `id`, for a device online here: sent in its turn; its ack answers OK, else QUEUED.
  void deliver_stored(Imei imei, std::uint64_t id, double timeout, CommandCallback done);

  // --- several nodes (--redis) ---------------------------------------------------------------
  // Presence goes to `cluster` (not owned) from now on.
  void set_cluster(ClusterNode* cluster) { cluster_ = cluster; }
  ClusterNode* cluster() const { return cluster_; }
  // The node's name for the admin API; empty when it runs alone.
  std::string_view node_id() const;
  // A newer login on another node took the device: its connection here closes, as a takeover,
  // with no offline event.
  void taken_over_elsewhere(Imei imei);
  // Every device online here goes offline with `reason` and its connection closes.
  void close_all(OfflineReason reason);

  // Graceful stop: every connected device is recorded offline, the journal synced.
  void shutdown();
  bool shutting_down() const { return shutting_down_; }

  std::size_t online_count() const { return online_; }
  Gauges gauges() const;

  // Log lines a peer can trigger at will, rate-limited (the events are all counted in metrics).
  RateLimitedLog& bad_frame_log() { return bad_frame_log_; }
  RateLimitedLog& login_refused_log() { return login_refused_log_; }
  RateLimitedLog& login_timeout_log() { return login_timeout_log_; }

 private:
  struct Waiter {
    CommandCallback done;
    ScopedTimer timer;
    CommandMode mode;
    std::uint64_t queue_id = 0;  // queue mode: its entry in queued_waiters_, gone with it
  };
  void schedule_commit();
  void commit();
  void committed(const std::vector<std::weak_ptr<Dispatcher>>& held, std::exception_ptr error);
  const std::vector<QueuedCommand>& queued(Imei imei) const;
  void finish(std::uint64_t waiter, CommandResult result);
  std::uint64_t add_waiter(CommandMode mode, double timeout, CommandCallback done);

  ChannelMap& map_;
  ServerOptions options_;
  DeviceStore& store_;
  Metrics& metrics_;
  std::vector<char> scratch_;
  std::string command_frame_;
  std::vector<std::weak_ptr<Dispatcher>> held_;  // sessions waiting for the next commit
  ScopedTimer sample_sync_;                       // the commit due for samples nobody waits for
  bool commit_scheduled_ = false;
  bool commit_waiting_ = false;  // a commit was due while the last one was still on the disk
  bool shutting_down_ = false;
  std::unordered_map<std::uint64_t, Waiter> waiters_;
  // The node of the waiter finished last, reused by the next one: a command at a time costs no
  // allocation for its waiter.
  std::unordered_map<std::uint64_t, Waiter>::node_type spare_waiter_;
  // Queue-mode callers waiting for a command not yet sent (its device had no room in flight).
  std::unordered_map<std::uint64_t, std::uint64_t> queued_waiters_;  // queue id -> waiter
  std::uint64_t next_waiter_ = 1;
  std::size_t online_ = 0;
  std::size_t connections_ = 0;
  ClusterNode* cluster_ = nullptr;
  RateLimitedLog bad_frame_log_;
  RateLimitedLog login_refused_log_;
  RateLimitedLog login_timeout_log_;
  BeforeWaitHook commit_hook_;  // last: removed first, before what it uses
};

}  // namespace asyncore::device

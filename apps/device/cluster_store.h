// ClusterStore: what a node of several (--redis) keeps in Redis rather than in its own journal,
// so that any node can answer for any device: the command queue of each device, its events and
// info, and which devices exist (the registry file's and the auto-registered ones).
//
// Keys (docs/device.md lists them with the scripts):
//   device:<imei>:queue   stream of queued commands (fields cmd, t), oldest first; an entry is
//                         deleted (XDEL) when the device acks it. At most --max-queued-commands,
//                         checked and added in one script, so racing admin nodes cannot pass it.
//   device:<imei>:events  stream of events (field e, the event's JSON), MAXLEN --events-per-device.
//   device:<imei>:info    hash: last_seen, since, heartbeat, battery, lat, lon, location_t.
//   devices               sorted set (all scores 0, ordered by IMEI): every known device.
//   devices:auto          set of the auto-registered ones; its size is the cap --max-auto-registered.
//
// A node keeps a copy of the queue only for the devices online on it (loaded at login, kept up
// to date by the node that adds a command), to deliver it in order and match the acks.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "apps/device/device_store.h"
#include "apps/device/event.h"
#include "apps/device/imei.h"
#include <asyncore/json/json.h>
#include <asyncore/redis/client.h>

namespace asyncore::device {

// How long an admin call waits for Redis before answering 503: a paused or overloaded Redis
// must not hold admin connections (nor their memory) for long.
inline constexpr double kAdminRedisTimeout = 1.0;

struct EnqueueResult {
  enum Kind { queued, full, unknown_device, failed } kind = failed;
  std::string stream_id;  // queued: the entry's id
  std::string owner;      // queued: the device's owner token then, or "" when nobody holds it
  std::string error;      // failed: why (Redis' words)
};

enum class Registration { known, registered, refused, failed };

// The node part of an owner token "<node>/<incarnation>/<serial>" ("" when it is not one).
std::string_view owner_node(std::string_view owner);

class ClusterStore {
 public:
  ClusterStore(redis::Client& client, std::size_t max_queued, std::size_t events_per_device);

  // --- queue ---------------------------------------------------------------------------------
  // `known_here`: the device is in this node's registry (Redis need not know it).
  void enqueue(Imei imei, const std::string& command, double t, bool known_here,
               std::function<void(EnqueueResult)> done, double timeout = kAdminRedisTimeout);
  // The device came online here: from now on commands added for it are kept; `stored` (XRANGE
  // entries, oldest first; null when Redis could not be read) completes the copy, which is only
  // delivered from then on. The node reads them with its presence claim, in one script.
  // At most kReadBatch are read at a time (a long queue must not make one huge reply); the next
  // ones once the copy is drained, and then `on_loaded` says the copy has more to deliver.
  static constexpr std::size_t kReadBatch = 256;
  void begin_load(Imei imei);
  void finish_load(Imei imei, const redis::Reply* stored);
  std::function<void(Imei)> on_loaded;
  bool queue_loaded(Imei imei) const;
  // A command stored by some node for a device online here: into the copy (once). Returns its
  // local id, 0 when the device has no copy (not online here) or older ones are still unread
  // (it goes out after them).
  std::uint64_t add(Imei imei, const std::string& stream_id, std::string command, double t);
  const std::vector<QueuedCommand>& queued(Imei imei) const;
  // The device acked it: deleted from the stream (a failed delete means one more delivery at
  // the next login: at least once).
  void complete(Imei imei, std::uint64_t id);
  void forget(Imei imei);  // the device is no longer online here
  void forget_all();
  std::size_t cached_total() const;

  // --- events, info, registry -----------------------------------------------------------------
  // `record` gives the peer of an online event. An event whose write fails without an answer
  // (not sent, or sent and lost) is kept, with every newer one behind it, and written again in
  // order by replay(): at least once (a lost answer may mean it was stored: one more copy).
  // At most kMaxUnsent are kept; past it the oldest are dropped (counted, logged once).
  static constexpr std::size_t kMaxUnsent = 10000;
  void record_event(Imei imei, const Event& event, const DeviceRecord& record);
  // Redis is ready again: the kept events go out, oldest first, a batch at a time.
  void replay();
  std::size_t unsent_events() const { return unsent_.size(); }
  std::uint64_t dropped_events() const { return dropped_events_; }
  // The event script's arguments (history length, the event's JSON, the info's field/value
  // pairs): the login's claim script writes its online event with the same ones.
  std::vector<std::string> event_args(const Event& event, const DeviceRecord& record) const;
  // done(true) once every event recorded so far is acknowledged by Redis (its replies come in
  // order: a PING once they are all written); done(false) at once, or when a write fails, if
  // they are being kept for later.
  void barrier(std::function<void(bool)> done);
  void publish_registry(const std::vector<Imei>& imeis);
  // An unknown device logging in with --auto-register: known already (another node registered
  // it), registered now, refused (the cap), or failed (Redis away).
  void register_device(Imei imei, std::size_t cap, std::function<void(Registration, std::string)> done);

  // --- fleet-wide views ------------------------------------------------------------------------
  // Devices after `after` (IMEI order), at most `limit`, each with its info and owner; nullopt
  // on a Redis failure (`error` says why).
  using ViewDone = std::function<void(std::optional<json::Value>, std::string error)>;
  void list_devices(std::string after, std::size_t limit, ViewDone done);
  void show_device(Imei imei, ViewDone done);  // null value: unknown device
  void device_events(Imei imei, std::size_t limit, ViewDone done);

  std::uint64_t write_failures() const { return write_failures_; }

 private:
  struct Copy {
    bool loaded = false;
    std::vector<QueuedCommand> commands;  // ordered by stream id
    std::vector<std::string> stream_ids;  // parallel to commands
    std::string last_read;                 // the last entry read from the stream
    bool more = false;                     // the last read was a full batch: there may be more
  };
  struct Unsent {
    std::uint64_t seq;  // tells a write's answer which entry it was
    Imei imei;
    std::vector<std::string> args;
    bool sent = false;
  };
  void failed(const redis::Result& result, const char* what);
  void written(std::uint64_t seq, redis::Result& result);
  void release_barriers(bool ok);
  void read_more(Imei imei, Copy& copy);

  redis::Client& client_;
  std::size_t max_queued_;
  std::size_t events_per_device_;
  redis::Script enqueue_, register_, event_;
  std::unordered_map<std::uint64_t, Copy> copies_;  // imei -> queue copy, devices online here
  std::uint64_t next_id_ = 1;
  std::uint64_t write_failures_ = 0;
  std::deque<Unsent> unsent_;  // events not yet acknowledged by Redis, oldest first
  std::uint64_t next_seq_ = 1;
  std::size_t sending_ = 0;    // event writes not yet answered
  bool stalled_ = false;       // one failed: nothing more goes out until those sent are answered
  struct Barrier {
    std::uint64_t upto;  // the newest event it waits for
    std::function<void(bool)> done;
  };
  std::deque<Barrier> barriers_;  // waiting for older events to be written
  std::uint64_t dropped_events_ = 0;
  bool drop_logged_ = false;   // once per outage
};

}  // namespace asyncore::device

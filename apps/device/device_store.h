// The model cache of every device (the seed's model.py) and its durable form.
//
// Everything acknowledged lives in one Journal under the data dir: auto-registrations, device
// events and the queue of commands for offline devices. The in-memory model (state, last seen,
// heartbeat, battery, last location, recent events) is rebuilt from it at start-up. Appends are
// batched; the owner calls sync() before answering anything that must be durable (the hub does
// it once per loop pass: group commit). Compaction rewrites the history as one snapshot of the
// current state once the journal has grown past the snapshot, so it stays proportional to the
// number of devices, not to uptime.
//
// Records are batched in memory and written as one journal record (newline-separated JSON
// lines) at sync(), so a pass that logs in thousands of devices costs one write and one fsync.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "apps/device/event.h"
#include "apps/device/imei.h"
#include "apps/device/registry.h"
#include "dispatchers/journal.h"

namespace asyncore::device {

class DeviceSession;

struct DeviceRecord {
  std::string secret;             // the registry's; empty: no token required
  std::string peer;               // "host:port" of the current or last connection
  DeviceSession* session = nullptr;  // the connection the device is online on (not owned)
  EventHistory events;
  double since = 0;               // when it last came online or went offline
  double last_seen = 0;
  double lat = 0, lon = 0, location_t = 0;
  std::uint16_t heartbeat = 0;
  std::int8_t battery = -1;       // -1: never reported
  bool registered = false;        // listed in the registry file
  bool auto_registered = false;
  bool locked = false;
  bool has_location = false;

  bool known() const { return registered || auto_registered; }
  bool online() const { return session != nullptr; }
};

struct QueuedCommand {
  std::uint64_t id = 0;
  double t = 0;
  std::string command;  // the JSON object to send, without ident (given at delivery)
};

struct StoreOptions {
  std::string data_dir = "./var/device";
  std::size_t events_per_device = 100;     // history kept (memory and snapshot) per device
  std::size_t compact_min_records = 50000; // journal records before compaction is considered
};

class DeviceStore {
 public:
  // Opens (creating the folder if needed) and replays the journal. Devices the journal left
  // online (the server was killed) get an "offline, restart" event.
  DeviceStore(StoreOptions options, const std::vector<RegistryEntry>& registry, double now);

  DeviceRecord* find(Imei imei);
  const DeviceRecord* find(Imei imei) const;
  DeviceRecord& auto_register(Imei imei, double now);
  void record_event(Imei imei, DeviceRecord& record, const Event& event);

  std::uint64_t enqueue(Imei imei, std::string command, double now);
  void complete(Imei imei, std::uint64_t id);  // no effect when already gone
  const std::vector<QueuedCommand>& queued(Imei imei) const;
  std::size_t queued_total() const { return queued_total_; }

  bool unsynced() const { return !batch_.empty() || journal_.unsynced_records() > 0; }
  void sync();
  bool compact_if_due();
  void compact();

  const std::unordered_map<Imei, DeviceRecord, ImeiHash>& devices() const { return devices_; }
  std::unordered_map<Imei, DeviceRecord, ImeiHash>& devices() { return devices_; }
  std::size_t known_count() const { return known_count_; }
  const Journal& journal() const { return journal_; }
  std::size_t records_since_compaction() const { return records_since_compaction_; }
  const StoreOptions& options() const { return options_; }
  std::uint64_t compactions() const { return compactions_; }

 private:
  void replay(std::string_view payload);
  void replay_line(std::string_view line);
  void write_batch();
  bool complete_in_memory(Imei imei, std::uint64_t id);
  void apply(DeviceRecord& record, const Event& event);
  void append(const json::Object& record);
  std::vector<std::string> snapshot() const;

  StoreOptions options_;
  std::unordered_map<Imei, DeviceRecord, ImeiHash> devices_;
  std::unordered_map<Imei, std::vector<QueuedCommand>, ImeiHash> queue_;
  std::unordered_map<Imei, bool, ImeiHash> replay_online_;  // during replay: last event was "online"
  std::uint64_t next_queue_id_ = 1;
  std::size_t queued_total_ = 0;
  std::size_t known_count_ = 0;
  std::uint64_t compactions_ = 0;
  std::size_t records_since_compaction_ = 0;
  std::string batch_;  // records not yet handed to the journal, '\n'-separated
  Journal journal_;  // last: replay fills the members above
};

}  // namespace asyncore::device

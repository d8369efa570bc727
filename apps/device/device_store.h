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
// With write_in_background(), commit() hands the batch to a writer thread instead and reports
// back on the loop when it is durable, so the loop never waits for the disk during a storm.
#pragma once
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "apps/device/event.h"
#include "apps/device/imei.h"
#include "apps/common/journal_writer.h"
#include "apps/device/registry.h"
#include <asyncore/channel_map.h>
#include <asyncore/journal/journal.h>

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

  // Something appended is not durable yet (a batch in flight counts: the journal is the
  // writer's then and is not looked at).
  bool unsynced() const { return writer_busy() || !batch_.empty() || journal_.unsynced_records() > 0; }
  // Makes everything appended durable before returning (waits for a batch in flight first,
  // whose commit callback then runs from here). Throws when the journal cannot.
  void sync();

  // From now on commit() writes and syncs on a thread of its own; `map` hears when it is done.
  void write_in_background(ChannelMap& map);
  // Group commit: makes everything appended so far durable and then calls done(error) (null:
  // durable) on the loop: later, through the writer thread, or at once without one. One commit
  // at a time: only when !committing().
  using CommitDone = std::function<void(std::exception_ptr)>;
  void commit(CommitDone done);
  bool committing() const { return static_cast<bool>(commit_done_); }
  // Generations: what is appended now belongs to pending_generation(); every record of a
  // generation up to durable_generation() is on disk. A reply waits for its record's generation.
  std::uint64_t pending_generation() const { return batch_generation_; }
  std::uint64_t durable_generation() const { return durable_generation_; }
  bool compact_if_due();
  void compact();

  const std::unordered_map<Imei, DeviceRecord, ImeiHash>& devices() const { return devices_; }
  std::unordered_map<Imei, DeviceRecord, ImeiHash>& devices() { return devices_; }
  std::size_t known_count() const { return known_count_; }
  std::size_t auto_registered_count() const { return auto_registered_count_; }
  const Journal& journal() const { return journal_; }
  std::size_t records_since_compaction() const { return records_since_compaction_; }
  const StoreOptions& options() const { return options_; }
  std::uint64_t compactions() const { return compactions_; }

 private:
  void replay(std::string_view payload);
  void replay_line(std::string_view line);
  void write_batch();
  bool writer_busy() const { return writer_ && writer_->busy(); }
  void finish_commit(JournalWriter::Outcome outcome);
  bool complete_in_memory(Imei imei, std::uint64_t id);
  void apply(DeviceRecord& record, const Event& event);
  // A record is one JSON line in the batch: next_line() hands out the batch to write it to,
  // line_done() counts it (and writes a full batch out).
  std::string& next_line();
  void line_done();
  static void write_event(std::string& out, Imei imei, const Event& event);
  static void write_queued(std::string& out, Imei imei, std::uint64_t id, double t, std::string_view command);
  std::vector<std::string> snapshot() const;

  StoreOptions options_;
  std::unordered_map<Imei, DeviceRecord, ImeiHash> devices_;
  std::unordered_map<Imei, std::vector<QueuedCommand>, ImeiHash> queue_;
  std::unordered_map<Imei, bool, ImeiHash> replay_online_;  // during replay: last event was "online"
  std::uint64_t next_queue_id_ = 1;
  std::size_t queued_total_ = 0;
  std::size_t known_count_ = 0;
  std::size_t auto_registered_count_ = 0;
  std::uint64_t compactions_ = 0;
  std::size_t records_since_compaction_ = 0;
  std::string batch_;  // records not yet handed to the journal, '\n'-separated
  CommitDone commit_done_;  // the commit in flight
  std::uint64_t commit_generation_ = 0;  // the generation it makes durable
  std::uint64_t batch_generation_ = 1;
  std::uint64_t durable_generation_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for wake-ups that outlive the store
  Journal journal_;  // after the members replay fills
  std::unique_ptr<JournalWriter> writer_;  // after journal_: stopped before it closes
};

}  // namespace asyncore::device

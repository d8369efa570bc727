#include "apps/device/device_store.h"

#include <cstring>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "apps/device/json_line.h"
#include <asyncore/log.h>

namespace asyncore::device {
namespace {

const std::vector<QueuedCommand> kNoCommands;
constexpr std::size_t kMaxBatchBytes = 1 << 20;

std::optional<Imei> imei_of(const json::Value& record) {
  const json::Value* imei = record.get("imei");
  return imei && imei->is_string() ? Imei::parse(imei->as_string()) : std::nullopt;
}

double number_or(const json::Value& object, std::string_view key, double fallback) {
  const json::Value* v = object.get(key);
  return v && v->is_number() ? v->as_double() : fallback;
}

// A compaction's snapshot is a burst of thousands of small strings. glibc gives freed heap
// pages back only from the top of the heap, so one long-lived allocation made during the burst
// (an event history growing, a queued command) pins the whole peak in the resident set for
// good, and each larger snapshot raises it again. malloc_trim(0) returns every free page, so
// resident memory follows live memory (a few milliseconds, once per compaction).
void release_free_memory() {
#ifdef __GLIBC__
  ::malloc_trim(0);
#endif
}

}  // namespace

DeviceStore::DeviceStore(StoreOptions options, const std::vector<RegistryEntry>& registry, double now)
    : options_(std::move(options)),
      journal_([&]() {
        for (const RegistryEntry& entry : registry) {
          DeviceRecord& record = devices_[entry.imei];
          record.registered = true;
          record.secret = entry.secret;
          record.locked = entry.locked;
        }
        // The hub syncs once per loop pass (group commit), never the journal on its own.
        return Journal::open_in(options_.data_dir, "device.journal", JournalOptions::synced_by_owner(),
                                [this](std::string_view payload) { replay(payload); });
      }()) {
  const ReplayStats& stats = journal_.replay_stats();
  records_since_compaction_ -= std::min(records_since_compaction_, stats.snapshot_records);  // one line each
  for (const auto& [imei, online] : replay_online_) {
    if (online) record_event(imei, devices_[imei], Event::offline(now, OfflineReason::restart));
  }
  replay_online_.clear();
  for (const auto& [imei, record] : devices_) {
    known_count_ += record.known() ? 1 : 0;
    auto_registered_count_ += record.auto_registered ? 1 : 0;
  }
  sync();
  log_info("device store: " + std::to_string(stats.records) + " records replayed, " + std::to_string(known_count_) +
           " devices known, " + std::to_string(queued_total_) + " commands queued");
}

void DeviceStore::replay(std::string_view payload) {
  for (std::size_t start = 0; start <= payload.size();) {
    std::size_t end = payload.find('\n', start);
    if (end == std::string_view::npos) end = payload.size();
    if (end > start) replay_line(payload.substr(start, end - start));
    ++records_since_compaction_;
    start = end + 1;
  }
}

void DeviceStore::replay_line(std::string_view payload) {
  json::ParseResult parsed = json::try_parse(payload);
  if (!parsed || !parsed.value->is_object()) {
    log_warning("device store: skipping an unreadable journal record");
    return;
  }
  const json::Value& record = *parsed.value;
  const json::Value* kind = record.get("r");
  if (!kind || !kind->is_string()) return;
  const std::string& r = kind->as_string();
  if (r == "done") {
    if (std::optional<Imei> imei = imei_of(record); imei) {
      complete_in_memory(*imei, static_cast<std::uint64_t>(number_or(record, "id", 0)));
    }
    return;
  }
  std::optional<Imei> imei = imei_of(record);
  if (!imei) return;
  DeviceRecord& device = devices_[*imei];
  if (r == "reg") {
    device.auto_registered = true;
  } else if (r == "ev") {
    if (std::optional<Event> event = event_from_json(record)) {
      device.events.push(*event, options_.events_per_device);
      apply(device, *event);
      if (event->kind == EventKind::online || event->kind == EventKind::offline) {
        replay_online_[*imei] = event->kind == EventKind::online;
      }
    }
  } else if (r == "dev") {
    device.auto_registered = device.auto_registered || (record.get("auto") && record["auto"].is_bool() && record["auto"].as_bool());
    device.heartbeat = static_cast<std::uint16_t>(number_or(record, "heartbeat", device.heartbeat));
    device.battery = static_cast<std::int8_t>(number_or(record, "battery", device.battery));
    device.since = number_or(record, "since", device.since);
    device.last_seen = number_or(record, "last_seen", device.last_seen);
    const json::Value* online = record.get("online");
    replay_online_[*imei] = online && online->is_bool() && online->as_bool();
    if (record.get("lat") && record.get("lon")) {
      device.has_location = true;
      device.lat = number_or(record, "lat", 0);
      device.lon = number_or(record, "lon", 0);
      device.location_t = number_or(record, "location_t", 0);
    }
  } else if (r == "q") {
    const json::Value* command = record.get("cmd");
    if (!command || !command->is_object()) return;
    QueuedCommand queued{static_cast<std::uint64_t>(number_or(record, "id", 0)), number_or(record, "t", 0), json::dump(*command)};
    next_queue_id_ = std::max(next_queue_id_, queued.id + 1);
    queue_[*imei].push_back(std::move(queued));
    ++queued_total_;
  }
}

void DeviceStore::apply(DeviceRecord& record, const Event& event) {
  record.last_seen = std::max(record.last_seen, event.t);
  switch (event.kind) {
    case EventKind::online:
      record.heartbeat = event.heartbeat;
      record.since = event.t;
      break;
    case EventKind::offline:
      record.since = event.t;
      break;
    case EventKind::location:
      if (event.flags & Event::has_position) {
        record.has_location = true;
        record.lat = event.lat;
        record.lon = event.lon;
        record.location_t = event.t;
      }
      break;
    case EventKind::battery:
      record.battery = static_cast<std::int8_t>(event.percent);
      break;
    case EventKind::alarm:
      break;
  }
}

DeviceRecord* DeviceStore::find(Imei imei) {
  auto it = devices_.find(imei);
  return it == devices_.end() ? nullptr : &it->second;
}

const DeviceRecord* DeviceStore::find(Imei imei) const {
  auto it = devices_.find(imei);
  return it == devices_.end() ? nullptr : &it->second;
}

DeviceRecord& DeviceStore::auto_register(Imei imei, double now) {
  DeviceRecord& record = devices_[imei];
  if (!record.known()) ++known_count_;
  if (!record.auto_registered) {
    JsonLine{next_line()}("r", "reg")("imei", imei)("t", now);
    line_done();
    record.auto_registered = true;
    ++auto_registered_count_;
  }
  return record;
}

void DeviceStore::write_event(std::string& out, Imei imei, const Event& event) {
  JsonLine line(out);
  line("r", "ev")("imei", imei);
  for_each_event_member(event, [&line](std::string_view key, auto value) { line(key, value); });
}

void DeviceStore::record_event(Imei imei, DeviceRecord& record, const Event& event) {
  write_event(next_line(), imei, event);
  line_done();
  record.events.push(event, options_.events_per_device);
  apply(record, event);
}

std::uint64_t DeviceStore::enqueue(Imei imei, std::string command, double now) {
  const std::uint64_t id = next_queue_id_++;
  write_queued(next_line(), imei, id, now, command);
  line_done();
  queue_[imei].push_back({id, now, std::move(command)});
  ++queued_total_;
  return id;
}

void DeviceStore::complete(Imei imei, std::uint64_t id) {
  if (!complete_in_memory(imei, id)) return;
  JsonLine{next_line()}("r", "done")("imei", imei)("id", id);
  line_done();
}

bool DeviceStore::complete_in_memory(Imei imei, std::uint64_t id) {
  auto it = queue_.find(imei);
  if (it == queue_.end()) return false;
  std::vector<QueuedCommand>& commands = it->second;
  for (auto c = commands.begin(); c != commands.end(); ++c) {
    if (c->id != id) continue;
    commands.erase(c);
    --queued_total_;
    if (commands.empty()) queue_.erase(it);
    return true;
  }
  return false;
}

const std::vector<QueuedCommand>& DeviceStore::queued(Imei imei) const {
  auto it = queue_.find(imei);
  return it == queue_.end() ? kNoCommands : it->second;
}

std::string& DeviceStore::next_line() {
  if (!batch_.empty()) batch_.push_back('\n');  // compact JSON has no raw newline
  // Each commit takes the batch's buffer along: room for the next lines in one allocation, not
  // a reallocation per member appended.
  if (batch_.capacity() - batch_.size() < 512) batch_.reserve(std::max<std::size_t>(4096, 2 * batch_.size()));
  return batch_;
}

void DeviceStore::line_done() {
  ++records_since_compaction_;
  // While the writer has the journal, a big pass simply makes the next batch bigger.
  if (batch_.size() >= kMaxBatchBytes && !writer_busy()) write_batch();
}

void DeviceStore::write_queued(std::string& out, Imei imei, std::uint64_t id, double t, std::string_view command) {
  // The command is compact JSON already (checked and dumped by the admin API).
  JsonLine{out}("r", "q")("id", id)("imei", imei)("t", t).raw("cmd", command);
}

void DeviceStore::write_batch() {
  if (batch_.empty()) return;
  journal_.append(batch_);
  batch_.clear();
  if (batch_.capacity() > kMaxBatchBytes) batch_.shrink_to_fit();
}

void DeviceStore::sync() {
  if (writer_busy()) {
    // The journal is the writer's until its batch is done; then that commit is reported first.
    finish_commit(writer_->wait());
  }
  const std::uint64_t generation = batch_generation_++;
  write_batch();
  journal_.sync();
  durable_generation_ = generation;
}

void DeviceStore::write_in_background(ChannelMap& map) {
  writer_ = std::make_unique<JournalWriter>(journal_, [&map, alive = std::weak_ptr<bool>(alive_), this] {
    map.call_soon_threadsafe([alive, this] {
      if (alive.lock()) {
        if (std::optional<JournalWriter::Outcome> outcome = writer_->poll()) finish_commit(std::move(*outcome));
      }
    });
  });
}

void DeviceStore::commit(CommitDone done) {
  commit_done_ = std::move(done);
  commit_generation_ = batch_generation_++;
  if (!writer_ || (batch_.empty() && journal_.unsynced_records() == 0)) {
    JournalWriter::Outcome outcome;
    try {
      write_batch();  // keeps the batch when the append fails
      journal_.sync();
    } catch (...) {
      outcome.error = std::current_exception();
    }
    return finish_commit(std::move(outcome));
  }
  std::string batch;
  batch.swap(batch_);
  writer_->submit(std::move(batch));
}

void DeviceStore::finish_commit(JournalWriter::Outcome outcome) {
  if (!outcome.unwritten.empty()) {
    // Not in the journal at all: it goes first in the next batch, as write_batch() keeps a
    // batch it could not append. Nothing in it was acknowledged.
    if (!batch_.empty()) outcome.unwritten.append(1, '\n').append(batch_);
    batch_ = std::move(outcome.unwritten);
  }
  if (!outcome.error) durable_generation_ = std::max(durable_generation_, commit_generation_);
  if (CommitDone done = std::exchange(commit_done_, nullptr)) done(outcome.error);
}

std::vector<std::string> DeviceStore::snapshot() const {
  std::vector<std::string> records;
  for (const auto& [imei, device] : devices_) {
    {
      JsonLine dev(records.emplace_back());
      dev("r", "dev")("imei", imei);
      if (device.auto_registered) dev("auto", true);
      // Its "online" event may have left the history: say so, so a crash is still noticed.
      if (device.online()) dev("online", true);
      if (device.heartbeat) dev("heartbeat", static_cast<int>(device.heartbeat));
      if (device.battery >= 0) dev("battery", static_cast<int>(device.battery));
      dev("since", device.since)("last_seen", device.last_seen);
      if (device.has_location) dev("lat", device.lat)("lon", device.lon)("location_t", device.location_t);
    }
    for (std::size_t i = device.events.size(); i-- > 0;) write_event(records.emplace_back(), imei, device.events.newest(i));
  }
  for (const auto& [imei, commands] : queue_) {
    for (const QueuedCommand& c : commands) write_queued(records.emplace_back(), imei, c.id, c.t, c.command);
  }
  return records;
}

bool DeviceStore::compact_if_due() {
  if (records_since_compaction_ < std::max(options_.compact_min_records, journal_.snapshot_record_count())) return false;
  compact();
  return true;
}

void DeviceStore::compact() {
  sync();
  std::size_t count = 0;
  {
    std::vector<std::string> records = snapshot();
    journal_.compact(records);
    count = records.size();
  }
  records_since_compaction_ = 0;
  ++compactions_;
  release_free_memory();
  log_info("device store: compacted the journal into " + std::to_string(count) + " snapshot records");
}

}  // namespace asyncore::device

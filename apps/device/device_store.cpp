#include "apps/device/device_store.h"

#include <cstring>

#include "core/log.h"

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
  if (stats.bytes_dropped > 0) {
    log_warning("device store: dropped " + std::to_string(stats.bytes_dropped) + " bytes of a torn journal tail (" +
                stats.reason + ")");
  }
  for (const auto& [imei, online] : replay_online_) {
    if (online) record_event(imei, devices_[imei], Event::offline(now, OfflineReason::restart));
  }
  replay_online_.clear();
  for (const auto& [imei, record] : devices_) known_count_ += record.known() ? 1 : 0;
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
    append(json::Object{{"r", "reg"}, {"imei", imei.str()}, {"t", now}});
    record.auto_registered = true;
  }
  return record;
}

void DeviceStore::record_event(Imei imei, DeviceRecord& record, const Event& event) {
  json::Object out{{"r", "ev"}, {"imei", imei.str()}};
  append_event_members(out, event);
  append(out);
  record.events.push(event, options_.events_per_device);
  apply(record, event);
}

std::uint64_t DeviceStore::enqueue(Imei imei, std::string command, double now) {
  const std::uint64_t id = next_queue_id_++;
  json::ParseResult parsed = json::try_parse(command);
  append(json::Object{{"r", "q"}, {"id", id}, {"imei", imei.str()}, {"t", now}, {"cmd", parsed ? *parsed.value : json::Value()}});
  queue_[imei].push_back({id, now, std::move(command)});
  ++queued_total_;
  return id;
}

void DeviceStore::complete(Imei imei, std::uint64_t id) {
  if (!complete_in_memory(imei, id)) return;
  append(json::Object{{"r", "done"}, {"imei", imei.str()}, {"id", id}});
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

void DeviceStore::append(const json::Object& record) {
  if (!batch_.empty()) batch_.push_back('\n');
  json::dump_to(batch_, record);  // compact JSON has no raw newline
  ++records_since_compaction_;
  if (batch_.size() >= kMaxBatchBytes) write_batch();
}

void DeviceStore::write_batch() {
  if (batch_.empty()) return;
  journal_.append(batch_);
  batch_.clear();
  if (batch_.capacity() > kMaxBatchBytes) batch_.shrink_to_fit();
}

void DeviceStore::sync() {
  write_batch();
  journal_.sync();
}

std::vector<std::string> DeviceStore::snapshot() const {
  std::vector<std::string> records;
  for (const auto& [imei, device] : devices_) {
    json::Object dev{{"r", "dev"}, {"imei", imei.str()}};
    if (device.auto_registered) dev.append("auto", true);
    // Its "online" event may have left the history: say so, so a crash is still noticed.
    if (device.online()) dev.append("online", true);
    if (device.heartbeat) dev.append("heartbeat", static_cast<int>(device.heartbeat));
    if (device.battery >= 0) dev.append("battery", static_cast<int>(device.battery));
    dev.append("since", device.since);
    dev.append("last_seen", device.last_seen);
    if (device.has_location) {
      dev.append("lat", device.lat);
      dev.append("lon", device.lon);
      dev.append("location_t", device.location_t);
    }
    records.push_back(json::dump(dev));
    for (std::size_t i = device.events.size(); i-- > 0;) {
      json::Object ev{{"r", "ev"}, {"imei", imei.str()}};
      append_event_members(ev, device.events.newest(i));
      records.push_back(json::dump(ev));
    }
  }
  for (const auto& [imei, commands] : queue_) {
    for (const QueuedCommand& c : commands) {
      json::ParseResult parsed = json::try_parse(c.command);
      records.push_back(json::dump(json::Object{
          {"r", "q"}, {"id", c.id}, {"imei", imei.str()}, {"t", c.t}, {"cmd", parsed ? *parsed.value : json::Value()}}));
    }
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
  std::vector<std::string> records = snapshot();
  journal_.compact(records);
  records_since_compaction_ = 0;
  ++compactions_;
  log_info("device store: compacted the journal into " + std::to_string(records.size()) + " snapshot records");
}

}  // namespace asyncore::device

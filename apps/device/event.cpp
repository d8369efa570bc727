#include "apps/device/event.h"

#include <array>

namespace asyncore::device {
namespace {

constexpr std::array<std::string_view, 5> kKindNames = {"online", "offline", "location", "alarm", "battery"};
constexpr std::array<std::string_view, 10> kReasonNames = {"closed", "poweroff", "idle", "takeover", "shutdown",
                                                           "restart", "bad_frame", "error", "control", "node_lost"};

template <std::size_t N>
std::optional<std::uint8_t> index_of(const std::array<std::string_view, N>& names, std::string_view name) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<std::uint8_t>(i);
  }
  return std::nullopt;
}

std::optional<std::uint8_t> alarm_index(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kAlarmNames); ++i) {
    if (kAlarmNames[i] == name) return static_cast<std::uint8_t>(i);
  }
  return std::nullopt;
}

double number_or(const json::Value& object, std::string_view key, double fallback) {
  const json::Value* v = object.get(key);
  return v && v->is_number() ? v->as_double() : fallback;
}

}  // namespace

std::string_view to_string(EventKind kind) { return kKindNames[static_cast<std::size_t>(kind)]; }
std::string_view to_string(OfflineReason reason) { return kReasonNames[static_cast<std::size_t>(reason)]; }

Event Event::online(double t, int heartbeat) {
  Event e;
  e.t = t;
  e.kind = EventKind::online;
  e.heartbeat = static_cast<std::uint16_t>(heartbeat);
  return e;
}

Event Event::offline(double t, OfflineReason reason) {
  Event e;
  e.t = t;
  e.kind = EventKind::offline;
  e.code = static_cast<std::uint8_t>(reason);
  return e;
}

Event Event::battery(double t, int percent) {
  Event e;
  e.t = t;
  e.kind = EventKind::battery;
  e.percent = static_cast<std::uint8_t>(percent);
  return e;
}

void append_event_members(json::Object& out, const Event& e) {
  for_each_event_member(e, [&out](std::string_view key, auto value) { out.append(std::string(key), json::Value(value)); });
}

json::Value event_json(const Event& event) {
  json::Object out;
  append_event_members(out, event);
  return out;
}

std::optional<Event> event_from_json(const json::Value& v) {
  const json::Value* kind = v.get("kind");
  const json::Value* t = v.get("t");
  if (!kind || !kind->is_string() || !t || !t->is_number()) return std::nullopt;
  std::optional<std::uint8_t> k = index_of(kKindNames, kind->as_string());
  if (!k) return std::nullopt;
  Event e;
  e.t = t->as_double();
  e.kind = static_cast<EventKind>(*k);
  switch (e.kind) {
    case EventKind::online:
      e.heartbeat = static_cast<std::uint16_t>(number_or(v, "heartbeat", 0));
      break;
    case EventKind::offline: {
      const json::Value* reason = v.get("reason");
      std::optional<std::uint8_t> r = reason && reason->is_string() ? index_of(kReasonNames, reason->as_string()) : std::nullopt;
      e.code = r.value_or(0);
      break;
    }
    case EventKind::location:
      if (v.get("loc_type")) {
        e.code = static_cast<std::uint8_t>(number_or(v, "loc_type", 0));
        e.flags |= Event::has_loc_type;
      }
      break;
    case EventKind::alarm: {
      const json::Value* alarm = v.get("alarm");
      std::optional<std::uint8_t> a = alarm && alarm->is_string() ? alarm_index(alarm->as_string()) : std::nullopt;
      if (!a) return std::nullopt;
      e.code = *a;
      break;
    }
    case EventKind::battery:
      e.percent = static_cast<std::uint8_t>(number_or(v, "percent", 0));
      break;
  }
  if (v.get("lat") && v.get("lon")) {
    e.lat = number_or(v, "lat", 0);
    e.lon = number_or(v, "lon", 0);
    e.flags |= Event::has_position;
  }
  if (v.get("ts")) {
    e.ts = number_or(v, "ts", 0);
    e.flags |= Event::has_ts;
  }
  return e;
}

void EventHistory::push(const Event& event, std::size_t capacity) {
  if (capacity == 0) return;
  if (events_.size() < capacity) {
    // Grow in small steps: most devices have a short history, and this is per device.
    if (events_.size() == events_.capacity()) events_.reserve(std::min(capacity, events_.size() < 4 ? 4 : events_.size() * 2));
    events_.push_back(event);
    next_ = 0;
    return;
  }
  events_[next_] = event;
  next_ = static_cast<std::uint32_t>((next_ + 1) % events_.size());
}

const Event& EventHistory::newest(std::size_t i) const {
  // Once full, next_ is the oldest; before, the vector is in order and next_ is 0.
  const std::size_t n = events_.size();
  return events_[(next_ + n - 1 - i) % n];
}

}  // namespace asyncore::device

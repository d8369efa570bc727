// Device events (online, offline, location, alarm, battery): a compact value type, its JSON
// form (the admin API's and the journal's), and a bounded per-device history.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asyncore/json/json.h>

namespace asyncore::device {

enum class EventKind : std::uint8_t { online, offline, location, alarm, battery };
enum class Alarm : std::uint8_t { sos, strap_off, low_battery, fall, fence };
// node_lost: the node lost its cluster lease (--redis) and let its devices go.
enum class OfflineReason : std::uint8_t { closed, poweroff, idle, takeover, shutdown, restart, bad_frame, error, control, node_lost };

inline constexpr std::string_view kAlarmNames[] = {"sos", "strap_off", "low_battery", "fall", "fence"};

std::string_view to_string(EventKind kind);
std::string_view to_string(OfflineReason reason);

// Small on purpose (the history of every device is kept in memory): which optional fields are
// set is in `flags`; `code` is the alarm, location type or offline reason by kind.
struct Event {
  enum Flags : std::uint8_t { has_position = 1, has_ts = 2, has_loc_type = 4 };
  double t = 0;  // server time, unix seconds
  double lat = 0, lon = 0;
  double ts = 0;  // the device's own timestamp
  EventKind kind = EventKind::online;
  std::uint8_t code = 0;
  std::uint8_t percent = 0;      // battery
  std::uint8_t flags = 0;
  std::uint16_t heartbeat = 0;   // online

  static Event online(double t, int heartbeat);
  static Event offline(double t, OfflineReason reason);
  static Event battery(double t, int percent);
};

// Calls out(key, value) for each member of the event's JSON form, in order, with value a
// double, an int or a std::string_view: one description for the admin API's objects and the
// journal's lines (which are written as text, without a json::Object in between).
template <class Out>
void for_each_event_member(const Event& e, Out&& out) {
  out("t", e.t);
  out("kind", to_string(e.kind));
  switch (e.kind) {
    case EventKind::online: out("heartbeat", static_cast<int>(e.heartbeat)); break;
    case EventKind::offline: out("reason", to_string(static_cast<OfflineReason>(e.code))); break;
    case EventKind::location:
      if (e.flags & Event::has_loc_type) out("loc_type", static_cast<int>(e.code));
      break;
    case EventKind::alarm: out("alarm", kAlarmNames[e.code]); break;
    case EventKind::battery: out("percent", static_cast<int>(e.percent)); break;
  }
  if (e.flags & Event::has_position) {
    out("lat", e.lat);
    out("lon", e.lon);
  }
  if (e.flags & Event::has_ts) out("ts", e.ts);
}

// {"t":..,"kind":"location","lat":..,...}, appended to an object under construction.
void append_event_members(json::Object& out, const Event& event);
json::Value event_json(const Event& event);
// The inverse for replay; nullopt when the object is not an event.
std::optional<Event> event_from_json(const json::Value& value);

// The newest `capacity` events, oldest overwritten first.
class EventHistory {
 public:
  void push(const Event& event, std::size_t capacity);
  std::size_t size() const { return events_.size(); }
  // i = 0 is the newest.
  const Event& newest(std::size_t i) const;

 private:
  std::vector<Event> events_;
  std::uint32_t next_ = 0;  // where the next event goes once the history is full
};

}  // namespace asyncore::device

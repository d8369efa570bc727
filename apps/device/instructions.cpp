#include "apps/device/instructions.h"

#include <array>
#include <cstdio>

#include "apps/device/hub.h"
#include "apps/device/session.h"

namespace asyncore::device {
namespace {

ReportReply answer(int status, std::string extra = {}, bool durable = false, bool close_after = false) {
  ReportReply reply;
  reply.status = status;
  reply.extra = std::move(extra);
  reply.durable = durable;
  reply.close_after = close_after;
  return reply;
}
ReportReply bad_request() { return answer(400); }

// A second login on a logged-in connection: the session is already established.
ReportReply type_1(ReportContext&) { return answer(400, ",\"error\":\"already logged in\""); }

// Time sync.
ReportReply type_2(ReportContext& c) {
  char extra[64];
  std::snprintf(extra, sizeof extra, ",\"time\":%.3f,\"tz\":\"+00:00\"", c.now);
  return answer(200, extra);
}

// Heartbeat, optionally carrying the battery level.
ReportReply type_3(ReportContext& c) {
  std::optional<std::int64_t> battery = c.fields.integer("battery", 0, 100, Need::optional);
  if (!c.fields.ok()) return bad_request();
  record_heartbeat(c.hub, c.imei, c.record, c.now, battery ? std::optional<int>(static_cast<int>(*battery)) : std::nullopt);
  return answer(200);
}

bool read_position(FieldReader& f, Event& e, Need need) {
  std::optional<double> lat = f.number("lat", -90, 90, need);
  std::optional<double> lon = f.number("lon", -180, 180, need);
  if (lat.has_value() != lon.has_value()) {
    f.string(lat ? "lon" : "lat", Need::required);  // names the missing half
    return false;
  }
  if (lat) {
    e.lat = *lat;
    e.lon = *lon;
    e.flags |= Event::has_position;
  }
  return true;
}

void read_ts(FieldReader& f, Event& e) {
  if (std::optional<double> ts = f.number("ts", 0, 1e12, Need::optional)) {
    e.ts = *ts;
    e.flags |= Event::has_ts;
  }
}

// Location report.
ReportReply type_4(ReportContext& c) {
  Event e;
  e.t = c.now;
  e.kind = EventKind::location;
  read_position(c.fields, e, Need::required);
  if (std::optional<std::int64_t> loc_type = c.fields.integer("loc_type", 1, 3, Need::optional)) {
    e.code = static_cast<std::uint8_t>(*loc_type);
    e.flags |= Event::has_loc_type;
  }
  read_ts(c.fields, e);
  c.fields.array("cells", Need::optional);
  c.fields.array("wifi", Need::optional);
  if (!c.fields.ok()) return bad_request();
  c.hub.record_event(c.imei, c.record, e);
  return answer(200, {}, true);
}

// Alarm.
ReportReply type_5(ReportContext& c) {
  Event e;
  e.t = c.now;
  e.kind = EventKind::alarm;
  if (std::optional<std::size_t> alarm = c.fields.choice("alarm", kAlarmNames, Need::required)) {
    e.code = static_cast<std::uint8_t>(*alarm);
  }
  read_ts(c.fields, e);
  read_position(c.fields, e, Need::optional);
  if (!c.fields.ok()) return bad_request();
  c.hub.record_event(c.imei, c.record, e);
  return answer(200, {}, true);
}

// Battery level.
ReportReply type_6(ReportContext& c) {
  std::optional<std::int64_t> percent = c.fields.integer("percent", 0, 100, Need::required);
  if (!c.fields.ok()) return bad_request();
  c.hub.record_event(c.imei, c.record, Event::battery(c.now, static_cast<int>(*percent)));
  return answer(200, {}, true);
}

// Power off: answer, then close; the device goes offline with this reason.
ReportReply type_9(ReportContext& c) {
  c.fields.string("reason", Need::optional);
  if (!c.fields.ok()) return bad_request();
  return answer(200, {}, false, true);
}

constexpr std::array<ReportHandler, 10> kHandlers = {nullptr, type_1, type_2, type_3, type_4,
                                                     type_5,  type_6, nullptr, nullptr, type_9};

}  // namespace

void record_heartbeat(DeviceHub& hub, Imei imei, DeviceRecord& record, double now, std::optional<int> battery) {
  // Recorded only when it changes, and as a sample: the type 6 battery report is the one that
  // waits for its sync.
  if (battery && *battery != record.battery) hub.record_sample(imei, record, Event::battery(now, *battery));
}

ReportHandler find_report_handler(int type) {
  return type >= 0 && static_cast<std::size_t>(type) < kHandlers.size() ? kHandlers[static_cast<std::size_t>(type)] : nullptr;
}

}  // namespace asyncore::device

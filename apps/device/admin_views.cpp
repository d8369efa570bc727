#include "apps/device/admin_views.h"

#include <algorithm>
#include <vector>

namespace asyncore::device {

json::Value device_json(Imei imei, const DeviceRecord& r, std::string_view node) {
  json::Object out;
  out.append("imei", imei.str());
  out.append("online", r.online());
  out.append("peer", r.online() ? json::Value(r.peer) : json::Value());
  if (!node.empty()) out.append("node", r.online() ? json::Value(std::string(node)) : json::Value());
  out.append("since", r.since > 0 ? json::Value(r.since) : json::Value());
  out.append("last_seen", r.last_seen > 0 ? json::Value(r.last_seen) : json::Value());
  out.append("heartbeat", r.heartbeat ? json::Value(static_cast<int>(r.heartbeat)) : json::Value());
  out.append("battery", r.battery >= 0 ? json::Value(static_cast<int>(r.battery)) : json::Value());
  if (r.has_location) {
    out.append("location", json::Object{{"lat", r.lat}, {"lon", r.lon}, {"t", r.location_t}});
  } else {
    out.append("location", nullptr);
  }
  if (r.locked) out.append("locked", true);
  return out;
}

json::Value devices_json(const DeviceStore& store, std::size_t online, std::string_view node) {
  std::vector<std::pair<Imei, const DeviceRecord*>> known;
  known.reserve(store.known_count());
  for (const auto& [imei, record] : store.devices()) {
    if (record.known()) known.emplace_back(imei, &record);
  }
  std::sort(known.begin(), known.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  json::Array devices;
  devices.reserve(known.size());
  for (const auto& [imei, record] : known) devices.push_back(device_json(imei, *record, node));
  return json::Object{{"total", known.size()}, {"online", online}, {"devices", std::move(devices)}};
}

json::Value events_json(Imei imei, const DeviceRecord& record, std::size_t limit) {
  json::Array events;
  const std::size_t n = std::min(limit, record.events.size());
  events.reserve(n);
  for (std::size_t i = 0; i < n; ++i) events.push_back(event_json(record.events.newest(i)));
  return json::Object{{"imei", imei.str()}, {"events", std::move(events)}};
}

CommandAnswer command_answer(const CommandResult& result) {
  std::string body;
  body.reserve(128);  // an answer with its ack: one allocation, not one per doubling
  body = "{\"result\":\"";
  body += to_string(result.outcome);  // upper-case letters and '_': nothing to escape
  body += '"';
  int status = 500;
  switch (result.outcome) {
    case CommandOutcome::ok:
      body += ",\"ack\":";
      result.append_ack(body);
      status = 200;
      break;
    case CommandOutcome::sent:
    case CommandOutcome::queued:
      status = 202;
      break;
    case CommandOutcome::no:
      status = 404;
      break;
    case CommandOutcome::timeout:
      status = 504;
      break;
    case CommandOutcome::queue_full:
      body += ",\"error\":";
      json::append_quoted(body, result.error);
      status = 429;
      break;
    case CommandOutcome::unavailable:
      body += ",\"error\":";
      json::append_quoted(body, result.error);
      status = 503;
      break;
  }
  body.push_back('}');
  return {status, std::move(body)};
}

}  // namespace asyncore::device

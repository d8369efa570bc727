#include "apps/device/admin_api.h"

#include <charconv>
#include <memory>
#include <type_traits>

#include "apps/device/admin_views.h"
#include "apps/device/cluster.h"
#include "apps/device/commands.h"
#include <asyncore/http/operator.h>

namespace asyncore::device {
namespace {

std::optional<double> parse_seconds(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !(value > 0) || value > kMaxCommandTimeout) return std::nullopt;
  return value;
}

std::optional<std::size_t> parse_limit(std::string_view text) {
  std::size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<CommandMode> parse_mode(std::string_view text) {
  if (text == "interact") return CommandMode::interact;
  if (text == "send") return CommandMode::send;
  if (text == "queue") return CommandMode::queue;
  return std::nullopt;
}

http::Response admin_answer(const CommandResult& result) {
  CommandAnswer a = command_answer(result);
  return http::Response::json(std::move(a.body), a.status);
}

http::Response not_found_no() { return admin_answer({CommandOutcome::no, {}, {}}); }

void post_command(DeviceHub& hub, WaitingAdmins& waiting, http::Request& request, http::Responder responder) {
  std::optional<CommandMode> mode = parse_mode(request.query_or("mode", "interact"));
  if (!mode) return responder.send(http::Response::json_error(400, "mode must be interact, send or queue"));
  std::optional<Imei> imei = Imei::parse(request.param("imei"));
  const DeviceRecord* record = imei ? hub.store().find(*imei) : nullptr;
  // A node of several may be asked about a device only another node has seen.
  const bool elsewhere = imei && !hub.node_id().empty();
  if ((!record || !record->known()) && !elsewhere) {
    hub.metrics().count_command(to_string(*mode), to_string(CommandOutcome::no));
    return responder.send(not_found_no());
  }
  std::optional<double> timeout = kDefaultCommandTimeout;
  if (std::optional<std::string> text = request.query("timeout")) timeout = parse_seconds(*text);
  if (!timeout) {
    return responder.send(http::Response::json_error(400, "timeout must be a number of seconds in (0, 600]"));
  }
  CommandCheck check = check_command(request.body());
  if (!check.command) return responder.send(http::Response::json_error(400, check.error));
  const WaitingAdmins::Ticket ticket = waiting.wait(std::move(responder));
  try {
    hub.command(*imei, *check.command, *mode, *timeout, waiting.callback(ticket));
  } catch (const std::exception& e) {
    // The queue could not be made durable: nothing was promised.
    waiting.answer(ticket, http::Response::json_error(503, std::string("cannot store the command: ") + e.what()));
  }
}

// A page of the fleet, at most this many devices (?limit=, default the same).
constexpr std::size_t kMaxDevicesPage = 1000;

// A view read from Redis: 503 when it cannot be, 404 for an unknown device.
ClusterStore::ViewDone view_answer(http::Responder responder) {
  auto shared = std::make_shared<http::Responder>(std::move(responder));
  return [shared](std::optional<json::Value> view, std::string error) {
    if (shared->answered()) return;
    if (!view) return shared->send(http::Response::json(
                       json::Object{{"result", "UNAVAILABLE"}, {"error", "the cluster's redis: " + error}}, 503));
    if (view->is_null()) return shared->send(http::Response::json_error(404, "unknown device"));
    shared->send(http::Response::json(std::move(*view)));
  };
}

// --redis: the devices of every node, from Redis.
void add_cluster_views(http::Router& router, ClusterStore& store) {
  router.get("/devices", [&store](http::Request& request, http::Responder responder) {
    std::optional<std::size_t> limit = parse_limit(request.query_or("limit", std::to_string(kMaxDevicesPage)));
    if (!limit || *limit == 0 || *limit > kMaxDevicesPage) {
      return responder.send(http::Response::json_error(400, "limit must be an integer in [1, 1000]"));
    }
    std::string after = request.query_or("after", "");
    if (!after.empty() && !Imei::parse(after)) return responder.send(http::Response::json_error(400, "after must be an IMEI"));
    store.list_devices(std::move(after), *limit, view_answer(std::move(responder)));
  });
  router.get("/devices/:imei", [&store](http::Request& request, http::Responder responder) {
    std::optional<Imei> imei = Imei::parse(request.param("imei"));
    if (!imei) return responder.send(http::Response::json_error(404, "unknown device"));
    store.show_device(*imei, view_answer(std::move(responder)));
  });
  router.get("/devices/:imei/events", [&store](http::Request& request, http::Responder responder) {
    std::optional<Imei> imei = Imei::parse(request.param("imei"));
    if (!imei) return responder.send(http::Response::json_error(404, "unknown device"));
    std::optional<std::size_t> limit = parse_limit(request.query_or("limit", "100"));
    if (!limit) return responder.send(http::Response::json_error(400, "limit must be a non-negative integer"));
    store.device_events(*imei, *limit, view_answer(std::move(responder)));
  });
}

// One node alone: the devices of its own store.
void add_local_views(http::Router& router, DeviceHub& hub) {
  router.get("/devices", [&hub](const http::Request&) {
    return http::Response::json(devices_json(hub.store(), hub.online_count(), hub.node_id()));
  });
  router.get("/devices/:imei", [&hub](const http::Request& request) {
    std::optional<Imei> imei = Imei::parse(request.param("imei"));
    const DeviceRecord* record = imei ? hub.store().find(*imei) : nullptr;
    if (!record || !record->known()) return http::Response::json_error(404, "unknown device");
    return http::Response::json(device_json(*imei, *record, hub.node_id()));
  });
  router.get("/devices/:imei/events", [&hub](const http::Request& request) {
    std::optional<Imei> imei = Imei::parse(request.param("imei"));
    const DeviceRecord* record = imei ? hub.store().find(*imei) : nullptr;
    if (!record || !record->known()) return http::Response::json_error(404, "unknown device");
    std::optional<std::size_t> limit = parse_limit(request.query_or("limit", "100"));
    if (!limit) return http::Response::json_error(400, "limit must be a non-negative integer");
    return http::Response::json(events_json(*imei, *record, *limit));
  });
}

}  // namespace

WaitingAdmins::Ticket WaitingAdmins::wait(http::Responder responder) {
  std::uint32_t slot = 0;
  if (free_.empty()) {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    slot = free_.back();
    free_.pop_back();
  }
  slots_[slot].responder.emplace(std::move(responder));
  return {slot, slots_[slot].generation};
}

CommandCallback WaitingAdmins::callback(Ticket ticket) {
  auto call = [this, ticket](CommandResult result) { answer(ticket, admin_answer(result)); };
  // What libstdc++'s std::function keeps inline, without an allocation.
  static_assert(sizeof(call) <= 16 && std::is_trivially_copyable_v<decltype(call)>);
  return call;
}

void WaitingAdmins::answer(Ticket ticket, http::Response response) {
  if (ticket.slot >= slots_.size()) return;
  Slot& slot = slots_[ticket.slot];
  if (slot.generation != ticket.generation || !slot.responder) return;
  // Out of its slot before it answers: the answer may let the connection start the next request.
  http::Responder responder = std::move(*slot.responder);
  slot.responder.reset();
  ++slot.generation;
  free_.push_back(ticket.slot);
  if (!responder.answered()) responder.send(std::move(response));
}

http::Router admin_router(DeviceHub& hub, WaitingAdmins& waiting, std::string admin_token) {
  http::Router router;
  if (!admin_token.empty()) router.guard(http::bearer_token_guard(std::move(admin_token)));
  if (hub.cluster()) add_cluster_views(router, hub.cluster()->store());
  else add_local_views(router, hub);
  router.post("/devices/:imei/commands",
              [&hub, &waiting](http::Request& request, http::Responder responder) {
                post_command(hub, waiting, request, std::move(responder));
              });
  http::add_operator_routes(router, [&hub] { return hub.metrics().prometheus(hub.gauges()); });
  return router;
}

}  // namespace asyncore::device

#include "apps/device/admin_api.h"

#include <charconv>
#include <memory>

#include "apps/device/admin_views.h"
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

http::Response answer(const CommandResult& result) {
  CommandAnswer a = command_answer(result);
  return http::Response::json(std::move(a.body), a.status);
}

http::Response not_found_no() { return answer({CommandOutcome::no, {}, {}}); }

void post_command(DeviceHub& hub, http::Request& request, http::Responder responder) {
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
  // The callback is copyable; the responder is not: share it.
  auto shared = std::make_shared<http::Responder>(std::move(responder));
  try {
    hub.command(*imei, *check.command, *mode, *timeout, [shared](CommandResult result) {
      if (!shared->answered()) shared->send(answer(result));
    });
  } catch (const std::exception& e) {
    // The queue could not be made durable: nothing was promised.
    if (!shared->answered()) shared->send(http::Response::json_error(503, std::string("cannot store the command: ") + e.what()));
  }
}

}  // namespace

http::Router admin_router(DeviceHub& hub, std::string admin_token) {
  http::Router router;
  if (!admin_token.empty()) router.guard(http::bearer_token_guard(std::move(admin_token)));
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
  router.post("/devices/:imei/commands",
              [&hub](http::Request& request, http::Responder responder) { post_command(hub, request, std::move(responder)); });
  http::add_operator_routes(router, [&hub] { return hub.metrics().prometheus(hub.gauges()); });
  return router;
}

}  // namespace asyncore::device

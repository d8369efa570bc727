#include "apps/sync/server_status.h"

#include <asyncore/http/operator.h>

namespace asyncore::sync {
namespace {

json::Object listener_status(ConnectionLimits& limits) {
  return json::Object{{"open", limits.active()},
                      {"max_connections", limits.caps.max_connections},
                      {"max_per_peer", limits.caps.max_per_peer},
                      {"refused", json::Object{{"max_connections", limits.refused(Refusal::max_connections)},
                                               {"max_per_peer", limits.refused(Refusal::max_per_peer)}}}};
}

}  // namespace

json::Value server_status(ConnectionLimits& command, const CommandPort& port, ConnectionLimits& http) {
  json::Object command_status = listener_status(command);
  command_status.append("closed_idle", port.closed_idle);
  command_status.append("closed_slow_line", port.closed_slow_line);
  command_status.append("closed_unread_output", port.closed_output);
  return json::Object{{"ok", true},
                      {"connections", json::Object{{"command", std::move(command_status)}, {"http", listener_status(http)}}}};
}

std::string server_metrics(ConnectionLimits& command, const CommandPort& port, ConnectionLimits& http,
                           std::size_t jobs_running, std::size_t jobs_waiting) {
  std::string out;
  auto family = [&out](const char* name, const char* type, const char* help) { http::metric_family(out, name, type, help); };
  auto sample = [&out](const char* name, std::string_view labels, std::size_t value) {
    http::metric_sample(out, name, static_cast<double>(value), labels);
  };
  const std::pair<const char*, ConnectionLimits*> listeners[] = {{"command", &command}, {"http", &http}};
  family("sync_connections", "gauge", "Connections open now, by listener.");
  for (auto [name, limits] : listeners) sample("sync_connections", "listener=\"" + std::string(name) + "\"", limits->active());
  family("sync_connections_refused_total", "counter", "Connections closed at accept by the caps, by listener and reason.");
  for (auto [name, limits] : listeners) {
    for (auto [reason, refusal] : {std::pair{"max_connections", Refusal::max_connections}, std::pair{"max_per_peer", Refusal::max_per_peer}}) {
      sample("sync_connections_refused_total",
             "listener=\"" + std::string(name) + "\",reason=\"" + reason + "\"", limits->refused(refusal));
    }
  }
  family("sync_command_connections_closed_idle_total", "counter", "Command connections closed by --idle-timeout.");
  sample("sync_command_connections_closed_idle_total", {}, port.closed_idle);
  family("sync_jobs_running", "gauge", "Sync programs running now.");
  sample("sync_jobs_running", {}, jobs_running);
  family("sync_jobs_waiting", "gauge", "Syncs waiting for a free slot (--max-jobs).");
  sample("sync_jobs_waiting", {}, jobs_waiting);
  return out;
}

}  // namespace asyncore::sync

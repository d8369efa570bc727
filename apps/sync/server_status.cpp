#include "apps/sync/server_status.h"

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

}  // namespace asyncore::sync

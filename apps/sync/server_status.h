// GET /api/status: the relay's own state for an operator: for each listener the connections
// open now, its caps and the refusals by reason; for the command port also the connections
// closed for idleness.
//   {"ok":true,"connections":{"command":{"open":1,"max_connections":256,"max_per_peer":64,
//    "refused":{"max_connections":0,"max_per_peer":2},"closed_idle":0},"http":{...}}}
#pragma once
#include <string>

#include "apps/sync/command_channel.h"
#include <asyncore/net/connection_limits.h>
#include <asyncore/json/json.h>

namespace asyncore::sync {

json::Value server_status(ConnectionLimits& command, const CommandPort& port, ConnectionLimits& http);

// GET /metrics (before the process metrics): the same figures and the jobs running and waiting,
// in Prometheus text form; every labelled series is there from the start.
std::string server_metrics(ConnectionLimits& command, const CommandPort& port, ConnectionLimits& http,
                           std::size_t jobs_running, std::size_t jobs_waiting);

}  // namespace asyncore::sync

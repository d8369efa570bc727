// What operators expect of every HTTP-serving program, in one place: the standard Prometheus
// process metrics and the GET /health and GET /metrics routes.
#pragma once
#include <functional>
#include <string>
#include <string_view>

#include <asyncore/http/router.h>

namespace asyncore::http {

// Prometheus text, one piece at a time: a family's HELP and TYPE lines, then its samples
// (labels as written inside the braces: `reason="idle"`).
void metric_family(std::string& out, std::string_view name, std::string_view type, std::string_view help);
void metric_sample(std::string& out, std::string_view name, double value, std::string_view labels = {});

// The standard process metrics in Prometheus text form, read from /proc and getrusage at the
// time of the call: process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_cpu_seconds_total, process_start_time_seconds.
std::string process_metrics();

// Adds GET /health ({"status":"ok"}: the loop answers) and GET /metrics (the program's own
// metrics from `program_metrics`, then the process metrics).
void add_operator_routes(Router& router, std::function<std::string()> program_metrics);

}  // namespace asyncore::http

#include "apps/device/metrics.h"

#include <algorithm>

#include <asyncore/http/operator.h>

namespace asyncore::device {
namespace {

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  http::metric_family(out, name, type, help);
}

void sample(std::string& out, std::string_view name, std::uint64_t value, std::string_view labels = {}) {
  http::metric_sample(out, name, static_cast<double>(value), labels);
}

void labelled(std::string& out, std::string_view name, std::string_view label, const std::map<std::string, std::uint64_t>& values) {
  for (const auto& [key, value] : values) sample(out, name, value, std::string(label) + "=\"" + key + "\"");
}

// Every cluster figure carries the node's name, so several nodes' samples can be put together.
void cluster_samples(std::string& out, const ClusterGauges& c) {
  std::string node = "node=\"";
  for (char ch : c.node) {
    if (ch == '"' || ch == '\\') node += '\\';
    if (ch == '\n') node += "\\n";
    else node += ch;
  }
  node += '"';
  const std::pair<const char*, std::uint64_t> counters[] = {
      {"device_redis_commands_total", c.redis_commands},       {"device_redis_replies_total", c.redis_replies},
      {"device_redis_failures_total", c.redis_failures},       {"device_redis_timeouts_total", c.redis_timeouts},
      {"device_redis_connects_total", c.redis_connects},       {"device_redis_disconnects_total", c.redis_disconnects},
      {"device_cluster_claims_total", c.claims},               {"device_cluster_releases_total", c.releases},
      {"device_cluster_stale_releases_total", c.stale_releases},
      {"device_cluster_remote_takeovers_total", c.remote_takeovers},
      {"device_cluster_write_failures_total", c.write_failures}, {"device_cluster_fenced_total", c.fenced},
      {"device_cluster_reaped_total", c.reaped},
      {"device_cluster_events_dropped_total", c.events_dropped}};
  family(out, "device_cluster_node", "gauge", "1, labelled with this node's name (--node-id).");
  sample(out, "device_cluster_node", 1, node);
  family(out, "device_redis_in_flight", "gauge", "Redis commands written and not yet answered.");
  sample(out, "device_redis_in_flight", c.redis_in_flight, node);
  family(out, "device_redis_held", "gauge", "Redis commands waiting for a connection.");
  sample(out, "device_redis_held", c.redis_held, node);
  family(out, "device_cluster_events_unsent", "gauge", "Events not yet stored in Redis (kept and written again in order).");
  sample(out, "device_cluster_events_unsent", c.events_unsent, node);
  for (const auto& [name, value] : counters) {
    family(out, name, "counter", "Cluster and Redis client figures (see README, Running several nodes).");
    sample(out, name, value, node);
  }
}

}  // namespace

void Metrics::count_command(std::string_view mode, std::string_view result) {
  // The key built on the stack and looked up as a view: every known pair is already in the map.
  constexpr std::string_view kBetween = "\",result=\"";
  char buffer[64];
  if (mode.size() + kBetween.size() + result.size() > sizeof buffer) {
    ++commands_[std::string(mode) + std::string(kBetween) + std::string(result)];
    return;
  }
  char* p = buffer;
  for (std::string_view part : {mode, kBetween, result}) p = std::copy(part.begin(), part.end(), p);
  const std::string_view key(buffer, static_cast<std::size_t>(p - buffer));
  if (last_command_.counter && last_command_.key == key) {
    ++*last_command_.counter;
    return;
  }
  auto it = commands_.find(key);
  if (it == commands_.end()) it = commands_.emplace(std::string(key), 0).first;
  ++it->second;
  last_command_.key = it->first;
  last_command_.counter = &it->second;
}

std::uint64_t Metrics::bad_frames_total() const {
  std::uint64_t total = 0;
  for (const auto& [kind, n] : bad_frames_) total += n;
  return total;
}

std::string Metrics::prometheus(const Gauges& g) const {
  std::string out;
  family(out, "device_online", "gauge", "Devices online now.");
  sample(out, "device_online", g.online);
  family(out, "device_known", "gauge", "Devices in the registry or auto-registered.");
  sample(out, "device_known", g.known);
  family(out, "device_connections", "gauge", "Device connections open now (logged in or not).");
  sample(out, "device_connections", g.connections);
  family(out, "device_connections_accepted_total", "counter", "Device connections accepted.");
  sample(out, "device_connections_accepted_total", accepted_);
  family(out, "device_connections_refused_total", "counter",
         "Connections closed at accept by a listener's caps (--max-connections, --max-per-peer), by listener and reason.");
  for (const auto& [labels, value] : refused_) sample(out, "device_connections_refused_total", value, labels);
  family(out, "device_logins_total", "counter", "Successful logins.");
  sample(out, "device_logins_total", logins_);
  family(out, "device_login_failures_total", "counter", "Refused or abandoned logins, by reason.");
  labelled(out, "device_login_failures_total", "reason", login_failures_);
  family(out, "device_takeovers_total", "counter", "Logins that replaced an older connection of the same device.");
  sample(out, "device_takeovers_total", takeovers_);
  family(out, "device_offline_total", "counter", "Devices going offline, by reason.");
  labelled(out, "device_offline_total", "reason", offline_);
  family(out, "device_frames_in_total", "counter", "Frames received from devices.");
  sample(out, "device_frames_in_total", frames_in_);
  family(out, "device_frames_out_total", "counter", "Frames sent to devices.");
  sample(out, "device_frames_out_total", frames_out_);
  family(out, "device_bad_frames_total", "counter", "Frames that closed their connection, by kind.");
  labelled(out, "device_bad_frames_total", "kind", bad_frames_);
  family(out, "device_bad_requests_total", "counter", "Reports answered 400 (connection kept).");
  sample(out, "device_bad_requests_total", bad_requests_);
  family(out, "device_unknown_instructions_total", "counter", "Reports answered 404.");
  sample(out, "device_unknown_instructions_total", unknown_instructions_);
  family(out, "device_dropped_acks_total", "counter", "Acks that matched no command in flight, or came after their caller gave up.");
  sample(out, "device_dropped_acks_total", dropped_acks_);
  family(out, "device_sent_acks_total", "counter", "Acks of fire-and-forget `send` commands.");
  sample(out, "device_sent_acks_total", sent_acks_);
  family(out, "device_commands_total", "counter", "Commands by mode and result.");
  for (const auto& [key, value] : commands_) sample(out, "device_commands_total", value, "mode=\"" + key + "\"");
  family(out, "device_queued_commands", "gauge", "Commands stored for offline devices.");
  sample(out, "device_queued_commands", g.queued_commands);
  family(out, "device_pending_interactions", "gauge", "Commands waiting for an ack.");
  sample(out, "device_pending_interactions", g.pending_interactions);
  family(out, "device_journal_records", "gauge", "Records in the journal since the last compaction.");
  sample(out, "device_journal_records", g.journal_records);
  family(out, "device_journal_compactions_total", "counter", "Journal compactions.");
  sample(out, "device_journal_compactions_total", g.compactions);

  family(out, "device_auto_registered", "gauge", "Devices recorded by --auto-register (capped by --max-auto-registered).");
  sample(out, "device_auto_registered", g.auto_registered);
  family(out, "device_log_lines_suppressed_total", "counter",
         "Bad-frame and refused-login log lines folded into summaries (--log-summary-interval).");
  sample(out, "device_log_lines_suppressed_total", g.log_lines_suppressed);
  if (g.cluster) cluster_samples(out, *g.cluster);
  return out;
}

}  // namespace asyncore::device

#include "apps/messenger/hub.h"

#include <cstdio>

#include "core/channel_map.h"

namespace asyncore::messenger {

Hub::Hub(std::string_view host, std::uint16_t port, HubOptions options, ChannelMap* map)
    : options_(options), server_(host, port, map) {
  server_.connection_limits().name = "hub listener";
  server_.connection_limits().caps = options_.caps;
  server_.on_connect = [this](const MessengerPtr& m) {
    connections_[m->id()] = m;
    unidentified_[m->id()] =
        server_.map().call_later(options_.identify_timeout, [this, id = m->id()] { identify_deadline_passed(id); });
    log_info("hub: " + m->id() + " connected");
  };
  server_.on_close = [this](const MessengerPtr& m, std::size_t remaining) {
    connections_.erase(m->id());
    if (auto it = unidentified_.find(m->id()); it != unidentified_.end()) {
      it->second.cancel();
      unidentified_.erase(it);
    }
    log_info("hub: " + m->id() + " closed (" + m->close_reason() + "); " + std::to_string(remaining) + " left");
  };
  server_.on_message = [this](const MessengerPtr& m, const Header& header, const std::string&) {
    handle_message(m, header);
  };
  timer_ = server_.map().call_later(options_.interval, [this] { multicast_directory(); });
}

Hub::~Hub() {
  timer_.cancel();
  for (auto& [id, deadline] : unidentified_) deadline.cancel();
}

void Hub::stop() {
  timer_.cancel();
  server_.stop();
}

std::string Hub::limits_summary() const {
  return "connections " + server_.connection_limits().refusal_summary() + "; " +
         std::to_string(never_identified_) + " closed without a report";
}

void Hub::identify_deadline_passed(const std::string& connection_id) {
  unidentified_.erase(connection_id);
  auto it = connections_.find(connection_id);
  if (it == connections_.end()) return;
  ++never_identified_;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%g", options_.identify_timeout);
  const std::string reason = std::string("no report within ") + seconds + " s (--identify-timeout)";
  log_warning("hub: closing " + connection_id + ": " + reason);
  server_.close(it->second, reason);  // on_close forgets it
}

void Hub::handle_message(const MessengerPtr& m, const Header& header) {
  std::string why;
  auto report = parse_report(header, &why);
  if (!report) {
    log_warning("hub: ignoring a message from " + m->id() + ": " + why);
    return;
  }
  if (auto it = unidentified_.find(m->id()); it != unidentified_.end()) {
    it->second.cancel();  // identified: the deadline no longer applies
    unidentified_.erase(it);
  }
  PeerEntry entry{report->name, m->peer().host(), report->port};
  if (directory_.report(entry, m->id(), m->map().now())) {
    log_info("hub: peer " + entry.name + " at " + entry.ip + ":" + std::to_string(entry.port));
  }
}

void Hub::multicast_directory() {
  timer_ = server_.map().call_later(options_.interval, [this] { multicast_directory(); });
  auto alive = directory_.alive(server_.map().now(), options_.alive);
  std::vector<PeerEntry> entries;
  std::vector<MessengerPtr> targets;
  for (const auto& record : alive) {
    entries.push_back(record.entry);
    if (auto it = connections_.find(record.connection_id); it != connections_.end()) targets.push_back(it->second);
  }
  if (targets.empty()) return;
  std::size_t sent = server_.multicast(targets, Header{{std::string(kBroadcastKey), ""}}, encode_directory(entries));
  log_debug("hub: directory of " + std::to_string(entries.size()) + " sent to " + std::to_string(sent) + " peers");
}

}  // namespace asyncore::messenger

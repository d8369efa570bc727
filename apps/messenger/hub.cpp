#include "apps/messenger/hub.h"

#include "core/channel_map.h"

namespace asyncore::messenger {

Hub::Hub(std::string_view host, std::uint16_t port, HubOptions options, ChannelMap* map)
    : options_(options), server_(host, port, map) {
  server_.on_connect = [this](const MessengerPtr& m) {
    connections_[m->id()] = m;
    log_info("hub: " + m->id() + " connected");
  };
  server_.on_close = [this](const MessengerPtr& m, std::size_t remaining) {
    connections_.erase(m->id());
    log_info("hub: " + m->id() + " closed (" + m->close_reason() + "); " + std::to_string(remaining) + " left");
  };
  server_.on_message = [this](const MessengerPtr& m, const Header& header, const std::string&) {
    handle_message(m, header);
  };
  timer_ = server_.map().call_later(options_.interval, [this] { multicast_directory(); });
}

Hub::~Hub() { timer_.cancel(); }

void Hub::stop() {
  timer_.cancel();
  server_.stop();
}

void Hub::handle_message(const MessengerPtr& m, const Header& header) {
  std::string why;
  auto report = parse_report(header, &why);
  if (!report) {
    log_warning("hub: ignoring a message from " + m->id() + ": " + why);
    return;
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

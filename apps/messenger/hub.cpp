#include "apps/messenger/hub.h"


#include <asyncore/channel_map.h>
#include <asyncore/log_escape.h>
#include <asyncore/secret.h>

namespace asyncore::messenger {

Hub::Hub(std::string_view host, std::uint16_t port, HubOptions options, ChannelMap* map)
    : options_(options),
      server_(host, port, map, options.connection),
      directory_(options.limits),
      connection_log_(server_.map(), LogLevel::info, "connections opened or closed", 10.0),
      refused_log_(server_.map(), LogLevel::warning, "refused or ignored reports", 10.0) {
  server_.connection_limits().name = "hub listener";
  server_.set_connection_caps(options_.caps);
  server_.on_connect = [this](const MessengerPtr& m) {
    connections_[m->id()] = m;
    unidentified_[m->id()] =
        server_.map().call_later(options_.identify_timeout, [this, id = m->id()] { identify_deadline_passed(id); });
    if (connection_log_.admit()) log_info("hub: " + m->id() + " connected");
  };
  server_.on_close = [this](const MessengerPtr& m, std::size_t remaining) {
    connections_.erase(m->id());
    if (shared_) {
      if (std::string name = directory_.name_of(m->id()); !name.empty()) shared_->release(name, m->id());
    }
    directory_.forget_connection(m->id());  // its name is free at once
    claiming_.erase(m->id());
    held_elsewhere_.erase(m->id());
    if (auto it = unidentified_.find(m->id()); it != unidentified_.end()) {
      it->second.cancel();
      unidentified_.erase(it);
    }
    if (connection_log_.admit()) {
      log_info("hub: " + m->id() + " closed (" + log_escape(m->close_reason()) + "); " + std::to_string(remaining) + " left");
    }
  };
  server_.on_message = [this](const MessengerPtr& m, const Header& header, const std::string&) {
    handle_message(m, header);
  };
  timer_ = server_.map().call_later(options_.interval, [this] { multicast_directory(); });
  if (!options_.shared.redis.empty()) {
    shared_ = std::make_unique<SharedDirectory>(server_.map(), options_.shared, options_.limits, options_.alive);
    shared_->start();
  }
}

Hub::~Hub() {
  timer_.cancel();
  for (auto& [id, deadline] : unidentified_) deadline.cancel();
}

void Hub::stop() {
  timer_.cancel();
  connection_log_.flush();
  refused_log_.flush();
  server_.stop();
}

void Hub::leave(std::function<void()> done) {
  if (!shared_) return done();
  shared_->stop(std::move(done));
}

std::string Hub::limits_summary() const {
  return "connections " + server_.connection_limits().refusal_summary() + "; " +
         std::to_string(never_identified_) + " closed without a report; " + std::to_string(refused_reports_) +
         " reports refused";
}

void Hub::identify_deadline_passed(const std::string& connection_id) {
  unidentified_.erase(connection_id);
  auto it = connections_.find(connection_id);
  if (it == connections_.end()) return;
  ++never_identified_;
  const std::string reason = "no report within " + describe_seconds(options_.identify_timeout) + " (--identify-timeout)";
  log_warning("hub: closing " + connection_id + ": " + reason);
  server_.close(it->second, reason);  // on_close forgets it
}

void Hub::handle_message(const MessengerPtr& m, const Header& header) {
  std::string why;
  auto report = parse_report(header, &why);
  if (!report) {
    if (refused_log_.admit()) log_warning("hub: ignoring a message from " + m->id() + ": " + log_escape(why));
    return;
  }
  if (!options_.token.empty()) {
    const std::string* token = header.find(kTokenKey);
    if (!token || !tokens_equal(*token, options_.token)) {
      ++refused_reports_;
      if (refused_log_.admit()) {
        log_warning("hub: refused " + m->id() + " as peer " + log_escape(report->name) + ": " +
                    (token ? "wrong Token" : "no Token (--token-file)"));
      }
      return;
    }
  }
  if (auto it = unidentified_.find(m->id()); it != unidentified_.end()) {
    it->second.cancel();  // identified: the deadline no longer applies
    unidentified_.erase(it);
  }
  PeerEntry entry{report->name, m->peer().host(), report->port};
  if (auto it = held_elsewhere_.find(m->id()); it != held_elsewhere_.end() && it->second == entry.name) {
    ++refused_reports_;  // said once already (refused_elsewhere)
    return;
  }
  const std::string old_name = shared_ ? directory_.name_of(m->id()) : std::string();
  const auto outcome = directory_.report(entry, m->id(), m->map().now());
  if (!Directory::accepted(outcome)) {
    ++refused_reports_;
    if (refused_log_.admit()) {
      std::string owner;
      if (const auto* record = directory_.find(entry.name); record && outcome == Directory::Outcome::name_taken) {
        owner = " (held by " + record->connection_id + ")";
      }
      log_warning("hub: refused " + m->id() + " as peer " + log_escape(entry.name) + ": " +
                  std::string(Directory::describe(outcome)) + owner);
    }
    return;
  }
  if (outcome == Directory::Outcome::unchanged) return;
  if (connection_log_.admit()) {
    log_info("hub: peer " + log_escape(entry.name) + " at " + entry.ip + ":" + std::to_string(entry.port));
  }
  if (!shared_) return;
  auto answered = [this, id = m->id(), name = entry.name](std::optional<Directory::Outcome> outcome) {
    claiming_.erase(id);
    if (outcome && !Directory::accepted(*outcome)) refused_elsewhere(id, name, *outcome);
  };
  if (claiming_.count(m->id())) return;
  if (shared_->claim(*directory_.find(entry.name), old_name, std::move(answered))) claiming_.insert(m->id());
}

void Hub::refused_elsewhere(const std::string& connection_id, const std::string& name, Directory::Outcome outcome) {
  if (name.empty() || directory_.name_of(connection_id) != name) return;  // renamed or gone meanwhile
  directory_.forget_connection(connection_id);
  held_elsewhere_[connection_id] = name;
  ++refused_reports_;
  if (refused_log_.admit()) {
    log_warning("hub: refused " + connection_id + " as peer " + log_escape(name) + ": " +
                std::string(Directory::describe(outcome)) + " (the directory shared with other hubs)");
  }
}

void Hub::multicast_directory() {
  timer_ = server_.map().call_later(options_.interval, [this] { multicast_directory(); });
  const Clock::time_point now = server_.map().now();
  auto alive = directory_.alive(now, options_.alive);
  if (shared_) {
    if (sync_in_flight_) return;  // a slow Redis: that sync's answer sends the directory
    // Answered within one interval, or the local directory goes out instead.
    sync_in_flight_ = shared_->sync(alive, now, options_.interval, [this](auto shared, auto lost) {
      sync_in_flight_ = false;
      held_elsewhere_.clear();  // the directory may have room, or the name be free, again
      for (const auto& [id, outcome] : lost) refused_elsewhere(id, directory_.name_of(id), outcome);
      if (shared) return send_directory(*shared);
      std::vector<PeerEntry> local;
      for (const auto& record : directory_.alive(server_.map().now(), options_.alive)) local.push_back(record.entry);
      send_directory(local);
    });
    if (sync_in_flight_) return;
  }
  std::vector<PeerEntry> entries;
  for (const auto& record : alive) entries.push_back(record.entry);
  send_directory(entries);
}

void Hub::send_directory(const std::vector<PeerEntry>& entries) {
  std::vector<MessengerPtr> targets;
  for (const auto& record : directory_.alive(server_.map().now(), options_.alive)) {
    if (claiming_.count(record.connection_id)) continue;
    if (auto it = connections_.find(record.connection_id); it != connections_.end()) targets.push_back(it->second);
  }
  if (targets.empty()) return;
  std::string body = encode_directory(entries);
  if (body.size() > kDefaultMaxBody) {  // --max-peers is bounded so this cannot happen; never send it
    log_error("hub: the directory is " + std::to_string(body.size()) + " bytes, above what peers accept; not sent");
    return;
  }
  std::size_t sent = server_.multicast(targets, Header{{std::string(kBroadcastKey), ""}}, body);
  log_debug("hub: directory of " + std::to_string(entries.size()) + " sent to " + std::to_string(sent) + " peers");
}

}  // namespace asyncore::messenger

#include "apps/messenger/endpoint.h"

#include <algorithm>

#include <asyncore/channel_map.h>

namespace asyncore::messenger {

MessengerEndpoint::MessengerEndpoint(ChannelMap* map, MessengerLimits limits)
    : map_(map ? map : &socket_map()),
      limits_(limits),
      partial_input_(limits.max_partial_input),
      peer_log_(*map_, LogLevel::warning, "connections closed for their frames", 10.0) {}

MessengerEndpoint::~MessengerEndpoint() {
  peer_log_.flush();
  for (auto* list : {&messengers_, &pending_}) {
    for (const MessengerPtr& m : *list) {
      m->detach();
      m->disconnect("endpoint destroyed");
    }
  }
}

MessengerPtr MessengerEndpoint::find(std::string_view id) const {
  for (const MessengerPtr& m : messengers_) {
    if (m->id() == id) return m;
  }
  return nullptr;
}

bool MessengerEndpoint::send(const MessengerPtr& m, const Header& header, std::string_view body) {
  auto frame = std::make_shared<const std::string>(encode_frame(header, body));  // may throw: nothing sent
  return m && m->send_frame(std::move(frame));
}

std::size_t MessengerEndpoint::broadcast(const Header& header, std::string_view body) {
  return multicast(messengers_, header, body);
}

std::size_t MessengerEndpoint::multicast(const std::vector<MessengerPtr>& targets, const Header& header,
                                         std::string_view body) {
  auto frame = std::make_shared<const std::string>(encode_frame(header, body));
  // A copy: a failing send closes its connection, which edits messengers_ during the loop.
  const std::vector<MessengerPtr> snapshot = targets;
  std::size_t delivered = 0;
  for (const MessengerPtr& m : snapshot) {
    if (m && m->send_frame(frame)) ++delivered;
  }
  return delivered;
}

bool MessengerEndpoint::send_probe(const MessengerPtr& m) { return m && m->send_probe(); }

void MessengerEndpoint::close(const MessengerPtr& m, std::string reason) {
  if (m) m->disconnect(std::move(reason));
}

void MessengerEndpoint::close_all(std::string reason) {
  for (auto* list : {&messengers_, &pending_}) {
    const std::vector<MessengerPtr> snapshot = *list;
    for (const MessengerPtr& m : snapshot) m->disconnect(reason);
  }
}

MessengerPtr MessengerEndpoint::adopt_accepted(Fd socket) {
  auto m = make<Messenger>(std::move(socket), static_cast<MessengerEvents*>(this), limits_, map_);
  add_established(m);
  return m;
}

MessengerPtr MessengerEndpoint::new_outgoing() {
  auto m = std::make_shared<Messenger>(static_cast<MessengerEvents*>(this), limits_, map_);
  pending_.push_back(m);
  return m;
}

void MessengerEndpoint::add_established(const MessengerPtr& m) {
  remove(pending_, m);
  messengers_.push_back(m);
}

bool MessengerEndpoint::remove(std::vector<MessengerPtr>& list, const MessengerPtr& m) {
  auto it = std::find(list.begin(), list.end(), m);
  if (it == list.end()) return false;
  list.erase(it);
  return true;
}

void MessengerEndpoint::messenger_message(const MessengerPtr& m) {
  if (on_message) on_message(m, m->header(), m->body());
}

void MessengerEndpoint::messenger_partial(Messenger& m, std::size_t before, std::size_t now) {
  partial_input_.changed(m, before, now, [this](Messenger& largest, std::size_t held) {
    const std::string reason = "its unfinished frame holds " + std::to_string(held) + " bytes, the most while " +
                               std::to_string(partial_input_.total()) + " bytes of unfinished frames passed the budget of " +
                               std::to_string(limits_.max_partial_input) + " (max partial input)";
    if (peer_log_.admit()) log_warning("messenger " + largest.id() + ": " + reason + "; closing");
    largest.disconnect(reason);  // reports its share back through here
  });
}

void MessengerEndpoint::messenger_closed(const MessengerPtr& m) {
  remove(pending_, m);
  if (!remove(messengers_, m)) return;
  log_debug("messenger " + m->id() + " closed: " + m->close_reason());
  if (on_close) on_close(m, messengers_.size());
}

}  // namespace asyncore::messenger

#include "apps/messenger/client.h"

#include <algorithm>

namespace asyncore::messenger {

MessengerClient::MessengerClient(ChannelMap* map, MessengerLimits limits) : MessengerEndpoint(map, limits) {}

MessengerPtr MessengerClient::add_connection(std::string_view host, std::uint16_t port) {
  MessengerPtr m = new_outgoing();
  try {
    m->start_connect(Address::resolve(host, port));
  } catch (const std::exception& e) {
    m->disconnect(std::string("connect ") + std::string(host) + ":" + std::to_string(port) + ": " + e.what());
  }
  return m;
}

void MessengerClient::messenger_connected(const MessengerPtr& m) {
  add_established(m);
  log_debug("messenger " + m->id() + " connected");
  if (on_connect_success) on_connect_success(m);
}

void MessengerClient::messenger_connect_failed(const MessengerPtr& m, const std::string& reason) {
  auto it = std::find(pending_.begin(), pending_.end(), m);
  if (it != pending_.end()) pending_.erase(it);
  log_debug("messenger " + m->id() + " connect failed: " + reason);
  if (on_connect_fail) on_connect_fail(m, reason);
}

}  // namespace asyncore::messenger

#include "apps/device/device_listener.h"

#include "apps/device/session.h"
#include "core/log.h"

namespace asyncore::device {

DeviceListener::DeviceListener(const Address& address, DeviceHub& hub) : Dispatcher(&hub.map()), hub_(hub) {
  create_socket(address.family());
  set_reuse_addr();
  bind(address);
  listen(4096);  // a login storm arrives all at once
  accept_batch = 256;
}

void DeviceListener::handle_accepted(Fd socket, const Address& peer) {
  if (hub_.shutting_down()) return;
  const std::size_t limit = hub_.options().max_connections;
  if (limit && hub_.connections() >= limit) {
    // Closed at once (the Fd goes out of scope): every peer could otherwise hold an fd and a
    // session each. One log line per episode, not one per refused connection.
    hub_.metrics().count_refused();
    if (!refusing_) log_warning("device listener: " + std::to_string(limit) + " connections open (--max-connections); refusing new ones, e.g. from " + peer.to_string());
    refusing_ = true;
    return;
  }
  if (refusing_) log_info("device listener: accepting connections again");
  refusing_ = false;
  make<DeviceSession>(std::move(socket), peer, hub_);
}

}  // namespace asyncore::device

#include "apps/device/device_listener.h"

#include "apps/device/session.h"
#include <asyncore/log.h>

namespace asyncore::device {

DeviceListener::DeviceListener(const Address& address, DeviceHub& hub, ConnectionCaps caps, bool reuse_port)
    : Dispatcher(&hub.map()), hub_(hub), limits_("device listener", hub.map(), caps) {
  set_interest(Interest::declared);  // a listener's answers change only with a re-check
  limits_.on_refused = [&metrics = hub.metrics()](Refusal reason) { metrics.count_refused("device", refusal_name(reason)); };
  create_socket(address.family());
  set_reuse_addr();
  if (reuse_port) set_reuse_port();
  bind(address);
  listen(4096);  // a login storm arrives all at once
  accept_batch = 256;
}

void DeviceListener::handle_accepted(Fd socket, const Address& peer) {
  if (hub_.shutting_down()) return;
  // A refused connection closes at once (the Fd goes out of scope): every peer could otherwise
  // hold an fd and a session each.
  if (!limits_.admit(peer)) return;
  const int fd = socket.get();
  make<DeviceSession>(std::move(socket), peer, hub_);
  limits_.track(fd, peer);
}

}  // namespace asyncore::device

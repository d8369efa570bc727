#include "apps/device/device_listener.h"

#include "apps/device/session.h"

namespace asyncore::device {

DeviceListener::DeviceListener(const Address& address, DeviceHub& hub) : Dispatcher(&hub.map()), hub_(hub) {
  create_socket(address.family());
  set_reuse_addr();
  bind(address);
  listen(4096);  // a login storm arrives all at once
  accept_batch = 256;
}

void DeviceListener::handle_accepted(Fd socket, const Address&) {
  if (hub_.shutting_down()) return;
  make<DeviceSession>(std::move(socket), hub_);
}

}  // namespace asyncore::device

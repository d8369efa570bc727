// The device port: accepts connections and gives each its own DeviceSession. Connections past
// the caps (--max-connections, --max-per-peer) are closed at accept, counted in the metrics as
// device_connections_refused_total{listener="device",reason=...} and logged (rate-limited).
#pragma once
#include "apps/device/hub.h"
#include <asyncore/dispatcher.h>
#include <asyncore/net/connection_limits.h>

namespace asyncore::device {

class DeviceListener final : public Dispatcher {
 public:
  // reuse_port: the port is shared with sibling worker processes (--workers).
  DeviceListener(const Address& address, DeviceHub& hub, ConnectionCaps caps = {}, bool reuse_port = false);
  void handle_accepted(Fd socket, const Address& peer) override;
  ConnectionLimits& limits() { return limits_; }

 private:
  DeviceHub& hub_;
  ConnectionLimits limits_;
};

}  // namespace asyncore::device

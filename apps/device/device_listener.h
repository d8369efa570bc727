// The device port: accepts connections and gives each its own DeviceSession.
#pragma once
#include "apps/device/hub.h"
#include "core/dispatcher.h"

namespace asyncore::device {

class DeviceListener final : public Dispatcher {
 public:
  DeviceListener(const Address& address, DeviceHub& hub);
  void handle_accepted(Fd socket, const Address& peer) override;

 private:
  DeviceHub& hub_;
  bool refusing_ = false;  // in an episode of refusals: logged once when it starts and ends
};

}  // namespace asyncore::device

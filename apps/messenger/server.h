// MessengerServer: listens on host:port and keeps every accepted connection as a Messenger
// (the original module's Server, without threads or locks: it all runs on the loop).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "apps/messenger/endpoint.h"
#include <asyncore/net/connection_limits.h>

namespace asyncore::messenger {

class MessengerServer : public MessengerEndpoint {
 public:
  // Binds and listens at once; throws std::system_error when it cannot.
  MessengerServer(std::string_view host, std::uint16_t port, ChannelMap* map = nullptr, MessengerLimits limits = {});
  ~MessengerServer() override;

  const Address& address() const { return address_; }  // the bound address (real port)
  // Admission caps (none by default): connections past them are closed at accept, before any
  // Messenger exists, counted and logged. Set caps and the log name here.
  ConnectionLimits& connection_limits() { return admission_; }
  const ConnectionLimits& connection_limits() const { return admission_; }
  // Stops accepting and closes every connection (each reported through on_close).
  void stop();

  std::function<void(const MessengerPtr&)> on_connect;

 protected:
  void messenger_connected(const MessengerPtr&) override {}
  void messenger_connect_failed(const MessengerPtr&, const std::string&) override {}

 private:
  class Listener;
  void accepted(Fd socket, const Address& peer);
  std::shared_ptr<Listener> listener_;
  Address address_;
  ConnectionLimits admission_;
};

}  // namespace asyncore::messenger

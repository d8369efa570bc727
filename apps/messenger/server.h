// MessengerServer: listens on host:port and keeps every accepted connection as a Messenger
// (the original module's Server, without threads or locks: it all runs on the loop).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "apps/messenger/endpoint.h"
#include <asyncore/net/tcp_server.h>

namespace asyncore::messenger {

class MessengerServer : public MessengerEndpoint {
 public:
  // Binds and listens at once; throws std::system_error when it cannot.
  MessengerServer(std::string_view host, std::uint16_t port, ChannelMap* map = nullptr, MessengerLimits limits = {});
  ~MessengerServer() override;

  const Address& address() const { return listener_->server_address; }  // the bound address (real port)
  // Admission caps (none by default): connections past them are closed at accept, before any
  // Messenger exists, counted and logged.
  void set_connection_caps(ConnectionCaps caps) { listener_->set_caps(caps); }
  // The refusal counters; set the log name here.
  ConnectionLimits& connection_limits() { return listener_->limits(); }
  const ConnectionLimits& connection_limits() const { return listener_->limits(); }
  // Stops accepting and closes every connection (each reported through on_close).
  void stop();

  std::function<void(const MessengerPtr&)> on_connect;

 protected:
  void messenger_connected(const MessengerPtr&) override {}
  void messenger_connect_failed(const MessengerPtr&, const std::string&) override {}

 private:
  void accepted(Fd socket);
  std::shared_ptr<TcpServer> listener_;
};

}  // namespace asyncore::messenger

// MessengerClient: several outgoing messenger connections at once (the original module's
// Client). Connections are made without blocking; the callbacks tell how each one went.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "apps/messenger/endpoint.h"

namespace asyncore::messenger {

class MessengerClient : public MessengerEndpoint {
 public:
  explicit MessengerClient(ChannelMap* map = nullptr, MessengerLimits limits = {});

  // Starts connecting; the messenger joins messengers() once on_connect_success runs. A failure
  // (refused, unresolvable host, ...) calls on_connect_fail, possibly before this returns.
  // Messages sent meanwhile are queued and go out once connected.
  MessengerPtr add_connection(std::string_view host, std::uint16_t port);
  std::size_t connecting() const { return pending_.size(); }

  std::function<void(const MessengerPtr&)> on_connect_success;
  std::function<void(const MessengerPtr&, const std::string& reason)> on_connect_fail;

 protected:
  void messenger_connected(const MessengerPtr& m) override;
  void messenger_connect_failed(const MessengerPtr& m, const std::string& reason) override;
};

}  // namespace asyncore::messenger

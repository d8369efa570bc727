// The directory hub (the original ip_server): records the peers' reports and every `interval`
// seconds multicasts the list of alive peers to each of them.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "apps/messenger/directory.h"
#include "apps/messenger/server.h"

namespace asyncore::messenger {

struct HubOptions {
  double interval = 2.0;  // seconds between directory multicasts
  double alive = 3000.0;  // a peer is listed while its last report is at most this old
};

class Hub {
 public:
  Hub(std::string_view host, std::uint16_t port, HubOptions options, ChannelMap* map = nullptr);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  const Address& address() const { return server_.address(); }
  void stop();  // stops accepting, closes every peer, stops the timer

 private:
  void handle_message(const MessengerPtr& m, const Header& header);
  void multicast_directory();

  HubOptions options_;
  MessengerServer server_;
  Directory directory_;
  std::unordered_map<std::string, MessengerPtr> connections_;  // by connection id
  TimerHandle timer_;
};

}  // namespace asyncore::messenger

// UdpDispatcher: a datagram socket in the loop, IPv4 or IPv6, with Python's sendto(data,
// address) and recvfrom(bufsize) -> (data, address). Override handle_read() and call
// recvfrom() until it returns nothing.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include <asyncore/dispatcher.h>

namespace asyncore {

struct Datagram {
  std::string data;
  Address from;
  bool truncated = false;  // the datagram was longer than the buffer; the rest is lost
};

class UdpDispatcher : public Dispatcher {
 public:
  explicit UdpDispatcher(ChannelMap* map = nullptr) : Dispatcher(map) {}
  // Creates a socket of the address's family and binds it (port 0: any free port; see addr).
  explicit UdpDispatcher(const Address& bind_address, ChannelMap* map = nullptr);

  void create_socket(int family = AF_INET) { Dispatcher::create_socket(family, SOCK_DGRAM); }
  // Sends one datagram; returns data.size(), or 0 when the socket buffer is full (not sent).
  // Errors (an address of the wrong family, a datagram too large) throw, naming the address.
  size_t sendto(std::string_view data, const Address& to);
  // The next waiting datagram, or nullopt when none is waiting.
  std::optional<Datagram> recvfrom(size_t buffer_size = 65536);
};
using udp_dispatcher = UdpDispatcher;

}  // namespace asyncore

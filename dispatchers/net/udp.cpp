#include <asyncore/net/udp.h>

#include <errno.h>
#include <sys/socket.h>

#include <system_error>

namespace asyncore {

UdpDispatcher::UdpDispatcher(const Address& bind_address, ChannelMap* map) : Dispatcher(map) {
  set_interest(Interest::declared);  // readable()/writable() change only with a re-check
  create_socket(bind_address.family());
  bind(bind_address);
}

size_t UdpDispatcher::sendto(std::string_view data, const Address& to) {
  const auto raw = to.raw();
  for (;;) {
    ssize_t n = ::sendto(fileno(), data.data(), data.size(), MSG_NOSIGNAL, raw.get(), raw.length);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return 0;
    throw std::system_error(errno, std::generic_category(),
                            "sendto " + to.to_string() + " (" + std::to_string(data.size()) + " bytes)");
  }
}

std::optional<Datagram> UdpDispatcher::recvfrom(size_t buffer_size) {
  Datagram d;
  d.data.resize(buffer_size);
  sockaddr_storage from{};
  for (;;) {
    socklen_t from_length = sizeof from;
    // MSG_TRUNC: the datagram's real length, so a short buffer is noticed, not silent.
    ssize_t n = ::recvfrom(fileno(), d.data.data(), d.data.size(), MSG_TRUNC, reinterpret_cast<sockaddr*>(&from),
                           &from_length);
    if (n >= 0) {
      d.truncated = static_cast<size_t>(n) > buffer_size;
      d.data.resize(d.truncated ? buffer_size : static_cast<size_t>(n));
      d.from = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&from), from_length);
      return d;
    }
    if (errno == EINTR) continue;
    // ECONNREFUSED: an ICMP error from an earlier sendto; nothing to read now.
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNREFUSED) return std::nullopt;
    throw std::system_error(errno, std::generic_category(), "recvfrom on " + addr.to_string());
  }
}

}  // namespace asyncore

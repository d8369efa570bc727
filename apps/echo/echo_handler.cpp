#include "apps/echo/echo_handler.h"

namespace asyncore::echo {

void EchoHandler::handle_read() {
  char buffer[64 * 1024];
  size_t n = recv_into(buffer, sizeof buffer);
  if (n > 0) send(std::string_view(buffer, n));
}

EchoServer::EchoServer(const Address& address, ChannelMap* map, ConnectionCaps caps)
    : Dispatcher(map), limits_("echo listener", this->map(), caps) {
  set_interest(Interest::declared);  // a listener's answers change only with a re-check
  create_socket(address.family());
  set_reuse_addr();
  bind(address);
  listen(1024);
}

void EchoServer::handle_accepted(Fd socket, const Address& peer) {
  if (!limits_.admit(peer)) return;  // the socket closes here
  const int fd = socket.get();
  make<EchoHandler>(std::move(socket), peer, &map());
  limits_.track(fd, peer);
}

}  // namespace asyncore::echo

#include "apps/echo/echo_handler.h"

namespace asyncore::echo {

void EchoHandler::handle_read() {
  char buffer[64 * 1024];
  size_t n = recv_into(buffer, sizeof buffer);
  if (n > 0) send(std::string_view(buffer, n));
}

std::shared_ptr<TcpServer> listen_echo(const Address& address, ChannelMap& map, ConnectionCaps caps) {
  return make_server(address, [&map](Fd socket, const Address& peer) { make<EchoHandler>(std::move(socket), peer, &map); },
                     {.name = "echo listener", .caps = caps, .backlog = 1024}, &map);
}

}  // namespace asyncore::echo

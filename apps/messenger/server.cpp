#include "apps/messenger/server.h"

namespace asyncore::messenger {

MessengerServer::MessengerServer(std::string_view host, std::uint16_t port, ChannelMap* map, MessengerLimits limits)
    : MessengerEndpoint(map, limits) {
  // The listener is the map's while it listens; its factory calls back here, and the listener is
  // closed before this object goes.
  listener_ = make_server(Address::resolve(host, port), [this](Fd socket, const Address&) { accepted(std::move(socket)); },
                          {.backlog = 1024}, &this->map());
  listener_->limits().name = "messenger listener " + address().to_string();
}

MessengerServer::~MessengerServer() { listener_->server_close(); }

void MessengerServer::stop() {
  listener_->server_close();
  close_all("server stopped");
}

void MessengerServer::accepted(Fd socket) {
  // A throw here is the listener's request error: logged, that connection dropped.
  MessengerPtr m = adopt_accepted(std::move(socket));
  log_debug("messenger " + m->id() + " connected");
  if (on_connect) on_connect(m);
}

}  // namespace asyncore::messenger

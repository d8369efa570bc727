#include "apps/messenger/server.h"

namespace asyncore::messenger {

class MessengerServer::Listener final : public Dispatcher {
 public:
  Listener(MessengerServer* server, ChannelMap* map) : Dispatcher(map), server_(server) {}
  void handle_accepted(Fd socket, const Address&) override {
    if (server_) server_->accepted(std::move(socket));
  }
  void handle_close() override { close(); }
  MessengerServer* server_;
};

MessengerServer::MessengerServer(std::string_view host, std::uint16_t port, ChannelMap* map, MessengerLimits limits)
    : MessengerEndpoint(map, limits) {
  Address wanted = Address::resolve(host, port);
  listener_ = std::make_shared<Listener>(this, &this->map());
  listener_->create_socket(wanted.family());
  listener_->set_reuse_addr();
  listener_->bind(wanted);
  listener_->listen(1024);
  address_ = listener_->addr;
}

MessengerServer::~MessengerServer() {
  listener_->server_ = nullptr;
  listener_->close();
}

void MessengerServer::stop() {
  listener_->close();
  close_all("server stopped");
}

void MessengerServer::accepted(Fd socket) {
  MessengerPtr m;
  try {
    m = adopt_accepted(std::move(socket));
  } catch (const std::exception& e) {
    log_warning(std::string("messenger server: cannot adopt a connection: ") + e.what());
    return;
  }
  log_debug("messenger " + m->id() + " connected");
  if (on_connect) on_connect(m);
}

}  // namespace asyncore::messenger

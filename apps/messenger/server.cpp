#include "apps/messenger/server.h"

namespace asyncore::messenger {

class MessengerServer::Listener final : public Dispatcher {
 public:
  Listener(MessengerServer* server, ChannelMap* map) : Dispatcher(map), server_(server) {
    set_interest(Interest::declared);  // a listener's answers change only with a re-check
  }
  void handle_accepted(Fd socket, const Address& peer) override {
    if (server_) server_->accepted(std::move(socket), peer);
  }
  void handle_close() override { close(); }
  MessengerServer* server_;
};

MessengerServer::MessengerServer(std::string_view host, std::uint16_t port, ChannelMap* map, MessengerLimits limits)
    : MessengerEndpoint(map, limits), admission_("messenger listener", this->map()) {
  Address wanted = Address::resolve(host, port);
  listener_ = std::make_shared<Listener>(this, &this->map());
  listener_->create_socket(wanted.family());
  listener_->set_reuse_addr();
  listener_->bind(wanted);
  listener_->listen(1024);
  address_ = listener_->addr;
  admission_.name = "messenger listener " + address_.to_string();
}

MessengerServer::~MessengerServer() {
  listener_->server_ = nullptr;
  listener_->close();
}

void MessengerServer::stop() {
  listener_->close();
  close_all("server stopped");
}

void MessengerServer::accepted(Fd socket, const Address& peer) {
  if (!admission_.admit(peer)) return;  // the socket closes here
  const int fd = socket.get();
  MessengerPtr m;
  try {
    m = adopt_accepted(std::move(socket));
    admission_.track(fd, peer);
  } catch (const std::exception& e) {
    log_warning(std::string("messenger server: cannot adopt a connection: ") + e.what());
    return;
  }
  log_debug("messenger " + m->id() + " connected");
  if (on_connect) on_connect(m);
}

}  // namespace asyncore::messenger

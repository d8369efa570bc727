#include <asyncore/twisted/tcp_port.h>

#include <asyncore/channel_map.h>
#include <asyncore/twisted/tcp_connection.h>

namespace asyncore {

ListeningPort::ListeningPort(const Address& address, std::shared_ptr<Factory> factory, int backlog, ChannelMap* map)
    : Dispatcher(map), factory_(std::move(factory)) {
  set_interest(Interest::declared);  // readable()/writable() change only with a re-check
  if (!factory_) throw std::invalid_argument("listen_tcp " + address.to_string() + ": no factory given");
  create_socket(address.family());
  set_reuse_addr();
  bind(address);
  listen(backlog);
  host_ = addr;
  listening_ = true;
  factory_->do_start();
}

void ListeningPort::stop_listening() {
  if (!listening_) return;
  listening_ = false;
  close();
  factory_->do_stop();
}

void ListeningPort::handle_accepted(Fd socket, const Address& peer) {
  std::shared_ptr<Protocol> protocol;
  try {
    protocol = factory_->build_protocol(peer);
  } catch (const std::exception& error) {
    log_error(type_name(typeid(error)) + ": " + error.what() + " in build_protocol for " + peer.to_string() + " on " + host_.to_string());
    return;  // the socket closes as it goes out of scope
  }
  if (!protocol) return;  // the factory refused this peer
  make<TcpConnection>(std::move(socket), factory_, &map())->start(std::move(protocol));
}

void ListeningPort::handle_error(const std::exception& error) {
  log_error(type_name(typeid(error)) + ": " + error.what() + " on port " + host_.to_string() + "; no longer listening");
  stop_listening();
}

std::shared_ptr<ListeningPort> listen_tcp(uint16_t port, std::shared_ptr<Factory> factory, int backlog,
                                          std::string_view interface, ChannelMap* map) {
  return make<ListeningPort>(Address::resolve(interface, port), std::move(factory), backlog, map);
}

}  // namespace asyncore

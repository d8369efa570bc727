#include <asyncore/twisted/tcp_port.h>

#include <asyncore/channel_map.h>
#include <asyncore/twisted/tcp_connection.h>

namespace asyncore {

ListeningPort::ListeningPort(const Address& address, std::shared_ptr<Factory> factory, int backlog, ChannelMap* map)
    : TcpServer(address, map), factory_(std::move(factory)) {
  if (!factory_) throw std::invalid_argument("listen_tcp " + address.to_string() + ": no factory given");
  request_queue_size = backlog;
  start();
  listening_ = true;
  factory_->do_start();
}

void ListeningPort::stop_listening() {
  if (!listening_) return;
  listening_ = false;
  server_close();
  factory_->do_stop();
}

void ListeningPort::process_request(Fd socket, const Address& peer) {
  // A build_protocol that throws is TcpServer's request error: logged, that connection dropped.
  std::shared_ptr<Protocol> protocol = factory_->build_protocol(peer);
  if (!protocol) return;  // the factory refused this peer; the socket closes here
  make<TcpConnection>(std::move(socket), factory_, &map())->start(std::move(protocol));
}

void ListeningPort::handle_error(const std::exception& error) {
  log_error(type_name(typeid(error)) + ": " + error.what() + " on port " + server_address.to_string() + "; no longer listening");
  stop_listening();
}

std::shared_ptr<ListeningPort> listen_tcp(uint16_t port, std::shared_ptr<Factory> factory, int backlog,
                                          std::string_view interface, ChannelMap* map) {
  return make<ListeningPort>(Address::resolve(interface, port), std::move(factory), backlog, map);
}

}  // namespace asyncore

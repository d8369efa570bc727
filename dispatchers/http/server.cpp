#include <asyncore/http/server.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

namespace asyncore::http {

HttpServer::HttpServer(const Address& address, Router router, HttpServerOptions options, ChannelMap* map)
    : Dispatcher(map), service_(std::make_shared<HttpService>(HttpService{std::move(router), std::move(options), 0})),
      limits_("HttpServer", this->map(), {service_->options.max_connections, service_->options.max_per_peer}) {
  set_interest(Interest::declared);  // a listener's answers change only with a re-check
  create_socket(address.family(), SOCK_STREAM);
  set_reuse_addr();
  if (service_->options.reuse_port) set_reuse_port();
  bind(address);
  listen(service_->options.backlog);
  limits_.name = "HttpServer " + addr.to_string();
}

void HttpServer::handle_accepted(Fd socket, const Address& peer) {
  if (!limits_.admit(peer)) return;  // the socket closes here
  const int fd = socket.get();
  if (addr.is_inet()) {
    // Answers are small and written whole: Nagle would only hold them back.
    int one = 1;
    ::setsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  auto connection = make<HttpConnection>(std::move(socket), service_, &map());
  connection->start();
  limits_.track(fd, peer);
}

}  // namespace asyncore::http

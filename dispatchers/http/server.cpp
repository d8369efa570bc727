#include <asyncore/http/server.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

namespace asyncore::http {

HttpServer::HttpServer(const Address& address, Router router, HttpServerOptions options, ChannelMap* map)
    : TcpServer(address, map), service_(std::make_shared<HttpService>(HttpService{std::move(router), std::move(options), 0})) {
  const HttpServerOptions& o = service_->options;
  set_caps({o.max_connections, o.max_per_peer});
  request_queue_size = o.backlog;
  allow_reuse_port = o.reuse_port;
  start();
  limits().name = "HttpServer " + server_address.to_string();
}

void HttpServer::process_request(Fd socket, const Address&) {
  if (server_address.is_inet()) {
    // Answers are small and written whole: Nagle would only hold them back.
    int one = 1;
    ::setsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  make<HttpConnection>(std::move(socket), service_, &map())->start();
}

}  // namespace asyncore::http

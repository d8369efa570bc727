// HttpServer: an HTTP/1.1 server, a TcpServer whose connections are HttpConnections. It serves a
// Router's routes with keep-alive, pipelining, chunked uploads, 100-continue and the limits of
// HttpServerOptions; connections past max_connections / max_per_peer are closed at accept,
// counted in limits() and logged. It prints nothing; the program announces address() itself.
//
//   http::Router router;
//   router.get("/hello", [](const http::Request&) { return http::Response::json(R"({"hello":"world"})"); });
//   auto server = make<http::HttpServer>(Address::parse("127.0.0.1:0"), std::move(router));
//   announce_listening("http", server->address());
//   socket_map().run();
#pragma once
#include <memory>

#include <asyncore/net/tcp_server.h>
#include <asyncore/http/connection.h>
#include <asyncore/http/options.h>
#include <asyncore/http/router.h>

namespace asyncore::http {

class HttpServer : public TcpServer {
 public:
  // Binds and listens at once (throws std::system_error naming the address when it cannot).
  // limits()'s name, which starts the refusal log lines, is "HttpServer 127.0.0.1:8080".
  HttpServer(const Address& address, Router router, HttpServerOptions options = {}, ChannelMap* map = nullptr);

  const Address& address() const { return server_address; }  // the bound address (the real port for port 0)
  Router& router() { return service_->router; }               // routes may still be added while serving
  const HttpServerOptions& options() const { return service_->options; }
  size_t connection_count() const { return service_->connections; }

  void process_request(Fd socket, const Address& peer) override;

 private:
  std::shared_ptr<HttpService> service_;
};

}  // namespace asyncore::http

// http-hello: the HTTP server's benchmark target. GET /hello answers a small JSON body.
#include <csignal>

#include <asyncore/asyncore.h>
#include "apps/common/cli.h"
#include <asyncore/http/http.h>

using namespace asyncore;

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 0;
  Cli cli("http-hello", "[--host H] [--port P]", "Serves GET /hello -> {\"hello\":\"world\"} for HTTP benchmarks.");
  cli.option("--host", &host, "H", "address to listen on (default 127.0.0.1)");
  cli.option("--port", &port, "P", "port (default 0: a free one)", 0, 65535);
  cli.parse(argc, argv);

  http::Router router;
  router.get("/hello", [](const http::Request&) { return http::Response::json(R"({"hello":"world"})"); });
  std::shared_ptr<http::HttpServer> server;
  try {
    server = make<http::HttpServer>(Address::resolve(host, static_cast<uint16_t>(port)), std::move(router));
  } catch (const std::exception& e) {
    cli.fail(std::string("cannot listen on ") + host + ":" + std::to_string(port) + ": " + e.what());
  }
  announce_listening("http", server->address());
  ChannelMap& map = socket_map();
  map.add_signal_handler(SIGINT, [&] { map.stop(); });
  map.add_signal_handler(SIGTERM, [&] { map.stop(); });
  map.run();
  return 0;
}

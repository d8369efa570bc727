// echo-server: the smallest real server on the loop, and the benchmark target.
#include <csignal>
#include <cstdio>

#include "apps/echo/echo_handler.h"
#include "apps/common/cli.h"
#include "apps/common/connection_flags.h"

using namespace asyncore;

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", backend = "epoll";
  int port = 7007;
  ConnectionCaps caps;  // none by default: the benchmark target holds 10,000 connections from one host
  Cli cli("echo-server", "[--host H] [--port P] [--backend select|poll|epoll] [--max-connections N] [--max-per-peer N]",
          "Echoes every byte back to its sender.");
  cli.option("--host", &host, "H", "address to listen on (default 127.0.0.1)");
  cli.option("--port", &port, "P", "port (default 7007; 0 picks a free one)", 0, 65535);
  cli.option("--backend", "NAME", "select, poll or epoll (default)", [&](std::string_view v) {
    parse_backend(v);
    backend = std::string(v);
  });
  add_connection_cap_flags(cli, caps);
  cli.parse(argc, argv);

  ChannelMap& map = socket_map();
  map.use_backend(parse_backend(backend));
  std::shared_ptr<TcpServer> server;
  try {
    server = echo::listen_echo(Address::resolve(host, static_cast<uint16_t>(port)), map, caps);
  } catch (const std::exception& e) {
    cli.fail(std::string("cannot listen on ") + host + ":" + std::to_string(port) + ": " + e.what());
  }
  announce_listening("echo", server->server_address);
  auto shutdown = [&] {
    log_info("echo-server: stopping; connections " + server->limits().refusal_summary());
    map.stop();
  };
  map.add_signal_handler(SIGINT, shutdown);
  map.add_signal_handler(SIGTERM, shutdown);
  map.run();
  return 0;
}

// ListeningPort and listen_tcp: Twisted's reactor.listenTCP, a TcpServer whose connections are
// TcpConnections. Every accepted connection gets a protocol from the factory (nullptr from
// build_protocol refuses it); TcpServer's caps, batch and backlog apply as to any listener.
#pragma once
#include <cstdint>
#include <memory>
#include <string_view>

#include <asyncore/net/tcp_server.h>
#include <asyncore/twisted/protocol.h>

namespace asyncore {

class ListeningPort final : public TcpServer {
 public:
  // Binds (with SO_REUSEADDR) and listens; throws std::system_error naming the address.
  ListeningPort(const Address& address, std::shared_ptr<Factory> factory, int backlog, ChannelMap* map);

  // Closes the listening socket (connections already accepted go on) and stops the factory once
  // its last port is gone. Idempotent.
  void stop_listening();
  Address get_host() const { return server_address; }  // the bound address, with the real port
  Factory& factory() const { return *factory_; }
  bool listening() const { return listening_; }

  void process_request(Fd socket, const Address& peer) override;
  void handle_error(const std::exception& error) override;  // accept failed: log, stop listening
  void handle_close() override { stop_listening(); }

 private:
  std::shared_ptr<Factory> factory_;
  bool listening_ = false;
};

// `interface` is a host name or numeric address; "" means every IPv4 interface. Port 0 picks a
// free port (see get_host()). The map keeps the port alive until stop_listening().
std::shared_ptr<ListeningPort> listen_tcp(uint16_t port, std::shared_ptr<Factory> factory, int backlog = 50,
                                          std::string_view interface = "", ChannelMap* map = nullptr);

}  // namespace asyncore

// Connector and connect_tcp: Twisted's reactor.connectTCP. A connector makes one connection at a
// time for a ClientFactory, reports how it went (started_connecting, client_connection_failed,
// client_connection_lost) and can be told to connect again (connect()), which is how
// ReconnectingClientFactory retries.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <asyncore/address.h>
#include <asyncore/timer_queue.h>
#include <asyncore/twisted/protocol.h>

namespace asyncore {

class ChannelMap;
class TcpConnection;

class Connector : public std::enable_shared_from_this<Connector> {
 public:
  enum class State { disconnected, connecting, connected };
  struct Destination {
    std::string host;
    uint16_t port;
  };

  // Use connect_tcp(); a timeout <= 0 means none.
  Connector(std::string host, uint16_t port, std::shared_ptr<ClientFactory> factory, double timeout,
            std::optional<Address> bind_address, ChannelMap* map);
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;

  // Starts a connection attempt (the host is resolved now, blocking). Throws std::logic_error
  // unless disconnected. Failures, even immediate ones, arrive as client_connection_failed.
  void connect();
  // Abandons the attempt in progress (client_connection_failed with Kind::aborted). Throws
  // std::logic_error unless connecting.
  void stop_connecting();
  // Stops connecting, or loses the connection once what is queued is sent.
  void disconnect();

  Destination get_destination() const { return {host_, port_}; }
  State state() const { return state_; }
  ClientFactory& factory() const { return *factory_; }
  ChannelMap& map() const { return *map_; }

  // For TcpConnection: the attempt succeeded (returns the protocol, or nullptr if the factory
  // refused), failed before connecting, or the connection ended.
  std::shared_ptr<Protocol> build_protocol(const Address& peer);
  void connection_failed(const Reason& reason);
  void connection_lost(const Reason& reason);

 private:
  void finish_attempt();
  std::string describe_destination() const;

  std::string host_;
  uint16_t port_;
  std::shared_ptr<ClientFactory> factory_;
  double timeout_;
  std::optional<Address> bind_address_;
  ChannelMap* map_;
  State state_ = State::disconnected;
  bool factory_started_ = false;
  std::weak_ptr<TcpConnection> attempt_;
  ScopedTimer timeout_timer_;
};

// Starts connecting at once. The returned connector may be kept (to stop or retry) or dropped:
// the attempt in progress keeps it alive.
std::shared_ptr<Connector> connect_tcp(std::string_view host, uint16_t port, std::shared_ptr<ClientFactory> factory,
                                       double timeout = 30, std::optional<Address> bind_address = std::nullopt,
                                       ChannelMap* map = nullptr);

const char* state_name(Connector::State state);

}  // namespace asyncore

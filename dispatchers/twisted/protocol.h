// Twisted's Protocol / Transport / Factory on the asyncore loop. The reactor is the ChannelMap
// (run, stop, call_later); listen_tcp (tcp_port.h) and connect_tcp (tcp_connector.h) tie a factory
// to sockets; each connection gets a Protocol from the factory and a Transport to talk through.
//
// Ownership: the map owns each connection (a TcpConnection dispatcher); the connection owns its
// protocol until connection_lost() has returned; the protocol owns its `transport`, which refers to
// the connection only weakly (so writes after the loss are harmless no-ops and there is no cycle).
// The connection also holds the factory: `factory` is valid until connection_lost() returns, and a
// protocol kept alive past that must keep its factory alive itself.
#pragma once
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <asyncore/address.h>
#include <asyncore/stream/buffered_stream.h>
#include <asyncore/twisted/reason.h>

namespace asyncore {

class Connector;
class Factory;

// Producer (Twisted's IPushProducer) is the stream's: <asyncore/stream/buffered_stream.h>.
// Twisted's ITransport (plus IConsumer, simplified). A transport is itself a producer: pausing it
// stops reading from the socket, so it can be registered on another transport (a proxy).
class Transport : public Producer {
 public:
  // Queues bytes for the peer; ignored once the connection is closing or closed.
  virtual void write(std::string_view data) = 0;
  void write_sequence(std::initializer_list<std::string_view> parts);
  void write_sequence(std::span<const std::string> parts);
  // Closes after everything queued is sent; connection_lost then says Kind::done. Stops reading.
  virtual void lose_connection() = 0;
  // Closes at once with a reset, dropping what is queued; connection_lost says Kind::aborted.
  virtual void abort_connection() = 0;
  virtual Address get_peer() const = 0;
  virtual Address get_host() const = 0;
  virtual bool disconnecting() const = 0;  // lose_connection/abort_connection called, or lost

  // Producer: stop / start reading from the peer. stop_producing loses the connection.
  void stop_producing() override { lose_connection(); }

  // The consumer side: once more than `high_water` bytes are queued the registered producer is
  // paused; once the queue drains to `low_water` or less it is resumed. The producer is not owned:
  // it must stay valid until unregister_producer() or the connection is lost (when it gets
  // stop_producing() and is forgotten). Throws std::logic_error if another one is registered.
  virtual void register_producer(Producer& producer) = 0;
  virtual void unregister_producer() = 0;
  virtual void set_write_buffer_limits(size_t high_water, size_t low_water) = 0;
  virtual size_t write_buffer_size() const = 0;
};

// Twisted's Protocol: one per connection; override what you need.
class Protocol {
 public:
  virtual ~Protocol() = default;

  // Called by a transport (or a test) when the connection is up: sets `transport`, `connected`,
  // then calls connection_made().
  void make_connection(std::shared_ptr<Transport> new_transport);

  virtual void connection_made() {}
  virtual void data_received(std::string_view data) { (void)data; }
  virtual void connection_lost(const Reason& reason) { (void)reason; }

  std::shared_ptr<Transport> transport;
  Factory* factory = nullptr;  // the factory that built this protocol (set by the port/connector)
  bool connected = false;      // between make_connection and connection_lost
};

// Twisted's Factory: builds protocols for a port; keeps what all its connections share.
class Factory {
 public:
  virtual ~Factory() = default;

  // A protocol for a connection from (or to) `address`; nullptr refuses the connection. The
  // default calls `protocol` and sets the result's `factory`.
  virtual std::shared_ptr<Protocol> build_protocol(const Address& address);
  std::function<std::shared_ptr<Protocol>()> protocol;

  // Called once before the first port (or connector) starts using this factory, and once after
  // the last stops.
  virtual void start_factory() {}
  virtual void stop_factory() {}

  // What ports and connectors call (Twisted's doStart / doStop): count users, call the above.
  void do_start();
  void do_stop();
  int ports_in_use() const { return ports_in_use_; }

 private:
  int ports_in_use_ = 0;
};

// Twisted's ClientFactory: also hears how connecting went.
class ClientFactory : public Factory {
 public:
  virtual void started_connecting(Connector& connector) { (void)connector; }
  virtual void client_connection_failed(Connector& connector, const Reason& reason) { (void)connector, (void)reason; }
  virtual void client_connection_lost(Connector& connector, const Reason& reason) { (void)connector, (void)reason; }
};

// A factory of type F (default Factory) whose build_protocol makes a P:
// `listen_tcp(0, make_factory<Echo>())`. Extra arguments go to F's constructor.
template <class P, class F = Factory, class... Args>
std::shared_ptr<F> make_factory(Args&&... args) {
  auto factory = std::make_shared<F>(std::forward<Args>(args)...);
  factory->protocol = [] { return std::make_shared<P>(); };
  return factory;
}

}  // namespace asyncore

// TcpConnection: the stream behind one TCP connection of the Protocol layer, and TcpTransport,
// the Transport a protocol holds. Writes, the write buffer's water marks (64K / 16K, as Twisted's
// defaults) and the registered producer are BufferedStream's; reading pauses only when the
// protocol asks (pause_producing), as in Twisted. The map owns the connection; the connection owns its protocol;
// the protocol's transport refers to the connection weakly, so there is no ownership cycle and a
// transport used after the connection is gone does nothing (get_peer/get_host still answer).
//
// Every end -- lose_connection, abort_connection, the peer closing, an error, a connect timeout --
// closes the socket at once and tells the protocol (connection_lost) and the connector
// (client_connection_lost / client_connection_failed) on the next pass of the loop, never from
// inside a call the protocol is making.
#pragma once
#include <memory>

#include <asyncore/stream/buffered_stream.h>
#include <asyncore/twisted/protocol.h>

namespace asyncore {

class TcpConnection final : public BufferedStream {
 public:
  // Server side: an accepted socket, served by a protocol from `factory`.
  TcpConnection(Fd socket, std::shared_ptr<Factory> factory, ChannelMap* map);
  // Client side: a fresh socket (bound to `bind_address` if given) that the caller connects.
  TcpConnection(std::shared_ptr<Connector> connector, std::shared_ptr<Factory> factory, int family, ChannelMap* map);

  // Hands the connection to `protocol` (make_connection). Accepted connections call it at once;
  // client connections once connected.
  void start(std::shared_ptr<Protocol> protocol);
  // Ends the connection now; `reason` is what connection_lost / the connector will hear.
  void fail(Reason reason, bool reset = false);

  // What TcpTransport forwards to.
  void write(std::string_view data);
  void lose_connection();
  void pause_reading(bool paused);
  void register_producer(Producer& producer);
  void set_write_buffer_limits(size_t high_water, size_t low_water);
  size_t write_buffer_size() const { return pending(); }
  bool disconnecting() const { return closing || lost_; }
  const Address& host() const { return host_; }

  bool readable() override;
  void handle_read() override;
  void handle_connect() override;
  void handle_eof() override;
  void handle_close() override;
  void handle_error(const std::exception& error) override;

 private:
  void handle_done() override { fail(Reason::done()); }  // lose_connection's flush is over
  void handle_overflow() override;
  void report_lost(const Reason& reason);

  std::shared_ptr<Factory> factory_;
  std::shared_ptr<Connector> connector_;  // client side, until the outcome is reported
  std::shared_ptr<Protocol> protocol_;    // until connection_lost
  bool started_ = false;
  bool protocol_paused_ = false;  // the protocol paused reading (pause_producing)
  bool lost_ = false;             // closed; the report is on its way
  Address host_;
};

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(const std::shared_ptr<TcpConnection>& connection);

  void write(std::string_view data) override;
  void lose_connection() override;
  void abort_connection() override;
  Address get_peer() const override { return peer_; }
  Address get_host() const override { return host_; }
  bool disconnecting() const override;
  void pause_producing() override;
  void resume_producing() override;
  void register_producer(Producer& producer) override;
  void unregister_producer() override;
  void set_write_buffer_limits(size_t high_water, size_t low_water) override;
  size_t write_buffer_size() const override;

 private:
  std::weak_ptr<TcpConnection> connection_;
  Address peer_;
  Address host_;
};

}  // namespace asyncore

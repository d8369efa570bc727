// TcpConnection: the dispatcher behind one TCP connection of the Protocol layer, and TcpTransport,
// the Transport a protocol holds. The map owns the connection; the connection owns its protocol;
// the protocol's transport refers to the connection weakly, so there is no ownership cycle and a
// transport used after the connection is gone does nothing (get_peer/get_host still answer).
//
// Every end -- lose_connection, abort_connection, the peer closing, an error, a connect timeout --
// closes the socket at once and tells the protocol (connection_lost) and the connector
// (client_connection_lost / client_connection_failed) on the next pass of the loop, never from
// inside a call the protocol is making.
#pragma once
#include <memory>

#include <asyncore/dispatcher.h>
#include <asyncore/stream/byte_buffer.h>
#include <asyncore/twisted/protocol.h>

namespace asyncore {

class TcpConnection final : public Dispatcher {
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
  void unregister_producer();
  void set_write_buffer_limits(size_t high_water, size_t low_water);
  size_t write_buffer_size() const { return out_.size(); }
  bool disconnecting() const { return disconnecting_ || lost_; }
  const Address& host() const { return host_; }

  bool readable() override;
  bool writable() override { return !out_.empty(); }
  void handle_read() override;
  void handle_write() override;
  void handle_connect() override;
  void handle_eof() override;
  void handle_close() override;
  void handle_error(const std::exception& error) override;

 private:
  void after_flush();
  void report_lost(const Reason& reason);

  std::shared_ptr<Factory> factory_;
  std::shared_ptr<Connector> connector_;  // client side, until the outcome is reported
  std::shared_ptr<Protocol> protocol_;    // until connection_lost
  bool started_ = false;
  ByteBuffer out_;
  Producer* producer_ = nullptr;
  bool producer_paused_ = false;
  bool reading_paused_ = false;
  bool disconnecting_ = false;  // lose_connection: flushing, then closing
  bool lost_ = false;           // closed; the report is on its way
  size_t high_water_ = 64 * 1024;
  size_t low_water_ = 16 * 1024;
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

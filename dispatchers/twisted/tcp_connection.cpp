#include <asyncore/twisted/tcp_connection.h>

#include <errno.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <system_error>

#include <asyncore/channel_map.h>
#include <asyncore/twisted/tcp_connector.h>

namespace asyncore {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
// Twisted's default write-buffer marks. What a protocol writes is bounded by the protocol (its
// registered producer), as in Twisted, not by a close: only 4 GiB queued ends the connection.
constexpr StreamLimits kTwistedLimits{.high_water = 64 * 1024, .low_water = 16 * 1024, .max_output = UINT32_MAX};

}  // namespace

TcpConnection::TcpConnection(Fd socket, std::shared_ptr<Factory> factory, ChannelMap* map)
    : BufferedStream(std::move(socket), map), factory_(std::move(factory)) {
  limits = kTwistedLimits;
  host_ = Address::local_of(fileno());
}

TcpConnection::TcpConnection(std::shared_ptr<Connector> connector, std::shared_ptr<Factory> factory, int family,
                             ChannelMap* map)
    : BufferedStream(map), factory_(std::move(factory)), connector_(std::move(connector)) {
  limits = kTwistedLimits;
  create_socket(family);
}

void TcpConnection::start(std::shared_ptr<Protocol> protocol) {
  protocol_ = std::move(protocol);
  started_ = true;
  if (!protocol_->factory) protocol_->factory = factory_.get();
  auto self = std::static_pointer_cast<TcpConnection>(shared_from_this());
  try {
    protocol_->make_connection(std::make_shared<TcpTransport>(self));
  } catch (const std::exception& error) {
    handle_error(error);
  }
}

bool TcpConnection::readable() { return connected && !protocol_paused_ && !closing && !lost_; }

void TcpConnection::write(std::string_view data) {
  if (lost_ || !connected) return;
  send(data);  // may lose the connection; ignored once disconnecting
}

void TcpConnection::lose_connection() {
  if (lost_ || closing) return;
  if (!connected) {  // still connecting: nothing to flush
    fail(Reason::aborted("lose_connection before the connection was made"));
    return;
  }
  close_when_done();  // an orderly FIN after the last byte, then handle_done()
}

void TcpConnection::fail(Reason reason, bool reset) {
  if (lost_) return;
  lost_ = true;
  if (reset && is_open()) {
    linger abort{1, 0};  // close() then sends RST and drops what the kernel still queues
    ::setsockopt(fileno(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  }
  close();
  discard_output();
  // The map drops its reference after this pass; the callback keeps the connection alive.
  auto self = std::static_pointer_cast<TcpConnection>(shared_from_this());
  map().call_soon([self, reason = std::move(reason)] { self->report_lost(reason); });
}

void TcpConnection::report_lost(const Reason& reason) {
  if (Producer* registered = producer()) {
    unregister_producer();
    registered->stop_producing();
  }
  if (auto protocol = std::move(protocol_)) {
    protocol->connected = false;
    try {
      protocol->connection_lost(reason);
    } catch (const std::exception& error) {
      log_error(type_name(typeid(error)) + ": " + error.what() + " in connection_lost of " + type_name(typeid(*protocol)));
    }
  }
  if (auto connector = std::move(connector_)) {
    try {
      if (started_) connector->connection_lost(reason);
      else connector->connection_failed(reason);
    } catch (const std::exception& error) {
      log_error(type_name(typeid(error)) + ": " + error.what() + " in the client factory of " + addr.to_string());
    }
  }
}

void TcpConnection::pause_reading(bool paused) {
  protocol_paused_ = paused;
  recheck();
}

void TcpConnection::register_producer(Producer& producer) {
  if (lost_) {
    producer.stop_producing();
    return;
  }
  BufferedStream::register_producer(producer);
}

void TcpConnection::set_write_buffer_limits(size_t high_water, size_t low_water) {
  if (low_water > high_water) {
    throw std::invalid_argument("set_write_buffer_limits: low_water (" + std::to_string(low_water) +
                                ") must not exceed high_water (" + std::to_string(high_water) + ")");
  }
  limits.high_water = static_cast<uint32_t>(std::min<size_t>(high_water, limits.max_output));
  limits.low_water = static_cast<uint32_t>(std::min<size_t>(low_water, limits.high_water));
}

void TcpConnection::handle_overflow() {
  const std::string why = "write buffer over " + std::to_string(limits.max_output) + " bytes (the peer is not reading)";
  log_warning(describe() + ": " + why + "; closing");
  fail(Reason::error(why));
}

void TcpConnection::handle_read() {
  char buffer[kReadChunk];
  size_t n = recv_into(buffer, sizeof buffer);
  if (n > 0 && protocol_ && !lost_) protocol_->data_received(std::string_view(buffer, n));
}

void TcpConnection::handle_connect() {
  host_ = Address::local_of(fileno());
  std::shared_ptr<Protocol> protocol = connector_ ? connector_->build_protocol(addr) : nullptr;
  if (!protocol) {
    fail(Reason::error("the factory built no protocol for " + addr.to_string()));
    return;
  }
  start(std::move(protocol));
}

void TcpConnection::handle_eof() {
  // The peer sent FIN. As in Twisted this ends the connection (Kind::done), but what we still
  // have queued is sent first.
  if (!lost_) close_when_done();
}

void TcpConnection::handle_close() {
  if (lost_) return;
  int error = 0;
  socklen_t length = sizeof error;
  if (is_open()) ::getsockopt(fileno(), SOL_SOCKET, SO_ERROR, &error, &length);
  const std::string where = (connected ? "connection to " : "connect ") + addr.to_string();
  if (error != 0) fail(Reason::from_errno(error, where));
  else if (!connected) fail(Reason::error(where + " failed"));
  else fail(Reason::lost(where + " lost"));
}

void TcpConnection::handle_error(const std::exception& error) {
  if (!dynamic_cast<const std::system_error*>(&error)) {
    // Not the network: a bug in a protocol callback. Say so, and drop the connection as Twisted does.
    log_error(type_name(typeid(error)) + ": " + error.what() + " in " + describe());
  }
  fail(Reason::from_exception(error), true);
}

// --- TcpTransport: forwards to the connection while it exists --------------------------------

TcpTransport::TcpTransport(const std::shared_ptr<TcpConnection>& connection)
    : connection_(connection), peer_(connection->addr), host_(connection->host()) {}

void TcpTransport::write(std::string_view data) {
  if (auto c = connection_.lock()) c->write(data);
}

void TcpTransport::lose_connection() {
  if (auto c = connection_.lock()) c->lose_connection();
}

void TcpTransport::abort_connection() {
  if (auto c = connection_.lock()) c->fail(Reason::aborted("abort_connection called"), true);
}

bool TcpTransport::disconnecting() const {
  auto c = connection_.lock();
  return !c || c->disconnecting();
}

void TcpTransport::pause_producing() {
  if (auto c = connection_.lock()) c->pause_reading(true);
}

void TcpTransport::resume_producing() {
  if (auto c = connection_.lock()) c->pause_reading(false);
}

void TcpTransport::register_producer(Producer& producer) {
  if (auto c = connection_.lock()) c->register_producer(producer);
  else producer.stop_producing();
}

void TcpTransport::unregister_producer() {
  if (auto c = connection_.lock()) c->unregister_producer();
}

void TcpTransport::set_write_buffer_limits(size_t high_water, size_t low_water) {
  if (auto c = connection_.lock()) c->set_write_buffer_limits(high_water, low_water);
}

size_t TcpTransport::write_buffer_size() const {
  auto c = connection_.lock();
  return c ? c->write_buffer_size() : 0;
}

}  // namespace asyncore

#include <asyncore/twisted/tcp_connection.h>

#include <errno.h>
#include <sys/socket.h>

#include <stdexcept>
#include <system_error>

#include <asyncore/channel_map.h>
#include <asyncore/twisted/tcp_connector.h>

namespace asyncore {
namespace {

constexpr size_t kReadChunk = 64 * 1024;

}  // namespace

TcpConnection::TcpConnection(Fd socket, std::shared_ptr<Factory> factory, ChannelMap* map)
    : Dispatcher(std::move(socket), map), factory_(std::move(factory)) {
  set_interest(Interest::declared);  // every state change below re-checks
  host_ = Address::local_of(fileno());
}

TcpConnection::TcpConnection(std::shared_ptr<Connector> connector, std::shared_ptr<Factory> factory, int family,
                             ChannelMap* map)
    : Dispatcher(map), factory_(std::move(factory)), connector_(std::move(connector)) {
  set_interest(Interest::declared);
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

bool TcpConnection::readable() { return connected && !reading_paused_ && !disconnecting_ && !lost_; }

void TcpConnection::write(std::string_view data) {
  if (lost_ || disconnecting_ || !connected || data.empty()) return;
  size_t sent = out_.empty() ? send_unchecked(data) : 0;  // may lose the connection
  if (lost_) return;
  if (sent < data.size()) {
    out_.append(data.substr(sent));
    recheck();
  }
  if (producer_ && !producer_paused_ && out_.size() > high_water_) {
    producer_paused_ = true;
    producer_->pause_producing();
  }
}

void TcpConnection::handle_write() {
  while (!out_.empty() && !lost_) {
    size_t sent = send_unchecked(out_.view());
    if (sent == 0) break;
    out_.consume(sent);
  }
  after_flush();
}

void TcpConnection::after_flush() {
  if (lost_) return;
  if (out_.empty()) out_.shrink();
  if (producer_ && producer_paused_ && out_.size() <= low_water_) {
    producer_paused_ = false;
    producer_->resume_producing();
    if (lost_) return;
  }
  if (disconnecting_ && out_.empty()) {
    shutdown_write();  // an orderly FIN after the last byte
    fail(Reason::done());
  }
}

void TcpConnection::lose_connection() {
  if (lost_ || disconnecting_) return;
  if (!connected) {  // still connecting: nothing to flush
    fail(Reason::aborted("lose_connection before the connection was made"));
    return;
  }
  disconnecting_ = true;
  recheck();
  after_flush();
}

void TcpConnection::fail(Reason reason, bool reset) {
  if (lost_) return;
  lost_ = true;
  if (reset && is_open()) {
    linger abort{1, 0};  // close() then sends RST and drops what the kernel still queues
    ::setsockopt(fileno(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  }
  out_.clear();
  close();
  // The map drops its reference after this pass; the callback keeps the connection alive.
  auto self = std::static_pointer_cast<TcpConnection>(shared_from_this());
  map().call_soon([self, reason = std::move(reason)] { self->report_lost(reason); });
}

void TcpConnection::report_lost(const Reason& reason) {
  if (Producer* producer = std::exchange(producer_, nullptr)) producer->stop_producing();
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
  reading_paused_ = paused;
  recheck();
}

void TcpConnection::register_producer(Producer& producer) {
  if (producer_ && producer_ != &producer) {
    throw std::logic_error("register_producer: " + describe() + " already has a producer");
  }
  if (lost_) {
    producer.stop_producing();
    return;
  }
  producer_ = &producer;
  producer_paused_ = false;
  if (out_.size() > high_water_) {
    producer_paused_ = true;
    producer.pause_producing();
  }
}

void TcpConnection::unregister_producer() {
  producer_ = nullptr;
  producer_paused_ = false;
}

void TcpConnection::set_write_buffer_limits(size_t high_water, size_t low_water) {
  if (low_water > high_water) {
    throw std::invalid_argument("set_write_buffer_limits: low_water (" + std::to_string(low_water) +
                                ") must not exceed high_water (" + std::to_string(high_water) + ")");
  }
  high_water_ = high_water;
  low_water_ = low_water;
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
  if (lost_) return;
  disconnecting_ = true;
  recheck();
  after_flush();
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

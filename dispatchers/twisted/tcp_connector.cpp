#include <asyncore/twisted/tcp_connector.h>

#include <stdexcept>

#include <asyncore/channel_map.h>
#include <asyncore/twisted/tcp_connection.h>

namespace asyncore {

const char* state_name(Connector::State state) {
  switch (state) {
    case Connector::State::disconnected: return "disconnected";
    case Connector::State::connecting: return "connecting";
    case Connector::State::connected: return "connected";
  }
  return "unknown";
}

Connector::Connector(std::string host, uint16_t port, std::shared_ptr<ClientFactory> factory, double timeout,
                     std::optional<Address> bind_address, ChannelMap* map)
    : host_(std::move(host)),
      port_(port),
      factory_(std::move(factory)),
      timeout_(timeout),
      bind_address_(std::move(bind_address)),
      map_(map ? map : &socket_map()) {
  if (!factory_) throw std::invalid_argument("connect_tcp " + describe_destination() + ": no factory given");
}

std::string Connector::describe_destination() const { return host_ + ":" + std::to_string(port_); }

void Connector::connect() {
  if (state_ != State::disconnected) {
    throw std::logic_error("Connector::connect to " + describe_destination() + ": can't connect while " + state_name(state_));
  }
  state_ = State::connecting;
  if (!factory_started_) {
    factory_->do_start();
    factory_started_ = true;
  }
  auto self = shared_from_this();
  if (timeout_ > 0) {
    timeout_timer_ = map_->call_later(timeout_, [weak = weak_from_this(), this] {
      if (weak.expired() || state_ != State::connecting) return;
      if (auto attempt = attempt_.lock()) {
        attempt->fail(Reason::timeout("connect " + describe_destination() + ": timed out after " + describe_seconds(timeout_)));
      }
    });
  }
  try {
    Address destination = Address::resolve(host_, port_);
    auto attempt = make<TcpConnection>(self, factory_, destination.family(), map_);
    attempt_ = attempt;
    if (bind_address_) attempt->bind(*bind_address_);
    attempt->connect(destination);
  } catch (const std::exception& error) {
    // Failures are always reported from the loop, as Twisted does, never from inside connect().
    Reason reason = Reason::from_exception(error);
    if (auto attempt = attempt_.lock()) attempt->fail(std::move(reason));
    else map_->call_soon([self, reason] { self->connection_failed(reason); });
  }
  factory_->started_connecting(*this);
}

void Connector::stop_connecting() {
  if (state_ != State::connecting) {
    throw std::logic_error("Connector::stop_connecting " + describe_destination() + ": not connecting (" + state_name(state_) + ")");
  }
  if (auto attempt = attempt_.lock()) attempt->fail(Reason::aborted("connect " + describe_destination() + ": stop_connecting called"));
}

void Connector::disconnect() {
  if (state_ == State::connecting) stop_connecting();
  else if (auto attempt = attempt_.lock(); attempt && state_ == State::connected) attempt->lose_connection();
}

std::shared_ptr<Protocol> Connector::build_protocol(const Address& peer) {
  state_ = State::connected;
  timeout_timer_.cancel();
  auto protocol = factory_->build_protocol(peer);
  if (protocol && !protocol->factory) protocol->factory = factory_.get();
  return protocol;
}

void Connector::finish_attempt() {
  timeout_timer_.cancel();
  attempt_.reset();
  state_ = State::disconnected;
}

void Connector::connection_failed(const Reason& reason) {
  finish_attempt();
  factory_->client_connection_failed(*this, reason);
  // The factory may have connected again; if not, this connector no longer uses it.
  if (state_ == State::disconnected && factory_started_) {
    factory_started_ = false;
    factory_->do_stop();
  }
}

void Connector::connection_lost(const Reason& reason) {
  finish_attempt();
  factory_->client_connection_lost(*this, reason);
  if (state_ == State::disconnected && factory_started_) {
    factory_started_ = false;
    factory_->do_stop();
  }
}

std::shared_ptr<Connector> connect_tcp(std::string_view host, uint16_t port, std::shared_ptr<ClientFactory> factory,
                                       double timeout, std::optional<Address> bind_address, ChannelMap* map) {
  auto connector = std::make_shared<Connector>(std::string(host), port, std::move(factory), timeout, std::move(bind_address), map);
  connector->connect();
  return connector;
}

}  // namespace asyncore

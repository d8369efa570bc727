#include <asyncore/twisted/reconnecting_client_factory.h>

#include <stdexcept>

#include <asyncore/channel_map.h>
#include <asyncore/twisted/tcp_connector.h>

namespace asyncore {

ReconnectingClientFactory::ReconnectingClientFactory(BackoffPolicy policy, std::uint64_t seed) : backoff_(policy, seed) {}

void ReconnectingClientFactory::started_connecting(Connector& connector) { connector_ = connector.weak_from_this(); }

void ReconnectingClientFactory::client_connection_failed(Connector& connector, const Reason&) {
  if (continue_trying_) retry(&connector);
}

void ReconnectingClientFactory::client_connection_lost(Connector& connector, const Reason&) {
  if (continue_trying_) retry(&connector);
}

void ReconnectingClientFactory::retry(Connector* connector) {
  if (!continue_trying_) return;
  std::shared_ptr<Connector> target = connector ? connector->shared_from_this() : connector_.lock();
  if (!target) throw std::logic_error(type_name(typeid(*this)) + "::retry: no connector to retry");
  connector_ = target;
  std::optional<double> delay = backoff_.next_delay();
  if (!delay) {
    log_info(type_name(typeid(*this)) + ": abandoning " + target->get_destination().host + ":" +
             std::to_string(target->get_destination().port) + " after " + std::to_string(backoff_.retries() - 1) + " retries");
    return;
  }
  retry_timer_.cancel();
  retry_timer_ = target->map().call_later(*delay, [target] {
    if (target->state() == Connector::State::disconnected) target->connect();
  });
}

void ReconnectingClientFactory::stop_trying() {
  retry_timer_.cancel();
  continue_trying_ = false;
  if (auto connector = connector_.lock(); connector && connector->state() == Connector::State::connecting) {
    connector->stop_connecting();
  }
}

void ReconnectingClientFactory::reset_delay() {
  backoff_.reset();
  continue_trying_ = true;
}

}  // namespace asyncore

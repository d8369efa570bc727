// ReconnectingClientFactory: Twisted's client factory that reconnects after a failed or lost
// connection, waiting longer each time (Backoff: initial 1 s, factor e, jitter ~0.12, at most
// 3600 s, optionally a limited number of retries). Call reset_delay() once a connection is good
// (typically in build_protocol or the protocol's connection_made), stop_trying() to give up.
// Subclasses that override started_connecting or client_connection_failed/lost call these
// versions too.
#pragma once
#include <cstdint>
#include <memory>
#include <random>

#include <asyncore/timer_queue.h>
#include <asyncore/twisted/backoff.h>
#include <asyncore/twisted/protocol.h>

namespace asyncore {

class ReconnectingClientFactory : public ClientFactory {
 public:
  explicit ReconnectingClientFactory(BackoffPolicy policy = {}, std::uint64_t seed = std::random_device{}());

  // Remembers the connector, so stop_trying() can abandon even the first attempt.
  void started_connecting(Connector& connector) override;
  void client_connection_failed(Connector& connector, const Reason& reason) override;
  void client_connection_lost(Connector& connector, const Reason& reason) override;

  // Schedules connector.connect() after the next backoff delay; does nothing after stop_trying()
  // or once max_retries are used up. Without an argument, retries the connector last seen and
  // throws std::logic_error if there is none.
  void retry(Connector* connector = nullptr);
  // Cancels a scheduled retry, abandons an attempt in progress, and retries no more.
  void stop_trying();
  // A connection worked: the next delay starts again from initial_delay, retries from zero, and
  // trying is on again.
  void reset_delay();

  const Backoff& backoff() const { return backoff_; }
  bool continue_trying() const { return continue_trying_; }
  bool retry_scheduled() const { return retry_timer_.active(); }

 private:
  Backoff backoff_;
  bool continue_trying_ = true;
  std::weak_ptr<Connector> connector_;
  ScopedTimer retry_timer_;
};

}  // namespace asyncore

// Backoff: the retry-delay policy of Twisted's ReconnectingClientFactory as a small value type,
// usable by anything that retries (ReconnectingClientFactory, the barrage client, ...).
//
// Each next_delay() multiplies the current delay by `factor` (capped at `max_delay`), then
// varies it by a normal distribution whose standard deviation is `jitter` times the delay, as
// Twisted's random.normalvariate(delay, delay * jitter). The varied value becomes the current
// delay, so jitter compounds exactly as in Twisted. Unlike Twisted, the result is clamped to
// [0, max_delay], so max_delay is a real ceiling. The first delay is initial_delay * factor.
#pragma once
#include <cstdint>
#include <optional>
#include <random>

namespace asyncore {

struct BackoffPolicy {
  double initial_delay = 1.0;                // seconds
  double factor = 2.7182818284590451;        // e
  double jitter = 0.11962656472;             // standard deviation, as a fraction of the delay
  double max_delay = 3600.0;                 // seconds
  std::optional<unsigned> max_retries = std::nullopt;  // none: retry forever
};

class Backoff {
 public:
  // Throws std::invalid_argument naming the bad field (negative delays, factor < 1, ...).
  explicit Backoff(BackoffPolicy policy = {}, std::uint64_t seed = std::random_device{}());

  // The delay before the next attempt, or nullopt once max_retries attempts were used up.
  std::optional<double> next_delay();
  // After a good connection: back to initial_delay and zero retries.
  void reset();
  void seed(std::uint64_t seed) { rng_.seed(seed); }

  const BackoffPolicy& policy() const { return policy_; }
  double delay() const { return delay_; }      // the last delay handed out (initial after reset)
  unsigned retries() const { return retries_; }  // next_delay() calls since the last reset

 private:
  BackoffPolicy policy_;
  double delay_;
  unsigned retries_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace asyncore

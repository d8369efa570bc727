#include <asyncore/twisted/backoff.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace asyncore {
namespace {

void require(bool ok, const char* field, const char* rule, double value) {
  if (!ok) throw std::invalid_argument(std::string("Backoff: ") + field + " must be " + rule + " (got " + std::to_string(value) + ")");
}

}  // namespace

Backoff::Backoff(BackoffPolicy policy, std::uint64_t seed) : policy_(policy), delay_(policy.initial_delay), rng_(seed) {
  require(std::isfinite(policy_.initial_delay) && policy_.initial_delay >= 0, "initial_delay", "finite and >= 0", policy_.initial_delay);
  require(std::isfinite(policy_.factor) && policy_.factor >= 1, "factor", "finite and >= 1", policy_.factor);
  require(std::isfinite(policy_.jitter) && policy_.jitter >= 0, "jitter", "finite and >= 0", policy_.jitter);
  require(std::isfinite(policy_.max_delay) && policy_.max_delay >= policy_.initial_delay, "max_delay",
          "finite and >= initial_delay", policy_.max_delay);
}

std::optional<double> Backoff::next_delay() {
  ++retries_;
  if (policy_.max_retries && retries_ > *policy_.max_retries) return std::nullopt;
  delay_ = std::min(delay_ * policy_.factor, policy_.max_delay);
  if (policy_.jitter > 0 && delay_ > 0) {
    std::normal_distribution<double> vary(delay_, delay_ * policy_.jitter);
    delay_ = std::clamp(vary(rng_), 0.0, policy_.max_delay);
  }
  return delay_;
}

void Backoff::reset() {
  delay_ = policy_.initial_delay;
  retries_ = 0;
}

}  // namespace asyncore

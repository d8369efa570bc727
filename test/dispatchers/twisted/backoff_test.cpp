#include <asyncore/twisted/backoff.h>

#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

using asyncore::Backoff;
using asyncore::BackoffPolicy;

TEST_CASE("Backoff defaults are Twisted's") {
  BackoffPolicy policy;
  CHECK(policy.initial_delay == 1.0);
  CHECK(policy.factor == doctest::Approx(std::exp(1.0)).epsilon(1e-15));
  CHECK(policy.jitter == doctest::Approx(0.11962656472));
  CHECK(policy.max_delay == 3600.0);
  CHECK_FALSE(policy.max_retries.has_value());
}

TEST_CASE("without jitter the delays grow by the factor up to max_delay") {
  Backoff backoff(BackoffPolicy{.initial_delay = 1, .factor = std::exp(1.0), .jitter = 0, .max_delay = 100});
  std::vector<double> expected = {std::exp(1.0), std::exp(2.0), std::exp(3.0), std::exp(4.0), 100, 100};
  for (double want : expected) CHECK(*backoff.next_delay() == doctest::Approx(want));
  CHECK(backoff.retries() == 6);
  backoff.reset();
  CHECK(backoff.retries() == 0);
  CHECK(backoff.delay() == 1);
  CHECK(*backoff.next_delay() == doctest::Approx(std::exp(1.0)));
}

TEST_CASE("a seeded Backoff repeats its sequence; jitter varies each step by ~12% around e") {
  Backoff a(BackoffPolicy{}, 42), b(BackoffPolicy{}, 42), other(BackoffPolicy{}, 43);
  std::vector<double> first, second, third;
  for (int i = 0; i < 6; ++i) {
    first.push_back(*a.next_delay());
    second.push_back(*b.next_delay());
    third.push_back(*other.next_delay());
  }
  CHECK(first == second);
  CHECK(first != third);

  // The ratio of consecutive delays is e * N(1, jitter): check its mean and spread over many seeds.
  const double jitter = BackoffPolicy{}.jitter, e = std::exp(1.0);
  double sum = 0, sum_squares = 0;
  int n = 0;
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    Backoff backoff(BackoffPolicy{.max_delay = 1e9}, seed);
    double previous = backoff.delay();
    for (int step = 0; step < 5; ++step) {
      double delay = *backoff.next_delay();
      double ratio = delay / previous / e;
      CHECK(ratio > 1 - 6 * jitter);  // normal variation: never beyond six standard deviations here
      CHECK(ratio < 1 + 6 * jitter);
      sum += ratio;
      sum_squares += ratio * ratio;
      ++n;
      previous = delay;
    }
  }
  double mean = sum / n, deviation = std::sqrt(sum_squares / n - mean * mean);
  CHECK(mean == doctest::Approx(1.0).epsilon(0.01));
  CHECK(deviation == doctest::Approx(jitter).epsilon(0.05));
}

TEST_CASE("jittered delays never exceed max_delay") {
  Backoff backoff(BackoffPolicy{.initial_delay = 1, .max_delay = 10}, 7);
  for (int i = 0; i < 50; ++i) {
    double delay = *backoff.next_delay();
    CHECK(delay <= 10);
    CHECK(delay >= 0);
  }
}

TEST_CASE("max_retries: that many delays, then none until reset") {
  Backoff backoff(BackoffPolicy{.jitter = 0, .max_retries = 2});
  CHECK(backoff.next_delay().has_value());
  CHECK(backoff.next_delay().has_value());
  CHECK_FALSE(backoff.next_delay().has_value());
  CHECK_FALSE(backoff.next_delay().has_value());
  backoff.reset();
  CHECK(backoff.next_delay().has_value());
  Backoff never(BackoffPolicy{.max_retries = 0});
  CHECK_FALSE(never.next_delay().has_value());
}

TEST_CASE("a bad policy is refused with the field named") {
  auto message = [](BackoffPolicy policy) {
    try {
      Backoff backoff(policy);
    } catch (const std::invalid_argument& error) {
      return std::string(error.what());
    }
    return std::string();
  };
  CHECK(message({.initial_delay = -1}).find("initial_delay") != std::string::npos);
  CHECK(message({.factor = 0.5}).find("factor") != std::string::npos);
  CHECK(message({.jitter = -0.1}).find("jitter") != std::string::npos);
  CHECK(message({.initial_delay = 5, .max_delay = 1}).find("max_delay") != std::string::npos);
  CHECK(message({}).empty());
}

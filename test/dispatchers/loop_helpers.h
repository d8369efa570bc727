// Helpers the dispatcher tests share: run a map until something holds, with a deadline, on
// every backend.
#pragma once
#include <array>
#include <chrono>
#include <functional>

#include <asyncore/channel_map.h>

namespace dispatcher_tests {

inline constexpr std::array<asyncore::BackendKind, 3> kAllBackends = {
    asyncore::BackendKind::select, asyncore::BackendKind::poll, asyncore::BackendKind::epoll};

// Runs passes of `map` until `done()` holds or `timeout_seconds` pass; returns done().
inline bool run_until(asyncore::ChannelMap& map, const std::function<bool()>& done, double timeout_seconds = 10) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    map.poll_once(0.02);
  }
  return true;
}

}  // namespace dispatcher_tests

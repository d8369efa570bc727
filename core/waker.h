// Waker: an eventfd in the loop that other threads write to, so call_soon_threadsafe() and
// stop() wake a loop that is sleeping in the backend.
#pragma once
#include <atomic>

#include <asyncore/dispatcher.h>

namespace asyncore {

class Waker final : public Dispatcher {
 public:
  explicit Waker(ChannelMap& map);
  void wake();  // any thread; async-signal-safe
  void handle_read() override;
  bool writable() override { return false; }

 private:
  ChannelMap& owner_;
  int fd_;
  std::atomic<bool> pending_{false};
};

}  // namespace asyncore

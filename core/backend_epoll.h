// Internal (not installed). The epoll backend, the default: declared here rather than in its .cpp
// so the loop calls its wait() directly and inline (the class is final), without a virtual call
// on every pass. Level-triggered; the interest set changes only when the map says a dispatcher's
// readable()/writable() answer changed, so a pass costs one epoll_wait.
#pragma once
#include <errno.h>
#include <sys/epoll.h>

#include <climits>
#include <cstdint>
#include <memory>
#include <span>
#include <system_error>
#include <unordered_map>
#include <vector>

#include <asyncore/fd.h>

#include "core/backend.h"

namespace asyncore {

class EpollBackend final : public Backend {
 public:
  EpollBackend();
  BackendKind kind() const override { return BackendKind::epoll; }
  void update(int fd, uint32_t generation, uint32_t old_interest, uint32_t interest) override;

  // The hot path of every loop pass: one epoll_wait, whose records go to the loop as they are.
  // The rare fds epoll cannot watch are handled out of line.
  std::span<ReadyEvent> wait(const timespec* timeout, size_t depth) override {
    return depth ? wait_nested(timeout, depth) : wait_top(timeout);
  }
  std::span<ReadyEvent> wait_top(const timespec* timeout) {  // wait() at depth 0
    if (special_) [[unlikely]] return wait_with_special(timeout);
    const int n = epoll(timeout ? timeout_ms(*timeout) : -1);
    return {events_.get(), static_cast<size_t>(n)};
  }

 private:
  struct AlwaysReady {
    uint32_t generation;
    uint32_t interest;
  };

  // The timeout is rounded up so the loop never wakes before a timer is due.
  static int timeout_ms(const timespec& timeout) {
    long long ms = static_cast<long long>(timeout.tv_sec) * 1000 + (timeout.tv_nsec + 999999) / 1000000;
    return ms > INT32_MAX ? INT32_MAX : static_cast<int>(ms);
  }

  // epoll_wait, not epoll_pwait2: valgrind (used for the benchmark's instruction counts) does not
  // know the latter. A full batch means more may be waiting: the next wait takes more (the array
  // grows then, since the span returned points into it).
  int epoll(int timeout) {
    int n = ::epoll_wait(epfd_.get(), events_.get(), capacity_, timeout);
    if (n < 0) [[unlikely]] n = wait_failed();
    if (n == capacity_) [[unlikely]] grow_next_ = special_ = true;
    return n;
  }
  int wait_failed();  // EINTR: 0 events; anything else throws

  // The rare cases, out of line: the last batch was full (grow first), or there are regular
  // files (always ready) or fds found closed at registration, reported after the kernel's events
  // (and then the kernel is only polled, never waited on).
  std::span<ReadyEvent> wait_with_special(const timespec* timeout);
  // A nested pass: its own buffer per depth (a fixed batch; what does not fit comes next pass).
  std::span<ReadyEvent> wait_nested(const timespec* timeout, size_t depth);
  bool has_extras() const { return !always_ready_.empty() || !invalid_.empty(); }
  void append_extras(std::vector<ReadyEvent>& out);
  void note_special() { special_ = !invalid_.empty() || !always_ready_.empty() || grow_next_; }
  void resize(int capacity);

  Fd epfd_;
  int capacity_ = 0;
  bool special_ = false;    // the out-of-line path is needed: always-ready or invalid fds, or growth
  bool grow_next_ = false;  // the last batch was full
  std::unique_ptr<ReadyEvent[]> events_;  // filled by epoll_wait, returned by wait()
  std::unordered_map<int, AlwaysReady> always_ready_;
  std::vector<ReadyEvent> invalid_;
  std::vector<ReadyEvent> extra_;  // wait_with_special's result
  static constexpr int kNestedBatch = 64;
  std::vector<std::vector<ReadyEvent>> nested_;  // nested passes' buffers, by depth - 1
};

}  // namespace asyncore

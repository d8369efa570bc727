// epoll backend: the default. Level-triggered; the interest set changes only when the map says
// a dispatcher's readable()/writable() answer changed, so a pass costs one epoll_wait.
#include <errno.h>
#include <sys/epoll.h>

#include <cstdint>
#include <system_error>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/backend.h"
#include <asyncore/fd.h>

namespace asyncore {
namespace {

uint32_t epoll_mask(uint32_t interest) {
  return ((interest & kWantRead) ? EPOLLIN | EPOLLPRI : 0u) | ((interest & kWantWrite) ? EPOLLOUT : 0u);
}

class EpollBackend final : public Backend {
 public:
  EpollBackend() : epfd_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!epfd_) throw std::system_error(errno, std::generic_category(), "epoll_create1");
    resize(64);
  }

  BackendKind kind() const override { return BackendKind::epoll; }

  void update(int fd, uint32_t generation, uint32_t old_interest, uint32_t interest) override {
    if (always_ready_.erase(fd)) {
      // Never in the epoll set (epoll_ctl said EPERM): nothing to tell the kernel, not even DEL,
      // which would fail with EPERM again.
      if (interest) always_ready_[fd] = {generation, interest};
      note_special();
      return;
    }
    epoll_event ev{};
    ev.events = epoll_mask(interest);
    ev.data.u64 = ready_key(fd, generation);
    int op = interest == 0 ? EPOLL_CTL_DEL : old_interest == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (::epoll_ctl(epfd_.get(), op, fd, &ev) == 0) return;
    if (errno == EPERM && interest) {
      // Regular files cannot be polled; they are always ready, as poll() and select() say.
      always_ready_[fd] = {generation, interest};
    } else if (errno == EBADF && interest) {
      invalid_.push_back(ready_event(fd, generation, kEventInvalid));
    } else if (!(op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT))) {
      throw std::system_error(errno, std::generic_category(), "epoll_ctl fd " + std::to_string(fd));
    }
    note_special();
  }

  // The hot path of every loop pass: one epoll_wait, whose records go to the loop as they are.
  // The rare fds epoll cannot watch are handled out of line.
  std::span<ReadyEvent> wait(const timespec* timeout, size_t depth) override {
    if (special_ || depth) [[unlikely]] return wait_with_special(timeout, depth);
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
    if (n < 0) [[unlikely]] {
      if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "epoll_wait");
      n = 0;
    }
    if (n == capacity_) [[unlikely]] grow_next_ = special_ = true;
    return n;
  }

  // The rare cases, out of line: the last batch was full (grow first), or there are regular
  // files (always ready) or fds found closed at registration, reported after the kernel's events
  // (and then the kernel is only polled, never waited on); or a nested pass's wait.
  [[gnu::noinline]] std::span<ReadyEvent> wait_with_special(const timespec* timeout, size_t depth) {
    if (depth) return wait_nested(timeout, depth);
    if (grow_next_) resize(capacity_ * 2);
    const bool extras = has_extras();
    const int n = epoll(extras ? 0 : timeout ? timeout_ms(*timeout) : -1);
    note_special();
    if (!extras) return {events_.get(), static_cast<size_t>(n)};
    extra_.assign(events_.get(), events_.get() + n);
    append_extras(extra_);
    return extra_;
  }

  // A nested pass: its own buffer per depth (a fixed batch; what does not fit comes next pass).
  std::span<ReadyEvent> wait_nested(const timespec* timeout, size_t depth) {
    if (nested_.size() < depth) nested_.resize(depth);  // moves keep the buffers
    std::vector<ReadyEvent>& out = nested_[depth - 1];
    out.resize(kNestedBatch);
    const bool extras = has_extras();
    int n = ::epoll_wait(epfd_.get(), out.data(), kNestedBatch, extras ? 0 : timeout ? timeout_ms(*timeout) : -1);
    if (n < 0) {
      if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "epoll_wait");
      n = 0;
    }
    out.resize(static_cast<size_t>(n));
    if (extras) append_extras(out);
    note_special();
    return out;
  }

  bool has_extras() const { return !always_ready_.empty() || !invalid_.empty(); }
  void append_extras(std::vector<ReadyEvent>& out) {
    for (auto& [fd, entry] : always_ready_) {
      out.push_back(ready_event(fd, entry.generation,
                                ((entry.interest & kWantRead) ? kEventRead : 0u) | ((entry.interest & kWantWrite) ? kEventWrite : 0u)));
    }
    out.insert(out.end(), invalid_.begin(), invalid_.end());
    invalid_.clear();
  }

  void note_special() { special_ = !invalid_.empty() || !always_ready_.empty() || grow_next_; }

  void resize(int capacity) {
    capacity_ = capacity;
    events_ = std::make_unique<ReadyEvent[]>(static_cast<size_t>(capacity));
    grow_next_ = false;
  }

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

}  // namespace

std::unique_ptr<Backend> make_epoll_backend() { return std::make_unique<EpollBackend>(); }

}  // namespace asyncore

// epoll backend: the default. Level-triggered; the interest set changes only when the map says
// a dispatcher's readable()/writable() answer changed, so a pass costs one epoll_wait.
#include <errno.h>
#include <sys/epoll.h>

#include <array>
#include <cstdint>
#include <system_error>
#include <unordered_map>

#include "core/backend.h"
#include "core/fd.h"

namespace asyncore {
namespace {

uint32_t epoll_mask(uint32_t interest) {
  return ((interest & kWantRead) ? EPOLLIN | EPOLLPRI : 0u) | ((interest & kWantWrite) ? EPOLLOUT : 0u);
}

class EpollBackend final : public Backend {
 public:
  EpollBackend() : epfd_(::epoll_create1(EPOLL_CLOEXEC)), events_(64) {
    if (!epfd_) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  }

  BackendKind kind() const override { return BackendKind::epoll; }

  void update(int fd, uint32_t generation, uint32_t old_interest, uint32_t interest) override {
    if (always_ready_.erase(fd)) {
      // Never in the epoll set (epoll_ctl said EPERM): nothing to tell the kernel, not even DEL,
      // which would fail with EPERM again.
      if (interest) always_ready_[fd] = {generation, interest};
      return;
    }
    epoll_event ev{};
    ev.events = epoll_mask(interest);
    ev.data.u64 = static_cast<uint32_t>(fd) | (static_cast<uint64_t>(generation) << 32);
    int op = interest == 0 ? EPOLL_CTL_DEL : old_interest == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (::epoll_ctl(epfd_.get(), op, fd, &ev) == 0) return;
    if (errno == EPERM && interest) {
      // Regular files cannot be polled; they are always ready, as poll() and select() say.
      always_ready_[fd] = {generation, interest};
    } else if (errno == EBADF && interest) {
      invalid_.push_back({fd, generation, kEventInvalid});
    } else if (!(op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT))) {
      throw std::system_error(errno, std::generic_category(), "epoll_ctl fd " + std::to_string(fd));
    }
  }

  std::span<const ReadyEvent> wait(const timespec* timeout) override {
    if (ready_.size() < events_.size()) ready_.resize(events_.size());
    const bool special = !invalid_.empty() || !always_ready_.empty();
    // epoll_wait, not epoll_pwait2: valgrind (used for the benchmark's instruction counts) does not
    // know the latter. The timeout is rounded up so the loop never wakes before a timer is due.
    int timeout_ms = -1;
    if (special) {
      timeout_ms = 0;
    } else if (timeout) {
      long long ms = static_cast<long long>(timeout->tv_sec) * 1000 + (timeout->tv_nsec + 999999) / 1000000;
      timeout_ms = ms > INT32_MAX ? INT32_MAX : static_cast<int>(ms);
    }
    int n = ::epoll_wait(epfd_.get(), events_.data(), static_cast<int>(events_.size()), timeout_ms);
    if (n < 0) {
      if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "epoll_wait");
      n = 0;
    }
    // EPOLLIN, EPOLLPRI, EPOLLOUT, EPOLLERR, EPOLLHUP are 1, 2, 4, 8, 16: one table lookup per
    // event turns them into the map's bits. ready_ is as long as events_, so no bounds to grow.
    static_assert(EPOLLIN == 1 && EPOLLPRI == 2 && EPOLLOUT == 4 && EPOLLERR == 8 && EPOLLHUP == 16);
    static constexpr auto kBits = [] {
      std::array<uint8_t, 32> table{};
      for (uint32_t e = 0; e < 32; ++e) {
        table[e] = static_cast<uint8_t>(((e & EPOLLIN) ? kEventRead : 0u) | ((e & EPOLLOUT) ? kEventWrite : 0u) |
                                        ((e & EPOLLPRI) ? kEventPriority : 0u) | ((e & EPOLLHUP) ? kEventHangup : 0u) |
                                        ((e & EPOLLERR) ? kEventError : 0u));
      }
      return table;
    }();
    ReadyEvent* ready = ready_.data();
    for (int i = 0; i < n; ++i) {
      uint64_t data = events_[i].data.u64;
      ready[i] = {static_cast<int>(data & 0xffffffffu), static_cast<uint32_t>(data >> 32), kBits[events_[i].events & 31u]};
    }
    size_t count = static_cast<size_t>(n);
    if (special) {
      ready_.resize(count);
      for (auto& [fd, entry] : always_ready_) {
        ready_.push_back({fd, entry.generation,
                          ((entry.interest & kWantRead) ? kEventRead : 0u) | ((entry.interest & kWantWrite) ? kEventWrite : 0u)});
      }
      ready_.insert(ready_.end(), invalid_.begin(), invalid_.end());
      invalid_.clear();
      count = ready_.size();
    }
    // A full batch means more may be waiting: take more next time (ready_ follows then, not now,
    // since the span we return points into it).
    if (n == static_cast<int>(events_.size())) events_.resize(events_.size() * 2);
    return {ready_.data(), count};
  }

 private:
  struct AlwaysReady {
    uint32_t generation;
    uint32_t interest;
  };
  Fd epfd_;
  std::vector<epoll_event> events_;
  std::unordered_map<int, AlwaysReady> always_ready_;
  std::vector<ReadyEvent> invalid_;
  std::vector<ReadyEvent> ready_;  // what wait() returns, translated from events_
};

}  // namespace

std::unique_ptr<Backend> make_epoll_backend() { return std::make_unique<EpollBackend>(); }

}  // namespace asyncore

// epoll backend: the default. Level-triggered; the interest set changes only when the map says
// a dispatcher's readable()/writable() answer changed, so a pass costs one epoll_wait.
#include <errno.h>
#include <sys/epoll.h>

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

  void wait(const timespec* timeout, std::vector<ReadyEvent>& out) override {
    static const timespec zero{0, 0};
    if (!invalid_.empty() || !always_ready_.empty()) timeout = &zero;
    // epoll_wait, not epoll_pwait2: valgrind (used for the benchmark's instruction counts) does not
    // know the latter. The timeout is rounded up so the loop never wakes before a timer is due.
    int timeout_ms = -1;
    if (timeout) {
      long long ms = static_cast<long long>(timeout->tv_sec) * 1000 + (timeout->tv_nsec + 999999) / 1000000;
      timeout_ms = ms > INT32_MAX ? INT32_MAX : static_cast<int>(ms);
    }
    int n = ::epoll_wait(epfd_.get(), events_.data(), static_cast<int>(events_.size()), timeout_ms);
    if (n < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "epoll_wait");
    for (int i = 0; i < n; ++i) {
      uint32_t e = events_[i].events, bits = 0;
      if (e & EPOLLIN) bits |= kEventRead;
      if (e & EPOLLOUT) bits |= kEventWrite;
      if (e & EPOLLPRI) bits |= kEventPriority;
      if (e & EPOLLHUP) bits |= kEventHangup;
      if (e & EPOLLERR) bits |= kEventError;
      uint64_t data = events_[i].data.u64;
      out.push_back({static_cast<int>(data & 0xffffffffu), static_cast<uint32_t>(data >> 32), bits});
    }
    if (n == static_cast<int>(events_.size())) events_.resize(events_.size() * 2);
    for (auto& [fd, entry] : always_ready_) {
      out.push_back({fd, entry.generation,
                     ((entry.interest & kWantRead) ? kEventRead : 0u) | ((entry.interest & kWantWrite) ? kEventWrite : 0u)});
    }
    out.insert(out.end(), invalid_.begin(), invalid_.end());
    invalid_.clear();
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
};

}  // namespace

std::unique_ptr<Backend> make_epoll_backend() { return std::make_unique<EpollBackend>(); }

}  // namespace asyncore

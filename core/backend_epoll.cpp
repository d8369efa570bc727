// epoll backend: the default (the class and its hot path are in backend_epoll.h).
#include "core/backend_epoll.h"

#include <string>

namespace asyncore {
namespace {

uint32_t epoll_mask(uint32_t interest) {
  return ((interest & kWantRead) ? EPOLLIN | EPOLLPRI : 0u) | ((interest & kWantWrite) ? EPOLLOUT : 0u);
}

}  // namespace

EpollBackend::EpollBackend() : epfd_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (!epfd_) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  resize(64);
}

void EpollBackend::update(int fd, uint32_t generation, uint32_t old_interest, uint32_t interest) {
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

int EpollBackend::wait_failed() {
  if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "epoll_wait");
  return 0;
}

std::span<ReadyEvent> EpollBackend::wait_with_special(const timespec* timeout) {
  if (grow_next_) resize(capacity_ * 2);
  const bool extras = has_extras();
  const int n = epoll(extras ? 0 : timeout ? timeout_ms(*timeout) : -1);
  note_special();
  if (!extras) return {events_.get(), static_cast<size_t>(n)};
  extra_.assign(events_.get(), events_.get() + n);
  append_extras(extra_);
  return extra_;
}

std::span<ReadyEvent> EpollBackend::wait_nested(const timespec* timeout, size_t depth) {
  if (nested_.size() < depth) nested_.resize(depth);  // moves keep the buffers
  std::vector<ReadyEvent>& out = nested_[depth - 1];
  out.resize(kNestedBatch);
  const bool extras = has_extras();
  int n = ::epoll_wait(epfd_.get(), out.data(), kNestedBatch, extras ? 0 : timeout ? timeout_ms(*timeout) : -1);
  if (n < 0) n = wait_failed();
  out.resize(static_cast<size_t>(n));
  if (extras) append_extras(out);
  note_special();
  return out;
}

void EpollBackend::append_extras(std::vector<ReadyEvent>& out) {
  for (auto& [fd, entry] : always_ready_) {
    out.push_back(ready_event(fd, entry.generation,
                              ((entry.interest & kWantRead) ? kEventRead : 0u) | ((entry.interest & kWantWrite) ? kEventWrite : 0u)));
  }
  out.insert(out.end(), invalid_.begin(), invalid_.end());
  invalid_.clear();
}

void EpollBackend::resize(int capacity) {
  capacity_ = capacity;
  events_ = std::make_unique<ReadyEvent[]>(static_cast<size_t>(capacity));
  grow_next_ = false;
}

std::unique_ptr<Backend> make_epoll_backend() { return std::make_unique<EpollBackend>(); }

}  // namespace asyncore

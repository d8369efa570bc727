// poll backend: a persistent pollfd array edited in place (swap-remove), not rebuilt per pass.
#include <errno.h>
#include <poll.h>

#include <system_error>

#include "core/backend.h"

namespace asyncore {
namespace {

short poll_mask(uint32_t interest) {
  return static_cast<short>(((interest & kWantRead) ? POLLIN | POLLPRI : 0) | ((interest & kWantWrite) ? POLLOUT : 0));
}

class PollBackend final : public Backend {
 public:
  BackendKind kind() const override { return BackendKind::poll; }

  void update(int fd, uint32_t generation, uint32_t, uint32_t interest) override {
    if (static_cast<size_t>(fd) >= position_.size()) position_.resize(static_cast<size_t>(fd) + 1, -1);
    int& pos = position_[static_cast<size_t>(fd)];
    if (interest == 0) {
      if (pos < 0) return;
      size_t last = fds_.size() - 1;
      if (static_cast<size_t>(pos) != last) {
        fds_[static_cast<size_t>(pos)] = fds_[last];
        generations_[static_cast<size_t>(pos)] = generations_[last];
        position_[static_cast<size_t>(fds_[static_cast<size_t>(pos)].fd)] = pos;
      }
      fds_.pop_back();
      generations_.pop_back();
      pos = -1;
      return;
    }
    if (pos < 0) {
      pos = static_cast<int>(fds_.size());
      fds_.push_back({fd, 0, 0});
      generations_.push_back(generation);
    }
    fds_[static_cast<size_t>(pos)].events = poll_mask(interest);
    generations_[static_cast<size_t>(pos)] = generation;
  }

  std::span<ReadyEvent> wait(const timespec* timeout, size_t depth) override {
    if (ready_.size() <= depth) [[unlikely]] ready_.resize(depth + 1);  // moves keep the buffers
    std::vector<ReadyEvent>& out = ready_[depth];
    out.clear();
    int n = ::ppoll(fds_.data(), fds_.size(), timeout, nullptr);
    if (n < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "poll");
    for (size_t i = 0; n > 0 && i < fds_.size(); ++i) {
      short r = fds_[i].revents;
      if (!r) continue;
      --n;
      // poll's bits are the map's (backend.h): POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL.
      static_assert(POLLIN == kEventRead && POLLPRI == kEventPriority && POLLOUT == kEventWrite && POLLERR == kEventError &&
                    POLLHUP == kEventHangup && POLLNVAL == kEventInvalid);
      out.push_back(ready_event(fds_[i].fd, generations_[i], static_cast<uint32_t>(r) & 63u));
    }
    return out;
  }

 private:
  std::vector<pollfd> fds_;
  std::vector<uint32_t> generations_;  // parallel to fds_
  std::vector<int> position_;          // fd -> index in fds_, or -1
  std::vector<std::vector<ReadyEvent>> ready_;  // by depth
};

}  // namespace

std::unique_ptr<Backend> make_poll_backend() { return std::make_unique<PollBackend>(); }

}  // namespace asyncore

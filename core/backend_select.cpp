// select backend: for portability and for parity with asyncore's default. It cannot watch an fd
// at or above FD_SETSIZE; such an fd is refused with an error instead of corrupting memory.
#include <errno.h>
#include <fcntl.h>
#include <sys/select.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <system_error>

#include "core/backend.h"

namespace asyncore {
namespace {

class SelectBackend final : public Backend {
 public:
  SelectBackend() {
    FD_ZERO(&read_);
    FD_ZERO(&write_);
    FD_ZERO(&except_);
  }

  BackendKind kind() const override { return BackendKind::select; }

  void update(int fd, uint32_t generation, uint32_t, uint32_t interest) override {
    if (fd >= FD_SETSIZE) {
      if (interest == 0) return;
      throw std::runtime_error("select backend: fd " + std::to_string(fd) + " is at or above FD_SETSIZE (" +
                               std::to_string(FD_SETSIZE) + "); use the poll or epoll backend");
    }
    FD_CLR(fd, &read_);
    FD_CLR(fd, &write_);
    FD_CLR(fd, &except_);
    auto it = std::find(fds_.begin(), fds_.end(), fd);
    if (interest == 0) {
      if (it != fds_.end()) {
        generations_.erase(generations_.begin() + (it - fds_.begin()));
        fds_.erase(it);
      }
      return;
    }
    if (interest & kWantRead) FD_SET(fd, &read_);
    if (interest & kWantWrite) FD_SET(fd, &write_);
    FD_SET(fd, &except_);  // priority data, as asyncore's select loop asks for r + w
    if (it == fds_.end()) {
      fds_.push_back(fd);
      generations_.push_back(generation);
    } else {
      generations_[static_cast<size_t>(it - fds_.begin())] = generation;
    }
  }

  std::span<ReadyEvent> wait(const timespec* timeout, size_t depth) override {
    if (ready_.size() <= depth) [[unlikely]] ready_.resize(depth + 1);  // moves keep the buffers
    std::vector<ReadyEvent>& out = ready_[depth];
    out.clear();
    fd_set r = read_, w = write_, e = except_;
    int max_fd = fds_.empty() ? -1 : *std::max_element(fds_.begin(), fds_.end());
    int n = ::pselect(max_fd + 1, &r, &w, &e, timeout, nullptr);
    if (n < 0 && errno == EBADF) {
      // Some watched fd was closed behind the map's back: report it as invalid, as poll does.
      for (size_t i = 0; i < fds_.size(); ++i) {
        if (::fcntl(fds_[i], F_GETFD) < 0) out.push_back(ready_event(fds_[i], generations_[i], kEventInvalid));
      }
      return out;
    }
    if (n < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "select");
    if (n <= 0) return out;
    for (size_t i = 0; i < fds_.size(); ++i) {
      int fd = fds_[i];
      uint32_t bits = (FD_ISSET(fd, &r) ? kEventRead : 0u) | (FD_ISSET(fd, &w) ? kEventWrite : 0u) |
                      (FD_ISSET(fd, &e) ? kEventPriority : 0u);
      if (bits) out.push_back(ready_event(fd, generations_[i], bits));
    }
    return out;
  }

 private:
  fd_set read_, write_, except_;
  std::vector<int> fds_;
  std::vector<uint32_t> generations_;
  std::vector<std::vector<ReadyEvent>> ready_;  // by depth
};

}  // namespace

std::unique_ptr<Backend> make_select_backend() { return std::make_unique<SelectBackend>(); }

}  // namespace asyncore

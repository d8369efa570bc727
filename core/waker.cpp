#include "core/waker.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <system_error>

#include <asyncore/channel_map.h>

namespace asyncore {

Waker::Waker(ChannelMap& map) : Dispatcher(&map), owner_(map) {
  fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  set_internal_socket(Fd(fd_));
}

void Waker::wake() {
  // One write per sleep is enough: later wakers see pending_ and skip the system call.
  if (pending_.exchange(true)) return;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
}

void Waker::handle_read() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(fd_, &count, sizeof count);
  pending_ = false;
  owner_.run_pending();
}

}  // namespace asyncore

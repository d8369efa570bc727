#include "dispatchers/process/pidfd.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace asyncore {

Fd open_pidfd(pid_t pid) {
  long fd = ::syscall(SYS_pidfd_open, pid, 0);  // pidfds are always close-on-exec
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "pidfd_open " + std::to_string(pid));
  return Fd(static_cast<int>(fd));
}

ExitWatcher::ExitWatcher(pid_t pid, std::function<void()> on_ready, ChannelMap* map)
    : Dispatcher(map), on_ready_(std::move(on_ready)) {
  set_interest(Interest::declared);  // readable()/writable() change only with a re-check
  set_socket(open_pidfd(pid));
}

// A pidfd reports POLLHUP once the process is reaped (elsewhere, if someone else reaped it):
// the owner's check settles that too, so it is one more "look now".
void ExitWatcher::handle_close() {
  if (is_open()) on_ready_();
}

void ExitWatcher::handle_error(const std::exception& error) {
  log_info(std::string("error: ") + error.what(), LogLevel::error);
  handle_close();
}

}  // namespace asyncore

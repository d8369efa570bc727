// Learning of a child's exit inside the loop: a pidfd (Linux >= 5.3) becomes readable when the
// process exits, so it is watched like any socket, with no SIGCHLD handler that could steal
// other code's children.
#pragma once
#include <sys/types.h>

#include <functional>

#include <asyncore/dispatcher.h>

namespace asyncore {

// pidfd_open(2); close-on-exec. Throws std::system_error (ENOSYS on kernels before 5.3).
Fd open_pidfd(pid_t pid);

// Calls `on_ready` each pass while the process has exited and the watcher is open; the owner
// checks the exit (waitid) and closes the watcher. The pid is not reaped here.
class ExitWatcher final : public Dispatcher {
 public:
  ExitWatcher(pid_t pid, std::function<void()> on_ready, ChannelMap* map = nullptr);
  void handle_read() override { on_ready_(); }
  void handle_close() override;
  void handle_error(const std::exception& error) override;

 private:
  std::function<void()> on_ready_;
};

}  // namespace asyncore

// SignalPipe: delivers POSIX signals to the loop as ordinary callbacks (the self-pipe trick).
// The async-signal handler only writes the signal number to a pipe; the loop reads it and runs
// the registered callback, so callbacks may do anything a loop callback may do.
#pragma once
#include <functional>
#include <map>

#include <asyncore/dispatcher.h>

namespace asyncore {

class SignalPipe final : public Dispatcher {
 public:
  explicit SignalPipe(ChannelMap& map);
  ~SignalPipe() override;
  void add(int signo, std::function<void()> callback);
  void remove(int signo);
  void handle_read() override;
  bool writable() override { return false; }

 private:
  Fd write_end_;
  std::map<int, std::function<void()>> callbacks_;
};

}  // namespace asyncore

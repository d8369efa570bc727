#include "core/signals.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <system_error>

namespace asyncore {
namespace {

// Signals are process-wide, so the write end the handler uses is too.
std::atomic<int> g_signal_write_fd{-1};

extern "C" void on_signal(int signo) {
  int saved = errno;
  unsigned char byte = static_cast<unsigned char>(signo);
  int fd = g_signal_write_fd.load();
  if (fd >= 0) [[maybe_unused]] ssize_t n = ::write(fd, &byte, 1);
  errno = saved;
}

}  // namespace

SignalPipe::SignalPipe(ChannelMap& map) : Dispatcher(&map) {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  write_end_.reset(fds[1]);
  set_internal_socket(Fd(fds[0]));
  g_signal_write_fd = fds[1];
}

SignalPipe::~SignalPipe() {
  for (auto& [signo, callback] : callbacks_) ::signal(signo, SIG_DFL);
  int expected = write_end_.get();
  g_signal_write_fd.compare_exchange_strong(expected, -1);
}

void SignalPipe::add(int signo, std::function<void()> callback) {
  callbacks_[signo] = std::move(callback);
  g_signal_write_fd = write_end_.get();
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  if (::sigaction(signo, &action, nullptr) != 0) {
    throw std::system_error(errno, std::generic_category(), "sigaction " + std::to_string(signo));
  }
}

void SignalPipe::remove(int signo) {
  if (callbacks_.erase(signo)) ::signal(signo, SIG_DFL);
}

void SignalPipe::handle_read() {
  unsigned char signals[64];
  ssize_t n;
  while ((n = ::read(fileno(), signals, sizeof signals)) > 0) {
    for (ssize_t i = 0; i < n; ++i) {
      auto it = callbacks_.find(signals[i]);
      if (it != callbacks_.end()) {
        auto callback = it->second;  // a copy: the callback may remove its own handler
        try {
          callback();
        } catch (const std::exception& e) {
          log_error(std::string("signal ") + std::to_string(signals[i]) + " callback: " + e.what());
        } catch (...) {
          log_error(std::string("signal ") + std::to_string(signals[i]) + " callback: unknown exception");
        }
      }
    }
  }
}

}  // namespace asyncore

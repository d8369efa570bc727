#include <asyncore/process/process.h>

#include <string.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <exception>

#include <asyncore/channel_map.h>
#include "dispatchers/process/pidfd.h"
#include <asyncore/stream/line_splitter.h>
#include "dispatchers/process/process_pipe.h"
#include "dispatchers/process/process_spawn.h"

namespace asyncore {
namespace {

ExitStatus status_from(const siginfo_t& info) {
  ExitStatus status;
  if (info.si_code == CLD_EXITED) {
    status.exited = true;
    status.code = info.si_status;
  } else if (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED) {
    status.signalled = true;
    status.signal = info.si_status;
  }
  return status;
}

// The exit of `pid` if it has exited, leaving it a zombie (WNOWAIT) so that neither its pid nor
// its process group id can be reused while we may still signal the group. nullopt: running.
// Someone else reaped it (ECHILD): an ExitStatus with neither exited nor signalled.
std::optional<ExitStatus> peek_exit(pid_t pid) {
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno != EINTR) return ExitStatus{};
  }
  if (info.si_pid == 0) return std::nullopt;
  return status_from(info);
}

// Blocking; only called once the child has exited or was sent SIGKILL.
std::optional<ExitStatus> reap(pid_t pid) {
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED) != 0) {
    if (errno != EINTR) return std::nullopt;
  }
  return status_from(info);
}

void signal_group(pid_t group, int signo) {
  if (::kill(-group, signo) != 0 && errno != ESRCH) log_warning("kill -" + std::to_string(group) + ": " + strerror(errno));
}

}  // namespace

const char* stream_name(OutputStream stream) { return stream == OutputStream::out ? "stdout" : "stderr"; }

std::string ExitStatus::describe() const {
  std::string text;
  if (exited) {
    text = "exit " + std::to_string(code);
  } else if (signalled) {
    const char* name = sigabbrev_np(signal);
    text = name ? std::string("signal SIG") + name : "signal " + std::to_string(signal);
  } else {
    text = "exit status unknown";
  }
  return timed_out ? text + " after the timeout" : text;
}

class Process::Impl : public std::enable_shared_from_this<Impl> {
 public:
  explicit Impl(ProcessOptions options)
      : options_(std::move(options)),
        map_(options_.map ? options_.map : &socket_map()),
        out_lines_(options_.max_line_length, OverlongLine::pieces),  // a child's output: nothing dropped
        err_lines_(options_.max_line_length, OverlongLine::pieces) {}

  void start();
  void abandon();
  bool send_signal(int signo);
  void terminate_then_kill(double grace);

  pid_t pid() const { return pid_; }
  bool finished() const { return finished_; }
  const std::optional<ExitStatus>& status() const { return delivered_; }

 private:
  // Every loop callback holds the Impl alive while it runs: a user callback may destroy the
  // Process (and so drop the last outside reference) in the middle of it.
  template <class Method>
  auto weak_call(Method method) {
    return [weak = weak_from_this(), method](auto&&... args) {
      if (auto self = weak.lock()) ((*self).*method)(std::forward<decltype(args)>(args)...);
    };
  }
  void on_stdout(std::string_view bytes) { split(OutputStream::out, bytes); }
  void on_stderr(std::string_view bytes) { split(OutputStream::err, bytes); }
  void on_stdout_end() { end_stream(OutputStream::out); }
  void on_stderr_end() { end_stream(OutputStream::err); }
  void split(OutputStream stream, std::string_view bytes);
  void end_stream(OutputStream stream);
  void deliver_line(OutputStream stream, std::string_view line);
  void check_exit();
  void on_output_grace_over();
  void on_timeout();
  void finish_if_done();
  void finish();
  void close_channels();
  void cancel_timers();

  ProcessOptions options_;
  ChannelMap* map_;
  pid_t pid_ = -1;
  std::shared_ptr<OutputPipeReader> stdout_, stderr_;
  std::shared_ptr<ExitWatcher> exit_watcher_;
  LineSplitter out_lines_, err_lines_;
  std::optional<ExitStatus> exit_;       // the leader exited (not yet reaped)
  std::optional<ExitStatus> delivered_;  // reaped and reported
  bool finished_ = false;                // reaped (reported or abandoned): signal nothing more
  bool timed_out_ = false;
  TimerHandle timeout_timer_, kill_timer_, grace_timer_;
};

void Process::Impl::start() {
  SpawnedChild child = spawn_child(SpawnRequest{options_.argv, options_.working_dir, options_.extra_env});
  pid_ = child.pid;
  try {
    exit_watcher_ = make<ExitWatcher>(pid_, weak_call(&Impl::check_exit), map_);
    stdout_ = make<OutputPipeReader>(std::move(child.stdout_reader), weak_call(&Impl::on_stdout),
                                     weak_call(&Impl::on_stdout_end), map_);
    stderr_ = make<OutputPipeReader>(std::move(child.stderr_reader), weak_call(&Impl::on_stderr),
                                     weak_call(&Impl::on_stderr_end), map_);
  } catch (...) {
    abandon();  // e.g. no pidfd support: nothing may be left running
    throw;
  }
  if (options_.timeout > 0) {
    timeout_timer_ = map_->call_later(options_.timeout, weak_call(&Impl::on_timeout));
  }
}

void Process::Impl::split(OutputStream stream, std::string_view bytes) {
  LineSplitter& lines = stream == OutputStream::out ? out_lines_ : err_lines_;
  lines.feed(bytes, [this, stream](std::string_view line) { deliver_line(stream, line); });
}

void Process::Impl::deliver_line(OutputStream stream, std::string_view line) {
  if (finished_ && !delivered_) return;  // abandoned from an earlier callback
  if (!options_.on_line) return;
  try {
    options_.on_line(stream, line);
  } catch (const std::exception& error) {
    log_error(std::string("process ") + std::to_string(pid_) + " on_line: " + error.what());
  }
}

void Process::Impl::end_stream(OutputStream stream) {
  LineSplitter& lines = stream == OutputStream::out ? out_lines_ : err_lines_;
  lines.finish([this, stream](std::string_view line) { deliver_line(stream, line); });
  finish_if_done();
}

void Process::Impl::check_exit() {
  if (exit_ || finished_) return;
  exit_ = peek_exit(pid_);
  if (!exit_) return;  // spurious wake-up: keep watching
  exit_watcher_->close();
  timeout_timer_.cancel();  // it has ended; only the output is still to come
  finish_if_done();
  if (!finished_ && !grace_timer_.active()) {
    grace_timer_ = map_->call_later(options_.output_grace, weak_call(&Impl::on_output_grace_over));
  }
}

void Process::Impl::on_output_grace_over() {
  // A descendant still holds a pipe open: read what is there and stop waiting.
  for (auto* reader : {stdout_.get(), stderr_.get()}) {
    if (reader->is_open()) reader->drain();
  }
  if (finished_) return;
  log_debug("process " + std::to_string(pid_) + " exited; its output pipes stay open past the grace, closing them");
  out_lines_.finish([this](std::string_view line) { deliver_line(OutputStream::out, line); });
  err_lines_.finish([this](std::string_view line) { deliver_line(OutputStream::err, line); });
  finish();
}

void Process::Impl::on_timeout() {
  if (finished_ || exit_) return;
  timed_out_ = true;
  log_info("process " + std::to_string(pid_) + " (" + options_.argv[0] + ") timed out after " +
           describe_seconds(options_.timeout));
  terminate_then_kill(options_.kill_grace);
}

void Process::Impl::finish_if_done() {
  if (!finished_ && exit_ && !stdout_->is_open() && !stderr_->is_open()) finish();
}

void Process::Impl::finish() {
  if (finished_) return;
  // The leader is still a zombie here, so its group id cannot have been reused yet.
  if (options_.kill_group_on_exit) signal_group(pid_, SIGKILL);
  close_channels();
  cancel_timers();
  finished_ = true;
  ExitStatus status = reap(pid_).value_or(*exit_);
  status.timed_out = timed_out_;
  delivered_ = status;
  if (!options_.on_exit) return;
  try {
    options_.on_exit(status);
  } catch (const std::exception& error) {
    log_error(std::string("process ") + std::to_string(pid_) + " on_exit: " + error.what());
  }
}

void Process::Impl::abandon() {
  if (finished_) return;
  finished_ = true;
  close_channels();
  cancel_timers();
  if (pid_ <= 0) return;
  signal_group(pid_, SIGKILL);
  reap(pid_);
}

void Process::Impl::close_channels() {
  for (Dispatcher* channel : {static_cast<Dispatcher*>(stdout_.get()), static_cast<Dispatcher*>(stderr_.get()),
                              static_cast<Dispatcher*>(exit_watcher_.get())}) {
    if (channel) channel->close();
  }
}

void Process::Impl::cancel_timers() {
  // Timers keep ChannelMap::loop() running: none may outlive the process.
  timeout_timer_.cancel();
  kill_timer_.cancel();
  grace_timer_.cancel();
}

bool Process::Impl::send_signal(int signo) {
  if (finished_ || pid_ <= 0) return false;
  if (::kill(-pid_, signo) == 0) return true;
  if (errno != ESRCH) log_warning("kill -" + std::to_string(pid_) + ": " + strerror(errno));
  return false;
}

void Process::Impl::terminate_then_kill(double grace) {
  if (finished_) return;
  send_signal(SIGTERM);
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(grace));
  if (kill_timer_.active() && kill_timer_.deadline() <= deadline) return;  // an earlier SIGKILL is due
  kill_timer_.cancel();
  kill_timer_ = map_->call_later(grace, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->send_signal(SIGKILL);
  });
}

Process::Process(ProcessOptions options) : impl_(std::make_shared<Impl>(std::move(options))) { impl_->start(); }

Process::~Process() {
  if (impl_) impl_->abandon();
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (impl_) impl_->abandon();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

pid_t Process::pid() const { return impl_ ? impl_->pid() : -1; }
bool Process::running() const { return impl_ && !impl_->finished(); }
std::optional<ExitStatus> Process::exit_status() const { return impl_ ? impl_->status() : std::nullopt; }
bool Process::send_signal(int signo) { return impl_ && impl_->send_signal(signo); }
void Process::terminate_then_kill(double grace) {
  if (impl_) impl_->terminate_then_kill(grace);
}

}  // namespace asyncore

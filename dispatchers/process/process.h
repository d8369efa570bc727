// Process: runs a program (no shell) inside the loop, as asyncio's subprocess or Twisted's
// spawnProcess. Its stdout and stderr are read line by line without blocking; its exit is
// learnt through a pidfd. The program runs in its own process group, so terminate()/kill()
// reach whatever it started too.
//
//   ProcessOptions options;
//   options.argv = {"rsync", "-a", src, dst};
//   options.timeout = 600;
//   options.on_line = [](OutputStream s, std::string_view line) { log_line(s, line); };
//   options.on_exit = [](const ExitStatus& status) { finish(status.success()); };
//   Process sync(std::move(options));   // started; throws std::system_error if it cannot be
//   ...                                 // later: sync.terminate_then_kill(2.0);
//
// Order: every line of both streams is delivered before on_exit. Callbacks run in the loop; one
// may destroy the Process (then no further callback comes). Single-threaded, like the loop; the
// map must outlive the Process.
#pragma once
#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asyncore {

class ChannelMap;

enum class OutputStream { out, err };
const char* stream_name(OutputStream stream);  // "stdout" | "stderr"

struct ExitStatus {
  bool exited = false;     // ended by exit(): `code` is its status
  int code = -1;
  bool signalled = false;  // ended by `signal`
  int signal = 0;
  bool timed_out = false;  // the timeout option fired and ended the process group
  // Neither exited nor signalled: someone else reaped the child (e.g. SIGCHLD set to SIG_IGN).

  bool success() const { return exited && code == 0 && !timed_out; }
  std::string describe() const;  // "exit 3", "signal SIGKILL", "signal SIGTERM after the timeout"
  bool operator==(const ExitStatus&) const = default;
};

struct ProcessOptions {
  std::vector<std::string> argv;  // argv[0] without '/' is looked up in PATH
  std::string working_dir;        // empty: ours
  std::vector<std::pair<std::string, std::string>> extra_env;  // added to (or replacing in) ours

  double timeout = 0;         // seconds; > 0: then terminate_then_kill(kill_grace), timed_out set
  double kill_grace = 2.0;    // seconds between SIGTERM and SIGKILL for the timeout
  double output_grace = 1.0;  // seconds to wait for the pipes' EOF after the program exited
                              // (a grandchild may hold them open); then they are closed
  // When the program has exited, SIGKILL what is left of its process group (stray grandchildren)
  // before on_exit. Its group id is still reserved then (the leader is reaped only afterwards).
  bool kill_group_on_exit = true;
  // Longer lines are split into pieces of this many bytes (none dropped); 0: no limit.
  size_t max_line_length = 64 * 1024;

  // A line without its '\n' (a partial last line too), bytes as written. Valid during the call.
  std::function<void(OutputStream stream, std::string_view line)> on_line;
  std::function<void(const ExitStatus& status)> on_exit;
  ChannelMap* map = nullptr;  // nullptr: socket_map()
};

class Process {
 public:
  // Starts the program. Throws std::system_error (spawn or pidfd_open failed; nothing is left
  // running) or std::invalid_argument (empty argv, bad environment name).
  explicit Process(ProcessOptions options);
  // If the program still runs: SIGKILL to its group, then reap (no zombie), no on_exit.
  ~Process();
  Process(Process&& other) noexcept = default;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const;  // also its process group id; -1 when moved from
  bool running() const;                            // started and on_exit not yet delivered
  std::optional<ExitStatus> exit_status() const;   // set just before on_exit runs

  // Signals go to the whole process group and only while on_exit has not been delivered (after
  // that the ids may belong to someone else). Return false when nothing was sent.
  bool send_signal(int signo);
  bool terminate() { return send_signal(SIGTERM); }
  bool kill() { return send_signal(SIGKILL); }
  // SIGTERM now, SIGKILL after `grace` seconds unless on_exit was delivered by then.
  void terminate_then_kill(double grace);

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace asyncore

#include <asyncore/process/process.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <asyncore/channel_map.h>
#include <asyncore/stream/line_splitter.h>
#include "test/support/testing.h"

using asyncore::ChannelMap;
using asyncore::ExitStatus;
using asyncore::LineSplitter;
using asyncore::OutputStream;
using asyncore::Process;
using asyncore::ProcessOptions;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// What one process delivered, recorded by the callbacks.
struct Record {
  std::vector<std::string> out, err;
  std::optional<ExitStatus> status;
  size_t lines_at_exit = 0;
  int exit_calls = 0;
  size_t lines() const { return out.size() + err.size(); }
};

ProcessOptions options_for(ChannelMap& map, Record& record, std::vector<std::string> argv) {
  ProcessOptions options;
  options.map = &map;
  options.argv = std::move(argv);
  options.on_line = [&record](OutputStream stream, std::string_view line) {
    (stream == OutputStream::out ? record.out : record.err).emplace_back(line);
  };
  options.on_exit = [&record](const ExitStatus& status) {
    record.status = status;
    record.lines_at_exit = record.lines();
    ++record.exit_calls;
  };
  return options;
}

// Runs the loop until `done` holds or `limit` seconds pass; never blocks longer.
bool run_until(ChannelMap& map, const std::function<bool()>& done, double limit = 20) {
  auto start = Clock::now();
  while (!done()) {
    if (seconds_since(start) > limit) return false;
    map.poll_once(0.05);
  }
  return true;
}

std::vector<std::string> sh(const std::string& script) { return {"/bin/sh", "-c", script}; }
std::string helper() { return testing::test_bin_path("process-output"); }

size_t open_fd_count() {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++count;
  return count;
}

// /proc/<pid>/stat: "pid (comm) S ppid ..."; the state letter and the parent, if it exists.
std::optional<std::pair<char, pid_t>> state_of(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return std::nullopt;
  size_t close = text.rfind(')');
  if (close == std::string::npos || close + 4 > text.size()) return std::nullopt;
  char state = text[close + 2];
  pid_t parent = static_cast<pid_t>(std::atol(text.c_str() + close + 4));
  return std::make_pair(state, parent);
}

// Gone: no such process. A zombie whose parent is someone else (a reparented grandchild that init
// has not reaped yet) has ended too; it is no zombie of ours.
bool ended(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  auto state = state_of(pid);
  return state && state->first == 'Z' && state->second != ::getpid();
}

bool not_our_child(pid_t pid) {
  int status = 0;
  return ::waitpid(pid, &status, WNOHANG) == -1 && errno == ECHILD;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "|";
  return text;
}

std::vector<std::string> numbered(const std::string& prefix, long count) {
  std::vector<std::string> lines;
  for (long i = 0; i < count; ++i) lines.push_back(prefix + " " + std::to_string(i));
  return lines;
}

}  // namespace

TEST_CASE("LineSplitter: lines across chunks, a partial last line, CR and odd bytes kept") {
  std::vector<std::string> lines;
  auto emit = [&](std::string_view line) { lines.emplace_back(line); };
  LineSplitter splitter(0);
  splitter.feed("one\ntw", emit);
  splitter.feed("o\r\n\xff\xfe\n\nlast", emit);
  CHECK(lines == std::vector<std::string>{"one", "two\r", "\xff\xfe", ""});
  CHECK(splitter.pending() == 4);
  splitter.finish(emit);
  CHECK(lines.back() == "last");
  splitter.finish(emit);  // nothing more
  CHECK(lines.size() == 5);
}

TEST_CASE("LineSplitter: over-long lines are split into pieces of the maximum, nothing dropped") {
  std::vector<std::string> lines;
  auto emit = [&](std::string_view line) { lines.emplace_back(line); };
  LineSplitter splitter(4);
  splitter.feed("abcd\nabcdefghij\nab", emit);
  CHECK(lines == std::vector<std::string>{"abcd", "abcd", "efgh", "ij"});
  lines.clear();
  splitter.feed("cd", emit);  // exactly the maximum: waits, its '\n' may come next
  CHECK(lines.empty());
  splitter.feed("\n", emit);
  CHECK(lines == std::vector<std::string>{"abcd"});
  lines.clear();
  for (char c : std::string("0123456789")) splitter.feed(std::string_view(&c, 1), emit);  // no '\n' ever
  CHECK(lines == std::vector<std::string>{"0123", "4567"});
  CHECK(splitter.pending() == 2);
}

TEST_CASE("100,000 lines on each stream: all delivered, in order, before on_exit") {
  ChannelMap map;
  Record record;
  Process process(options_for(map, record, {helper(), "lines", "100000"}));
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }, 40));
  CHECK(record.status->exited);
  CHECK(record.status->code == 0);
  CHECK(record.status->success());
  CHECK(record.lines_at_exit == 200000);
  CHECK(record.out == numbered("out", 100000));
  CHECK(record.err == numbered("err", 100000));
  CHECK_FALSE(process.running());
  CHECK(process.exit_status() == record.status);
}

TEST_CASE("every backend delivers all output and the exit") {
  for (auto kind : {asyncore::BackendKind::select, asyncore::BackendKind::poll, asyncore::BackendKind::epoll}) {
    CAPTURE(asyncore::backend_name(kind));
    ChannelMap map;
    map.use_backend(kind);
    Record record;
    Process process(options_for(map, record, sh("seq 1 20000; printf tail; seq 1 500 >&2; exit 7")));
    REQUIRE(run_until(map, [&] { return record.status.has_value(); }));
    CHECK(record.status->code == 7);
    REQUIRE(record.out.size() == 20001);
    CHECK(record.out[19999] == "20000");
    CHECK(record.out[20000] == "tail");
    CHECK(record.err.size() == 500);
  }
}

TEST_CASE("interleaved stdout and stderr keep their order per stream") {
  ChannelMap map;
  Record record;
  Process process(options_for(map, record, {helper(), "interleaved", "2000"}));
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }));
  CHECK(record.out == numbered("out", 2000));
  CHECK(record.err == numbered("err", 2000));
}

TEST_CASE("a silent program that exits 3") {
  ChannelMap map;
  Record record;
  Process process(options_for(map, record, sh("exit 3")));
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }));
  CHECK(record.lines() == 0);
  CHECK(record.status->exited);
  CHECK(record.status->code == 3);
  CHECK_FALSE(record.status->signalled);
  CHECK_FALSE(record.status->success());
  CHECK(record.status->describe() == "exit 3");
  CHECK(record.exit_calls == 1);
}

TEST_CASE("a partial last line is delivered at EOF, on both streams") {
  ChannelMap map;
  Record record;
  Process process(options_for(map, record, sh("printf 'one\\ntwo'; printf 'warn' >&2")));
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }));
  CHECK(record.out == std::vector<std::string>{"one", "two"});
  CHECK(record.err == std::vector<std::string>{"warn"});
  CHECK(record.lines_at_exit == 3);
}

TEST_CASE("long lines are split at max_line_length; bytes that are not UTF-8 pass through") {
  ChannelMap map;
  Record record;
  auto options = options_for(map, record, sh("printf 'abcdefghij\\n\\377\\376x\\n'"));
  options.max_line_length = 4;
  Process process(std::move(options));
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }));
  CHECK(record.out == std::vector<std::string>{"abcd", "efgh", "ij", "\xff\xfex"});
}

TEST_CASE("a program ended by a signal is reported as signalled") {
  ChannelMap map;
  Record record;
  Process process(options_for(map, record, sh("echo before; kill -USR1 $$; echo after")));
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }));
  CHECK(record.status->signalled);
  CHECK(record.status->signal == SIGUSR1);
  CHECK_FALSE(record.status->exited);
  CHECK(record.status->describe() == "signal SIGUSR1");
  CHECK(record.out == std::vector<std::string>{"before"});
}

TEST_CASE("terminate() ends a program with SIGTERM") {
  ChannelMap map;
  Record record;
  Process process(options_for(map, record, {"sleep", "30"}));
  CHECK(process.running());
  CHECK(process.terminate());
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }, 10));
  CHECK(record.status->signalled);
  CHECK(record.status->signal == SIGTERM);
  CHECK_FALSE(process.terminate());  // reported: its ids are no longer ours to signal
  CHECK_FALSE(process.kill());
}

TEST_CASE("terminate_then_kill: a program that ignores SIGTERM is killed after the grace") {
  ChannelMap map;
  Record record;
  auto options = options_for(map, record, {helper(), "ignore-term"});
  Process* self = nullptr;
  Clock::time_point asked;
  options.on_line = [&](OutputStream, std::string_view line) {
    if (line == "ready") {
      asked = Clock::now();
      self->terminate_then_kill(0.5);
    }
  };
  Process process(std::move(options));
  self = &process;
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }, 15));
  double took = seconds_since(asked);
  CHECK(record.status->signalled);
  CHECK(record.status->signal == SIGKILL);
  CHECK_FALSE(record.status->timed_out);
  CHECK(took >= 0.45);
  CHECK(took < 5);
  CHECK(map.timer_count() == 0);  // nothing left to keep a loop() running
}

TEST_CASE("terminate_then_kill: no SIGKILL is needed when SIGTERM works") {
  ChannelMap map;
  Record record;
  Process process(options_for(map, record, {"sleep", "30"}));
  process.terminate_then_kill(5);
  auto start = Clock::now();
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }, 10));
  CHECK(record.status->signal == SIGTERM);
  CHECK(seconds_since(start) < 4);
  CHECK(map.timer_count() == 0);
}

TEST_CASE("the timeout ends the program and says so") {
  ChannelMap map;
  Record record;
  auto options = options_for(map, record, {"sleep", "30"});
  options.timeout = 0.3;
  auto start = Clock::now();
  Process process(std::move(options));
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }, 10));
  CHECK(record.status->timed_out);
  CHECK(record.status->signalled);
  CHECK(record.status->signal == SIGTERM);
  CHECK_FALSE(record.status->success());
  CHECK(record.status->describe() == "signal SIGTERM after the timeout");
  CHECK(seconds_since(start) >= 0.25);
  CHECK(seconds_since(start) < 5);
}

TEST_CASE("the timeout uses SIGKILL after kill_grace when SIGTERM is ignored") {
  ChannelMap map;
  Record record;
  auto options = options_for(map, record, {helper(), "ignore-term"});
  options.timeout = 0.5;
  options.kill_grace = 0.3;
  auto start = Clock::now();
  Process process(std::move(options));
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }, 10));
  CHECK(record.status->timed_out);
  CHECK(record.status->signal == SIGKILL);
  CHECK(seconds_since(start) >= 0.75);
  CHECK(record.out == std::vector<std::string>{"ready"});
}

TEST_CASE("a program that finishes in time is not marked timed out") {
  ChannelMap map;
  Record record;
  auto options = options_for(map, record, sh("echo done"));
  options.timeout = 10;
  Process process(std::move(options));
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }));
  CHECK(record.status->success());
  CHECK(map.timer_count() == 0);  // the timeout timer is gone with the process
}

TEST_CASE("kill() ends the whole process group, grandchild included") {
  ChannelMap map;
  Record record;
  pid_t grandchild = 0;
  auto options = options_for(map, record, sh("sleep 60 & echo $!; wait"));
  Process process(std::move(options));
  REQUIRE(run_until(map, [&] { return !record.out.empty(); }));
  grandchild = std::stoi(record.out[0]);
  pid_t child = process.pid();
  CHECK(::getpgid(grandchild) == child);
  CHECK(process.kill());
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }, 10));
  CHECK(record.status->signal == SIGKILL);
  CHECK(not_our_child(child));
  CHECK(testing::eventually([&] { return ended(child) && ended(grandchild); }, testing::Seconds(5)));
}

TEST_CASE("a grandchild holding the pipes open does not delay on_exit past the output grace") {
  ChannelMap map;
  Record record;
  auto options = options_for(map, record, sh("sleep 60 & echo $!; echo bye; exit 4"));
  options.output_grace = 0.3;
  auto start = Clock::now();
  Process process(std::move(options));
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }, 10));
  CHECK(seconds_since(start) < 5);
  CHECK(record.status->code == 4);
  REQUIRE(record.out.size() == 2);
  CHECK(record.out[1] == "bye");
  pid_t grandchild = std::stoi(record.out[0]);
  // kill_group_on_exit (the default) ended the stray grandchild too.
  CHECK(testing::eventually([&] { return ended(grandchild); }, testing::Seconds(5)));
  CHECK(not_our_child(process.pid()));
}

TEST_CASE("kill_group_on_exit = false leaves a grandchild running") {
  ChannelMap map;
  Record record;
  auto options = options_for(map, record, sh("sleep 60 & echo $!"));
  options.output_grace = 0.2;
  options.kill_group_on_exit = false;
  Process process(std::move(options));
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }, 10));
  REQUIRE(record.out.size() == 1);
  pid_t grandchild = std::stoi(record.out[0]);
  CHECK(::kill(grandchild, 0) == 0);
  CHECK_FALSE(ended(grandchild));
  ::kill(grandchild, SIGKILL);
  CHECK(testing::eventually([&] { return ended(grandchild); }, testing::Seconds(5)));
}

TEST_CASE("20 processes at once") {
  ChannelMap map;
  constexpr int kCount = 20;
  std::vector<Record> records(kCount);
  std::vector<std::unique_ptr<Process>> processes;
  for (int i = 0; i < kCount; ++i) {
    std::string n = std::to_string(i);
    processes.push_back(std::make_unique<Process>(
        options_for(map, records[i], sh("echo start " + n + "; sleep 0.2; echo end " + n + " >&2; exit " + n))));
  }
  auto start = Clock::now();
  REQUIRE(run_until(map, [&] {
    for (const Record& r : records) if (!r.status) return false;
    return true;
  }, 20));
  CHECK(seconds_since(start) < 10);  // they ran side by side
  for (int i = 0; i < kCount; ++i) {
    std::string n = std::to_string(i);
    CHECK(records[i].status->code == i);
    CHECK(records[i].out == std::vector<std::string>{"start " + n});
    CHECK(records[i].err == std::vector<std::string>{"end " + n});
    CHECK(not_our_child(processes[i]->pid()));
  }
  CHECK(map.empty());
}

TEST_CASE("no zombie and no fd left behind") {
  ChannelMap map;
  map.poll_once(0);  // the map's own fds (backend, waker) exist before counting
  size_t fds_before = open_fd_count();
  std::vector<pid_t> pids;
  for (int round = 0; round < 5; ++round) {
    Record record;
    Process process(options_for(map, record, sh("echo hi; echo there >&2")));
    pids.push_back(process.pid());
    REQUIRE(run_until(map, [&] { return record.status.has_value(); }));
    CHECK(record.status->success());
  }
  map.poll_once(0);
  CHECK(open_fd_count() == fds_before);
  for (pid_t pid : pids) {
    CHECK(not_our_child(pid));
    auto state = state_of(pid);
    CHECK((!state || state->first != 'Z' || state->second != ::getpid()));
  }
}

TEST_CASE("the child inherits no fd of ours: only 0, 1, 2 and what our own parent leaked to us") {
  ChannelMap map;
  Record record;
  // Whoever started this test may have left fds without FD_CLOEXEC; those pass on and are
  // none of ours. Everything the loop and Process open is close-on-exec.
  std::string expected = "0 1 2";
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    int fd = std::stoi(entry.path().filename().string());
    int flags = ::fcntl(fd, F_GETFD);
    if (fd > 2 && flags >= 0 && !(flags & FD_CLOEXEC)) expected += " " + std::to_string(fd);
  }
  Process process(options_for(map, record, {helper(), "fds"}));
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }));
  INFO(joined(record.err));
  REQUIRE(record.out.size() == 1);
  CHECK(record.out[0] == expected);
}

// "SigBlk:\t<hex>" from the helper's output, as a number.
uint64_t mask_in(const std::vector<std::string>& lines, const std::string& name) {
  for (const auto& line : lines) {
    if (line.rfind(name + ":", 0) == 0) return std::stoull(line.substr(name.size() + 1), nullptr, 16);
  }
  FAIL("no " << name << " line");
  return 0;
}

TEST_CASE("the child starts with an empty signal mask and default dispositions") {
  ChannelMap map;  // it sets SIGPIPE to ignored in this process
  sigset_t block, previous;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  REQUIRE(::pthread_sigmask(SIG_BLOCK, &block, &previous) == 0);
  auto previous_usr2 = ::signal(SIGUSR2, SIG_IGN);
  Record record;
  Process process(options_for(map, record, {helper(), "signals"}));
  ::signal(SIGUSR2, previous_usr2);
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }));
  INFO(joined(record.out));
  CHECK(mask_in(record.out, "SigBlk") == 0);
  // Bit n-1 is signal n. glibc's posix_spawn leaves its two internal signals (32 and 33, which
  // glibc programs cannot use and sigaddset refuses) ignored in every child it starts.
  constexpr uint64_t kGlibcInternal = (uint64_t{1} << 31) | (uint64_t{1} << 32);
  CHECK((mask_in(record.out, "SigIgn") & ~kGlibcInternal) == 0);
}

TEST_CASE("stdin is /dev/null; working directory and extra environment apply") {
  ChannelMap map;
  Record record;
  testing::TempDir dir;
  auto options = options_for(map, record, sh("pwd; echo \"$GREETING\" \"$HOME\"; cat; echo end"));
  options.working_dir = dir.path();
  options.extra_env = {{"GREETING", "hello"}, {"HOME", "/nowhere"}};
  Process process(std::move(options));
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }));
  CHECK(record.out == std::vector<std::string>{std::filesystem::canonical(dir.path()).string(), "hello /nowhere", "end"});
}

TEST_CASE("a program that cannot start throws, leaving nothing behind") {
  ChannelMap map;
  map.poll_once(0);
  size_t fds_before = open_fd_count();
  Record record;
  try {
    Process process(options_for(map, record, {"/nonexistent/program"}));
    FAIL("no exception");
  } catch (const std::system_error& error) {
    CHECK(error.code().value() == ENOENT);
  }
  auto options = options_for(map, record, {"true"});
  options.working_dir = "/nonexistent-dir";
  CHECK_THROWS_AS(Process(std::move(options)), std::system_error);
  CHECK_THROWS_AS(Process(options_for(map, record, {})), std::invalid_argument);
  auto bad_env = options_for(map, record, {"true"});
  bad_env.extra_env = {{"A=B", "c"}};
  CHECK_THROWS_AS(Process(std::move(bad_env)), std::invalid_argument);
  map.poll_once(0);
  CHECK(open_fd_count() == fds_before);
  CHECK(map.empty());
  errno = 0;
  CHECK(::waitpid(-1, nullptr, WNOHANG) == -1);  // no child at all, so none left as a zombie
  CHECK(errno == ECHILD);
}

TEST_CASE("destroying a running Process kills its group and reaps it, without on_exit") {
  ChannelMap map;
  Record record;
  pid_t pid, grandchild;
  {
    Process process(options_for(map, record, sh("sleep 60 & echo $!; wait")));
    REQUIRE(run_until(map, [&] { return !record.out.empty(); }));
    pid = process.pid();
    grandchild = std::stoi(record.out[0]);
  }
  CHECK(not_our_child(pid));
  CHECK(ended(pid));
  CHECK(testing::eventually([&] { return ended(grandchild); }, testing::Seconds(5)));
  map.poll_once(0);
  CHECK(record.exit_calls == 0);
  CHECK(map.empty());
  CHECK(map.timer_count() == 0);
}

TEST_CASE("a callback may destroy its own Process") {
  ChannelMap map;
  Record record;
  std::unique_ptr<Process> process;
  auto options = options_for(map, record, {helper(), "lines", "1000"});
  options.on_line = [&](OutputStream, std::string_view) {
    ++record.exit_calls;  // counts lines here
    process.reset();
  };
  process = std::make_unique<Process>(std::move(options));
  pid_t pid = process->pid();
  REQUIRE(run_until(map, [&] { return !process; }));
  CHECK(record.exit_calls == 1);  // nothing after the destruction
  CHECK(not_our_child(pid));
  map.poll_once(0);
  CHECK(map.empty());

  // And from on_exit.
  Record second;
  auto exit_options = options_for(map, second, sh("echo x"));
  exit_options.on_exit = [&](const ExitStatus& status) {
    second.status = status;
    process.reset();
  };
  process = std::make_unique<Process>(std::move(exit_options));
  REQUIRE(run_until(map, [&] { return !process; }));
  CHECK(second.status->success());
}

TEST_CASE("a moved Process keeps running under its new owner") {
  ChannelMap map;
  Record record;
  Process first(options_for(map, record, sh("echo moved")));
  pid_t pid = first.pid();
  Process second(std::move(first));
  CHECK(first.pid() == -1);  // NOLINT: checking the moved-from state on purpose
  CHECK_FALSE(first.running());
  CHECK(second.pid() == pid);
  REQUIRE(run_until(map, [&] { return record.status.has_value(); }));
  CHECK(record.out == std::vector<std::string>{"moved"});
}

TEST_CASE("loop() returns once the processes are done") {
  ChannelMap map;
  Record record;
  Process process(options_for(map, record, sh("echo a; sleep 0.1; echo b")));
  auto start = Clock::now();
  map.loop(1.0);
  CHECK(seconds_since(start) < 10);
  REQUIRE(record.status.has_value());
  CHECK(record.out == std::vector<std::string>{"a", "b"});
}

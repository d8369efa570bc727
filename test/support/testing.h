// Helpers the tests share: child processes with captured output, blocking
// loopback clients with deadlines, temporary folders. Every wait is bounded.
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace testing {

using Seconds = std::chrono::duration<double>;

// Paths of what `make` built (set by the Makefile through TEST_BUILD_DIR / TEST_SOURCE_DIR).
std::string bin_path(std::string_view program);        // build/bin/<program>
std::string test_bin_path(std::string_view program);   // build/test-bin/<program>
std::string source_path(std::string_view relative);    // <repo>/<relative>

// A temporary folder removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }
 private:
  std::string path_;
};

// A program started with its stdin and stdout on pipes and stderr in a file.
// The destructor kills (SIGKILL) and reaps it if it is still running.
class Child {
 public:
  explicit Child(std::vector<std::string> argv, std::vector<std::string> extra_env = {});
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  int pid() const { return pid_; }
  // Next stdout line (without '\n'), or nullopt at EOF or when the wait runs out.
  std::optional<std::string> read_line(Seconds timeout = Seconds(10));
  // Reads lines until one starts with `prefix`; returns it (throws on timeout/EOF).
  std::string wait_for_line(std::string_view prefix, Seconds timeout = Seconds(10));
  // Waits for "listening <what> H:P" and returns P.
  int listening_port(std::string_view what, Seconds timeout = Seconds(10));
  // Every stdout line read so far (including those consumed by read_line).
  const std::vector<std::string>& lines() const { return lines_; }
  // Reads the rest of stdout until EOF (bounded).
  std::string read_all(Seconds timeout = Seconds(10));
  void write_stdin(std::string_view data);
  void close_stdin();
  void signal(int signo);
  // Waits for exit; returns the exit code, 128+signal when killed, or nullopt on timeout.
  std::optional<int> wait(Seconds timeout = Seconds(10));
  bool running();
  std::string stderr_text() const;  // what it wrote on stderr so far

 private:
  int pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string stderr_file_;
  std::string pending_;
  std::vector<std::string> lines_;
  std::optional<int> status_;
};

// Runs a program to completion; returns {exit code, stdout, stderr}.
struct RunResult { int code; std::string out; std::string err; };
RunResult run(std::vector<std::string> argv, Seconds timeout = Seconds(30), std::string_view stdin_data = {});

// A blocking TCP client on 127.0.0.1 (or a Unix path) whose every call has a deadline.
class Client {
 public:
  Client() = default;
  explicit Client(int port, std::string_view host = "127.0.0.1");
  // From a chosen IPv4 source address (every 127.0.0.x is local: a different peer host).
  Client(int port, std::string_view host, std::string_view source);
  ~Client();
  Client(Client&& other) noexcept;
  Client& operator=(Client&& other) noexcept;
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void send_all(std::string_view data);
  // Up to `max` bytes, waiting at most `timeout`; "" on EOF; throws on timeout.
  std::string recv_some(size_t max = 65536, Seconds timeout = Seconds(10));
  std::string recv_exact(size_t n, Seconds timeout = Seconds(10));
  std::string recv_until(std::string_view delimiter, Seconds timeout = Seconds(10));
  // Everything until the peer closes (bounded by timeout; throws on timeout).
  std::string recv_to_eof(Seconds timeout = Seconds(10));
  // True when the peer closed (EOF or reset) within the timeout, reading and dropping data.
  bool wait_closed(Seconds timeout = Seconds(10));
  void shutdown_write();
  void reset();  // close with RST (SO_LINGER 0)
  void close();
 private:
  int fd_ = -1;
  std::string buffered_;
};

// Minimal HTTP/1.1 client for the JSON APIs (one request per connection).
struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};
HttpResponse http(int port, std::string_view method, std::string_view target,
                  std::string_view body = {}, std::vector<std::string> extra_headers = {},
                  Seconds timeout = Seconds(10));

// Sends `text` and reads it back: true when the same bytes came back in time (an echo service).
bool echoes(Client& client, std::string_view text, Seconds timeout = Seconds(5));

// How often `needle` occurs in `text` (overlaps included), e.g. a log line in a child's stderr.
size_t occurrences(std::string_view text, std::string_view needle);

// Polls `condition` every few milliseconds until it holds or the time runs out.
bool eventually(const std::function<bool()>& condition, Seconds timeout = Seconds(10));

// What a process holds, from /proc: resident memory (VmRSS, KiB) and open fds (-1 when gone).
long resident_kib(int pid);
long open_fds(int pid);

// A port nobody listens on (bound then closed; good enough for refusal tests).
int unused_port();

}  // namespace testing

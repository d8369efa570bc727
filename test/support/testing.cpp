#include "test/support/testing.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace testing {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + (errno ? std::string(": ") + std::strerror(errno) : ""));
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Waits until fd is readable (or writable); false on timeout.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) fail("poll");
  }
}

Clock::time_point deadline_after(Seconds timeout) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout);
}

}  // namespace

std::string bin_path(std::string_view program) { return std::string(TEST_BUILD_DIR) + "/bin/" + std::string(program); }
std::string test_bin_path(std::string_view program) { return std::string(TEST_BUILD_DIR) + "/test-bin/" + std::string(program); }
std::string source_path(std::string_view relative) { return std::string(TEST_SOURCE_DIR) + "/" + std::string(relative); }

TempDir::TempDir() {
  char tmpl[] = "/tmp/asyncore-test-XXXXXX";
  if (!::mkdtemp(tmpl)) fail("mkdtemp");
  path_ = tmpl;
}
TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Child::Child(std::vector<std::string> argv, std::vector<std::string> extra_env) {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) fail("pipe2");
  char tmpl[] = "/tmp/asyncore-child-stderr-XXXXXX";
  int err = ::mkstemp(tmpl);
  if (err < 0) fail("mkstemp");
  stderr_file_ = tmpl;

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigfillset(&defaults);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) env_store.emplace_back(*e);
  for (auto& e : extra_env) env_store.push_back(e);
  std::vector<char*> envp, args;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  int rc = ::posix_spawnp(&pid_, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err);
  stdin_fd_ = in[1];
  stdout_fd_ = out[0];
  if (rc != 0) {
    errno = rc;
    fail("spawn " + argv[0]);
  }
}

Child::~Child() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
  }
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  if (!stderr_file_.empty()) ::unlink(stderr_file_.c_str());
}

std::optional<std::string> Child::read_line(Seconds timeout) {
  auto deadline = deadline_after(timeout);
  for (;;) {
    auto nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      lines_.push_back(line);
      return line;
    }
    if (stdout_fd_ < 0 || !wait_fd(stdout_fd_, POLLIN, deadline)) return std::nullopt;
    char buf[65536];
    ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(stdout_fd_);
      stdout_fd_ = -1;
      if (!pending_.empty()) {
        std::string line = std::move(pending_);
        pending_.clear();
        lines_.push_back(line);
        return line;
      }
      return std::nullopt;
    }
    pending_.append(buf, static_cast<size_t>(n));
  }
}

std::string Child::wait_for_line(std::string_view prefix, Seconds timeout) {
  auto deadline = deadline_after(timeout);
  for (;;) {
    auto line = read_line(std::chrono::duration_cast<Seconds>(deadline - Clock::now()));
    if (!line) {
      throw std::runtime_error("no stdout line starting with '" + std::string(prefix) +
                               "' (stderr: " + stderr_text() + ")");
    }
    if (line->rfind(prefix, 0) == 0) return *line;
  }
}

int Child::listening_port(std::string_view what, Seconds timeout) {
  std::string line = wait_for_line("listening " + std::string(what) + " ", timeout);
  auto colon = line.rfind(':');
  return std::stoi(line.substr(colon + 1));
}

std::string Child::read_all(Seconds timeout) {
  auto deadline = deadline_after(timeout);
  std::string all;
  while (auto line = read_line(std::chrono::duration_cast<Seconds>(deadline - Clock::now()))) {
    all += *line;
    all += '\n';
  }
  return all;
}

void Child::write_stdin(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(stdin_fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("write to child stdin");
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void Child::close_stdin() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

void Child::signal(int signo) {
  if (pid_ > 0 && !status_) ::kill(pid_, signo);
}

std::optional<int> Child::wait(Seconds timeout) {
  if (status_) return status_;
  auto deadline = deadline_after(timeout);
  for (;;) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool Child::running() { return !wait(Seconds(0)).has_value(); }

std::string Child::stderr_text() const {
  std::ifstream in(stderr_file_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RunResult run(std::vector<std::string> argv, Seconds timeout, std::string_view stdin_data) {
  Child child(std::move(argv));
  if (!stdin_data.empty()) child.write_stdin(stdin_data);
  child.close_stdin();
  std::string out = child.read_all(timeout);
  auto code = child.wait(timeout);
  if (!code) throw std::runtime_error("program did not exit in time");
  return {*code, out, child.stderr_text()};
}

Client::Client(int port, std::string_view host) : Client(port, host, {}) {}

Client::Client(int port, std::string_view host, std::string_view source) {
  sockaddr_storage ss{};
  socklen_t len;
  int family;
  std::string h(host);
  if (h.find(':') != std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET6, h.c_str(), &a->sin6_addr);
    len = sizeof *a;
    family = AF_INET6;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, h.c_str(), &a->sin_addr);
    len = sizeof *a;
    family = AF_INET;
  }
  fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) fail("socket");
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    if (family != AF_INET || ::inet_pton(AF_INET, std::string(source).c_str(), &from.sin_addr) != 1 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      ::close(fd_);
      fd_ = -1;
      fail("bind to source " + std::string(source));
    }
  }
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    int e = errno;
    ::close(fd_);
    fd_ = -1;
    errno = e;
    fail("connect to " + h + ":" + std::to_string(port));
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

Client::~Client() { close(); }
Client::Client(Client&& other) noexcept : fd_(other.fd_), buffered_(std::move(other.buffered_)) { other.fd_ = -1; }
Client& Client::operator=(Client&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    buffered_ = std::move(other.buffered_);
    other.fd_ = -1;
  }
  return *this;
}

void Client::send_all(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("send");
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string Client::recv_some(size_t max, Seconds timeout) {
  if (!buffered_.empty()) {
    std::string out = buffered_.substr(0, max);
    buffered_.erase(0, out.size());
    return out;
  }
  if (!wait_fd(fd_, POLLIN, deadline_after(timeout))) {
    errno = 0;
    fail("recv: timed out");
  }
  std::string out(max, '\0');
  ssize_t n;
  do n = ::recv(fd_, out.data(), max, 0); while (n < 0 && errno == EINTR);
  if (n < 0 && errno == ECONNRESET) n = 0;
  if (n < 0) fail("recv");
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Client::recv_exact(size_t n, Seconds timeout) {
  auto deadline = deadline_after(timeout);
  std::string out;
  while (out.size() < n) {
    auto chunk = recv_some(n - out.size(), std::chrono::duration_cast<Seconds>(deadline - Clock::now()));
    if (chunk.empty()) {
      errno = 0;
      fail("recv_exact: peer closed after " + std::to_string(out.size()) + " of " + std::to_string(n) + " bytes");
    }
    out += chunk;
  }
  return out;
}

std::string Client::recv_until(std::string_view delimiter, Seconds timeout) {
  auto deadline = deadline_after(timeout);
  std::string out;
  for (;;) {
    auto pos = out.find(delimiter);
    if (pos != std::string::npos) {
      buffered_ = out.substr(pos + delimiter.size()) + buffered_;
      out.resize(pos + delimiter.size());
      return out;
    }
    auto chunk = recv_some(65536, std::chrono::duration_cast<Seconds>(deadline - Clock::now()));
    if (chunk.empty()) {
      errno = 0;
      fail("recv_until: peer closed; got '" + out + "'");
    }
    out += chunk;
  }
}

std::string Client::recv_to_eof(Seconds timeout) {
  auto deadline = deadline_after(timeout);
  std::string out;
  for (;;) {
    auto chunk = recv_some(65536, std::chrono::duration_cast<Seconds>(deadline - Clock::now()));
    if (chunk.empty()) return out;
    out += chunk;
  }
}

bool Client::wait_closed(Seconds timeout) {
  auto deadline = deadline_after(timeout);
  try {
    for (;;) {
      if (recv_some(65536, std::chrono::duration_cast<Seconds>(deadline - Clock::now())).empty()) return true;
    }
  } catch (const std::exception&) {
    return false;
  }
}

void Client::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

void Client::reset() {
  if (fd_ < 0) return;
  linger lg{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close();
}

void Client::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

HttpResponse http(int port, std::string_view method, std::string_view target, std::string_view body,
                  std::vector<std::string> extra_headers, Seconds timeout) {
  Client c(port);
  std::string req = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (auto& h : extra_headers) req += h + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n";
  req += body;
  c.send_all(req);
  std::string raw = c.recv_to_eof(timeout);
  HttpResponse r;
  auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) throw std::runtime_error("bad HTTP response: '" + raw + "'");
  std::istringstream head(raw.substr(0, head_end));
  std::string line;
  std::getline(head, line);
  r.status = std::stoi(line.substr(line.find(' ') + 1));
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto v = line.substr(colon + 1);
    while (!v.empty() && v.front() == ' ') v.erase(0, 1);
    r.headers[name] = v;
  }
  std::string rest = raw.substr(head_end + 4);
  if (r.headers["transfer-encoding"] == "chunked") {
    size_t pos = 0;
    for (;;) {
      auto eol = rest.find("\r\n", pos);
      size_t size = std::stoul(rest.substr(pos, eol - pos), nullptr, 16);
      if (size == 0) break;
      r.body += rest.substr(eol + 2, size);
      pos = eol + 2 + size + 2;
    }
  } else {
    r.body = rest;
  }
  return r;
}

bool echoes(Client& client, std::string_view text, Seconds timeout) {
  try {
    client.send_all(text);
    return client.recv_exact(text.size(), timeout) == text;
  } catch (const std::exception&) {
    return false;
  }
}

size_t occurrences(std::string_view text, std::string_view needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

bool eventually(const std::function<bool()>& condition, Seconds timeout) {
  auto deadline = deadline_after(timeout);
  for (;;) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

long resident_kib(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

long open_fds(int pid) {
  std::error_code error;
  long count = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", error), end; !error && it != end;
       it.increment(error)) {
    ++count;
  }
  return error ? -1 : count;
}

int unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace testing

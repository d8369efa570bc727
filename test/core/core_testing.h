// Helpers shared by the core's test suites: run a body once per backend with a fresh map,
// capture log lines, pump a loop until something holds, a listener that hands accepted sockets
// to a callback. Every wait is bounded.
#pragma once
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <asyncore/asyncore.h>
#include "test/support/testing.h"

namespace coretest {

using namespace asyncore;
using SteadyClock = std::chrono::steady_clock;

inline constexpr BackendKind kAllBackends[] = {BackendKind::select, BackendKind::poll, BackendKind::epoll};

// Runs body(map, kind) once per backend, each with a fresh ChannelMap using that backend.
template <class Body>
void each_backend(Body&& body) {
  for (BackendKind kind : kAllBackends) {
    INFO("backend: " << std::string(backend_name(kind)));
    ChannelMap map;
    map.use_backend(kind);
    body(map, kind);
  }
}

inline double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// Runs passes (each waiting at most `step` seconds) until `done` holds or `timeout` passes.
inline bool pump(ChannelMap& map, const std::function<bool()>& done, double timeout = 5.0, double step = 0.01) {
  auto start = SteadyClock::now();
  while (!done()) {
    if (seconds_since(start) > timeout) return false;
    map.poll_once(step);
  }
  return true;
}

// Captures every log line while alive (and sets the level); restores the stderr sink after.
class LogCapture {
 public:
  explicit LogCapture(LogLevel level = LogLevel::info) : old_level_(log_level()) {
    set_log_level(level);
    set_log_sink([this](LogLevel l, std::string_view m) {
      std::lock_guard lock(mutex_);
      lines_.push_back({l, std::string(m)});
    });
  }
  ~LogCapture() {
    set_log_sink({});
    set_log_level(old_level_);
  }
  struct Line {
    LogLevel level;
    std::string text;
  };
  std::vector<Line> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  size_t count() { return lines().size(); }
  // Lines containing `needle`.
  std::vector<std::string> matching(std::string_view needle) {
    std::vector<std::string> out;
    for (auto& l : lines())
      if (l.text.find(needle) != std::string::npos) out.push_back(l.text);
    return out;
  }
  std::string all() {
    std::string out;
    for (auto& l : lines()) out += std::string(level_name(l.level)) + " " + l.text + "\n";
    return out;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    lines_.clear();
  }

 private:
  LogLevel old_level_;
  std::mutex mutex_;
  std::vector<Line> lines_;
};

// A listener on `where` (default 127.0.0.1, port 0) that gives each accepted socket to on_accept
// (default: keeps the Fd in `accepted`).
class Listener : public Dispatcher {
 public:
  explicit Listener(ChannelMap& map, Address where = Address::ipv4("127.0.0.1", 0), int backlog = 128)
      : Dispatcher(&map) {
    create_socket(where.family());
    if (where.is_inet()) set_reuse_addr();
    bind(where);
    listen(backlog);
  }
  void handle_accepted(Fd socket, const Address& peer) override {
    ++accept_count;
    if (on_accept) on_accept(std::move(socket), peer);
    else accepted.push_back(std::move(socket));
  }
  int port() const { return addr.port(); }
  std::function<void(Fd, const Address&)> on_accept;
  std::vector<Fd> accepted;
  int accept_count = 0;
};

// A connected stream dispatcher that records what happens to it.
class Recorder : public Dispatcher {
 public:
  using Dispatcher::Dispatcher;
  void handle_read() override {
    ++reads;
    char buf[65536];
    size_t n = recv_into(buf, sizeof buf);
    data.append(buf, n);
  }
  void handle_connect() override { ++connects; }
  void handle_eof() override {
    ++eofs;
    if (close_on_eof) close();
  }
  void handle_close() override {
    ++closes;
    close();
  }
  void handle_error(const std::exception& e) override {
    ++errors;
    last_error = e.what();
    close();
  }
  std::string data;
  int reads = 0, connects = 0, eofs = 0, closes = 0, errors = 0;
  bool close_on_eof = true;
  std::string last_error;
};

// Waits (bounded) until fd is readable.
inline bool wait_readable(int fd, double timeout = 5.0) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout * 1000)) == 1;
}

inline void set_linger_zero(int fd) {
  linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

}  // namespace coretest

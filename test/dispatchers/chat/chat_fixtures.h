// Fixtures for the async_chat tests: test_asynchat's threaded echo server, a captured log, a
// loopback connection whose server side is handed to a dispatcher, and a command protocol.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <asyncore/asyncore.h>
#include <asyncore/chat/async_chat.h>

namespace dispatcher_tests {

using asyncore::Fd;

inline const std::string kServerQuit = "QUIT\n";

// Waits for `events` on `fd` for at most `seconds`.
inline bool wait_for(int fd, short events, double seconds) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(seconds * 1000)) == 1;
}

// A blocking TCP listener on 127.0.0.1 with an ephemeral port.
inline Fd loopback_listener(int* port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd.get(), 16) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw std::runtime_error("loopback_listener: cannot listen on 127.0.0.1");
  }
  *port = ntohs(a.sin_port);
  return fd;
}

// test_asynchat's echo_server thread: accepts one client, reads a byte at a time until it has
// seen "QUIT\n", then sends everything else back `chunk_size` bytes at a time (1 ms apart).
// With hold_resend it waits for allow_resend() first. Every wait is bounded.
class EchoServerThread {
 public:
  explicit EchoServerThread(size_t chunk_size = 1, bool hold_resend = false)
      : chunk_size_(chunk_size), hold_resend_(hold_resend), listener_(loopback_listener(&port_)) {
    thread_ = std::thread([this] { run(); });
  }
  ~EchoServerThread() {
    allow_resend();
    join();
  }
  EchoServerThread(const EchoServerThread&) = delete;
  EchoServerThread& operator=(const EchoServerThread&) = delete;

  int port() const { return port_; }
  void allow_resend() {
    std::lock_guard lock(mutex_);
    resend_allowed_ = true;
    resend_.notify_all();
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  const std::string& received() const { return buffer_; }  // after join(): what came, minus QUIT

 private:
  void run() {
    if (!wait_for(listener_.get(), POLLIN, 10)) return;
    Fd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return;
    while (buffer_.find(kServerQuit) == std::string::npos) {
      char c;
      if (!wait_for(conn.get(), POLLIN, 10) || ::recv(conn.get(), &c, 1, 0) != 1) break;
      buffer_ += c;
    }
    for (size_t at; (at = buffer_.find(kServerQuit)) != std::string::npos;) buffer_.erase(at, kServerQuit.size());
    if (hold_resend_) {
      std::unique_lock lock(mutex_);
      resend_.wait_for(lock, std::chrono::seconds(10), [this] { return resend_allowed_; });
    }
    // As in Python, sending may fail when the client already closed (test_close_when_done).
    for (size_t sent = 0; sent < buffer_.size();) {
      ssize_t n = ::send(conn.get(), buffer_.data() + sent, std::min(chunk_size_, buffer_.size() - sent), MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  size_t chunk_size_;
  bool hold_resend_;
  int port_ = 0;
  Fd listener_;
  std::string buffer_;
  std::mutex mutex_;
  std::condition_variable resend_;
  bool resend_allowed_ = false;
  std::thread thread_;
};

// A connected loopback pair: a blocking client socket for the test, and the accepted server
// socket to give a dispatcher.
struct LoopbackPair {
  Fd client;
  Fd server;
};
inline LoopbackPair loopback_pair() {
  int port = 0;
  Fd listener = loopback_listener(&port);
  Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(client.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("loopback_pair: connect");
  int one = 1;
  ::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  Fd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!server) throw std::runtime_error("loopback_pair: accept");
  return {std::move(client), std::move(server)};
}

inline void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send_all: send failed");
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Exactly n bytes from `fd`, waiting at most `seconds` in all; fewer if the peer closes.
inline std::string recv_exactly(int fd, size_t n, double seconds = 10) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::string out;
  while (out.size() < n) {
    const double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0 || !wait_for(fd, POLLIN, left)) break;
    std::string chunk(n - out.size(), '\0');
    ssize_t got = ::recv(fd, chunk.data(), chunk.size(), 0);
    if (got <= 0) break;
    out.append(chunk.data(), static_cast<size_t>(got));
  }
  return out;
}

// Bytes received on `fd` and not read yet.
inline int unread_bytes(int fd) {
  int n = 0;
  ::ioctl(fd, FIONREAD, &n);
  return n;
}

// Collects log lines while alive.
class LogCapture {
 public:
  LogCapture() {
    asyncore::set_log_sink([this](asyncore::LogLevel, std::string_view line) { lines_.emplace_back(line); });
  }
  ~LogCapture() { asyncore::set_log_sink({}); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  bool contains(std::string_view text) const {
    for (const auto& line : lines_) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }
  std::string all() const {
    std::string out;
    for (const auto& line : lines_) out += line + "\n";
    return out;
  }

 private:
  std::vector<std::string> lines_;
};

// Bytes whose value depends on their position, so a lost, repeated or reordered byte shows.
inline std::string pattern(size_t n, size_t offset = 0) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>(((offset + i) * 7) % 256);
  return out;
}

// A line protocol over "\r\n" that uses every kind of terminator:
//   ECHO <text>   -> <text>
//   DATA <n>      -> reads n bytes (a numeric terminator) -> GOT <n> <bytes, CR LF shown as |>
//   BIG <n>       -> SIZE <n>, then n pattern() bytes from a producer
//   QUIT          -> BYE, then close_when_done()
class CommandChat : public asyncore::AsyncChat {
 public:
  CommandChat(Fd socket, asyncore::ChannelMap* map) : AsyncChat(std::move(socket), map) { set_terminator("\r\n"); }
  void found_terminator() override {
    std::string record = get_data();
    if (body_length_ > 0) {
      for (size_t at; (at = record.find("\r\n")) != std::string::npos;) record.replace(at, 2, "|");
      push("GOT " + std::to_string(body_length_) + " " + record + "\r\n");
      body_length_ = 0;
      set_terminator("\r\n");
    } else if (record.starts_with("ECHO ")) {
      push(record.substr(5) + "\r\n");
    } else if (record.starts_with("DATA ")) {
      body_length_ = std::stoul(record.substr(5));
      if (body_length_ > 0) set_terminator(body_length_);
    } else if (record.starts_with("BIG ")) {
      const size_t n = std::stoul(record.substr(4));
      push("SIZE " + std::to_string(n) + "\r\n");
      push_with_producer(std::make_unique<asyncore::SimpleProducer>(pattern(n), 4096));
    } else if (record == "QUIT") {
      push("BYE\r\n");
      close_when_done();
    } else {
      push("ERR unknown command\r\n");
    }
    ++commands;
  }
  size_t commands = 0;

 private:
  size_t body_length_ = 0;
};

}  // namespace dispatcher_tests

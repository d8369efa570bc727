#include "test/support/redis_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <asyncore/fd.h>

namespace testing {

namespace redis = asyncore::redis;

RedisServer::RedisServer(RedisOptions options) : options_(std::move(options)) {
  if (options_.tcp) port_ = unused_port();
  start();
}

RedisServer::~RedisServer() {
  if (child_) kill9();
}

int RedisServer::pid() const { return child_ ? child_->pid() : -1; }

void RedisServer::start() {
  std::vector<std::string> argv = {
      "redis-server",  "--port", std::to_string(port_), "--bind", "127.0.0.1", "--unixsocket", socket_path(),
      "--unixsocketperm", "700", "--dir", dir_.path(), "--logfile", dir_.file("redis.log"), "--save", "",
      "--daemonize", "no", "--enable-debug-command", "yes"};
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  child_ = std::make_unique<Child>(argv);
  // Ready once it answers (an error such as NOAUTH is an answer too), but not while it is still
  // loading its AOF or snapshot: every command would get LOADING then.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string last_error;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!child_->running()) {
      throw std::runtime_error("redis-server exited at start: " + child_->stderr_text());
    }
    try {
      const asyncore::redis::Reply reply = command({"PING"}, Seconds(1));
      if (!reply.is_error() || !reply.str.starts_with("LOADING")) return;
      last_error = reply.str;
    } catch (const std::exception& error) {
      last_error = error.what();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("redis-server did not answer PING within 10 s: " + last_error);
}

void RedisServer::kill9() {
  if (!child_) return;
  child_->signal(SIGKILL);
  child_->wait(Seconds(10));
  child_.reset();
}

void RedisServer::restart() {
  kill9();
  start();
}

redis::Reply RedisServer::command(const std::vector<std::string>& args, Seconds timeout) const {
  asyncore::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string path = socket_path();
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throw std::runtime_error("connect " + path + ": " + std::strerror(errno));
  }
  std::string request;
  redis::append_command(request, std::span<const std::string>(args));
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    throw std::runtime_error("send to redis failed");
  }
  redis::ReplyParser parser;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto reply = parser.next()) return *reply;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw std::runtime_error("no reply from redis in time");
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[16384];
    const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n <= 0) throw std::runtime_error("redis closed the connection");
    parser.feed(std::string_view(buffer, static_cast<size_t>(n)));
  }
}

}  // namespace testing

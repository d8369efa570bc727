// RedisServer: a redis-server of a test's own, in a temporary folder, listening on a Unix socket
// only (--port 0) unless TCP is asked for (then on a free loopback port). No state is shared
// between tests; the destructor kills it (SIGKILL). kill9() and restart() keep the folder, the
// socket path and the port, so a client sees the same address come back.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <asyncore/redis/resp.h>
#include "test/support/testing.h"

namespace testing {

struct RedisOptions {
  bool tcp = false;                      // also listen on 127.0.0.1:<free port>
  std::vector<std::string> extra_args;   // e.g. {"--requirepass", "secret"}
};

class RedisServer {
 public:
  explicit RedisServer(RedisOptions options = {});  // started and answering PING, or throws
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::string socket_path() const { return dir_.file("redis.sock"); }
  std::string address() const { return "unix:" + socket_path(); }      // for redis::ClientOptions
  std::string tcp_address() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }  // 0 without tcp
  const TempDir& dir() const { return dir_; }
  int pid() const;

  void kill9();    // SIGKILL and reap
  void restart();  // starts again with the same folder, socket and port (after kill9)
  // One command on a fresh blocking connection over the Unix socket (setup and checks); throws
  // on a timeout or a closed connection. An error reply is returned, not thrown.
  asyncore::redis::Reply command(const std::vector<std::string>& args, Seconds timeout = Seconds(10)) const;

 private:
  void start();
  TempDir dir_;
  RedisOptions options_;
  int port_ = 0;
  std::unique_ptr<Child> child_;
};

}  // namespace testing

// redis-load: pipelined SET then GET through redis::Client, shaped like `redis-benchmark -t set,get
// -P <pipeline> -c <clients>` so the two can be set side by side in one run. Each client keeps
// <pipeline> commands outstanding. Prints "set_rps=N get_rps=N".
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <asyncore/asyncore.h>
#include "apps/common/cli.h"
#include <asyncore/redis/client.h>

using namespace asyncore;

namespace {

// Runs `total` commands of one verb across every client; returns commands per second.
double run_phase(ChannelMap& map, std::vector<std::unique_ptr<redis::Client>>& clients, const std::string& verb,
                 long total, int pipeline) {
  long issued = 0, answered = 0, failed = 0;
  const std::string value = "xxx";
  std::function<void(redis::Client&)> issue = [&](redis::Client& client) {
    if (issued >= total) return;
    const std::string key = "key:" + std::to_string(issued++ % 100000);
    auto done = [&, c = &client](redis::Result& r) {
      ++answered;
      if (!r.ok()) ++failed;
      issue(*c);
    };
    if (verb == "SET") client.command({"SET", key, value}, done);
    else client.command({"GET", key}, done);
  };
  const auto start = std::chrono::steady_clock::now();
  for (auto& client : clients) {
    for (int i = 0; i < pipeline; ++i) issue(*client);
  }
  while (answered < total) map.poll_once(1.0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed) std::fprintf(stderr, "redis-load: %ld %s commands failed\n", failed, verb.c_str());
  return static_cast<double>(total) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:6379";
  int clients_count = 1, pipeline = 16, requests = 100000, protocol = 3;
  Cli cli("redis-load", "[options]", "Pipelined SET and GET through redis::Client, like redis-benchmark.");
  cli.option("--address", &address, "ADDR", "redis address, host:port or unix:/path");
  cli.option("--clients", &clients_count, "N", "connections (default 1)", 1, 1000);
  cli.option("--pipeline", &pipeline, "N", "commands outstanding per connection (default 16)", 1, 10000);
  cli.option("--requests", &requests, "N", "commands per phase (default 100000)", 1, 100000000);
  cli.option("--protocol", &protocol, "2|3", "RESP version (default 3)", 2, 3);
  cli.parse(argc, argv);

  ChannelMap map;
  std::vector<std::unique_ptr<redis::Client>> clients;
  for (int i = 0; i < clients_count; ++i) {
    redis::ClientOptions options;
    options.address = address;
    options.protocol = protocol == 3 ? redis::Protocol::resp3 : redis::Protocol::resp2;
    options.reconnect = false;
    clients.push_back(std::make_unique<redis::Client>(options, &map));
    clients.back()->start();
  }
  const double set_rps = run_phase(map, clients, "SET", requests, pipeline);
  const double get_rps = run_phase(map, clients, "GET", requests, pipeline);
  std::printf("set_rps=%.0f get_rps=%.0f\n", set_rps, get_rps);
  return 0;
}

// barrage-load: holds many barrage client connections in one process and checks that every
// client receives every broadcast, in order (the fan-out test and benchmark).
#include <csignal>
#include <cstdio>

#include "apps/barrage/fleet.h"
#include "apps/common/cli.h"

using namespace asyncore;
using namespace asyncore::barrage;

int main(int argc, char** argv) {
  FleetOptions options;
  int port = 8601;
  double expect = 0, timeout = 60;
  Cli cli("barrage-load", "--room ID --port P [--host H] [--clients N] [--expect N] [--timeout S] [--heartbeat S] [--connect-step N]",
          "Connects N barrage clients to one room and counts what each receives. Prints `joined N` once\n"
          "every client is in the room, then one summary line: clients, complete (got exactly --expect\n"
          "messages, numbered 0..N-1 by `seq`), received, gaps, repeats, seconds and deliveries/s, and when\n"
          "the first and last broadcast came (first=, last=: seconds on CLOCK_MONOTONIC).\n"
          "Exits 0 when every client is complete with no gap or repeat, 1 otherwise.");
  cli.option("--room", &options.client.room, "ID", "the room (required)");
  cli.option("--host", &options.client.host, "H", "server (default 127.0.0.1)");
  cli.option("--port", &port, "P", "server port (default 8601)", 1, 65535);
  cli.option("--clients", &options.clients, "N", "connections (default 100)", 1, 1000000);
  cli.option("--expect", &expect, "N", "messages each client must receive (default: run until SIGINT)", 1, 9e15);
  cli.option("--timeout", &timeout, "S", "give up after S seconds (default 60)", 0.1, 86400);
  cli.option("--heartbeat", &options.client.heartbeat, "S", "seconds between heartbeats (default 45; 0: none)", 0, 86400);
  cli.option("--connect-step", &options.connect_step, "N", "clients started every 10 ms (default 250)", 1, 1000000);
  cli.parse(argc, argv);
  if (options.client.room.empty()) cli.fail("--room is required");
  options.client.port = static_cast<uint16_t>(port);
  options.expect = static_cast<uint64_t>(expect);

  ChannelMap& map = socket_map();
  Fleet fleet(options, map);
  bool announced = false;
  auto poll = std::make_shared<std::function<void()>>();
  *poll = [&] {
    FleetReport now = fleet.report();
    if (!announced && now.joined == now.clients) {
      announced = true;
      std::printf("joined %d\n", now.joined);
      std::fflush(stdout);
    }
    if (fleet.done()) map.stop();
    else map.call_later(0.01, *poll);
  };
  map.call_later(0.01, *poll);
  auto deadline = map.call_later(timeout, [&] {
    log_warning("barrage-load: timed out after " + describe_seconds(timeout));
    map.stop();
  });
  map.add_signal_handler(SIGINT, [&] { map.stop(); });
  map.add_signal_handler(SIGTERM, [&] { map.stop(); });
  fleet.start();
  map.run();
  deadline.cancel();

  FleetReport r = fleet.report();
  std::printf("clients=%d joined=%d complete=%d failed=%d received=%llu gaps=%llu repeats=%llu seconds=%.3f deliveries_per_s=%.0f "
              "first=%.6f last=%.6f\n",
              r.clients, r.joined, r.complete, r.failed, static_cast<unsigned long long>(r.received),
              static_cast<unsigned long long>(r.gaps), static_cast<unsigned long long>(r.repeats), r.seconds,
              r.deliveries_per_second(), r.first, r.last);
  std::fflush(stdout);
  fleet.logout_all();
  for (int i = 0; i < 40 && !map.empty(); ++i) map.poll_once(0.05);
  bool ok = options.expect > 0 && r.complete == r.clients && r.gaps == 0 && r.repeats == 0;
  return ok ? 0 : 1;
}

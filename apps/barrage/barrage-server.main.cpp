// barrage-server: the Douyu barrage server simulator (see docs/douyu.md).
#include <csignal>
#include <cstdio>
#include <sstream>

#include "apps/barrage/generator.h"
#include "apps/barrage/node.h"
#include "apps/barrage/simulator.h"
#include "apps/common/cli.h"
#include "apps/common/connection_flags.h"
#include "apps/common/node_flags.h"
#include "apps/common/workers.h"

using namespace asyncore;
using namespace asyncore::barrage;

namespace {

std::vector<long long> parse_rooms(std::string_view text) {
  std::vector<long long> rooms;
  std::string item;
  std::istringstream in{std::string(text)};
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || id < 0 || item.empty()) throw std::invalid_argument("'" + item + "' is not a numeric room id");
    rooms.push_back(id);
  }
  if (rooms.empty()) throw std::invalid_argument("no room id given");
  return rooms;
}

}  // namespace

int main(int argc, char** argv) {
  ServerOptions options;
  int port = 8601, wait_for = 0;
  double total = -1;
  std::string script_path, mode = "normal";
  Cli cli("barrage-server",
          "[--host H] [--port P] [--rooms ID,ID] [--rate N] [--script FILE] [--idle-timeout S] "
          "[--mode normal|coalesce|split|large] [--total N] [--wait-for N] [--batch S] [--max-queue BYTES] "
          "[--max-partial-input BYTES] [--max-connections N] [--max-per-peer N] [--redis ADDR] [--node-id NAME] [--lease S] "
          "[--workers N] [--reuse-port] [--worker-of PID]",
          "Simulates the Douyu barrage server: login, join group, heartbeats, idle kicks, errors 51, 52\n"
          "and 204, and broadcasts of chatmsg, uenter, dgb and spbc to every client of a room.");
  cli.option("--host", &options.host, "H", "address to listen on (default 127.0.0.1)");
  cli.option("--port", &port, "P", "port (default 8601; 0 picks a free one)", 0, 65535);
  cli.option("--rooms", "ID,ID", "the rooms served (default: any numeric room id)",
             [&](std::string_view v) { options.rooms = parse_rooms(v); });
  cli.option("--rate", &options.rate, "N", "broadcasts a second per room (default 5; 0: none)", 0, 10000000);
  cli.option("--script", &script_path, "FILE", "broadcast these STT messages, one a line, in a loop (default: generated)");
  cli.option("--idle-timeout", &options.idle_timeout, "S", "kick a client silent this long (default 90)", 0.001, 1e9);
  cli.option("--mode", "MODE",
             "normal: a write per packet; coalesce: a batch of packets per write; split: a byte per write;\n"
             "                          large: chat packets over 4 KiB (default normal)",
             [&](std::string_view v) { options.mode = parse_send_mode(v); });
  cli.option("--total", &total, "N", "send exactly N messages per room, then fall silent (default: no end)", 0, 9e15);
  cli.option("--wait-for", &wait_for, "N", "a room starts broadcasting once N clients joined it (default 1)", 0, 10000000);
  cli.option("--batch", &options.batch, "S",
             "shortest time between two broadcast writes; what falls due meanwhile goes together\n"
             "                          (default 0.001, coalesce 0.25)",
             0, 60);
  cli.option("--max-queue", "BYTES", "output a client may lag behind before it is dropped (default 8 MiB)",
             [&](std::string_view v) {
               long long bytes = std::stoll(std::string(v));
               if (bytes < 4096) throw std::out_of_range("must be at least 4096");
               options.max_queue = static_cast<size_t>(bytes);
             });
  cli.option("--max-partial-input", "BYTES",
             "unfinished packets buffered over all clients; past it the client holding the most is closed (default 64 MiB)",
             [&](std::string_view v) {
               long long bytes = std::stoll(std::string(v));
               if (bytes < 65536) throw std::out_of_range("must be at least 65536");
               options.max_partial_input = static_cast<size_t>(bytes);
             });
  add_connection_cap_flags(cli, options.caps, "client connections");
  NodeFlags node;
  add_node_flags(cli, node);
  cli.parse(argc, argv);
  if (!check_node_flags(cli, node)) return 0;
  options.port = static_cast<uint16_t>(port);
  options.wait_for = wait_for;
  options.total = static_cast<long long>(total);
  if (!script_path.empty()) {
    try {
      options.script = load_script(script_path);
    } catch (const std::exception& e) {
      cli.fail(std::string("--script: ") + e.what());
    }
  }

  if (node.workers > 0) {
    return run_workers({.program = "barrage-server",
                        .workers = node.workers,
                        .host = options.host,
                        .ports = {{"barrage", "--port", port}},
                        .node_id = node.node_id,
                        .decided = {},
                        .worker_flags = nullptr,
                        .argv = std::vector<std::string>(argv, argv + argc)});
  }

  ChannelMap& map = socket_map();
  std::unique_ptr<Simulator> server;
  std::unique_ptr<BarrageNode> cluster;
  try {
    server = std::make_unique<Simulator>(options, &map, node.reuse_port);
  } catch (const std::exception& e) {
    cli.fail("cannot listen on " + options.host + ":" + std::to_string(port) + ": " + e.what());
  }
  if (!node.redis.empty()) {
    cluster = std::make_unique<BarrageNode>(NodeOptions{node.redis, node.node_id, node.lease}, server->rooms(),
                                            server->options(), server->source(), map);
    cluster->start();
    log_info("barrage-server: node " + node.node_id + " of the rooms on redis " + node.redis);
  }
  announce_listening("barrage", server->address());
  log_info(std::string("barrage-server: mode ") + send_mode_name(options.mode) + ", rate " + describe_number(options.rate) +
           "/s per room, " + (options.script.empty() ? "generated messages" : std::to_string(options.script.size()) + " scripted messages"));

  auto stop = [&] { map.stop(); };
  map.add_signal_handler(SIGINT, stop);
  map.add_signal_handler(SIGTERM, stop);
  map.run();

  // Graceful: every client hears error 52, then what is queued is flushed, for at most 2 s.
  log_info("barrage-server: stopping; " + std::to_string(server->deliveries()) + " deliveries; connections " +
           server->limits().refusal_summary() + (cluster ? "; " + cluster->summary() : std::string()));
  server->shutdown();
  if (cluster) cluster->leave();  // another node takes the rooms' generators over at once
  auto deadline = Clock::now() + std::chrono::seconds(2);
  while ((server->session_count() > 0 || (cluster && cluster->pending() > 0)) && Clock::now() < deadline) map.poll_once(0.05);
  cluster.reset();
  server.reset();
  map.close_all();
  return 0;
}

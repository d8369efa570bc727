// msg-hub: the messenger directory hub. Peers report "ID:<name>;Port:<port>"; every --interval
// seconds each peer that reported within --alive seconds gets the list of alive peers. With
// --redis, several hubs share that list.
#include <csignal>
#include <memory>

#include "apps/messenger/hub.h"
#include "apps/messenger/limit_flags.h"
#include <asyncore/asyncore.h>
#include "apps/common/cli.h"
#include "apps/common/connection_flags.h"
#include "apps/common/node_flags.h"

using namespace asyncore;

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 9000;
  messenger::HubOptions options;
  Cli cli("msg-hub",
          "[--host H] [--port P] [--interval S] [--alive S] [--identify-timeout S] [--max-connections N] [--max-per-peer N] "
          "[--max-peers N] [--max-names-per-host N] [--name-hold S] [--token-file FILE] [--frame-timeout S] [--max-partial-input BYTES] "
          "[--redis ADDR] [--node-id NAME] [--lease S]",
          "The messenger directory: multicasts the list of alive peers to every alive peer.");
  cli.option("--host", &host, "H", "address to listen on (default 127.0.0.1)");
  cli.option("--port", &port, "P", "port (default 9000; 0 picks a free one)", 0, 65535);
  cli.option("--interval", &options.interval, "S", "seconds between directory multicasts (default 2)", 0.01, 86400);
  cli.option("--alive", &options.alive, "S", "seconds a report keeps a peer listed (default 3000)", 0.01, 1e9);
  cli.option("--identify-timeout", &options.identify_timeout, "S",
             "seconds a new connection has to send its first report before it is closed (default 30)", 0.01, 86400);
  add_connection_cap_flags(cli, options.caps, "peer connections");
  int max_peers = static_cast<int>(options.limits.max_peers);
  int max_names_per_host = static_cast<int>(options.limits.max_per_host);
  cli.option("--max-peers", &max_peers, "N",
             "names listed at once; reports of new names past it are refused (default 1024; at most " +
                 std::to_string(messenger::kMaxPeersBound) + ", so the directory stays under a peer's 16 MiB body limit)",
             1, static_cast<long>(messenger::kMaxPeersBound));
  cli.option("--max-names-per-host", &max_names_per_host, "N", "names held by connections from one host (default 64)", 1,
             1000000);
  cli.option("--name-hold", &options.limits.name_hold, "S",
             "a name whose owner has not reported for S seconds may be claimed by another connection (default 30)", 0.01,
             1e9);
  std::string token_file;
  cli.option("--token-file", &token_file, "FILE",
             "reports must carry Token:<the first line of FILE> (msg-peer --hub-token-file); default: none needed");
  messenger::add_frame_limit_flags(cli, options.connection);
  cli.option("--redis", &options.shared.redis, "ADDR",
             "share the directory with the other hubs on this Redis (host:port or unix:/path); default: alone");
  cli.option("--node-id", &options.shared.node_id, "NAME", "this hub's name among them (default: host name-pid)");
  cli.option("--lease", &options.shared.lease, "S",
             "seconds the names of a hub that stopped answering stay held (default 6)", 0.3, 3600);
  cli.parse(argc, argv);
  check_redis_node(cli, options.shared.redis, options.shared.node_id);
  if (!token_file.empty()) options.token = messenger::read_token_flag(cli, "--token-file", token_file);
  options.limits.max_peers = static_cast<std::size_t>(max_peers);
  options.limits.max_per_host = static_cast<std::size_t>(max_names_per_host);

  ChannelMap& map = socket_map();
  std::unique_ptr<messenger::Hub> hub;
  try {
    hub = std::make_unique<messenger::Hub>(host, static_cast<uint16_t>(port), options, &map);
  } catch (const std::exception& e) {
    cli.fail("cannot listen on " + host + ":" + std::to_string(port) + ": " + e.what());
  }
  auto shutdown = [&] {
    log_info("msg-hub: stopping; " + hub->limits_summary());
    hub->stop();
    hub->leave([&map] { map.stop(); });
  };
  map.add_signal_handler(SIGINT, shutdown);
  map.add_signal_handler(SIGTERM, shutdown);
  if (!options.shared.redis.empty()) {
    log_info("msg-hub: node " + options.shared.node_id + " sharing the directory on redis " + options.shared.redis);
  }
  announce_listening("hub", hub->address());  // after the handlers: a script may signal at once
  map.run();
  return 0;
}

// device-server: the long-connection service for smart-watch devices (docs/device.md).
#include <unistd.h>

#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "apps/device/admin_api.h"
#include "apps/device/cluster.h"
#include "apps/device/device_store.h"
#include "apps/device/hub.h"
#include "apps/device/registry.h"
#include "apps/device/session.h"
#include <asyncore/asyncore.h>
#include "apps/common/cli.h"
#include "apps/common/connection_flags.h"
#include "apps/common/node_flags.h"
#include "apps/common/workers.h"
#include <asyncore/secret.h>

using namespace asyncore;
using namespace asyncore::device;

namespace {

// The admin API serves operators and scripts, not fleets: small fixed caps keep a runaway
// script or a flood from taking the server's file descriptors.
constexpr std::size_t kAdminMaxConnections = 256;
constexpr std::size_t kAdminMaxPerPeer = 64;

// Where the admin token may come from besides --admin-token, which any local user sees in `ps`.
constexpr const char* kAdminTokenVariable = "DEVICE_ADMIN_TOKEN";


}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", registry_path, data_dir = "./var/device", admin_token, admin_token_file;
  int port = 7000, admin_port = 7080, max_frame = 65536, events_per_device = 100, compact_records = 50000;
  ConnectionCaps device_caps;  // none by default: a fleet may share one address (NAT) and run to 19,000+
  double login_timeout = 30, grace = 30;
  bool auto_register = false;
  // Bounds on what peers and admins can make the server keep.
  int max_queued = 100, max_auto_registered = 100000;
  double log_summary_interval = 10, battery_sync = 5;
  Cli cli("device-server",
          "[--host H] [--port P] [--admin-port P] [--registry FILE] [--auto-register] [--data-dir DIR] "
          "[--max-frame BYTES] [--login-timeout S] [--heartbeat-grace S] [--admin-token TOKEN | --admin-token-file FILE] "
          "[--max-connections N] [--max-per-peer N] [--events-per-device N] [--compact-records N] [--max-queued-commands N] "
          "[--max-auto-registered N] [--log-summary-interval S] [--battery-sync-interval S] [--redis ADDR] [--node-id NAME] [--lease S] [--workers N] "
          "[--reuse-port] [--worker-of PID]",
          "Serves device long connections (login, heartbeats, reports, commands) and an admin HTTP API.");
  cli.option("--host", &host, "H", "address to listen on (default 127.0.0.1)");
  cli.option("--port", &port, "P", "device port (default 7000; 0 picks a free one)", 0, 65535);
  cli.option("--admin-port", &admin_port, "P", "admin HTTP port (default 7080; 0 picks a free one)", 0, 65535);
  cli.option("--registry", &registry_path, "FILE", "device registry: 'IMEI SECRET [locked]' per line");
  cli.flag("--auto-register", &auto_register, "accept unknown IMEIs (no token) and record them");
  cli.option("--data-dir", &data_dir, "DIR", "durable state (default ./var/device)");
  cli.option("--max-frame", &max_frame, "BYTES", "largest frame body accepted (default 65536)", 1, 16 * 1024 * 1024);
  cli.option("--login-timeout", &login_timeout, "S", "seconds a new connection has to log in (default 30)", 0.01, 86400);
  cli.option("--heartbeat-grace", &grace, "S", "seconds of silence allowed past the heartbeat (default 30)", 0, 86400);
  cli.option("--admin-token", &admin_token, "TOKEN",
             "require 'Authorization: Bearer TOKEN' on the admin API (visible in ps: prefer the file or " +
                 std::string(kAdminTokenVariable) + ")");
  cli.option("--admin-token-file", &admin_token_file, "FILE",
             "the admin token is the first line of FILE (default: $" + std::string(kAdminTokenVariable) +
                 " when set, else no token)");
  add_connection_cap_flags(cli, device_caps, "device connections");
  cli.option("--events-per-device", &events_per_device, "N", "event history kept per device (default 100)", 1, 100000);
  cli.option("--compact-records", &compact_records, "N", "journal records before compaction is considered (default 50000)", 1, 1 << 30);
  cli.option("--max-queued-commands", &max_queued, "N",
             "commands stored per device for delivery at its next login; more are refused with 429 (default 100)", 1, 1000000);
  cli.option("--max-auto-registered", &max_auto_registered, "N",
             "devices --auto-register may record; logins of new ones past it get 401 (default 100000)", 0, 100000000);
  cli.option("--log-summary-interval", &log_summary_interval, "S",
             "bad frames and refused logins: the first is logged, then one summary line per S seconds (default 10)", 0.01, 86400);
  NodeFlags node;
  add_node_flags(cli, node);
  cli.option("--battery-sync-interval", &battery_sync, "S",
             "longest a battery level read from a heartbeat waits for the journal's sync; heartbeats are answered "
             "at once (default 5)", 0.01, 3600);
  cli.parse(argc, argv);
  if (!admin_token.empty() && !admin_token_file.empty()) cli.fail("--admin-token and --admin-token-file exclude each other");
  if (!admin_token_file.empty()) {
    try {
      admin_token = read_secret_file(admin_token_file);
    } catch (const std::exception& e) {
      cli.fail(std::string("--admin-token-file: ") + e.what());
    }
  } else if (const char* from_env = std::getenv(kAdminTokenVariable); admin_token.empty() && from_env && *from_env) {
    admin_token = from_env;
  }
  if (!check_node_flags(cli, node)) return 0;
  ClusterOptions cluster_options{node.redis, node.node_id, node.lease};
  const bool reuse_port = node.reuse_port;

  if (node.workers > 0) {
    WorkersPlan plan{.program = "device-server",
                     .workers = node.workers,
                     .host = host,
                     .ports = {{"device", "--port", port}, {"admin", "--admin-port", admin_port}},
                     .node_id = node.node_id,
                     .decided = {"--data-dir"},
                     .worker_flags = [&](size_t i) {
                       return std::vector<std::string>{"--data-dir", data_dir + "/worker-" + std::to_string(i)};
                     },
                     .argv = std::vector<std::string>(argv, argv + argc)};
    return run_workers(plan);
  }

  std::vector<RegistryEntry> registry;
  if (!registry_path.empty()) {
    try {
      registry = load_registry(registry_path);
    } catch (const RegistryError& e) {
      cli.fail(std::string("registry: ") + e.what());
    }
  }

  ChannelMap map;
  std::unique_ptr<DeviceStore> store;
  try {
    store = std::make_unique<DeviceStore>(
        StoreOptions{data_dir, static_cast<std::size_t>(events_per_device), static_cast<std::size_t>(compact_records)}, registry,
        DeviceHub::unix_now());
  } catch (const std::exception& e) {
    log_error(std::string("device-server: cannot open the data dir: ") + e.what());
    return 1;
  }
  Metrics metrics;
  ServerOptions options{static_cast<std::uint32_t>(max_frame), login_timeout, grace, auto_register};
  options.max_queued_per_device = static_cast<std::size_t>(max_queued);
  options.max_auto_registered = static_cast<std::size_t>(max_auto_registered);
  options.log_summary_interval = log_summary_interval;
  options.battery_sync_interval = battery_sync;
  WaitingAdmins waiting_admins;  // before the hub and the cluster: it outlives their callbacks
  DeviceHub hub(map, options, *store, metrics);
  std::unique_ptr<ClusterNode> cluster;
  if (!cluster_options.redis.empty()) {
    cluster_options.max_queued = options.max_queued_per_device;
    cluster_options.events_per_device = static_cast<std::size_t>(events_per_device);
    cluster = std::make_unique<ClusterNode>(map, cluster_options, hub);
    hub.set_cluster(cluster.get());
    cluster->start();
    std::vector<Imei> listed;  // the registry file's devices are known to every node
    for (const RegistryEntry& entry : registry) listed.push_back(entry.imei);
    cluster->store().publish_registry(listed);
    log_info("device-server: node " + cluster_options.node_id + " of the cluster on redis " + cluster_options.redis);
  }

  std::shared_ptr<TcpServer> listener;
  try {
    listener = listen_devices(Address::resolve(host, static_cast<uint16_t>(port)), hub, device_caps, reuse_port);
  } catch (const std::exception& e) {
    cli.fail("cannot listen on " + host + ":" + std::to_string(port) + ": " + e.what());
  }
  std::shared_ptr<http::HttpServer> admin;
  http::HttpServerOptions admin_options;
  admin_options.max_connections = kAdminMaxConnections;
  admin_options.max_per_peer = kAdminMaxPerPeer;
  admin_options.reuse_port = reuse_port;
  try {
    admin = make<http::HttpServer>(Address::resolve(host, static_cast<uint16_t>(admin_port)), admin_router(hub, waiting_admins, admin_token),
                                   admin_options, &map);
    admin->limits().name = "admin listener";
    admin->limits().on_refused = [&metrics](Refusal reason) { metrics.count_refused("admin", refusal_name(reason)); };
  } catch (const std::exception& e) {
    cli.fail("cannot listen on " + host + ":" + std::to_string(admin_port) + " (admin): " + e.what());
  }
  announce_listening("device", listener->server_address);
  announce_listening("admin", admin->address());

  auto stop = [&] {
    log_info("device-server: stopping");
    listener->server_close();
    admin->close();
    hub.shutdown();
    map.stop();
  };
  map.add_signal_handler(SIGINT, stop);
  map.add_signal_handler(SIGTERM, stop);
  map.run();
  hub.shutdown();
  if (cluster) {
    // The offlines of the shutdown go out before the connections close (bounded: one lease).
    const auto deadline = Clock::now() + std::chrono::duration<double>(cluster_options.lease);
    while (cluster->redis_client().in_flight() + cluster->redis_client().held() > 0 && Clock::now() < deadline) {
      map.poll_once(0.05);
    }
    cluster->stop();
    hub.set_cluster(nullptr);
  }
  map.close_all();
  log_info("device-server: stopped; device connections " + listener->limits().refusal_summary() + ", admin connections " +
           admin->limits().refusal_summary());
  return 0;
}

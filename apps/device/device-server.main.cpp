// device-server: the long-connection service for smart-watch devices (docs/device.md).
#include <sys/prctl.h>
#include <unistd.h>

#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "apps/device/admin_api.h"
#include "apps/device/cluster.h"
#include "apps/device/device_listener.h"
#include "apps/device/device_store.h"
#include "apps/device/hub.h"
#include "apps/device/registry.h"
#include "apps/device/workers.h"
#include <asyncore/asyncore.h>
#include "apps/common/cli.h"
#include "apps/common/connection_flags.h"
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
  ClusterOptions cluster_options;
  cli.option("--redis", &cluster_options.redis, "ADDR",
             "run as one node of several sharing this Redis (host:port or unix:/path); default: alone");
  cli.option("--node-id", &cluster_options.node_id, "NAME", "this node's name among them (default: host name-pid)");
  cli.option("--lease", &cluster_options.lease, "S", "seconds a silent node keeps its lease (default 6)", 0.3, 3600);
  int workers = 0;
  bool reuse_port = false;
  cli.option("--workers", &workers, "N",
             "run N worker processes sharing the ports (SO_REUSEPORT), each a node; needs --redis (default 0: one process)",
             0, 64);
  cli.flag("--reuse-port", &reuse_port, "share the ports with other processes (what --workers gives its workers)");
  int worker_of = 0;
  cli.option("--worker-of", &worker_of, "PID", "(given by --workers) stop when that parent process is gone", 0, 1 << 30);
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
  if (workers > 0 && cluster_options.redis.empty()) cli.fail("--workers needs --redis");
  // A worker whose parent is gone (even by SIGKILL) stops as on SIGTERM: no orphan keeps the ports.
  if (worker_of > 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != worker_of) return 0;  // the parent died before we could ask
  }
  if (!cluster_options.redis.empty()) {
    try {
      redis::resolve_endpoint(cluster_options.redis);
    } catch (const std::exception& e) {
      cli.fail(std::string("--redis: ") + e.what());
    }
    if (cluster_options.node_id.empty()) cluster_options.node_id = default_node_id();
    // Node names go into keys, channels and space-separated messages.
    for (char c : cluster_options.node_id) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
        cli.fail("--node-id: letters, digits, '-', '_' and '.' only");
      }
    }
  }

  if (workers > 0) {
    return run_workers(WorkersPlan{workers, host, port, admin_port, cluster_options.node_id, data_dir,
                                   std::vector<std::string>(argv, argv + argc)});
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

  std::shared_ptr<DeviceListener> listener;
  try {
    listener = make<DeviceListener>(Address::resolve(host, static_cast<uint16_t>(port)), hub, device_caps, reuse_port);
  } catch (const std::exception& e) {
    cli.fail("cannot listen on " + host + ":" + std::to_string(port) + ": " + e.what());
  }
  std::shared_ptr<http::HttpServer> admin;
  http::HttpServerOptions admin_options;
  admin_options.max_connections = kAdminMaxConnections;
  admin_options.max_per_peer = kAdminMaxPerPeer;
  admin_options.reuse_port = reuse_port;
  try {
    admin = make<http::HttpServer>(Address::resolve(host, static_cast<uint16_t>(admin_port)), admin_router(hub, admin_token),
                                   admin_options, &map);
    admin->limits().name = "admin listener";
    admin->limits().on_refused = [&metrics](Refusal reason) { metrics.count_refused("admin", refusal_name(reason)); };
  } catch (const std::exception& e) {
    cli.fail("cannot listen on " + host + ":" + std::to_string(admin_port) + " (admin): " + e.what());
  }
  announce_listening("device", listener->addr);
  announce_listening("admin", admin->address());

  auto stop = [&] {
    log_info("device-server: stopping");
    listener->close();
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

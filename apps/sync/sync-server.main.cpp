// sync-server: the sync relay (docs/sync-relay.md). A command port for
// sync-client and scripts, a web page with a JSON API, a queue of sync programs run as
// separate processes, and a durable job store.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "apps/sync/command_channel.h"
#include "apps/sync/config.h"
#include "apps/sync/demo.h"
#include "apps/sync/http_api.h"
#include "apps/sync/job_runner.h"
#include "apps/sync/job_store.h"
#include "apps/sync/server_status.h"
#include "apps/sync/service.h"
#include <asyncore/asyncore.h>
#include "apps/common/cli.h"
#include "apps/common/connection_flags.h"
#include <asyncore/http/operator.h>
#include <asyncore/http/server.h>
#include <asyncore/net/tcp_server.h>

using namespace asyncore;
using namespace asyncore::sync;

namespace {

std::string own_executable(const char* argv0) {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  return n > 0 ? std::string(path, static_cast<size_t>(n)) : std::string(argv0);
}

}  // namespace

int main(int argc, char** argv) {
  // The built-in demo sync re-executes this program with a hidden flag (see demo.h).
  if (argc == 4 && argv[1] == kDemoFlag) return run_demo(argv[2], argv[3]);

  std::string host = "127.0.0.1", config_path, data_dir = "./var/sync";
  int port = 8081, http_port = 8080, max_jobs = 4, max_queued = 10000, keep_jobs = 1000, compact_records = 20000;
  double grace = 10;
  // Each listener (command, http) has its own budget; a relay serves a few people and scripts.
  ConnectionCaps caps{.max_connections = 256, .max_per_peer = 64};
  CommandPortOptions command_options;
  int max_output = static_cast<int>(command_options.max_output);
  Cli cli("sync-server",
          "[--host H] [--port P] [--http-port P] [--config FILE] [--data-dir DIR] [--max-jobs N] [--max-queued N] [--grace S] "
          "[--keep-jobs N] [--compact-records N] [--idle-timeout S] [--line-timeout S] [--quiet-gap S] [--max-output BYTES] "
          "[--max-connections N] [--max-per-peer N]",
          "Runs record syncs handed in on a command port or from its web page, with durable logs and status.");
  cli.option("--host", &host, "H", "address to listen on (default 127.0.0.1)");
  cli.option("--port", &port, "P", "command port (default 8081; 0 picks a free one)", 0, 65535);
  cli.option("--http-port", &http_port, "P", "web page and JSON API port (default 8080; 0 picks a free one)", 0, 65535);
  cli.option("--config", &config_path, "FILE",
             "record types, one a line: TYPE TIMEOUT_SECONDS PROGRAM ARG... ({type} and {id} are replaced); "
             "default: the built-in 'demo' type");
  cli.option("--data-dir", &data_dir, "DIR", "jobs, states and logs (default ./var/sync)");
  cli.option("--max-jobs", &max_jobs, "N", "syncs running at once (default 4)", 1, 1000);
  cli.option("--max-queued", &max_queued, "N", "jobs waiting to run; past it `sync` is refused (default 10000)", 1,
             10000000);
  cli.option("--grace", &grace, "S", "seconds running jobs get to finish at shutdown (default 10)", 0, 86400);
  cli.option("--keep-jobs", &keep_jobs, "N", "finished jobs kept in the store (default 1000)", 1, 1000000);
  cli.option("--compact-records", &compact_records, "N", "journal records before compaction is considered (default 20000)",
             1, 1 << 30);
  cli.option("--idle-timeout", &command_options.idle_timeout, "S",
             "close a command connection after S seconds with no input and no output progress (default 120; 0: never)", 0,
             86400);
  cli.option("--line-timeout", &command_options.line_deadline, "S",
             "a command line must be complete S seconds after its first byte, or the connection closes (default 10; "
             "0: never)",
             0, 86400);
  cli.option("--quiet-gap", &command_options.quiet_gap, "S",
             "a command without a newline runs once the client has sent nothing for S seconds (default 0.2; 0: only at "
             "half-close)",
             0, 60);
  cli.option("--max-output", &max_output, "BYTES",
             "unsent replies past which a command connection is closed (default 16777216; its input is no longer "
             "read past a quarter of it, at most 262144)",
             1 << 16, 1 << 30);
  add_connection_cap_flags(cli, caps, "connections to each listener (command, http)");
  cli.parse(argc, argv);

  SyncPrograms programs;
  try {
    programs = config_path.empty() ? demo_programs(own_executable(argv[0])) : load_config(config_path);
  } catch (const ConfigError& e) {
    cli.fail(e.what());
  }

  command_options.max_output = static_cast<std::size_t>(max_output);
  ChannelMap map;
  CommandPort command_port(map, command_options);
  std::unique_ptr<JobStore> store;
  try {
    StoreOptions options;
    options.data_dir = data_dir;
    options.keep_jobs = static_cast<size_t>(keep_jobs);
    options.compact_min_records = static_cast<size_t>(compact_records);
    store = std::make_unique<JobStore>(options, map);
  } catch (const std::exception& e) {
    log_error(std::string("sync-server: cannot open the data dir: ") + e.what());
    return 1;
  }
  JobRunner runner(map, *store, std::move(programs), static_cast<size_t>(max_jobs), static_cast<size_t>(max_queued));

  std::shared_ptr<TcpServer> commands;
  std::shared_ptr<http::HttpServer> web;
  bool stopping = false;
  auto begin_shutdown = [&](const char* why) {
    if (stopping) return;
    stopping = true;
    log_info(std::string("sync-server: stopping (") + why + ")");
    if (commands) commands->server_close();
    if (web) web->close();
    runner.shutdown(grace, [&] { map.stop(); });
  };
  // quit's reply goes out first; the shutdown starts at the next pass.
  SyncService service(*store, runner, [&] { map.call_soon([&] { begin_shutdown("quit"); }); });

  try {
    commands = std::make_shared<TcpServer>(
        Address::resolve(host, static_cast<uint16_t>(port)),
        [&](Fd socket, const Address&) { make<CommandChannel>(std::move(socket), service, command_port, &map); }, &map);
    commands->max_connections = caps.max_connections;
    commands->max_per_peer = caps.max_per_peer;
    commands->start();
    commands->limits().name = "command listener";
  } catch (const std::exception& e) {
    cli.fail("cannot listen on " + host + ":" + std::to_string(port) + " (command): " + e.what());
  }
  try {
    http::HttpServerOptions web_options;
    web_options.max_connections = caps.max_connections;
    web_options.max_per_peer = caps.max_per_peer;
    web = make<http::HttpServer>(Address::resolve(host, static_cast<uint16_t>(http_port)), make_router(service),
                                 web_options, &map);
    web->limits().name = "http listener";
    web->router().get("/api/status", [&](const http::Request&) {
      return http::Response::json(server_status(commands->limits(), command_port, web->limits()));
    });
    http::add_operator_routes(web->router(), [&] {
      return server_metrics(commands->limits(), command_port, web->limits(), runner.running_count(), runner.queued_count());
    });
  } catch (const std::exception& e) {
    cli.fail("cannot listen on " + host + ":" + std::to_string(http_port) + " (http): " + e.what());
  }
  announce_listening("command", commands->server_address);
  announce_listening("http", web->address());

  map.add_signal_handler(SIGINT, [&] { begin_shutdown("SIGINT"); });
  map.add_signal_handler(SIGTERM, [&] { begin_shutdown("SIGTERM"); });
  map.run();
  // Records a failing disk refused still get --grace seconds; what stays unsaved is named, exit 1.
  const bool saved = store->flush_for_exit(grace);
  map.close_all();
  command_port.closings.flush();
  log_info("sync-server: stopped; command connections " + commands->limits().refusal_summary() + ", " +
           std::to_string(command_port.closed_idle) + " closed idle, " + std::to_string(command_port.closed_slow_line) +
           " for a slow line, " + std::to_string(command_port.closed_output) + " for unread replies; http connections " + web->limits().refusal_summary());
  return saved ? 0 : 1;
}

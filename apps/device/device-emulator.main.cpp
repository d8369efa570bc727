// device-emulator: N emulated devices in one process; the device server's load generator.
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "apps/device/emulator.h"
#include "apps/device/registry.h"
#include <asyncore/asyncore.h>
#include "apps/common/cli.h"

using namespace asyncore;
using namespace asyncore::device;

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", imei_base = "860000000000000", registry_path, token, source;
  int port = 7000, devices = 1, connect_window = 512;
  double heartbeat = 60, report = 300, connect_rate = 0, duration = 0, status_interval = 10, backoff_max = 30;
  Cli cli("device-emulator",
          "[--host H] [--port P] [--devices N] [--imei-base IMEI] [--registry FILE] [--token TOKEN] [--heartbeat S] "
          "[--report S] [--connect-rate R] [--connect-window N] [--duration S] [--status-interval S] [--backoff-max S] "
          "[--source HOST] [--nodes H:P,H:P] [--failover]",
          "Plays N devices against a device server: login, heartbeats, location reports, acks to every command,\n"
          "reconnects with backoff. Prints 'all logged in N devices in S s' once every device has logged in,\n"
          "and a summary line when it stops (--duration, SIGINT or SIGTERM). SIGUSR1 makes every online device\n"
          "raise an 'sos' alarm.");
  cli.option("--host", &host, "H", "server address (default 127.0.0.1)");
  cli.option("--port", &port, "P", "server device port (default 7000)", 1, 65535);
  cli.option("--devices", &devices, "N", "devices to play (default 1)", 1, 1000000);
  cli.option("--imei-base", "IMEI", "IMEI of the first device; the others follow (default 860000000000000)",
             [&](std::string_view v) {
               if (!Imei::parse(v)) throw std::invalid_argument("must be 15 digits");
               imei_base = std::string(v);
             });
  cli.option("--registry", &registry_path, "FILE", "registry file to take each device's token from");
  cli.option("--token", &token, "TOKEN", "token for devices the registry does not list");
  cli.option("--heartbeat", &heartbeat, "S", "seconds between heartbeats, also announced at login (default 60)", 0.01, 86400);
  cli.option("--report", &report, "S", "seconds between location reports; 0 for none (default 300)", 0, 86400);
  cli.option("--connect-rate", &connect_rate, "R", "new connections per second; 0: all at once (default 0)", 0, 1e7);
  cli.option("--connect-window", &connect_window, "N", "with --connect-rate 0: first logins in flight at once (default 512)", 1, 1000000);
  cli.option("--duration", &duration, "S", "stop after S seconds; 0: run until a signal (default 0)", 0, 1e7);
  cli.option("--status-interval", &status_interval, "S", "seconds between status lines on stderr (default 10; 1 on a terminal)", 0.1, 86400);
  cli.option("--backoff-max", &backoff_max, "S", "longest wait between reconnect attempts (default 30)", 0.05, 3600);
  cli.option("--source", &source, "HOST",
             "local address to connect from, e.g. 127.0.0.2 (each address has its own ephemeral ports; use one per "
             "~14,000 devices)");
  std::string nodes;
  bool failover = false;
  cli.flag("--failover", &failover,
           "with --nodes: a device whose connection is lost or refused tries the next node (default: keeps to its own)");
  cli.option("--nodes", &nodes, "H:P,...",
             "device ports of several servers (cluster nodes) to spread the fleet over, by IMEI; replaces --host/--port");
  cli.parse(argc, argv);

  const std::uint64_t base = Imei::parse(imei_base)->number();
  if (base + static_cast<std::uint64_t>(devices) > kImeiLimit) cli.fail("--imei-base + --devices runs past 15 digits");
  EmulatorOptions options;
  try {
    options.server = Address::resolve(host, static_cast<uint16_t>(port));
  } catch (const std::exception& e) {
    cli.fail("bad value '" + host + "' for --host: " + e.what());
  }
  if (!nodes.empty()) {
    std::vector<Address> servers;
    for (size_t at = 0; at <= nodes.size();) {
      const size_t comma = std::min(nodes.find(',', at), nodes.size());
      const std::string node = nodes.substr(at, comma - at);
      const size_t colon = node.rfind(':');
      try {
        if (colon == std::string::npos) throw std::invalid_argument("expected H:P");
        servers.push_back(Address::resolve(node.substr(0, colon), parse_port(node.substr(colon + 1))));
      } catch (const std::exception& e) {
        cli.fail("bad value '" + node + "' in --nodes: " + e.what());
      }
      at = comma + 1;
    }
    options.server = servers.front();
    options.more_servers.assign(servers.begin() + 1, servers.end());
    options.failover = failover;
  }
  if (!source.empty()) {
    // Numeric only (no name lookups), and of the server's family.
    try {
      options.source = options.server.family() == AF_INET6 ? Address::ipv6(source, 0) : Address::ipv4(source, 0);
    } catch (const std::exception& e) {
      cli.fail("bad value '" + source + "' for --source: " + e.what());
    }
  }
  options.devices = devices;
  options.imei_base = base;
  options.heartbeat = heartbeat;
  options.report = report;
  options.connect_rate = connect_rate;
  options.backoff_max = backoff_max;
  options.connect_window = static_cast<std::size_t>(connect_window);
  std::vector<RegistryEntry> registry;
  if (!registry_path.empty()) {
    try {
      registry = load_registry(registry_path);
    } catch (const RegistryError& e) {
      cli.fail(std::string("registry: ") + e.what());
    }
  }
  options.tokens.assign(static_cast<std::size_t>(devices), token);
  for (const RegistryEntry& entry : registry) {
    const std::uint64_t n = entry.imei.number();
    if (n >= base && n < base + static_cast<std::uint64_t>(devices)) options.tokens[n - base] = entry.secret;
  }

  ChannelMap map;
  Fleet fleet(map, options);
  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  // On a terminal the status line is rewritten in place; anything else printed clears it first,
  // so no line is glued to its end (the next status line redraws it).
  bool status_shown = false;
  auto clear_status = [&] {
    if (!status_shown) return;
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    status_shown = false;
  };
  if (terminal) {
    fleet.before_output = clear_status;
    set_log_sink([&](LogLevel level, std::string_view message) {
      clear_status();
      write_log_line(level, message);
    });
  }
  std::function<void()> show_status = [&] {
    if (log_enabled(LogLevel::info)) {
      if (terminal) {
        std::fprintf(stderr, "\r\033[K%s", fleet.status_line().c_str());
        std::fflush(stderr);
        status_shown = true;
      } else {
        log_info("device-emulator: " + fleet.status_line());
      }
    }
    map.call_later(terminal ? 1.0 : status_interval, show_status);
  };
  map.call_later(terminal ? 1.0 : status_interval, show_status);
  auto stop = [&] {
    fleet.stop();
    map.stop();
  };
  map.add_signal_handler(SIGINT, stop);
  map.add_signal_handler(SIGTERM, stop);
  map.add_signal_handler(SIGUSR1, [&] { fleet.raise_alarms("sos"); });
  if (duration > 0) map.call_later(duration, stop);
  fleet.start();
  map.run();
  clear_status();
  set_log_sink({});
  std::printf("%s\n", fleet.summary().c_str());
  std::fflush(stdout);
  map.close_all();
  return 0;
}

#include "apps/device/workers.h"

#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>

#include <asyncore/asyncore.h>
#include "apps/common/cli.h"
#include <asyncore/process/process.h>

namespace asyncore::device {

namespace {

// Binds (without listening) a port the workers share; port 0 picks a free one.
Fd reserve_port(const std::string& host, int port, Address& bound) {
  const Address address = Address::resolve(host, static_cast<uint16_t>(port));
  Fd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw std::system_error(errno, std::generic_category(), "socket");
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  const Address::Raw raw = address.raw();
  if (::bind(fd.get(), raw.get(), raw.length) != 0) {
    throw std::system_error(errno, std::generic_category(), "bind " + address.to_string());
  }
  bound = Address::local_of(fd.get());
  return fd;
}

// Our command line without what the parent decides for each worker.
std::vector<std::string> worker_args(const std::vector<std::string>& argv) {
  static const char* const decided[] = {"--workers", "--port", "--admin-port", "--node-id", "--data-dir", "--worker-of"};
  std::vector<std::string> out;
  for (size_t i = 1; i < argv.size(); ++i) {
    bool skip = false;
    for (const char* name : decided) {
      if (argv[i] == name) {
        skip = true;
        ++i;  // and its value
        break;
      }
      if (argv[i].starts_with(std::string(name) + "=")) {
        skip = true;
        break;
      }
    }
    if (!skip) out.push_back(argv[i]);
  }
  return out;
}

}  // namespace

int run_workers(const WorkersPlan& plan) {
  Address device_address, admin_address;
  Fd device_port, admin_port;
  try {
    device_port = reserve_port(plan.host, plan.port, device_address);
    admin_port = reserve_port(plan.host, plan.admin_port, admin_address);
  } catch (const std::exception& e) {
    log_error(std::string("device-server: ") + e.what());
    return 1;
  }
  const std::vector<std::string> passed = worker_args(plan.argv);
  ChannelMap map;
  std::vector<std::optional<Process>> workers(static_cast<size_t>(plan.workers));
  bool stopping = false;
  std::function<void(size_t)> start = [&](size_t i) {
    if (stopping) return;
    ProcessOptions options;
    options.map = &map;
    options.argv = {"/proc/self/exe"};
    options.argv.insert(options.argv.end(), passed.begin(), passed.end());
    const std::string n = std::to_string(i);
    options.argv.insert(options.argv.end(),
                        {"--reuse-port", "--worker-of", std::to_string(::getpid()), "--port",
                         std::to_string(device_address.port()), "--admin-port",
                         std::to_string(admin_address.port()), "--node-id", plan.node_id + "-w" + n, "--data-dir",
                         plan.data_dir + "/worker-" + n});
    // A worker's log lines are ours; its "listening" lines are not (the parent announced the ports).
    options.on_line = [](OutputStream stream, std::string_view line) {
      if (stream == OutputStream::err) std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    };
    options.on_exit = [&, i](const ExitStatus& status) {
      if (stopping) {
        bool all = true;
        for (auto& w : workers) all = all && (!w || !w->running());
        if (all) map.stop();
        return;
      }
      log_warning("device-server: worker " + std::to_string(i) + " ended (" + status.describe() + "); restarting it in 1 s");
      map.call_later(1.0, [&start, i] { start(i); });
    };
    try {
      workers[i].emplace(std::move(options));
    } catch (const std::exception& e) {
      log_error("device-server: cannot start worker " + n + ": " + e.what() + "; trying again in 1 s");
      map.call_later(1.0, [&start, i] { start(i); });
    }
  };
  for (size_t i = 0; i < workers.size(); ++i) start(i);
  announce_listening("device", device_address);
  announce_listening("admin", admin_address);
  auto stop = [&] {
    if (stopping) return;
    stopping = true;
    log_info("device-server: stopping " + std::to_string(workers.size()) + " workers");
    bool any = false;
    for (auto& w : workers) {
      if (w && w->running()) {
        w->terminate_then_kill(20);
        any = true;
      }
    }
    if (!any) map.stop();
  };
  map.add_signal_handler(SIGINT, stop);
  map.add_signal_handler(SIGTERM, stop);
  map.run();
  log_info("device-server: workers stopped");
  return 0;
}

}  // namespace asyncore::device

#include "apps/common/workers.h"

#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>

#include <asyncore/asyncore.h>
#include "apps/common/cli.h"
#include <asyncore/process/process.h>

namespace asyncore {

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
std::vector<std::string> worker_args(const WorkersPlan& plan) {
  std::vector<std::string> decided = {"--workers", "--node-id", "--worker-of"};
  for (const WorkerPort& port : plan.ports) decided.push_back(port.flag);
  decided.insert(decided.end(), plan.decided.begin(), plan.decided.end());
  const std::vector<std::string>& argv = plan.argv;
  std::vector<std::string> out;
  for (size_t i = 1; i < argv.size(); ++i) {
    bool skip = false;
    for (const std::string& name : decided) {
      if (argv[i] == name) {
        skip = true;
        ++i;  // and its value
        break;
      }
      if (argv[i].starts_with(name + "=")) {
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
  std::vector<Address> addresses(plan.ports.size());
  std::vector<Fd> reserved;
  try {
    for (size_t i = 0; i < plan.ports.size(); ++i) reserved.push_back(reserve_port(plan.host, plan.ports[i].port, addresses[i]));
  } catch (const std::exception& e) {
    log_error(plan.program + ": " + e.what());
    return 1;
  }
  const std::vector<std::string> passed = worker_args(plan);
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
                        {"--reuse-port", "--worker-of", std::to_string(::getpid()), "--node-id", plan.node_id + "-w" + n});
    for (size_t p = 0; p < plan.ports.size(); ++p) {
      options.argv.insert(options.argv.end(), {plan.ports[p].flag, std::to_string(addresses[p].port())});
    }
    if (plan.worker_flags) {
      const std::vector<std::string> own = plan.worker_flags(i);
      options.argv.insert(options.argv.end(), own.begin(), own.end());
    }
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
      log_warning(plan.program + ": worker " + std::to_string(i) + " ended (" + status.describe() + "); restarting it in 1 s");
      map.call_later(1.0, [&start, i] { start(i); });
    };
    try {
      workers[i].emplace(std::move(options));
    } catch (const std::exception& e) {
      log_error(plan.program + ": cannot start worker " + n + ": " + e.what() + "; trying again in 1 s");
      map.call_later(1.0, [&start, i] { start(i); });
    }
  };
  for (size_t i = 0; i < workers.size(); ++i) start(i);
  for (size_t p = 0; p < plan.ports.size(); ++p) announce_listening(plan.ports[p].name, addresses[p]);
  auto stop = [&] {
    if (stopping) return;
    stopping = true;
    log_info(plan.program + ": stopping " + std::to_string(workers.size()) + " workers");
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
  log_info(plan.program + ": workers stopped");
  return 0;
}

}  // namespace asyncore

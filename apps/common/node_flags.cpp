#include "apps/common/node_flags.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>

#include <asyncore/redis/client.h>

namespace asyncore {

void add_node_flags(Cli& cli, NodeFlags& flags) {
  cli.option("--redis", &flags.redis, "ADDR", "run as one node of several sharing this Redis (host:port or unix:/path); default: alone");
  cli.option("--node-id", &flags.node_id, "NAME", "this node's name among them (default: host name-pid)");
  cli.option("--lease", &flags.lease, "S", "seconds a silent node keeps its lease (default 6)", 0.3, 3600);
  cli.option("--workers", &flags.workers, "N",
             "run N worker processes sharing the ports (SO_REUSEPORT), each a node; needs --redis (default 0: one process)",
             0, 64);
  cli.flag("--reuse-port", &flags.reuse_port, "share the ports with other processes (what --workers gives its workers)");
  cli.option("--worker-of", &flags.worker_of, "PID", "(given by --workers) stop when that parent process is gone", 0, 1 << 30);
}

bool check_node_flags(const Cli& cli, NodeFlags& flags) {
  if (flags.workers > 0 && flags.redis.empty()) cli.fail("--workers needs --redis");
  // A worker whose parent is gone (even by SIGKILL) stops as on SIGTERM: no orphan keeps the ports.
  if (flags.worker_of > 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != flags.worker_of) return false;  // the parent died before we could ask
  }
  check_redis_node(cli, flags.redis, flags.node_id);
  return true;
}

void check_redis_node(const Cli& cli, const std::string& redis, std::string& node_id) {
  if (redis.empty()) return;
  try {
    redis::resolve_endpoint(redis);
  } catch (const std::exception& e) {
    cli.fail(std::string("--redis: ") + e.what());
  }
  if (node_id.empty()) node_id = default_node_id();
  if (auto problem = node_id_problem(node_id)) cli.fail("--node-id: " + *problem);
}

}  // namespace asyncore

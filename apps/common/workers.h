// <program> --workers N: a parent that runs N worker processes of itself, each a node of the
// cluster (--redis), sharing the program's ports through SO_REUSEPORT. The parent takes the ports
// (binding them, port 0 included, without listening, so a restarted worker finds them again),
// announces them, restarts a worker that dies (after a second), and on SIGTERM or SIGINT stops
// every worker gracefully (SIGTERM, SIGKILL after 20 s) and exits 0. A worker whose parent dies,
// even by SIGKILL, gets SIGTERM (check_node_flags: PR_SET_PDEATHSIG) and stops as gracefully.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace asyncore {

struct WorkerPort {
  std::string name;  // announced as "listening <name> H:P"
  std::string flag;  // how a worker is told the port, e.g. "--port"
  int port = 0;      // 0: a free one
};

struct WorkersPlan {
  std::string program;  // for log lines
  int workers = 0;
  std::string host;
  std::vector<WorkerPort> ports;
  std::string node_id;  // worker i is "<node_id>-w<i>"
  // Flags the parent decides for worker i beyond the ports and the node id (e.g. its own data
  // folder): they are taken off the command line the workers inherit.
  std::vector<std::string> decided;
  std::function<std::vector<std::string>(size_t i)> worker_flags;
  std::vector<std::string> argv;  // our own command line, as given
};

// Runs the parent; returns the exit code.
int run_workers(const WorkersPlan& plan);

}  // namespace asyncore

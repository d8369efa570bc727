// device-server --workers N: a parent that runs N worker processes of itself, each a node of the
// cluster (--redis), sharing the device and admin ports through SO_REUSEPORT. The parent takes
// the ports (binding them, port 0 included, without listening, so a restarted worker finds them
// again), announces them, restarts a worker that dies (after a second), and on SIGTERM or SIGINT
// stops every worker gracefully (SIGTERM, SIGKILL after 20 s) and exits 0. A worker whose parent
// dies, even by SIGKILL, gets SIGTERM (PR_SET_PDEATHSIG) and stops as gracefully.
#pragma once
#include <string>
#include <vector>

namespace asyncore::device {

struct WorkersPlan {
  int workers = 0;
  std::string host;
  int port = 0, admin_port = 0;
  std::string node_id;   // worker i is "<node_id>-w<i>"
  std::string data_dir;  // worker i keeps its journal in "<data_dir>/worker-<i>"
  std::vector<std::string> argv;  // our own command line, as given
};

// Runs the parent; returns the exit code.
int run_workers(const WorkersPlan& plan);

}  // namespace asyncore::device

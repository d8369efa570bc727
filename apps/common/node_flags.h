// The flags of a program that runs as one node of several sharing a Redis (device-server,
// barrage-server): --redis, --node-id, --lease, --workers, and the two a --workers parent gives
// its workers (--reuse-port, --worker-of).
#pragma once
#include <string>

#include "apps/common/cli.h"
#include "apps/common/node_id.h"

namespace asyncore {

struct NodeFlags {
  std::string redis;    // "host:port" or "unix:/path"; empty: alone
  std::string node_id;  // unique among the nodes; default: host name + pid
  double lease = 6;     // seconds
  int workers = 0;      // worker processes (--workers); 0: this process serves
  bool reuse_port = false;
  int worker_of = 0;    // the --workers parent's pid
};

void add_node_flags(Cli& cli, NodeFlags& flags);
// After cli.parse(): checks the flags (a bad one fails through cli), fills the default node id,
// and makes a worker stop with its parent (SIGTERM when it dies, even by SIGKILL). False when this
// is a worker whose parent is gone already: the program exits 0 at once.
bool check_node_flags(const Cli& cli, NodeFlags& flags);
// The --redis / --node-id pair of any node (msg-hub has no --workers): a bad address or name
// fails through cli; an empty node id becomes the default. Nothing to check without --redis.
void check_redis_node(const Cli& cli, const std::string& redis, std::string& node_id);

}  // namespace asyncore

// SharedDirectory: the directory of several msg-hub nodes sharing one Redis (--redis). Each hub
// keeps deciding on its own connections with its local Directory; this part makes the same
// rules hold across hubs, atomically in Lua:
// - msg:peer:<name> (hash: node, inc, conn, ip, port, seen) names the hub (node and lease
//   incarnation) and the connection owning the name; msg:names lists the names and msg:hosts
//   counts names per address, for --max-peers and --max-names-per-host over all hubs;
// - msg:hub:<node>:lease holds a hub's incarnation with a TTL of --lease seconds (redis::Lease);
//   an entry whose hub's lease lapsed is dead: its name is free and it is dropped;
// - a new name or address is claimed at once (a report on one hub is in every hub's next
//   broadcast); every --interval a hub refreshes its own entries ("seen", for --name-hold),
//   drops the dead ones and the ones of its own it no longer has, claims again the ones Redis
//   lost (an outage, a restart), and reads the whole directory for its broadcast.
// A claim refused by another hub's state makes the hub forget that connection's name. With
// Redis away the hub serves its local directory, nothing is held for Redis, and the next sync
// after it returns converges.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "apps/messenger/directory.h"
#include <asyncore/channel_map.h>
#include <asyncore/redis/client.h>
#include <asyncore/redis/lease.h>

namespace asyncore::messenger {

struct SharedDirectoryOptions {
  std::string redis;    // "host:port" or "unix:/path"; empty: the hub is alone
  std::string node_id;  // unique among the hubs
  double lease = 6;     // seconds
};

class SharedDirectory {
 public:
  using Outcome = Directory::Outcome;
  // The shared directory by name, and the local connections refused by it (and why).
  using Synced = std::function<void(std::optional<std::vector<PeerEntry>> shared,
                                    std::vector<std::pair<std::string, Outcome>> refused)>;

  SharedDirectory(ChannelMap& map, SharedDirectoryOptions options, DirectoryLimits limits, double alive);
  SharedDirectory(const SharedDirectory&) = delete;
  SharedDirectory& operator=(const SharedDirectory&) = delete;

  void start();
  // Lets the lease go (others may take this hub's names at once), then closes; `done` runs
  // when Redis answered, failed, or was not there.
  void stop(std::function<void()> done);

  // `record` was accepted locally as a new name or address (`old_name`: the name its connection
  // held before, or ""). `answered` gets the shared directory's outcome, or nullopt when Redis
  // did not answer (the local decision then stands until the next sync). Returns false, calling
  // nothing, when Redis is away.
  bool claim(const Directory::Record& record, const std::string& old_name,
             std::function<void(std::optional<Outcome>)> answered);
  void release(const std::string& name, const std::string& connection_id);
  // Refreshes `local` (this hub's alive records) and reads the whole directory; `done` gets
  // nullopt when Redis did not answer within `timeout`. Returns false, calling nothing, when
  // Redis is away (the hub then sends its local directory).
  bool sync(const std::vector<Directory::Record>& local, Clock::time_point now, double timeout, Synced done);

  const std::string& node_id() const { return options_.node_id; }
  const redis::Client& client() const { return client_; }

 private:
  std::vector<std::string> limit_args() const;

  ChannelMap& map_;
  SharedDirectoryOptions options_;
  DirectoryLimits limits_;
  double alive_;
  redis::Client client_;
  redis::Lease lease_;
  bool away_ = false;          // said once per outage
  bool sync_failing_ = false;  // a sync failed with Redis connected (slow, loading): said once
};

// The outcome named by the shared directory's scripts, or nullopt.
std::optional<Directory::Outcome> outcome_named(std::string_view name);

}  // namespace asyncore::messenger

// BarrageNode: barrage-server as one node of several sharing a Redis (--redis). A viewer may join
// a room on any node and gets the same stream as every other viewer of that room, in order.
//
// Per room <id> (docs/douyu.md): the channel barrage:room:<id> carries every batch once, as
// "<first> <count>\n" and the batch's packets already encoded; barrage:room:<id>:generator is the
// lease of the one node that makes the room's batches ("<node>/<incarnation>", SET NX PX, renewed
// every lease/3); barrage:room:<id>:seq is the number of the room's next message and
// barrage:room:<id>:start the time its clock started (Redis' clock, ms); barrage:room:<id>:members
// holds each node's member count (the cluster's --wait-for).
//
// A node subscribes to a room's channel on its first member here and unsubscribes after the last
// left; every node that has members tries to take the lease every lease/4, so when the
// generator's node dies another one continues within the lease + lease/4, from the seq Redis
// holds (or the next it expects, if Redis lost it), skipping what fell due meanwhile (the gap
// viewers see, counted and logged). Each batch is published
// by a script that first checks the lease is still ours (fencing: a node that was stopped past
// its lease publishes nothing more) and stores the next seq, in one command. Batches arrive on
// the subscription, the generator's node included, so every node hands out the same sequence:
// one copy of the packets per node, given to the members by reference.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "apps/barrage/room_clock.h"
#include "apps/barrage/room_registry.h"
#include <asyncore/redis/client.h>

namespace asyncore::barrage {

struct NodeOptions {
  std::string redis;    // "host:port" or "unix:/path"
  std::string node_id;  // unique among the nodes
  double lease = 6;     // seconds a generator's lease outlives its last renewal
};

struct NodeStats {
  uint64_t batches = 0;        // batches received from the rooms' channels
  uint64_t messages = 0;       // messages in them
  uint64_t gaps = 0;           // messages missing between batches (a generator died, Redis was away)
  uint64_t stale = 0;          // batches at or before one already received (dropped)
  uint64_t malformed = 0;      // batches that did not parse (dropped)
  uint64_t published = 0;      // batches this node generated and published
  uint64_t publish_failures = 0;
  uint64_t leases_taken = 0;   // rooms whose generator this node became
  uint64_t fenced = 0;         // leases found lost while generating
};

class BarrageNode final : public RoomLink {
 public:
  BarrageNode(NodeOptions options, RoomRegistry& rooms, const ServerOptions& server, const MessageSource& source,
              ChannelMap& map);
  ~BarrageNode() override;
  BarrageNode(const BarrageNode&) = delete;
  BarrageNode& operator=(const BarrageNode&) = delete;

  void start();
  // Gives up the leases held (another node takes over at once) and this node's member counts.
  void leave();
  // Commands not answered yet (leave() waits for them, bounded).
  size_t pending() const { return commands_.in_flight() + commands_.held(); }

  void opened(long long room) override;
  void resized(long long room, size_t members) override;
  void closed(long long room) override;

  const NodeStats& stats() const { return stats_; }
  const NodeOptions& options() const { return options_; }
  std::string summary() const;  // for the stop line

 private:
  struct Local {
    size_t members = 0;
    std::optional<uint64_t> expected;  // the next message number; unset until the first batch
    std::unique_ptr<RoomClock> clock;  // while this node holds the room's lease
    bool acquiring = false;
    ScopedTimer retry;                 // the next try for the lease, or its renewal
  };
  void write_sizes();
  void try_acquire(long long id);
  void acquired(long long id, redis::Result& result);
  void renew(long long id);
  void fence(long long id, const char* why);
  void publish(long long id, uint64_t first, uint64_t count, const SharedBytes& bytes);
  void received(const redis::Message& message);
  std::vector<std::string> keys(long long id) const;

  NodeOptions options_;
  RoomRegistry& rooms_;
  const ServerOptions& server_;
  const MessageSource& source_;
  ChannelMap& map_;
  std::string token_;  // "<node>/<incarnation>": the lease value
  redis::Client commands_;
  redis::Client subscriber_;
  redis::Script acquire_, renew_, release_, publish_;
  std::map<long long, Local> local_;
  std::set<long long> resized_;  // rooms whose member count here is not written yet
  ScopedTimer flush_timer_;
  NodeStats stats_;
};

}  // namespace asyncore::barrage

// ClusterNode: the device server as one node of several sharing a Redis (--redis). This part
// keeps presence: who holds each device, across nodes.
//
// Keys: device:<imei>:owner = "<node>/<incarnation>/<serial>", the connection holding the device
// (written at login; the newest login wins); node:<node>:devices, the devices a node holds;
// node:<node>:lease = the node's incarnation, with a TTL of --lease seconds, renewed every lease/3;
// nodes, the node names. Every node looks at the others every lease/4: a node whose lease lapsed
// loses its devices (those that logged in elsewhere since are left alone) and leaves the list. A
// node that finds its own lease lapsed (it was stopped, or cut off) closes its devices (node_lost)
// and joins again as a new incarnation. A login that takes a device from another node
// publishes "takeover <imei> <old owner>" on that node's channel node:<node>, and that node closes
// the older connection without recording it offline (as a takeover on one node). Offline is
// recorded in Redis only if the owner is still that connection (compare-and-delete), so a late
// offline never erases a newer login elsewhere.
//
// Commands: "command <id> <from node> <imei> <mode> <timeout> <owner> <json>" on the holder's
// channel, answered with "result <id> <OUTCOME> <ack json>" on the asker's. A queued command is
// stored in Redis first (ClusterStore) by the node asked; the holder hears
// "queued <id> <from node> <imei> <timeout> <owner> <stream id> <time> <json>" and delivers it.
//
// Redis being away never stops a node serving its devices: presence writes are not waited for;
// one that fails is logged (one line per outage, by the client) and counted.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "apps/device/cluster_store.h"
#include "apps/device/event.h"
#include "apps/device/hub.h"
#include "apps/device/imei.h"
#include "apps/device/metrics.h"
#include <asyncore/channel_map.h>
#include <asyncore/redis/client.h>
#include "apps/common/node_id.h"

namespace asyncore::device {

class DeviceHub;

struct ClusterOptions {
  std::string redis;    // "host:port" or "unix:/path"
  std::string node_id;  // unique among the nodes; default: host name + pid
  double lease = 6;     // seconds
  std::size_t max_queued = 100;        // --max-queued-commands, enforced in Redis
  std::size_t events_per_device = 100; // --events-per-device: each device's event stream's MAXLEN
};

struct ClusterStats {
  std::uint64_t claims = 0;           // logins written to Redis
  std::uint64_t releases = 0;         // offlines written (compare-and-delete that matched)
  std::uint64_t stale_releases = 0;   // offlines that found a newer owner and left it alone
  std::uint64_t remote_takeovers = 0; // our connections closed for a newer login on another node
  std::uint64_t write_failures = 0;   // presence, lease or state writes that did not get through
  std::uint64_t fenced = 0;           // times this node found its lease lapsed and let its devices go
  std::uint64_t reaped = 0;           // devices of lapsed nodes let go by this node
  std::uint64_t routed_out = 0;       // commands sent to another node
  std::uint64_t routed_in = 0;        // commands run here for another node
};

class ClusterNode {
 public:
  ClusterNode(ChannelMap& map, ClusterOptions options, DeviceHub& hub);
  ~ClusterNode();
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  void start();
  void stop();  // closes the Redis connections (what was in flight fails; nothing is retried)

  // From the hub: the device came online on this node (`event`, its online event, is written
  // with the presence claim), or went offline here (not by takeover).
  void online(Imei imei, const Event& event, const DeviceRecord& record);
  void offline(Imei imei);

  // An interact or send for a device not online here: asked of the node that holds it, over
  // its channel; the answer comes back on ours. Nobody holds it, or that node is gone: NO at
  // once; Redis away: UNAVAILABLE at once; no answer in `timeout`: TIMEOUT.
  void route(Imei imei, const Command& command, CommandMode mode, double timeout, CommandCallback done);

  // A queue command, for a device anywhere: stored in Redis (the cap checked there), then
  // delivered by the node holding it, whose ack answers OK; QUEUED once stored when nobody holds
  // it or no ack comes in `timeout`. Redis away or too slow: UNAVAILABLE, nothing promised.
  void queue(Imei imei, const Command& command, double timeout, CommandCallback done);

  ClusterStore& store() { return store_; }
  bool redis_ready() const { return commands_.ready(); }
  const std::string& node_id() const { return options_.node_id; }
  const ClusterStats& stats() const { return stats_; }
  ClusterGauges gauges() const;
  const redis::Client& redis_client() const { return commands_; }

 private:
  std::string token(std::uint64_t serial) const;
  void on_message(const redis::Message& message);
  std::vector<std::string> lease_args() const;
  void join();
  void reclaim();
  void reclaim_devices();
  void deliver(Imei imei);
  void renew_lease();
  void fence();
  void reap();
  void count_failure(const redis::Result& result, const char* what);
  void finish_route(std::uint64_t id, CommandResult result);
  void serve_routed(std::string_view request);
  void routed_answer(std::string_view answer);
  void serve_queued(std::string_view request);
  std::uint64_t add_route(CommandMode mode, double timeout, CommandCallback done);
  void publish(const std::string& node, std::string message);
  CommandCallback answer_to(std::string from, std::string id);

  ChannelMap& map_;
  ClusterOptions options_;
  DeviceHub& hub_;
  std::string incarnation_;
  redis::Client commands_;
  redis::Client subscriber_;
  redis::Script claim_, reclaim_, release_, join_, renew_, reap_;
  ClusterStore store_;
  std::unordered_map<std::uint64_t, std::uint64_t> owned_;  // imei -> serial of our connection
  std::uint64_t next_serial_ = 1;
  ScopedTimer lease_timer_, reap_timer_;
  struct Routed {
    CommandCallback done;
    ScopedTimer timer;
    CommandMode mode;
  };
  std::unordered_map<std::uint64_t, Routed> routed_;  // commands we asked another node to run
  std::uint64_t next_route_ = 1;
  ClusterStats stats_;
};

}  // namespace asyncore::device

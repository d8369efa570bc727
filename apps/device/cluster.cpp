#include "apps/device/cluster.h"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdlib>

#include "apps/device/commands.h"
#include "apps/device/hub.h"
#include "apps/device/session.h"
#include <asyncore/log.h>
#include <asyncore/log_escape.h>

namespace asyncore::device {

namespace {

// Standalone Redis: the scripts touch keys derived from their arguments (node:<id>:devices).

// KEYS: owner key, the device's queue, events and info; ARGV: new owner, imei, our node, how many
// queued commands to read, then the online event as the event script takes it (history length,
// JSON, info pairs). The device joins our node's set and leaves the previous owner's; that node
// hears of it, unless it is us (the hub already closed our older connection). Returns the old
// owner ('' for none) and the device's queued commands, oldest first: one script per login.
constexpr const char* kClaim = R"(
local old = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', 'node:' .. ARGV[3] .. ':devices', ARGV[2])
if old and old ~= ARGV[1] then
  local node = string.match(old, '^(.*)/[^/]*/[^/]*$')
  if node and node ~= ARGV[3] then
    redis.call('SREM', 'node:' .. node .. ':devices', ARGV[2])
    redis.call('PUBLISH', 'node:' .. node, 'takeover ' .. ARGV[2] .. ' ' .. old)
  end
end
redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[5], '*', 'e', ARGV[6])
if #ARGV > 6 then redis.call('HSET', KEYS[4], unpack(ARGV, 7)) end
return {old or '', redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', ARGV[4])}
)";

// Compare-and-delete: offline only if that connection still owns the device. ARGV: owner, imei, node.
constexpr const char* kRelease = R"(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SREM', 'node:' .. ARGV[3] .. ':devices', ARGV[2])
  return redis.call('DEL', KEYS[1])
end
return 0
)";

// After Redis came back (restarted, perhaps from an older state): the claim again, unless another
// connection owns the device now (then 0: ours is stale). ARGV: owner, imei, node.
constexpr const char* kReclaim = R"(
local old = redis.call('GET', KEYS[1])
if old and old ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', 'node:' .. ARGV[3] .. ':devices', ARGV[2])
return 1
)";

// KEYS[1] lease key; ARGV: incarnation, TTL in ms, node. Takes the lease and joins the node list.
constexpr const char* kJoin = R"(
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', 'nodes', ARGV[3])
return 1
)";

// KEYS[1] lease key; ARGV: incarnation, TTL in ms. 1 when renewed; 0 when the lease lapsed or
// another incarnation holds it: this incarnation is over.
constexpr const char* kRenew = R"(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
)";

// ARGV: a node. If its lease lapsed, every device it still owns is let go (a device that logged
// in elsewhere since has another owner and is left alone) and the node leaves the list. Returns
// the devices let go, or -1 while the node is alive.
constexpr const char* kReap = R"(
local node = ARGV[1]
if redis.call('EXISTS', 'node:' .. node .. ':lease') == 1 then return -1 end
local prefix = node .. '/'
local released = 0
for _, imei in ipairs(redis.call('SMEMBERS', 'node:' .. node .. ':devices')) do
  local key = 'device:' .. imei .. ':owner'
  local owner = redis.call('GET', key)
  if owner and string.sub(owner, 1, #prefix) == prefix then
    redis.call('DEL', key)
    released = released + 1
  end
end
redis.call('DEL', 'node:' .. node .. ':devices')
redis.call('SREM', 'nodes', node)
return released
)";

std::string owner_key(Imei imei) { return "device:" + imei.str() + ":owner"; }

// Splits off the next space-separated field of `text`.
std::string_view next_field(std::string_view& text) {
  const size_t space = text.find(' ');
  const std::string_view field = text.substr(0, space);
  text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
  return field;
}

std::optional<CommandOutcome> outcome_named(std::string_view name) {
  for (CommandOutcome o : {CommandOutcome::ok, CommandOutcome::timeout, CommandOutcome::no, CommandOutcome::sent,
                           CommandOutcome::queued, CommandOutcome::queue_full, CommandOutcome::unavailable}) {
    if (to_string(o) == name) return o;
  }
  return std::nullopt;
}

// Commands another node may wait for at once; past it, NO at once rather than a growing table.
constexpr size_t kMaxRouted = 10000;

}  // namespace

namespace {

redis::ClientOptions client_options(const ClusterOptions& options, redis::Kind kind, const std::string& name) {
  redis::ClientOptions out;
  out.address = options.redis;
  out.kind = kind;
  out.client_name = name;
  // Presence writes are not waited for by anyone; a write older than the lease is worthless.
  out.command_timeout = options.lease;
  out.max_pending = 100000;
  return out;
}

// Client names may not contain spaces.
std::string client_name(const std::string& node_id, const char* role) {
  std::string name = "device-" + node_id + "-" + role;
  for (char& c : name) {
    if (c == ' ' || c < 0x21 || c > 0x7e) c = '_';
  }
  return name;
}

}  // namespace

ClusterNode::ClusterNode(ChannelMap& map, ClusterOptions options, DeviceHub& hub)
    : map_(map),
      options_(std::move(options)),
      hub_(hub),
      incarnation_(std::to_string(std::chrono::system_clock::now().time_since_epoch().count())),
      commands_(client_options(options_, redis::Kind::commands, client_name(options_.node_id, "commands")), &map),
      subscriber_(client_options(options_, redis::Kind::pubsub, client_name(options_.node_id, "events")), &map),
      claim_(kClaim),
      reclaim_(kReclaim),
      release_(kRelease),
      join_(kJoin),
      renew_(kRenew),
      reap_(kReap),
      store_(commands_, options_.max_queued, options_.events_per_device) {
  subscriber_.on_message = [this](const redis::Message& message) { on_message(message); };
  subscriber_.subscribe("node:" + options_.node_id);
  store_.on_loaded = [this](Imei imei) { deliver(imei); };
  commands_.on_ready = [this] {
    store_.replay();  // events kept while Redis was away, before any newer one
    if (commands_.stats().connects > 1) reclaim();
  };
}

// The device's queue copy has commands to send, if it is still online here.
void ClusterNode::deliver(Imei imei) {
  if (DeviceRecord* record = hub_.store().find(imei); record && record->session) hub_.deliver_queued(*record->session);
}

// Redis is back: a restart from its AOF or a snapshot may have lost the last writes, so every
// device held here is claimed again, if the lease is still this incarnation's. If it lapsed
// meanwhile (or was lost with Redis' data) other nodes may have let the devices go: fenced.
void ClusterNode::reclaim() {
  const std::vector<std::string> keys = {"node:" + options_.node_id + ":lease"};
  const std::string incarnation = incarnation_;
  renew_.run(commands_, keys, lease_args(), [this, incarnation](redis::Result& result) {
    if (!result.ok()) return count_failure(result, "lease renewal");
    if (incarnation != incarnation_) return;
    if (result.reply.integer == 0) return fence();
    reclaim_devices();
  });
}

void ClusterNode::reclaim_devices() {
  for (const auto& [number, serial] : owned_) {
    const Imei imei = Imei::from_number(number);
    const std::vector<std::string> keys = {owner_key(imei)};
    const std::vector<std::string> args = {token(serial), imei.str(), options_.node_id};
    reclaim_.run(commands_, keys, args, [this, imei, owner = args[0]](redis::Result& result) {
      if (!result.ok()) return count_failure(result, "presence reclaim");
      if (result.reply.integer == 1) return;
      auto it = owned_.find(imei.number());  // a newer login elsewhere meanwhile: it wins
      if (it == owned_.end() || token(it->second) != owner) return;
      owned_.erase(it);
      store_.forget(imei);
      ++stats_.remote_takeovers;
      hub_.taken_over_elsewhere(imei);
    });
  }
}

ClusterNode::~ClusterNode() {
  lease_timer_.cancel();
  reap_timer_.cancel();
  for (auto& [id, routed] : routed_) routed.timer.cancel();
}

void ClusterNode::start() {
  commands_.start();
  subscriber_.start();
  join();
  lease_timer_ = map_.call_later(options_.lease / 3, [this] { renew_lease(); });
  reap_timer_ = map_.call_later(options_.lease / 4, [this] { reap(); });
}

void ClusterNode::stop() {
  lease_timer_.cancel();
  reap_timer_.cancel();
  commands_.close();
  subscriber_.close();
}

ClusterGauges ClusterNode::gauges() const {
  const redis::ClientStats& r = commands_.stats();
  ClusterGauges g;
  g.node = options_.node_id;
  g.redis_commands = r.commands;
  g.redis_replies = r.replies;
  g.redis_failures = r.failures;
  g.redis_timeouts = r.timeouts;
  g.redis_connects = r.connects + subscriber_.stats().connects;
  g.redis_disconnects = r.disconnects + subscriber_.stats().disconnects;
  g.redis_in_flight = commands_.in_flight();
  g.redis_held = commands_.held();
  g.claims = stats_.claims;
  g.releases = stats_.releases;
  g.stale_releases = stats_.stale_releases;
  g.remote_takeovers = stats_.remote_takeovers;
  g.write_failures = stats_.write_failures + store_.write_failures();
  g.events_unsent = store_.unsent_events();
  g.events_dropped = store_.dropped_events();
  g.fenced = stats_.fenced;
  g.reaped = stats_.reaped;
  return g;
}

std::string ClusterNode::token(std::uint64_t serial) const {
  return options_.node_id + "/" + incarnation_ + "/" + std::to_string(serial);
}

void ClusterNode::count_failure(const redis::Result& result, const char* what) {
  ++stats_.write_failures;
  log_debug(std::string("cluster: ") + what + " failed: " + log_escape(result.error_text()));
}

void ClusterNode::online(Imei imei, const Event& event, const DeviceRecord& record) {
  const std::uint64_t serial = next_serial_++;
  owned_[imei.number()] = serial;
  const std::string device = "device:" + imei.str();
  const std::vector<std::string> keys = {owner_key(imei), device + ":queue", device + ":events", device + ":info"};
  std::vector<std::string> args = {token(serial), imei.str(), options_.node_id, std::to_string(ClusterStore::kReadBatch)};
  std::vector<std::string> online_event = store_.event_args(event, record);
  args.insert(args.end(), std::make_move_iterator(online_event.begin()), std::make_move_iterator(online_event.end()));
  // The queue is read in the claim: a command stored after it sees us as the owner and is told
  // to us; one stored before is in the read.
  store_.begin_load(imei);
  claim_.run(commands_, keys, args, [this, imei, serial](redis::Result& result) {
    const bool ok = result.ok() && result.reply.elements.size() == 2;
    if (ok) ++stats_.claims;
    else count_failure(result, "presence claim");
    auto it = owned_.find(imei.number());
    if (it == owned_.end() || it->second != serial) return;  // a later connection's read is on its way
    store_.finish_load(imei, ok ? &result.reply.elements[1] : nullptr);
    deliver(imei);
  });
}

void ClusterNode::offline(Imei imei) {
  auto it = owned_.find(imei.number());
  if (it == owned_.end()) return;
  store_.forget(imei);
  const std::vector<std::string> keys = {owner_key(imei)};
  const std::vector<std::string> args = {token(it->second), imei.str(), options_.node_id};
  owned_.erase(it);
  release_.run(commands_, keys, args, [this](redis::Result& result) {
    if (!result.ok()) count_failure(result, "presence release");
    else if (result.reply.integer == 1) ++stats_.releases;
    else ++stats_.stale_releases;
  });
}

// "takeover <imei> <owner token>": a newer login elsewhere took a device this token held.
void ClusterNode::on_message(const redis::Message& message) {
  const std::string_view text = message.payload;
  if (text.starts_with("command ")) return serve_routed(text.substr(8));
  if (text.starts_with("result ")) return routed_answer(text.substr(7));
  if (text.starts_with("queued ")) return serve_queued(text.substr(7));
  if (!text.starts_with("takeover ")) return;
  const std::string_view rest = text.substr(9);
  const size_t space = rest.find(' ');
  if (space == std::string_view::npos) return;
  const std::optional<Imei> imei = Imei::parse(rest.substr(0, space));
  if (!imei) return;
  auto it = owned_.find(imei->number());
  // Our connection since then is another one (a newer login here): that one stays.
  if (it == owned_.end() || token(it->second) != rest.substr(space + 1)) return;
  owned_.erase(it);
  store_.forget(*imei);
  ++stats_.remote_takeovers;
  hub_.taken_over_elsewhere(*imei);
}

std::uint64_t ClusterNode::add_route(CommandMode mode, double timeout, CommandCallback done) {
  const std::uint64_t id = next_route_++;
  Routed& routed = routed_[id];
  routed.done = std::move(done);
  routed.mode = mode;
  // A queued command is stored already: no ack in time means QUEUED, as on one node.
  const CommandOutcome late = mode == CommandMode::queue ? CommandOutcome::queued : CommandOutcome::timeout;
  routed.timer = map_.call_later(timeout, [this, id, late] { finish_route(id, {late, {}, {}}); });
  return id;
}

void ClusterNode::route(Imei imei, const Command& command, CommandMode mode, double timeout, CommandCallback done) {
  if (!commands_.ready()) {
    return done({CommandOutcome::unavailable, {}, "the cluster's redis (" + options_.redis + ") is not reachable"});
  }
  if (routed_.size() >= kMaxRouted) return done({CommandOutcome::no, {}, {}});
  const std::uint64_t id = add_route(mode, timeout, std::move(done));
  auto ask = [this, id, imei, mode, timeout, command](redis::Result& owner) {
    if (!routed_.count(id)) return;
    if (!owner.ok()) return finish_route(id, {CommandOutcome::unavailable, {}, "redis: " + owner.error_text()});
    const std::string_view node = owner.reply.is_null() ? std::string_view() : owner_node(owner.reply.str);
    if (node.empty() || node == options_.node_id) return finish_route(id, {CommandOutcome::no, {}, {}});
    const std::string payload = command_text(command);
    std::string message = "command " + std::to_string(id) + " " + options_.node_id + " " + imei.str() + " " +
                          std::string(to_string(mode)) + " " + std::to_string(timeout) + " " + owner.reply.str + " " +
                          payload;
    ++stats_.routed_out;
    commands_.command({"PUBLISH", "node:" + std::string(node), message}, [this, id](redis::Result& published) {
      // Nobody listening: that node is gone, and the device with it.
      if (!published.ok() || published.reply.integer == 0) finish_route(id, {CommandOutcome::no, {}, {}});
    });
  };
  commands_.command({"GET", owner_key(imei)}, std::move(ask), std::min(timeout, kAdminRedisTimeout));
}

void ClusterNode::queue(Imei imei, const Command& command, double timeout, CommandCallback done) {
  auto answer = [this, done](CommandResult result) {
    hub_.metrics().count_command(to_string(CommandMode::queue), to_string(result.outcome));
    done(std::move(result));
  };
  // Stored in Redis or not at all: a copy kept here could later disagree with the fleet's.
  if (!commands_.ready()) {
    return answer({CommandOutcome::unavailable, {},
                   "the cluster's redis (" + options_.redis + ") is not reachable; nothing was queued"});
  }
  if (routed_.size() >= kMaxRouted) {
    return answer({CommandOutcome::unavailable, {}, "too many commands waiting for other nodes; nothing was queued"});
  }
  const DeviceRecord* record = hub_.store().find(imei);
  const bool known_here = record && record->known();
  const double t = DeviceHub::unix_now();
  std::string text = command_text(command);
  store_.enqueue(imei, text, t, known_here, [this, imei, text, t, timeout, done, answer](EnqueueResult stored) {
    switch (stored.kind) {
      case EnqueueResult::failed: return answer({CommandOutcome::unavailable, {}, stored.error});
      case EnqueueResult::unknown_device: return answer({CommandOutcome::no, {}, {}});
      case EnqueueResult::full:
        return answer({CommandOutcome::queue_full, {}, queue_full_error(options_.max_queued, imei)});
      case EnqueueResult::queued: break;
    }
    auto it = owned_.find(imei.number());
    if (it != owned_.end() && token(it->second) == stored.owner) {
      if (const std::uint64_t id = store_.add(imei, stored.stream_id, text, t)) {
        return hub_.deliver_stored(imei, id, timeout, done);
      }
    }
    const std::string node(owner_node(stored.owner));
    if (node.empty() || node == options_.node_id) return answer({CommandOutcome::queued, {}, {}});
    // Held by another node: it delivers it now, and its ack (or QUEUED) comes back.
    const std::uint64_t id = add_route(CommandMode::queue, timeout, done);
    ++stats_.routed_out;
    std::string message = "queued " + std::to_string(id) + " " + options_.node_id + " " + imei.str() + " " +
                          std::to_string(timeout) + " " + stored.owner + " " + stored.stream_id + " " +
                          std::to_string(t) + " " + text;
    commands_.command({"PUBLISH", "node:" + node, message}, [this, id](redis::Result& published) {
      if (!published.ok() || published.reply.integer == 0) finish_route(id, {CommandOutcome::queued, {}, {}});
    });
  }, kAdminRedisTimeout);
}

void ClusterNode::finish_route(std::uint64_t id, CommandResult result) {
  auto it = routed_.find(id);
  if (it == routed_.end()) return;  // answered already, or timed out
  Routed routed = std::move(it->second);
  routed_.erase(it);
  routed.timer.cancel();
  hub_.metrics().count_command(to_string(routed.mode), to_string(result.outcome));
  routed.done(std::move(result));
}

// On the holder: "<id> <from node> <imei> <mode> <timeout> <owner> <json>".
void ClusterNode::serve_routed(std::string_view request) {
  const std::string id(next_field(request));
  const std::string from(next_field(request));
  const std::optional<Imei> imei = Imei::parse(next_field(request));
  const std::string_view mode_name = next_field(request);
  const std::string timeout_text(next_field(request));
  const std::string_view owner = next_field(request);
  if (id.empty() || from.empty() || !imei) return;
  const CommandMode mode = mode_name == "send"    ? CommandMode::send
                         : mode_name == "queue" ? CommandMode::queue
                                                : CommandMode::interact;
  char* end = nullptr;
  const double timeout = std::strtod(timeout_text.c_str(), &end);
  CommandCallback answer = answer_to(from, id);
  CommandCheck check = check_command(request);
  auto it = owned_.find(imei->number());
  // Asked about a connection that is no longer ours (it moved on since the asker looked).
  if (!check.command || it == owned_.end() || token(it->second) != owner || !(timeout > 0 && timeout <= 600)) {
    return answer({CommandOutcome::no, {}, {}});
  }
  ++stats_.routed_in;
  hub_.command_here(*imei, *check.command, mode, timeout, answer);
}

// On the asker: "<id> <OUTCOME> <ack json>".
void ClusterNode::routed_answer(std::string_view answer) {
  const std::string_view id_text = next_field(answer);
  const std::optional<CommandOutcome> outcome = outcome_named(next_field(answer));
  std::uint64_t id = 0;
  if (!outcome || std::from_chars(id_text.data(), id_text.data() + id_text.size(), id).ec != std::errc()) return;
  CommandResult result{*outcome, {}, {}};
  if (*outcome == CommandOutcome::ok) {
    json::ParseResult ack = json::try_parse(answer);
    if (!ack) return;
    result.ack = std::move(*ack.value);
  }
  finish_route(id, std::move(result));
}

// On the holder: "<id> <from node> <imei> <timeout> <owner> <stream id> <time> <json>", a command
// another node stored for a device it saw held here.
void ClusterNode::serve_queued(std::string_view request) {
  const std::string id(next_field(request));
  const std::string from(next_field(request));
  const std::optional<Imei> imei = Imei::parse(next_field(request));
  const std::string timeout_text(next_field(request));
  const std::string_view owner = next_field(request);
  const std::string stream_id(next_field(request));
  const std::string t_text(next_field(request));
  if (id.empty() || from.empty() || !imei || stream_id.empty()) return;
  CommandCallback answer = answer_to(from, id);
  const double timeout = std::strtod(timeout_text.c_str(), nullptr);
  auto it = owned_.find(imei->number());
  // Not ours any more: it stays stored and goes out at the device's next login, wherever.
  if (it == owned_.end() || token(it->second) != owner || !(timeout > 0 && timeout <= 600)) {
    return answer({CommandOutcome::queued, {}, {}});
  }
  const std::uint64_t local = store_.add(*imei, stream_id, std::string(request), std::strtod(t_text.c_str(), nullptr));
  if (!local) return answer({CommandOutcome::queued, {}, {}});
  ++stats_.routed_in;
  hub_.deliver_stored(*imei, local, timeout, answer);
}

// The callback that sends a command's outcome back to the node that asked: "result <id> ...".
CommandCallback ClusterNode::answer_to(std::string from, std::string id) {
  return [this, from = std::move(from), id = std::move(id)](const CommandResult& result) {
    std::string message = "result " + id + " " + std::string(to_string(result.outcome)) + " ";
    if (result.outcome == CommandOutcome::ok) result.append_ack(message);
    publish(from, std::move(message));
  };
}

void ClusterNode::publish(const std::string& node, std::string message) {
  commands_.command({"PUBLISH", "node:" + node, message}, [this](redis::Result& result) {
    if (!result.ok()) count_failure(result, "answering another node");
  });
}

std::vector<std::string> ClusterNode::lease_args() const {
  return {incarnation_, std::to_string(static_cast<long>(options_.lease * 1000)), options_.node_id};
}

void ClusterNode::join() {
  const std::vector<std::string> keys = {"node:" + options_.node_id + ":lease"};
  join_.run(commands_, keys, lease_args(), [this](redis::Result& result) {
    if (!result.ok()) count_failure(result, "joining the cluster");
  });
}

void ClusterNode::renew_lease() {
  lease_timer_ = map_.call_later(options_.lease / 3, [this] { renew_lease(); });
  const std::vector<std::string> keys = {"node:" + options_.node_id + ":lease"};
  const std::string incarnation = incarnation_;
  renew_.run(commands_, keys, lease_args(), [this, incarnation](redis::Result& result) {
    if (!result.ok()) {
      // Redis away: the devices here are still served; whether the lease lapsed meanwhile is
      // learnt from the first renewal that gets through.
      count_failure(result, "lease renewal");
    } else if (result.reply.integer == 0 && incarnation == incarnation_) {
      fence();
    }
  });
}

// The lease lapsed (this process was stopped, or cut off from Redis, for longer than it): other
// nodes may have let our devices go already. Every device here goes offline (node_lost) and the
// node joins again as a new incarnation, so no device ever has two owners.
void ClusterNode::fence() {
  ++stats_.fenced;
  log_warning("cluster: node " + log_escape(options_.node_id) + " lost its lease; closing its " +
              std::to_string(owned_.size()) + " devices and joining again");
  hub_.close_all(OfflineReason::node_lost);  // each release compares with the old owner
  owned_.clear();
  store_.forget_all();
  incarnation_ = std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  join();
}

void ClusterNode::reap() {
  reap_timer_ = map_.call_later(options_.lease / 4, [this] { reap(); });
  commands_.command({"SMEMBERS", "nodes"}, [this](redis::Result& result) {
    if (!result.ok()) return count_failure(result, "listing the nodes");
    for (const redis::Reply& node : result.reply.elements) {
      if (node.str == options_.node_id) continue;
      const std::vector<std::string> args = {node.str};
      reap_.run(commands_, {}, args, [this, name = node.str](redis::Result& reaped) {
        if (!reaped.ok()) return count_failure(reaped, "reaping a node");
        if (reaped.reply.integer < 0) return;
        stats_.reaped += static_cast<std::uint64_t>(reaped.reply.integer);
        log_info("cluster: node " + log_escape(name) + " lost its lease; " + std::to_string(reaped.reply.integer) +
                 " of its devices let go (node_lost)");
      });
    }
  });
}

}  // namespace asyncore::device

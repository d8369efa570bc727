#include "apps/barrage/node.h"

#include <chrono>
#include <cstdio>

#include "apps/barrage/batch.h"
#include <asyncore/log.h>
#include <asyncore/log_escape.h>

namespace asyncore::barrage {
namespace {

// A room's keys outlive its last viewer by this long, then it starts afresh (a client cannot fill
// Redis with rooms it visited once).
constexpr long long kRoomKeysTtlMs = 10 * 60 * 1000;

// KEYS: generator, seq, start, members; ARGV: token, TTL ms, --wait-for, room keys' TTL ms, node,
// its members, the next message it expects, messages a second. Records the node's members (they
// may have been lost with Redis' data), then takes the lease if nobody holds it (and, before the
// room's clock ever started, once the nodes together have --wait-for members). Returns {next seq,
// ms since the room's clock started}, or 0. The numbering never goes back: if Redis lost the
// room's keys, it goes on from what the node received, on a clock that makes it due now.
constexpr const char* kAcquire = R"(
redis.call('HSET', KEYS[4], ARGV[5], ARGV[6])
redis.call('PEXPIRE', KEYS[4], ARGV[4])
local start = redis.call('GET', KEYS[3])
if not start then
  local members = 0
  for _, n in ipairs(redis.call('HVALS', KEYS[4])) do members = members + tonumber(n) end
  if members < tonumber(ARGV[3]) then return 0 end
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
local seq = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), tonumber(ARGV[7]))
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if not start then
  start = now
  if tonumber(ARGV[8]) > 0 then start = now - math.floor(seq * 1000 / tonumber(ARGV[8])) end
  redis.call('SET', KEYS[3], start, 'PX', ARGV[4])
end
return {string.format('%d', seq), string.format('%d', math.max(0, now - tonumber(start)))}
)";

// KEYS: generator, seq, start, members; ARGV: token, TTL ms, room keys' TTL ms. 1 when renewed
// (the room's keys with it), 0 when the lease is not ours any more.
constexpr const char* kRenew = R"(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
)";

// KEYS: generator; ARGV: token. Gives the lease up if it is still ours.
constexpr const char* kRelease = R"(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)";

// KEYS: generator, seq; ARGV: token, next seq, channel, batch, room keys' TTL ms. Fenced: nothing
// is published unless the lease is still ours (-1).
constexpr const char* kPublish = R"(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[5])
return redis.call('PUBLISH', ARGV[3], ARGV[4])
)";

const std::string kPrefix = "barrage:room:";

std::string channel_of(long long id) { return kPrefix + std::to_string(id); }
std::string key(long long id, const char* what) { return channel_of(id) + ":" + what; }

redis::ClientOptions client_options(const NodeOptions& options, redis::Kind kind, const char* role) {
  redis::ClientOptions out;
  out.address = options.redis;
  out.kind = kind;
  out.client_name = "barrage-" + options.node_id + "-" + role;  // node ids are checked: no spaces
  // A lease write older than the lease is worthless.
  out.command_timeout = options.lease;
  out.max_pending = 100000;
  return out;
}

}  // namespace

BarrageNode::BarrageNode(NodeOptions options, RoomRegistry& rooms, const ServerOptions& server,
                         const MessageSource& source, ChannelMap& map)
    : options_(std::move(options)),
      rooms_(rooms),
      server_(server),
      source_(source),
      map_(map),
      token_(options_.node_id + "/" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count())),
      commands_(client_options(options_, redis::Kind::commands, "commands"), &map),
      subscriber_(client_options(options_, redis::Kind::pubsub, "rooms"), &map),
      acquire_(kAcquire),
      renew_(kRenew),
      release_(kRelease),
      publish_(kPublish) {
  subscriber_.on_message = [this](const redis::Message& message) { received(message); };
  rooms_.set_link(this);
}

BarrageNode::~BarrageNode() {
  flush_timer_.cancel();
  rooms_.set_link(nullptr);
  local_.clear();
}

void BarrageNode::start() {
  commands_.start();
  subscriber_.start();
}

std::vector<std::string> BarrageNode::keys(long long id) const {
  return {key(id, "generator"), key(id, "seq"), key(id, "start"), key(id, "members")};
}

void BarrageNode::opened(long long id) {
  local_[id];
  subscriber_.subscribe(channel_of(id));
}

void BarrageNode::resized(long long id, size_t members) {
  auto it = local_.find(id);
  if (it == local_.end()) return;
  it->second.members = members;
  // Written once per pass however many viewers came or went in it (thousands join at once).
  resized_.insert(id);
  if (!flush_timer_.active()) flush_timer_ = map_.call_later(0, [this] { write_sizes(); });
}

void BarrageNode::write_sizes() {
  for (long long id : resized_) {
    auto it = local_.find(id);
    if (it == local_.end()) continue;
    commands_.command({"HSET", key(id, "members"), options_.node_id, std::to_string(it->second.members)}, nullptr);
    if (it->second.members > 0) try_acquire(id);
  }
  resized_.clear();
}

void BarrageNode::closed(long long id) {
  auto it = local_.find(id);
  if (it == local_.end()) return;
  if (it->second.clock) release_.run(commands_, std::vector<std::string>{key(id, "generator")}, std::vector<std::string>{token_}, nullptr);
  commands_.command({"HDEL", key(id, "members"), options_.node_id}, nullptr);
  subscriber_.unsubscribe(channel_of(id));
  local_.erase(it);
}

void BarrageNode::leave() {
  flush_timer_.cancel();
  resized_.clear();
  std::vector<long long> ids;
  for (const auto& [id, room] : local_) ids.push_back(id);
  for (long long id : ids) closed(id);
}

void BarrageNode::try_acquire(long long id) {
  Local& room = local_.at(id);
  if (room.clock || room.acquiring) return;  // generating already, or asked already
  room.acquiring = true;
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.17g", server_.rate);
  const std::vector<std::string> args = {token_, std::to_string(static_cast<long long>(options_.lease * 1000)),
                                         std::to_string(std::max(1, server_.wait_for)), std::to_string(kRoomKeysTtlMs),
                                         options_.node_id, std::to_string(room.members),
                                         std::to_string(room.expected.value_or(0)), rate};
  acquire_.run(commands_, keys(id), args, [this, id](redis::Result& result) { acquired(id, result); });
}

void BarrageNode::acquired(long long id, redis::Result& result) {
  auto it = local_.find(id);
  if (it == local_.end()) {  // everyone here left meanwhile: give back what we may have taken
    if (result.ok() && result.reply.elements.size() == 2) {
      release_.run(commands_, std::vector<std::string>{key(id, "generator")}, std::vector<std::string>{token_}, nullptr);
    }
    return;
  }
  Local& room = it->second;
  room.acquiring = false;
  if (room.clock) return;
  uint64_t next = 0, elapsed_ms = 0;
  if (!result.ok() || result.reply.elements.size() != 2 || !parse_count(result.reply.elements[0].str, next) ||
      !parse_count(result.reply.elements[1].str, elapsed_ms)) {
    if (!result.ok()) log_debug("barrage node: taking the lease of room " + std::to_string(id) + " failed: " + log_escape(result.error_text()));
    room.retry = map_.call_later(options_.lease / 4, [this, id] { try_acquire(id); });
    return;
  }
  ++stats_.leases_taken;
  log_info("room " + std::to_string(id) + ": node " + options_.node_id + " generates from message " + std::to_string(next));
  room.clock = std::make_unique<RoomClock>(id, server_, source_, map_,
                                           [this, id](uint64_t first, uint64_t count, const SharedBytes& bytes,
                                                      const std::vector<size_t>&) { publish(id, first, count, bytes); });
  room.retry = map_.call_later(options_.lease / 3, [this, id] { renew(id); });
  room.clock->start(next, static_cast<double>(elapsed_ms) / 1000);
}

void BarrageNode::renew(long long id) {
  Local& room = local_.at(id);
  room.retry = map_.call_later(options_.lease / 3, [this, id] { renew(id); });
  const std::vector<std::string> args = {token_, std::to_string(static_cast<long long>(options_.lease * 1000)),
                                         std::to_string(kRoomKeysTtlMs)};
  renew_.run(commands_, keys(id), args, [this, id](redis::Result& result) {
    // Redis away: whether the lease lapsed meanwhile is learnt from the first renewal that gets through.
    if (result.ok() && result.reply.integer == 0) fence(id, "its lease lapsed");
  });
}

// Another node may generate now: this one stops, and tries for the lease again as any node does.
void BarrageNode::fence(long long id, const char* why) {
  auto it = local_.find(id);
  if (it == local_.end() || !it->second.clock) return;
  ++stats_.fenced;
  log_warning("room " + std::to_string(id) + ": node " + options_.node_id + " stops generating: " + why);
  it->second.clock.reset();
  it->second.retry = map_.call_later(options_.lease / 4, [this, id] { try_acquire(id); });
}

void BarrageNode::publish(long long id, uint64_t first, uint64_t count, const SharedBytes& bytes) {
  const std::vector<std::string> args = {token_, std::to_string(first + count), channel_of(id),
                                         encode_batch(first, count, *bytes),
                                         std::to_string(kRoomKeysTtlMs)};
  publish_.run(commands_, std::vector<std::string>{key(id, "generator"), key(id, "seq")}, args, [this, id](redis::Result& result) {
    if (!result.ok()) {
      ++stats_.publish_failures;
      log_debug("barrage node: publishing to room " + std::to_string(id) + " failed: " + log_escape(result.error_text()));
    } else if (result.reply.integer < 0) {
      fence(id, "another node holds its lease");
    } else {
      ++stats_.published;
    }
  });
}

// Checked, then one copy of the packets for every member here.
void BarrageNode::received(const redis::Message& message) {
  uint64_t number = 0;
  if (!message.channel.starts_with(kPrefix) || !parse_count(message.channel.substr(kPrefix.size()), number)) return;
  const long long id = static_cast<long long>(number);
  auto it = local_.find(id);
  if (it == local_.end()) return;  // left since
  Local& room = it->second;
  BatchView batch;
  try {
    batch = decode_batch(message.payload);
  } catch (const BatchError& error) {
    ++stats_.malformed;
    log_debug("barrage node: dropping a batch of room " + std::to_string(id) + ": " + log_escape(error.what()));
    return;
  }
  if (room.expected && batch.first < *room.expected) {
    ++stats_.stale;
    return;
  }
  if (room.expected && batch.first > *room.expected) {  // the first batch only sets the base
    const uint64_t missing = batch.first - *room.expected;
    stats_.gaps += missing;
    log_info("room " + std::to_string(id) + ": " + std::to_string(missing) + " message(s) missing before message " +
             std::to_string(batch.first) + " (a generator moved, or Redis was away)");
  }
  room.expected = batch.first + batch.count;
  ++stats_.batches;
  stats_.messages += batch.count;
  rooms_.deliver(id, std::make_shared<const std::string>(batch.packets), batch.ends, batch.count);
}

std::string BarrageNode::summary() const {
  return "node " + options_.node_id + ": " + std::to_string(stats_.batches) + " batches (" +
         std::to_string(stats_.messages) + " messages), gaps " + std::to_string(stats_.gaps) + ", stale " +
         std::to_string(stats_.stale) + ", malformed " + std::to_string(stats_.malformed) + ", published " +
         std::to_string(stats_.published) + " (failed " + std::to_string(stats_.publish_failures) + "), leases taken " +
         std::to_string(stats_.leases_taken) + ", fenced " + std::to_string(stats_.fenced);
}

}  // namespace asyncore::barrage

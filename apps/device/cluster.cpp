#include "apps/device/cluster.h"

#include <unistd.h>

#include <chrono>

#include "apps/device/hub.h"
#include "core/log.h"
#include "core/log_escape.h"

namespace asyncore::device {

namespace {

// KEYS[1] owner key; ARGV: new owner, imei, our node. The previous owner's node hears of it,
// unless it is us (the hub already closed our older connection).
constexpr const char* kClaim = R"(
local old = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
if old and old ~= ARGV[1] then
  local node = string.match(old, '^(.*)/[^/]*/[^/]*$')
  if node and node ~= ARGV[3] then
    redis.call('PUBLISH', 'node:' .. node, 'takeover ' .. ARGV[2] .. ' ' .. old)
  end
end
return old
)";

// Compare-and-delete: offline only if that connection still owns the device.
constexpr const char* kRelease = R"(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)";

// KEYS[1] lease key; ARGV: incarnation, TTL in ms. 1 when renewed, 0 when the lease was lost.
constexpr const char* kRenew = R"(
local current = redis.call('GET', KEYS[1])
if current == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if current == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
)";

std::string owner_key(Imei imei) { return "device:" + imei.str() + ":owner"; }

}  // namespace

std::string default_node_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "node");
  return std::string(host) + "-" + std::to_string(::getpid());
}

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
      release_(kRelease),
      renew_(kRenew) {
  subscriber_.on_message = [this](const redis::Message& message) { on_message(message); };
  subscriber_.subscribe("node:" + options_.node_id);
}

ClusterNode::~ClusterNode() { lease_timer_.cancel(); }

void ClusterNode::start() {
  commands_.start();
  subscriber_.start();
  renew_lease();
}

void ClusterNode::stop() {
  lease_timer_.cancel();
  commands_.close();
  subscriber_.close();
}

std::string ClusterNode::token(std::uint64_t serial) const {
  return options_.node_id + "/" + incarnation_ + "/" + std::to_string(serial);
}

void ClusterNode::count_failure(const redis::Result& result, const char* what) {
  ++stats_.write_failures;
  log_debug(std::string("cluster: ") + what + " failed: " + log_escape(result.error_text()));
}

void ClusterNode::online(Imei imei) {
  const std::uint64_t serial = next_serial_++;
  owned_[imei.number()] = serial;
  const std::vector<std::string> keys = {owner_key(imei)};
  const std::vector<std::string> args = {token(serial), imei.str(), options_.node_id};
  claim_.run(commands_, keys, args, [this](redis::Result& result) {
    if (result.ok()) ++stats_.claims;
    else count_failure(result, "presence claim");
  });
}

void ClusterNode::offline(Imei imei) {
  auto it = owned_.find(imei.number());
  if (it == owned_.end()) return;
  const std::vector<std::string> keys = {owner_key(imei)};
  const std::vector<std::string> args = {token(it->second)};
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
  ++stats_.remote_takeovers;
  hub_.taken_over_elsewhere(*imei);
}

void ClusterNode::renew_lease() {
  const auto ttl_ms = static_cast<long>(options_.lease * 1000);
  const std::vector<std::string> keys = {"node:" + options_.node_id + ":lease"};
  const std::vector<std::string> args = {incarnation_, std::to_string(ttl_ms)};
  renew_.run(commands_, keys, args, [this](redis::Result& result) {
    if (!result.ok()) count_failure(result, "lease renewal");
    else if (result.reply.integer == 0) log_warning("cluster: node " + log_escape(options_.node_id) +
                                                    ": the lease is held by another incarnation (a duplicate --node-id?)");
  });
  lease_timer_ = map_.call_later(options_.lease / 3, [this] { renew_lease(); });
}

}  // namespace asyncore::device

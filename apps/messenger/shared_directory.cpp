#include "apps/messenger/shared_directory.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include <asyncore/log.h>
#include <asyncore/log_escape.h>

namespace asyncore::messenger {
namespace {

// What every script shares. Standalone Redis: the keys are derived from names. Times are Redis'
// own (TIME), so that hubs' clocks never have to agree.
constexpr std::string_view kPrelude = R"(
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function peer_key(name) return 'msg:peer:' .. name end
local function hub_alive(node, inc)
  return redis.call('GET', 'msg:hub:' .. node .. ':lease') == inc
end
local function drop(name)
  local ip = redis.call('HGET', peer_key(name), 'ip')
  if ip and redis.call('HINCRBY', 'msg:hosts', ip, -1) <= 0 then redis.call('HDEL', 'msg:hosts', ip) end
  redis.call('DEL', peer_key(name))
  redis.call('SREM', 'msg:names', name)
end
-- The rules of Directory::report, over every hub: the owner (same hub incarnation and
-- connection) reports again or moves; another claimant waits until the owner's hub is gone or
-- the owner was silent for `hold` ms; a new name counts against both bounds, with the name its
-- connection held before (`old`) released.
local function claim(node, inc, conn, name, ip, port, old, seen, max_peers, max_per_host, hold, now)
  local cur = redis.call('HMGET', peer_key(name), 'node', 'inc', 'conn', 'ip', 'port', 'seen')
  if cur[1] then
    if cur[1] == node and cur[2] == inc and cur[3] == conn and cur[4] == ip then
      redis.call('HSET', peer_key(name), 'port', port, 'seen', seen)
      if cur[5] == port then return 'unchanged' end
      return 'moved'
    end
    if hub_alive(cur[1], cur[2]) and now - tonumber(cur[6]) <= hold then return 'name_taken' end
    drop(name)
  end
  local renaming, same_host = false, false
  if old ~= '' and old ~= name then
    local o = redis.call('HMGET', peer_key(old), 'node', 'inc', 'conn', 'ip')
    renaming = o[1] == node and o[2] == inc and o[3] == conn
    same_host = renaming and o[4] == ip
  end
  if not renaming and redis.call('SCARD', 'msg:names') >= max_peers then return 'directory_full' end
  if not same_host and tonumber(redis.call('HGET', 'msg:hosts', ip) or '0') >= max_per_host then
    return 'host_full'
  end
  if renaming then drop(old) end
  redis.call('HSET', peer_key(name), 'node', node, 'inc', inc, 'conn', conn, 'ip', ip, 'port', port, 'seen', seen)
  redis.call('SADD', 'msg:names', name)
  redis.call('HINCRBY', 'msg:hosts', ip, 1)
  return 'listed'
end
)";

// ARGV: node, inc, max_peers, max_per_host, hold_ms, conn, name, ip, port, old. Returns the outcome.
constexpr std::string_view kClaim = R"(
local now = now_ms()
return claim(ARGV[1], ARGV[2], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], now,
             tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), now)
)";

// ARGV: node, inc, conn, name. Compare-and-delete: only the owner's entry goes.
constexpr std::string_view kRelease = R"(
local cur = redis.call('HMGET', peer_key(ARGV[4]), 'node', 'inc', 'conn')
if cur[1] == ARGV[1] and cur[2] == ARGV[2] and cur[3] == ARGV[3] then drop(ARGV[4]) return 1 end
return 0
)";

// ARGV: node, inc, max_peers, max_per_host, hold_ms, alive_ms, then (conn, name, ip, port,
// age_ms) for each alive record of this hub. Drops the dead entries (hub lease gone, silent past
// alive) and this hub's entries it no longer has, claims this hub's records again (refreshing
// "seen"), and returns {name, ip, port, ...} of the whole directory and {conn, outcome, ...} for
// the claims refused.
constexpr std::string_view kSync = R"(
local node, inc = ARGV[1], ARGV[2]
local max_peers, max_per_host, hold, alive = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local now = now_ms()
local mine = {}
for i = 7, #ARGV, 5 do mine[ARGV[i + 1]] = ARGV[i] end
for _, name in ipairs(redis.call('SMEMBERS', 'msg:names')) do
  local e = redis.call('HMGET', peer_key(name), 'node', 'inc', 'conn', 'seen')
  if not e[1] or not hub_alive(e[1], e[2]) or now - tonumber(e[4]) > alive or (e[1] == node and mine[name] ~= e[3]) then
    drop(name)
  end
end
local lost = {}
for i = 7, #ARGV, 5 do
  local outcome = claim(node, inc, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], '', now - tonumber(ARGV[i + 4]),
                        max_peers, max_per_host, hold, now)
  if outcome ~= 'listed' and outcome ~= 'moved' and outcome ~= 'unchanged' then
    table.insert(lost, ARGV[i])
    table.insert(lost, outcome)
  end
end
local list = {}
for _, name in ipairs(redis.call('SMEMBERS', 'msg:names')) do
  local e = redis.call('HMGET', peer_key(name), 'ip', 'port')
  table.insert(list, name)
  table.insert(list, e[1])
  table.insert(list, e[2])
end
return {list, lost}
)";

// Scripts cannot call each other: each one carries the prelude.
const redis::Script& claim_script() {
  static const redis::Script script(std::string(kPrelude) + std::string(kClaim));
  return script;
}
const redis::Script& release_script() {
  static const redis::Script script(std::string(kPrelude) + std::string(kRelease));
  return script;
}
const redis::Script& sync_script() {
  static const redis::Script script(std::string(kPrelude) + std::string(kSync));
  return script;
}

std::string milliseconds(double seconds) { return std::to_string(static_cast<long long>(seconds * 1000)); }

redis::ClientOptions client_options(const SharedDirectoryOptions& options) {
  redis::ClientOptions out;
  out.address = options.redis;
  out.client_name = "msg-hub-" + options.node_id;  // node ids are checked: no spaces
  // A claim or release older than the lease is worthless: the sync redoes it.
  out.command_timeout = options.lease;
  out.max_pending = 10000;
  return out;
}

}  // namespace

std::optional<Directory::Outcome> outcome_named(std::string_view name) {
  using O = Directory::Outcome;
  static constexpr std::pair<std::string_view, O> kNames[] = {
      {"listed", O::listed},         {"moved", O::moved},         {"unchanged", O::unchanged},
      {"name_taken", O::name_taken}, {"directory_full", O::directory_full}, {"host_full", O::host_full}};
  for (const auto& [text, outcome] : kNames) {
    if (text == name) return outcome;
  }
  return std::nullopt;
}

SharedDirectory::SharedDirectory(ChannelMap& map, SharedDirectoryOptions options, DirectoryLimits limits, double alive)
    : map_(map),
      options_(std::move(options)),
      limits_(limits),
      alive_(alive),
      client_(client_options(options_), &map),
      lease_(client_, "msg:hub:" + options_.node_id + ":lease", options_.lease, map) {
  client_.on_disconnect = [this](const std::string& why) {
    if (away_) return;
    away_ = true;
    log_warning("msg-hub: the shared directory's redis (" + options_.redis + ") is away (" + log_escape(why) +
                "): serving this hub's own peers only until it returns");
  };
  client_.on_ready = [this] {
    // After an outage the lease may have lapsed: take it again at once; the next sync claims
    // again whatever Redis lost.
    lease_.start();
    if (!away_) return;
    away_ = false;
    log_info("msg-hub: the shared directory's redis (" + options_.redis + ") is back");
  };
}

void SharedDirectory::start() { client_.start(); }

void SharedDirectory::stop(std::function<void()> done) {
  if (!client_.ready()) {
    client_.close();
    return done();
  }
  lease_.release([this, done = std::move(done)] {
    client_.close();
    done();
  });
}

std::vector<std::string> SharedDirectory::limit_args() const {
  return {options_.node_id, lease_.incarnation(), std::to_string(limits_.max_peers), std::to_string(limits_.max_per_host),
          milliseconds(limits_.name_hold)};
}

bool SharedDirectory::claim(const Directory::Record& record, const std::string& old_name,
                            std::function<void(std::optional<Outcome>)> answered) {
  if (!client_.ready()) return false;  // nothing is held for Redis: the next sync after it returns claims
  std::vector<std::string> args = limit_args();
  args.insert(args.end(), {record.connection_id, record.entry.name, record.entry.ip, std::to_string(record.entry.port),
                           old_name});
  claim_script().run(client_, {}, args, [answered = std::move(answered)](redis::Result& result) {
    answered(result.ok() ? outcome_named(result.reply.str) : std::nullopt);
  });
  return true;
}

void SharedDirectory::release(const std::string& name, const std::string& connection_id) {
  if (!client_.ready()) return;  // the next sync drops what this hub no longer has
  const std::vector<std::string> args = {options_.node_id, lease_.incarnation(), connection_id, name};
  release_script().run(client_, {}, args, [](redis::Result&) {});
}

bool SharedDirectory::sync(const std::vector<Directory::Record>& local, Clock::time_point now, double timeout,
                           Synced done) {
  if (!client_.ready()) return false;
  std::vector<std::string> args = limit_args();
  args.push_back(milliseconds(alive_));
  for (const Directory::Record& record : local) {
    const double age = std::chrono::duration<double>(now - record.last_report).count();
    args.insert(args.end(), {record.connection_id, record.entry.name, record.entry.ip,
                             std::to_string(record.entry.port), milliseconds(std::max(age, 0.0))});
  }
  sync_script().run(
      client_, {}, args,
      [this, done = std::move(done)](redis::Result& result) {
        if (!result.ok() || result.reply.elements.size() != 2) {
          // A lost connection is said by on_disconnect; anything else once until a sync works.
          if (client_.ready() && !sync_failing_) {
            log_warning("msg-hub: the shared directory's sync failed (" + log_escape(result.error_text()) +
                        "): sending this hub's own peers until it works");
          }
          sync_failing_ = true;
          return done(std::nullopt, {});
        }
        if (std::exchange(sync_failing_, false)) log_info("msg-hub: the shared directory's sync works again");
        const auto& list = result.reply.elements[0].elements;
        std::vector<PeerEntry> entries;
        for (std::size_t i = 0; i + 2 < list.size(); i += 3) {
          std::size_t skipped = 0;
          // The same checks as a peer's: a malformed entry in Redis is skipped, never sent.
          auto parsed = parse_directory(list[i].str + "," + list[i + 1].str + "," + list[i + 2].str, &skipped);
          if (parsed.size() == 1) entries.push_back(std::move(parsed.front()));
        }
        std::sort(entries.begin(), entries.end(), [](const PeerEntry& a, const PeerEntry& b) { return a.name < b.name; });
        std::vector<std::pair<std::string, Outcome>> lost;
        const auto& refused = result.reply.elements[1].elements;
        for (std::size_t i = 0; i + 1 < refused.size(); i += 2) {
          if (auto outcome = outcome_named(refused[i + 1].str)) lost.emplace_back(refused[i].str, *outcome);
        }
        done(std::move(entries), std::move(lost));
      },
      timeout);
  return true;
}

}  // namespace asyncore::messenger

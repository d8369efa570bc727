#include "apps/device/cluster_store.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <memory>

#include <asyncore/log.h>
#include <asyncore/log_escape.h>

namespace asyncore::device {
namespace {

// KEYS: queue stream, owner key. ARGV: imei, cap, command JSON, time, "1" when the asking node's
// registry lists the device. The cap is checked and the command added in one step: several
// admin nodes racing for the last slot get one QUEUED and the rest QUEUE_FULL.
constexpr const char* kEnqueue = R"(
if ARGV[5] ~= '1' and not redis.call('ZSCORE', 'devices', ARGV[1]) then return {'no'} end
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[2]) then return {'full'} end
local id = redis.call('XADD', KEYS[1], '*', 'cmd', ARGV[3], 't', ARGV[4])
return {'queued', id, redis.call('GET', KEYS[2]) or ''}
)";

// ARGV: imei, cap. 1: known already; 2: registered now; 0: the cap is reached. One step, so
// nodes racing with new devices register exactly up to the cap.
constexpr const char* kRegister = R"(
if redis.call('ZSCORE', 'devices', ARGV[1]) then return 1 end
if redis.call('SCARD', 'devices:auto') >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', 'devices:auto', ARGV[1])
redis.call('ZADD', 'devices', 0, ARGV[1])
return 2
)";

// KEYS: events stream, info hash. ARGV: history length, event JSON, then the info's field/value
// pairs. One script: the event and the info it changes are never seen apart.
constexpr const char* kEvent = R"(
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 'e', ARGV[2])
if #ARGV > 2 then redis.call('HSET', KEYS[2], unpack(ARGV, 3)) end
return 1
)";

// Devices online on any node: the sum of the nodes' sets (a reaped node's set is gone with it).
constexpr const char* kOnline = R"(
local n = 0
for _, node in ipairs(redis.call('SMEMBERS', 'nodes')) do n = n + redis.call('SCARD', 'node:' .. node .. ':devices') end
return n
)";

const std::vector<QueuedCommand> kNone;

std::string key(Imei imei, const char* what) { return "device:" + imei.str() + ":" + what; }

// Stream ids ("<ms>-<seq>") in the order Redis gives them.
std::pair<std::uint64_t, std::uint64_t> stream_order(std::string_view id) {
  std::uint64_t ms = 0, seq = 0;
  const size_t dash = id.find('-');
  std::from_chars(id.data(), id.data() + std::min(dash, id.size()), ms);
  if (dash != std::string_view::npos) std::from_chars(id.data() + dash + 1, id.data() + id.size(), seq);
  return {ms, seq};
}

std::string number_text(double v) {
  std::string out;
  json::dump_to(out, json::Value(v));
  return out;
}

// A hash reply (RESP3 map or RESP2 array) as field -> value.
std::unordered_map<std::string, std::string> fields_of(const redis::Reply& reply) {
  std::unordered_map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) out[reply.elements[i].str] = reply.elements[i + 1].str;
  return out;
}

json::Value number_or_null(const std::unordered_map<std::string, std::string>& info, const std::string& name) {
  auto it = info.find(name);
  if (it == info.end()) return nullptr;
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  if (end == it->second.c_str()) return nullptr;
  if (v == static_cast<double>(static_cast<long long>(v)) && name != "since" && name != "last_seen" && name != "lat" &&
      name != "lon" && name != "location_t") {
    return static_cast<long long>(v);
  }
  return v;
}

// The same members as the single-process /devices/<imei>, from Redis; "node" says who holds it.
json::Value device_view(std::string_view imei, const redis::Reply& info_reply, const redis::Reply& owner) {
  const auto info = fields_of(info_reply);
  const bool online = owner.is_string() && !owner.str.empty();
  json::Object out;
  out.append("imei", std::string(imei));
  out.append("online", online);
  auto peer = info.find("peer");
  out.append("peer", online && peer != info.end() ? json::Value(peer->second) : json::Value());
  out.append("node", online ? json::Value(owner_node(owner.str)) : json::Value());
  out.append("since", number_or_null(info, "since"));
  out.append("last_seen", number_or_null(info, "last_seen"));
  out.append("heartbeat", number_or_null(info, "heartbeat"));
  out.append("battery", number_or_null(info, "battery"));
  if (info.count("lat") && info.count("lon")) {
    out.append("location", json::Object{{"lat", number_or_null(info, "lat")},
                                        {"lon", number_or_null(info, "lon")},
                                        {"t", number_or_null(info, "location_t")}});
  } else {
    out.append("location", nullptr);
  }
  return out;
}

// Several commands whose replies are wanted together: `done` runs once all are in.
struct Gather {
  std::vector<redis::Result> results;
  size_t left = 0;
  std::function<void(std::vector<redis::Result>&)> done;
};

void gather(redis::Client& client, std::vector<std::vector<std::string>> commands,
            std::function<void(std::vector<redis::Result>&)> done) {
  auto state = std::make_shared<Gather>();
  state->results.resize(commands.size());
  state->left = commands.size();
  state->done = std::move(done);
  if (commands.empty()) return state->done(state->results);
  if (!client.ready()) {  // away: at once, not after a timeout
    for (redis::Result& r : state->results) {
      r.outcome = redis::Outcome::refused;
      r.error = "not connected";
    }
    return state->done(state->results);
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    client.command(std::span<const std::string>(commands[i]), [state, i](redis::Result& result) {
      state->results[i] = std::move(result);
      if (--state->left == 0) state->done(state->results);
    }, kAdminRedisTimeout);
  }
}

std::string first_error(const std::vector<redis::Result>& results) {
  for (const redis::Result& r : results) {
    if (!r.ok()) return r.error_text();
  }
  return {};
}

}  // namespace

std::string_view owner_node(std::string_view owner) {
  const size_t last = owner.rfind('/');
  if (last == std::string_view::npos || last == 0) return {};
  const size_t before = owner.rfind('/', last - 1);
  return before == std::string_view::npos ? std::string_view() : owner.substr(0, before);
}

ClusterStore::ClusterStore(redis::Client& client, std::size_t max_queued, std::size_t events_per_device)
    : client_(client),
      max_queued_(max_queued),
      events_per_device_(events_per_device),
      enqueue_(kEnqueue),
      register_(kRegister),
      event_(kEvent) {}

void ClusterStore::failed(const redis::Result& result, const char* what) {
  ++write_failures_;
  log_debug(std::string("cluster store: ") + what + " failed: " + log_escape(result.error_text()));
}

void ClusterStore::enqueue(Imei imei, const std::string& command, double t, bool known_here,
                           std::function<void(EnqueueResult)> done, double timeout) {
  const std::vector<std::string> keys = {key(imei, "queue"), key(imei, "owner")};
  const std::vector<std::string> args = {imei.str(), std::to_string(max_queued_), command, number_text(t),
                                         known_here ? "1" : "0"};
  enqueue_.run(client_, keys, args, [done = std::move(done)](redis::Result& result) {
    EnqueueResult out;
    if (!result.ok()) {
      // Unknown outcome (sent, no answer): it may be stored; the admin is told so.
      out.error = result.outcome == redis::Outcome::unknown
                      ? "redis did not answer (" + result.error_text() + "); the command may or may not be queued"
                      : "redis: " + result.error_text();
      return done(std::move(out));
    }
    const auto& e = result.reply.elements;
    const std::string_view verdict = e.empty() ? std::string_view() : std::string_view(e[0].str);
    if (verdict == "no") out.kind = EnqueueResult::unknown_device;
    else if (verdict == "full") out.kind = EnqueueResult::full;
    else if (verdict == "queued" && e.size() == 3) {
      out.kind = EnqueueResult::queued;
      out.stream_id = e[1].str;
      out.owner = e[2].str;
    } else {
      out.error = "unexpected reply from the enqueue script: " + log_escape(result.reply.to_string());
    }
    done(std::move(out));
  }, timeout);
}

void ClusterStore::begin_load(Imei imei) { copies_[imei.number()] = Copy{}; }

void ClusterStore::finish_load(Imei imei, const redis::Reply* stored) {
  auto it = copies_.find(imei.number());
  if (it == copies_.end()) return;  // offline meanwhile
  it->second.more = false;  // what this read brings is taken in order
  if (stored) {
    for (const redis::Reply& entry : stored->elements) {
      if (entry.elements.size() != 2) continue;
      const auto fields = fields_of(entry.elements[1]);
      auto cmd = fields.find("cmd"), t = fields.find("t");
      if (cmd == fields.end()) continue;
      add(imei, entry.elements[0].str, cmd->second, t == fields.end() ? 0 : std::strtod(t->second.c_str(), nullptr));
    }
    if (!stored->elements.empty() && !stored->elements.back().elements.empty()) {
      it->second.last_read = stored->elements.back().elements[0].str;
    }
    it->second.more = stored->elements.size() >= kReadBatch;
  }
  it->second.loaded = true;
}

void ClusterStore::read_more(Imei imei, Copy& copy) {
  copy.loaded = false;
  const std::string from = "(" + copy.last_read;
  client_.command({"XRANGE", key(imei, "queue"), from, "+", "COUNT", std::to_string(kReadBatch)},
                  [this, imei](redis::Result& result) {
                    if (!result.ok()) failed(result, "reading a queue");
                    finish_load(imei, result.ok() ? &result.reply : nullptr);
                    if (on_loaded) on_loaded(imei);
                  });
}

bool ClusterStore::queue_loaded(Imei imei) const {
  auto it = copies_.find(imei.number());
  return it != copies_.end() && it->second.loaded;
}

std::uint64_t ClusterStore::add(Imei imei, const std::string& stream_id, std::string command, double t) {
  auto it = copies_.find(imei.number());
  if (it == copies_.end()) return 0;
  Copy& copy = it->second;
  const auto order = stream_order(stream_id);
  if (copy.more && order > stream_order(copy.last_read)) return 0;  // read with the next batch
  size_t at = 0;
  while (at < copy.stream_ids.size() && stream_order(copy.stream_ids[at]) < order) ++at;
  if (at < copy.stream_ids.size() && copy.stream_ids[at] == stream_id) return copy.commands[at].id;  // known already
  const std::uint64_t id = next_id_++;
  copy.commands.insert(copy.commands.begin() + static_cast<std::ptrdiff_t>(at), QueuedCommand{id, t, std::move(command)});
  copy.stream_ids.insert(copy.stream_ids.begin() + static_cast<std::ptrdiff_t>(at), stream_id);
  return id;
}

const std::vector<QueuedCommand>& ClusterStore::queued(Imei imei) const {
  auto it = copies_.find(imei.number());
  return it == copies_.end() ? kNone : it->second.commands;
}

void ClusterStore::complete(Imei imei, std::uint64_t id) {
  auto it = copies_.find(imei.number());
  if (it == copies_.end()) return;
  Copy& copy = it->second;
  for (size_t i = 0; i < copy.commands.size(); ++i) {
    if (copy.commands[i].id != id) continue;
    client_.command({"XDEL", key(imei, "queue"), copy.stream_ids[i]}, [this](redis::Result& result) {
      if (!result.ok()) failed(result, "deleting an acked command");
    });
    copy.commands.erase(copy.commands.begin() + static_cast<std::ptrdiff_t>(i));
    copy.stream_ids.erase(copy.stream_ids.begin() + static_cast<std::ptrdiff_t>(i));
    if (copy.commands.empty() && copy.more && copy.loaded) read_more(imei, copy);
    return;
  }
}

void ClusterStore::forget(Imei imei) { copies_.erase(imei.number()); }
void ClusterStore::forget_all() { copies_.clear(); }

std::size_t ClusterStore::cached_total() const {
  std::size_t n = 0;
  for (const auto& [imei, copy] : copies_) n += copy.commands.size();
  return n;
}

std::vector<std::string> ClusterStore::event_args(const Event& event, const DeviceRecord& record) const {
  std::vector<std::string> args = {std::to_string(events_per_device_), json::dump(event_json(event)),
                                   "last_seen", number_text(event.t)};
  auto field = [&args](const char* name, std::string value) {
    args.emplace_back(name);
    args.push_back(std::move(value));
  };
  switch (event.kind) {
    case EventKind::online:
      field("since", number_text(event.t));
      field("heartbeat", std::to_string(event.heartbeat));
      field("peer", record.peer);
      break;
    case EventKind::offline: field("since", number_text(event.t)); break;
    case EventKind::battery: field("battery", std::to_string(event.percent)); break;
    case EventKind::location:
      if (event.flags & Event::has_position) {
        field("lat", number_text(event.lat));
        field("lon", number_text(event.lon));
        field("location_t", number_text(event.t));
      }
      break;
    case EventKind::alarm: break;
  }
  return args;
}

void ClusterStore::record_event(Imei imei, const Event& event, const DeviceRecord& record) {
  if (unsent_.size() >= kMaxUnsent) {  // Redis away for long: the oldest go, memory stays bounded
    unsent_.pop_front();
    ++dropped_events_;
    if (!drop_logged_) {
      drop_logged_ = true;
      log_warning("cluster store: more than " + std::to_string(kMaxUnsent) +
                  " events not written to redis; dropping the oldest (device_cluster_events_dropped_total)");
    }
  }
  unsent_.push_back(Unsent{next_seq_++, imei, event_args(event, record)});
  replay();
}

// Errors by which Redis says it did not run the script now, but may later.
static bool transient(const redis::Result& result) {
  if (result.outcome != redis::Outcome::reply) return true;  // not sent, or its answer lost
  for (const char* code : {"LOADING", "BUSY", "MISCONF", "OOM", "READONLY", "TRYAGAIN", "MASTERDOWN"}) {
    if (result.reply.str.starts_with(code)) return true;
  }
  return false;
}

void ClusterStore::replay() {
  if (!client_.ready() || (stalled_ && sending_ > 0)) return;
  stalled_ = false;
  constexpr std::size_t kBatch = 256;  // written a batch at a time: a long backlog is not one burst
  for (Unsent& entry : unsent_) {
    if (sending_ >= kBatch) break;
    if (entry.sent) continue;
    entry.sent = true;
    ++sending_;
    const std::vector<std::string> keys = {key(entry.imei, "events"), key(entry.imei, "info")};
    event_.run(client_, keys, entry.args, [this, seq = entry.seq](redis::Result& result) { written(seq, result); });
    if (stalled_) break;  // refused at once
  }
  release_barriers(!stalled_);
}

// Barriers whose events are all written get their PING (answered after those writes); with
// the events kept for later (a write failed), every waiting one is told at once.
void ClusterStore::release_barriers(bool ok) {
  std::uint64_t first_unwritten = next_seq_;
  for (const Unsent& entry : unsent_) {
    if (!entry.sent) {
      first_unwritten = entry.seq;
      break;
    }
  }
  while (!barriers_.empty() && (!ok || barriers_.front().upto < first_unwritten)) {
    std::function<void(bool)> done = std::move(barriers_.front().done);
    barriers_.pop_front();
    if (!ok) {
      done(false);
      continue;
    }
    client_.command({"PING"}, [done = std::move(done)](redis::Result& result) { done(result.ok()); });
  }
}

void ClusterStore::written(std::uint64_t seq, redis::Result& result) {
  --sending_;
  auto it = std::find_if(unsent_.begin(), unsent_.end(), [seq](const Unsent& u) { return u.seq == seq; });
  if (result.ok() || !transient(result)) {
    if (!result.ok()) failed(result, "recording an event");  // Redis refuses it for good: not kept
    if (it != unsent_.end()) unsent_.erase(it);
    if (unsent_.empty()) drop_logged_ = false;  // the outage is over
    return replay();
  }
  // Kept; sent again by the next replay (Redis ready again, or a newer event once the writes
  // out now are answered), not from here: a refusal is answered at once and would loop.
  failed(result, "recording an event (kept, written again once redis is back)");
  stalled_ = true;
  if (it != unsent_.end()) it->sent = false;
  release_barriers(false);
}

void ClusterStore::barrier(std::function<void(bool)> done) {
  if (stalled_ || !client_.ready()) return done(false);
  barriers_.push_back(Barrier{next_seq_ - 1, std::move(done)});
  release_barriers(true);
}

void ClusterStore::publish_registry(const std::vector<Imei>& imeis) {
  constexpr size_t kBatch = 1000;  // one command per thousand: a big registry is a few round trips
  for (size_t start = 0; start < imeis.size(); start += kBatch) {
    std::vector<std::string> args = {"ZADD", "devices"};
    for (size_t i = start; i < std::min(imeis.size(), start + kBatch); ++i) {
      args.emplace_back("0");
      args.push_back(imeis[i].str());
    }
    client_.command(std::span<const std::string>(args), [this](redis::Result& result) {
      if (!result.ok()) failed(result, "publishing the registry");
    });
  }
}

void ClusterStore::register_device(Imei imei, std::size_t cap, std::function<void(Registration, std::string)> done) {
  if (!client_.ready()) return done(Registration::failed, "not connected");
  const std::vector<std::string> args = {imei.str(), std::to_string(cap)};
  register_.run(client_, {}, args, [done = std::move(done)](redis::Result& result) {
    if (!result.ok()) return done(Registration::failed, result.error_text());
    const std::int64_t v = result.reply.integer;
    done(v == 1 ? Registration::known : v == 2 ? Registration::registered : Registration::refused, {});
  });
}

void ClusterStore::list_devices(std::string after, std::size_t limit, ViewDone done) {
  const std::string from = after.empty() ? "-" : "(" + after;
  std::vector<std::vector<std::string>> first = {
      {"ZRANGE", "devices", from, "+", "BYLEX", "LIMIT", "0", std::to_string(limit)}, {"ZCARD", "devices"},
      {"EVAL", kOnline, "0"}};
  gather(client_, std::move(first), [this, limit, done = std::move(done)](std::vector<redis::Result>& page) {
    if (std::string error = first_error(page); !error.empty()) return done(std::nullopt, error);
    std::vector<std::string> imeis;
    for (const redis::Reply& r : page[0].reply.elements) imeis.push_back(r.str);
    const std::int64_t total = page[1].reply.integer, online = page[2].reply.integer;
    std::vector<std::vector<std::string>> details;
    for (const std::string& imei : imeis) {
      details.push_back({"HGETALL", "device:" + imei + ":info"});
      details.push_back({"GET", "device:" + imei + ":owner"});
    }
    gather(client_, std::move(details),
           [imeis = std::move(imeis), total, online, limit, done](std::vector<redis::Result>& results) {
             if (std::string error = first_error(results); !error.empty()) return done(std::nullopt, error);
             json::Array devices;
             for (size_t i = 0; i < imeis.size(); ++i) {
               devices.push_back(device_view(imeis[i], results[2 * i].reply, results[2 * i + 1].reply));
             }
             // "next": where the following page starts (?after=), null on the last one.
             json::Value next = imeis.size() == limit && !imeis.empty() ? json::Value(imeis.back()) : json::Value();
             done(json::Object{{"total", total}, {"online", online}, {"devices", std::move(devices)},
                               {"next", std::move(next)}},
                  {});
           });
  });
}

void ClusterStore::show_device(Imei imei, ViewDone done) {
  std::vector<std::vector<std::string>> commands = {
      {"ZSCORE", "devices", imei.str()}, {"HGETALL", key(imei, "info")}, {"GET", key(imei, "owner")}};
  gather(client_, std::move(commands), [imei, done = std::move(done)](std::vector<redis::Result>& r) {
    if (std::string error = first_error(r); !error.empty()) return done(std::nullopt, error);
    if (r[0].reply.is_null()) return done(json::Value(), {});
    done(device_view(imei.str(), r[1].reply, r[2].reply), {});
  });
}

void ClusterStore::device_events(Imei imei, std::size_t limit, ViewDone done) {
  std::vector<std::vector<std::string>> commands = {
      {"ZSCORE", "devices", imei.str()},
      {"XREVRANGE", key(imei, "events"), "+", "-", "COUNT", std::to_string(std::clamp<std::size_t>(limit, 1, events_per_device_))}};
  gather(client_, std::move(commands), [imei, limit, done = std::move(done)](std::vector<redis::Result>& r) {
    if (std::string error = first_error(r); !error.empty()) return done(std::nullopt, error);
    if (r[0].reply.is_null()) return done(json::Value(), {});
    json::Array events;
    for (const redis::Reply& entry : r[1].reply.elements) {
      if (entry.elements.size() != 2 || events.size() >= limit) continue;
      const auto fields = fields_of(entry.elements[1]);
      auto e = fields.find("e");
      if (e == fields.end()) continue;
      if (json::ParseResult parsed = json::try_parse(e->second)) events.push_back(std::move(*parsed.value));
    }
    done(json::Object{{"imei", imei.str()}, {"events", std::move(events)}}, {});
  });
}

}  // namespace asyncore::device

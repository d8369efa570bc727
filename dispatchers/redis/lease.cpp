#include "dispatchers/redis/lease.h"

#include <chrono>
#include <vector>

#include <asyncore/log.h>
#include <asyncore/log_escape.h>

namespace asyncore::redis {
namespace {

// KEYS[1] lease; ARGV: incarnation, TTL in ms. 1 when renewed; 0 when the lease lapsed or
// another incarnation holds it.
const Script& renew_script() {
  static const Script script(R"(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
)");
  return script;
}

// Compare-and-delete: KEYS[1] lease, ARGV[1] incarnation.
const Script& release_script() {
  static const Script script(R"(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)");
  return script;
}

}  // namespace

Lease::Lease(Client& client, std::string key, double ttl_seconds, ChannelMap& map)
    : client_(client), key_(std::move(key)), ttl_(ttl_seconds), map_(map), incarnation_(new_incarnation()) {}

Lease::~Lease() { renew_timer_.cancel(); }

std::string Lease::new_incarnation() {
  return std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
}

void Lease::start() {
  take();
  renew_timer_ = map_.call_later(ttl_ / 3, [this] { renew(); });
}

void Lease::take() {
  client_.command({"SET", key_, incarnation_, "PX", std::to_string(static_cast<long>(ttl_ * 1000))},
                  [this](Result& result) {
                    if (!result.ok()) ++renew_failures_;
                  });
}

void Lease::renew() {
  renew_timer_ = map_.call_later(ttl_ / 3, [this] { renew(); });
  const std::vector<std::string> keys = {key_};
  const std::vector<std::string> args = {incarnation_, std::to_string(static_cast<long>(ttl_ * 1000))};
  renew_script().run(client_, keys, args, [this, incarnation = incarnation_](Result& result) {
    if (!result.ok()) {
      ++renew_failures_;
      return;
    }
    if (result.reply.integer != 0 || incarnation != incarnation_) return;
    ++lost_;
    log_warning("redis lease " + log_escape(key_) + " lapsed; taking it again as a new incarnation");
    if (on_lost) on_lost();  // still under the old incarnation, to let go of what it held
    incarnation_ = new_incarnation();
    take();
  });
}

void Lease::release(std::function<void()> done) {
  renew_timer_.cancel();
  const std::vector<std::string> keys = {key_};
  const std::vector<std::string> args = {incarnation_};
  release_script().run(client_, keys, args, [done = std::move(done)](Result&) {
    if (done) done();
  });
}

}  // namespace asyncore::redis

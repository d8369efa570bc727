// redis::Lease: a process's claim to be alive among several sharing one Redis. A key holds the
// lease's incarnation with a TTL, renewed every TTL/3 through the given client; when a renewal
// finds the key gone or holding another incarnation (the process was stopped, or cut off from
// Redis, longer than the TTL), others may already have taken what it held: the lease calls
// on_lost, takes a new incarnation and is taken again. Whatever the holder writes under its
// incarnation is then known stale to everyone.
//
//   redis::Lease lease(client, "myapp:node:a:lease", 6.0, map);
//   lease.on_lost = [&] { /* let go of what the old incarnation held */ };
//   lease.start();
//
// Redis being away fails nothing: renewals that do not get through are counted, and the first
// one that does tells whether the lease lapsed meanwhile.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include <asyncore/channel_map.h>
#include <asyncore/redis/client.h>

namespace asyncore::redis {

class Lease {
 public:
  Lease(Client& client, std::string key, double ttl_seconds, ChannelMap& map);
  ~Lease();
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  void start();  // takes the lease and keeps renewing it
  // Stops renewing and deletes the key if this incarnation still holds it, so that others need
  // not wait for the TTL; `done` runs once Redis answered or failed.
  void release(std::function<void()> done = {});

  const std::string& key() const { return key_; }
  const std::string& incarnation() const { return incarnation_; }
  double ttl() const { return ttl_; }
  std::uint64_t renew_failures() const { return renew_failures_; }
  std::uint64_t lost() const { return lost_; }

  // Called with incarnation() still the lapsed one (what it held can be let go under it); the new
  // one is in place once it returns.
  std::function<void()> on_lost;

 private:
  void take();
  void renew();
  static std::string new_incarnation();

  Client& client_;
  std::string key_;
  double ttl_;
  ChannelMap& map_;
  std::string incarnation_;
  ScopedTimer renew_timer_;
  std::uint64_t renew_failures_ = 0;
  std::uint64_t lost_ = 0;
};

}  // namespace asyncore::redis

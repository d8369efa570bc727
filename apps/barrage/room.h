// Room: the clients that joined one room id, and its broadcast clock. Each batch of due
// messages is encoded once into one shared buffer and the same bytes go to every member: sent
// at once, or queued by reference by a member that is behind (never a copy per member).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "apps/barrage/generator.h"
#include "apps/barrage/server_options.h"
#include <asyncore/asyncore.h>

namespace asyncore::barrage {

class Session;

class Room {
 public:
  Room(long long id, const ServerOptions& options, const MessageSource& source, ChannelMap& map);
  ~Room();
  Room(const Room&) = delete;
  Room& operator=(const Room&) = delete;

  void join(Session& session);
  void leave(Session& session);
  void stop();  // no more broadcasts

  long long id() const { return id_; }
  size_t size() const { return count_; }
  uint64_t messages_sent() const { return sent_; }
  uint64_t deliveries() const { return deliveries_; }

 private:
  void start_clock();
  void tick();
  void broadcast(uint64_t count);

  long long id_;
  const ServerOptions& options_;
  const MessageSource& source_;
  ChannelMap& map_;
  std::vector<Session*> members_;  // may hold nulls while a broadcast walks it
  size_t count_ = 0;
  bool broadcasting_ = false;
  bool started_ = false;
  bool stopped_ = false;
  Clock::time_point start_;
  uint64_t sent_ = 0;
  uint64_t deliveries_ = 0;
  ScopedTimer timer_;
  // The packets of one broadcast, back to back; reused when no member still queues it.
  std::shared_ptr<std::string> batch_;
  std::vector<size_t> ends_;   // where each packet ends in batch_
};

}  // namespace asyncore::barrage

// Room: the clients of one room on this server, and the fan-out of a broadcast to them. The
// packets of a batch arrive encoded in one shared buffer and the same bytes go to every member:
// sent at once, or queued by reference by a member that is behind (never a copy per member).
// Who makes the batches is not the room's business: its RoomClock, or another node (--redis).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include <asyncore/stream/output_queue.h>

namespace asyncore::barrage {

class Session;

class Room {
 public:
  // `on_size` hears every change of the member count (the registry starts clocks and removes
  // empty rooms from there).
  Room(long long id, std::function<void(Room&)> on_size) : id_(id), on_size_(std::move(on_size)) {}
  Room(const Room&) = delete;
  Room& operator=(const Room&) = delete;

  void join(Session& session);
  void leave(Session& session);
  // `count` messages, packets back to back in `bytes`; `ends`: where each packet ends.
  void deliver(const SharedBytes& bytes, const std::vector<size_t>& ends, uint64_t count);

  long long id() const { return id_; }
  size_t size() const { return count_; }
  bool broadcasting() const { return broadcasting_; }
  uint64_t deliveries() const { return deliveries_; }

 private:
  long long id_;
  std::function<void(Room&)> on_size_;
  std::vector<Session*> members_;  // may hold nulls while a broadcast walks it
  size_t count_ = 0;
  bool broadcasting_ = false;
  uint64_t deliveries_ = 0;
};

}  // namespace asyncore::barrage

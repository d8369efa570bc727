// RoomRegistry: the rooms of one server by id. A room is made for its first member and removed
// after its last member left; on a single server its clock starts once --wait-for members joined.
// On a node (--redis) a RoomLink makes the batches elsewhere and hands them to deliver().
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "apps/barrage/generator.h"
#include "apps/barrage/room.h"
#include "apps/barrage/room_clock.h"
#include "apps/barrage/server_options.h"
#include <asyncore/asyncore.h>

namespace asyncore::barrage {

// What a node does with its rooms' lives.
class RoomLink {
 public:
  virtual ~RoomLink() = default;
  virtual void opened(long long room) = 0;                  // its first member here
  virtual void resized(long long room, size_t members) = 0;  // members here now
  virtual void closed(long long room) = 0;                  // its last member here left
};

class RoomRegistry {
 public:
  RoomRegistry(const ServerOptions& options, const MessageSource& source, ChannelMap& map);
  ~RoomRegistry();
  RoomRegistry(const RoomRegistry&) = delete;
  RoomRegistry& operator=(const RoomRegistry&) = delete;

  // The room, made if it is new (a member joins it next).
  Room& room(long long id);
  // A batch made elsewhere (link mode); dropped when the room has gone.
  void deliver(long long id, const SharedBytes& bytes, const std::vector<size_t>& ends, uint64_t count);
  void set_link(RoomLink* link) { link_ = link; }
  void stop();  // no more broadcasts

  size_t size() const { return rooms_.size(); }
  uint64_t deliveries() const;  // removed rooms included

 private:
  struct Entry {
    std::unique_ptr<Room> room;
    std::unique_ptr<RoomClock> clock;  // without a link
  };
  void resized(Room& room);
  void sweep();

  const ServerOptions& options_;
  const MessageSource& source_;
  ChannelMap& map_;
  RoomLink* link_ = nullptr;
  std::map<long long, Entry> rooms_;
  uint64_t removed_deliveries_ = 0;
  bool stopped_ = false;
  ScopedTimer sweep_timer_;  // empty rooms go outside any broadcast or tick
};

}  // namespace asyncore::barrage

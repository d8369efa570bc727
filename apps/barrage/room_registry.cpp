#include "apps/barrage/room_registry.h"

#include <algorithm>

namespace asyncore::barrage {

RoomRegistry::RoomRegistry(const ServerOptions& options, const MessageSource& source, ChannelMap& map)
    : options_(options), source_(source), map_(map) {}

RoomRegistry::~RoomRegistry() { sweep_timer_.cancel(); }

Room& RoomRegistry::room(long long id) {
  Entry& entry = rooms_[id];
  if (entry.room) return *entry.room;
  entry.room = std::make_unique<Room>(id, [this](Room& room) { resized(room); });
  if (link_) {
    link_->opened(id);
  } else {
    Room* room = entry.room.get();
    entry.clock = std::make_unique<RoomClock>(
        id, options_, source_, map_,
        [room](uint64_t, uint64_t count, const SharedBytes& bytes, const std::vector<size_t>& ends) {
          room->deliver(bytes, ends, count);
        });
  }
  return *entry.room;
}

void RoomRegistry::resized(Room& room) {
  if (room.size() == 0 && !sweep_timer_.active()) sweep_timer_ = map_.call_later(0, [this] { sweep(); });
  if (stopped_) return;
  if (link_) return link_->resized(room.id(), room.size());
  RoomClock* clock = rooms_.at(room.id()).clock.get();
  if (clock && !clock->running() && room.size() >= static_cast<size_t>(std::max(1, options_.wait_for))) {
    if (options_.rate > 0) log_info("room " + std::to_string(room.id()) + ": broadcasting to " + std::to_string(room.size()) + " client(s)");
    clock->start();
  }
}

void RoomRegistry::deliver(long long id, const SharedBytes& bytes, const std::vector<size_t>& ends, uint64_t count) {
  auto it = rooms_.find(id);
  if (it != rooms_.end() && !stopped_) it->second.room->deliver(bytes, ends, count);
}

void RoomRegistry::sweep() {
  for (auto it = rooms_.begin(); it != rooms_.end();) {
    Room& room = *it->second.room;
    if (room.size() > 0 || room.broadcasting()) {
      ++it;
      continue;
    }
    removed_deliveries_ += room.deliveries();
    const long long id = room.id();
    it = rooms_.erase(it);
    if (link_) link_->closed(id);
  }
}

void RoomRegistry::stop() {
  stopped_ = true;
  for (auto& [id, entry] : rooms_) {
    if (entry.clock) entry.clock->stop();
  }
}

uint64_t RoomRegistry::deliveries() const {
  uint64_t total = removed_deliveries_;
  for (const auto& [id, entry] : rooms_) total += entry.room->deliveries();
  return total;
}

}  // namespace asyncore::barrage

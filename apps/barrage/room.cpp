#include "apps/barrage/room.h"

#include <algorithm>

#include "apps/barrage/session.h"

namespace asyncore::barrage {

void Room::join(Session& session) {
  session.room_index = members_.size();
  members_.push_back(&session);
  ++count_;
  on_size_(*this);
}

void Room::leave(Session& session) {
  size_t index = session.room_index;
  if (index >= members_.size() || members_[index] != &session) return;
  --count_;
  if (broadcasting_) {
    members_[index] = nullptr;  // compacted when the broadcast is over
  } else {
    members_[index] = members_.back();
    members_[index]->room_index = index;
    members_.pop_back();
  }
  on_size_(*this);
}

void Room::deliver(const SharedBytes& bytes, const std::vector<size_t>& ends, uint64_t count) {
  deliveries_ += count * count_;
  broadcasting_ = true;
  for (Session* member : members_) {
    if (member) member->deliver(bytes, ends);
  }
  broadcasting_ = false;
  if (members_.size() != count_) {  // someone left (a slow client was dropped) meanwhile
    std::erase(members_, nullptr);
    for (size_t i = 0; i < members_.size(); ++i) members_[i]->room_index = i;
  }
}

}  // namespace asyncore::barrage

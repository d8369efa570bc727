#include "apps/barrage/room.h"

#include <algorithm>
#include <cmath>

#include "apps/barrage/packet.h"
#include "apps/barrage/session.h"

namespace asyncore::barrage {
namespace {
// However far the clock fell behind, one batch stays a bounded amount of memory.
constexpr uint64_t max_batch_messages = 100000;
}  // namespace

Room::Room(long long id, const ServerOptions& options, const MessageSource& source, ChannelMap& map)
    : id_(id), options_(options), source_(source), map_(map) {}

Room::~Room() { timer_.cancel(); }

void Room::join(Session& session) {
  session.room_index = members_.size();
  members_.push_back(&session);
  ++count_;
  if (!started_ && static_cast<long long>(count_) >= std::max(1, options_.wait_for)) start_clock();
}

void Room::leave(Session& session) {
  size_t index = session.room_index;
  if (index >= members_.size() || members_[index] != &session) return;
  --count_;
  if (broadcasting_) {
    members_[index] = nullptr;  // compacted when the broadcast is over
    return;
  }
  members_[index] = members_.back();
  members_[index]->room_index = index;
  members_.pop_back();
}

void Room::stop() {
  stopped_ = true;
  timer_.cancel();
}

void Room::start_clock() {
  started_ = true;
  if (options_.rate <= 0 || stopped_) return;
  start_ = Clock::now();
  log_info("room " + std::to_string(id_) + ": broadcasting to " + std::to_string(count_) + " client(s)");
  tick();
}

void Room::tick() {
  // Message k falls due k/rate seconds after the start; a late timer sends what it owes at once.
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  uint64_t due = static_cast<uint64_t>(elapsed * options_.rate) + 1;
  if (options_.total >= 0) due = std::min(due, static_cast<uint64_t>(options_.total));
  if (due > sent_) broadcast(std::min(due - sent_, max_batch_messages));
  if (options_.total >= 0 && sent_ >= static_cast<uint64_t>(options_.total)) {
    log_info("room " + std::to_string(id_) + ": sent all " + std::to_string(sent_) + " messages (" +
             std::to_string(deliveries_) + " deliveries)");
    return;
  }
  const double next_due = static_cast<double>(sent_) / options_.rate;
  timer_ = map_.call_later(std::max(next_due - elapsed, options_.batch_interval()), [this] { tick(); });
}

void Room::broadcast(uint64_t count) {
  if (!batch_ || batch_.use_count() > 1) {
    batch_ = std::make_shared<std::string>();  // the last one still waits in some member's queue
  } else {
    batch_->clear();
  }
  ends_.clear();
  for (uint64_t i = 0; i < count; ++i) {
    append_packet(*batch_, source_.message(id_, sent_ + i), server_message_type);
    ends_.push_back(batch_->size());
  }
  sent_ += count;
  deliveries_ += count * count_;

  const SharedBytes bytes = batch_;
  broadcasting_ = true;
  for (Session* member : members_) {
    if (member) member->deliver(bytes, ends_);
  }
  broadcasting_ = false;
  if (members_.size() != count_) {  // someone left (a slow client was dropped) meanwhile
    std::erase(members_, nullptr);
    for (size_t i = 0; i < members_.size(); ++i) members_[i]->room_index = i;
  }
  if (batch_->capacity() > 1024 * 1024) batch_.reset();  // after a burst; members keep their references
}

}  // namespace asyncore::barrage

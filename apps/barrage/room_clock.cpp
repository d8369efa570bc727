#include "apps/barrage/room_clock.h"

#include <algorithm>

#include "apps/barrage/packet.h"

namespace asyncore::barrage {
namespace {
// However far the clock fell behind, one batch stays a bounded amount of memory.
constexpr uint64_t max_batch_messages = 100000;
}  // namespace

RoomClock::RoomClock(long long room, const ServerOptions& options, const MessageSource& source, ChannelMap& map, Sink sink)
    : room_(room), options_(options), source_(source), map_(map), sink_(std::move(sink)) {}

void RoomClock::start(uint64_t next, double elapsed) {
  if (running_ || options_.rate <= 0) return;
  running_ = true;
  start_ = Clock::now() - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(elapsed));
  // The message due now is sent; what fell due before it while nobody generated is skipped.
  uint64_t due_now = static_cast<uint64_t>(std::max(0.0, elapsed) * options_.rate);
  if (options_.total >= 0) due_now = std::min(due_now, static_cast<uint64_t>(options_.total));
  sent_ = std::max(next, due_now);
  skipped_ += sent_ - next;
  tick();
}

void RoomClock::stop() {
  running_ = false;
  timer_.cancel();
}

void RoomClock::tick() {
  // A late timer sends what it owes at once.
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  uint64_t due = static_cast<uint64_t>(elapsed * options_.rate) + 1;
  if (options_.total >= 0) due = std::min(due, static_cast<uint64_t>(options_.total));
  if (due > sent_) broadcast(std::min(due - sent_, max_batch_messages));
  if (!running_) return;  // the sink stopped us
  if (options_.total >= 0 && sent_ >= static_cast<uint64_t>(options_.total)) {
    log_info("room " + std::to_string(room_) + ": sent all " + std::to_string(sent_) + " messages");
    return;
  }
  const double next_due = static_cast<double>(sent_) / options_.rate;
  timer_ = map_.call_later(std::max(next_due - elapsed, options_.batch_interval()), [this] { tick(); });
}

void RoomClock::broadcast(uint64_t count) {
  if (!batch_ || batch_.use_count() > 1) {
    batch_ = std::make_shared<std::string>();  // the last one still waits in some member's queue
  } else {
    batch_->clear();
  }
  ends_.clear();
  for (uint64_t i = 0; i < count; ++i) {
    append_packet(*batch_, source_.message(room_, sent_ + i), server_message_type);
    ends_.push_back(batch_->size());
  }
  const uint64_t first = sent_;
  sent_ += count;
  sink_(first, count, batch_, ends_);
  if (batch_ && batch_->capacity() > 1024 * 1024) batch_.reset();  // after a burst; members keep their references
}

}  // namespace asyncore::barrage

#include <asyncore/timer_queue.h>

#include <stdexcept>

namespace asyncore {
namespace {
constexpr uint32_t kNotInHeap = UINT32_MAX;

Clock::duration seconds_to_duration(double seconds) {
  if (seconds < 0) seconds = 0;
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}
}  // namespace

bool TimerHandle::active() const { return queue_ && queue_->live(slot_, generation_); }

void TimerHandle::cancel() {
  if (active()) queue_->remove(slot_);
}

void TimerHandle::reset(double seconds) {
  if (!active()) throw std::logic_error("reset() of a timer that already ran or was cancelled");
  queue_->move_to(slot_, Clock::now() + seconds_to_duration(seconds));
}

void TimerHandle::delay(double seconds) {
  if (!active()) throw std::logic_error("delay() of a timer that already ran or was cancelled");
  queue_->move_to(slot_, queue_->nodes_[slot_].deadline + seconds_to_duration(seconds));
}

Clock::time_point TimerHandle::deadline() const {
  return active() ? queue_->nodes_[slot_].deadline : Clock::time_point{};
}

TimerHandle TimerQueue::schedule(Clock::time_point when, std::function<void()> callback) {
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<uint32_t>(nodes_.size());
    nodes_.push_back({});
  }
  Node& node = nodes_[slot];
  node.deadline = when;
  node.sequence = next_sequence_++;
  node.callback = std::move(callback);
  heap_.push_back(slot);
  node.heap_index = static_cast<uint32_t>(heap_.size() - 1);
  sift_up(heap_.size() - 1);
  return TimerHandle(this, slot, node.generation);
}

size_t TimerQueue::run_due(Clock::time_point now, const std::function<void(const std::exception&)>& on_error) {
  const uint64_t horizon = next_sequence_;
  size_t ran = 0;
  while (!heap_.empty()) {
    uint32_t slot = heap_.front();
    Node& node = nodes_[slot];
    if (node.deadline > now || node.sequence >= horizon) break;
    std::function<void()> callback = std::move(node.callback);
    remove(slot);
    ++ran;
    try {
      callback();
    } catch (const std::exception& e) {
      on_error(e);
    } catch (...) {
      on_error(std::runtime_error("unknown exception"));
    }
  }
  return ran;
}

std::optional<Clock::time_point> TimerQueue::next_deadline() const {
  if (heap_.empty()) return std::nullopt;
  return nodes_[heap_.front()].deadline;
}

bool TimerQueue::live(uint32_t slot, uint32_t generation) const {
  return slot < nodes_.size() && nodes_[slot].generation == generation && nodes_[slot].heap_index != kNotInHeap;
}

void TimerQueue::remove(uint32_t slot) {
  size_t index = nodes_[slot].heap_index;
  uint32_t last = heap_.back();
  heap_.pop_back();
  if (index < heap_.size()) {
    place(index, last);
    sift_up(index);
    sift_down(nodes_[last].heap_index);
  }
  release(slot);
}

void TimerQueue::release(uint32_t slot) {
  Node& node = nodes_[slot];
  node.heap_index = kNotInHeap;
  node.generation++;  // every outstanding handle to this slot goes stale
  node.callback = nullptr;
  free_.push_back(slot);
}

void TimerQueue::move_to(uint32_t slot, Clock::time_point when) {
  Node& node = nodes_[slot];
  node.deadline = when;
  node.sequence = next_sequence_++;
  sift_up(node.heap_index);
  sift_down(nodes_[slot].heap_index);
}

bool TimerQueue::before(uint32_t a, uint32_t b) const {
  const Node& x = nodes_[a];
  const Node& y = nodes_[b];
  return x.deadline < y.deadline || (x.deadline == y.deadline && x.sequence < y.sequence);
}

void TimerQueue::place(size_t index, uint32_t slot) {
  heap_[index] = slot;
  nodes_[slot].heap_index = static_cast<uint32_t>(index);
}

void TimerQueue::sift_up(size_t index) {
  uint32_t slot = heap_[index];
  while (index > 0) {
    size_t parent = (index - 1) / 2;
    if (!before(slot, heap_[parent])) break;
    place(index, heap_[parent]);
    index = parent;
  }
  place(index, slot);
}

void TimerQueue::sift_down(size_t index) {
  uint32_t slot = heap_[index];
  for (;;) {
    size_t child = 2 * index + 1;
    if (child >= heap_.size()) break;
    if (child + 1 < heap_.size() && before(heap_[child + 1], heap_[child])) ++child;
    if (!before(heap_[child], slot)) break;
    place(index, heap_[child]);
    index = child;
  }
  place(index, slot);
}

}  // namespace asyncore

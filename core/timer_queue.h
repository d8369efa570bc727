// TimerQueue: Twisted's callLater on a monotonic clock. An indexed binary heap over a slab of
// nodes: schedule, cancel and reset are O(log n), and a handle stays safe to use after its timer
// has fired or been cancelled (a generation number tells).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

namespace asyncore {

using Clock = std::chrono::steady_clock;

class TimerQueue;

class TimerHandle {
 public:
  TimerHandle() = default;
  bool active() const;               // scheduled and not yet run or cancelled
  void cancel();                     // no effect when not active
  void reset(double seconds);        // fire `seconds` from now instead
  void delay(double seconds);        // push the deadline back by `seconds`
  Clock::time_point deadline() const;

 private:
  friend class TimerQueue;
  TimerHandle(TimerQueue* queue, uint32_t slot, uint32_t generation)
      : queue_(queue), slot_(slot), generation_(generation) {}
  TimerQueue* queue_ = nullptr;
  uint32_t slot_ = 0;
  uint32_t generation_ = 0;
};

// A timer owned by an object: cancelled when the owner is destroyed (or assigned another timer),
// so a callback capturing `this` never runs after its object is gone. Every dispatcher or app
// object that schedules such a callback keeps it in one of these. Must not outlive its map, as a
// dispatcher must not.
class ScopedTimer {
 public:
  ScopedTimer() = default;
  ScopedTimer(TimerHandle handle) : handle_(handle) {}  // NOLINT: `timer_ = map.call_later(...)`
  ~ScopedTimer() { handle_.cancel(); }
  ScopedTimer(ScopedTimer&& other) noexcept : handle_(std::exchange(other.handle_, TimerHandle())) {}
  ScopedTimer& operator=(ScopedTimer&& other) noexcept {
    if (this != &other) {
      handle_.cancel();
      handle_ = std::exchange(other.handle_, TimerHandle());
    }
    return *this;
  }
  ScopedTimer& operator=(TimerHandle handle) {  // the timer held so far is cancelled
    handle_.cancel();
    handle_ = handle;
    return *this;
  }
  bool active() const { return handle_.active(); }
  void cancel() { handle_.cancel(); }
  void reset(double seconds) { handle_.reset(seconds); }
  void delay(double seconds) { handle_.delay(seconds); }
  Clock::time_point deadline() const { return handle_.deadline(); }

 private:
  TimerHandle handle_;
};

class TimerQueue {
 public:
  TimerHandle schedule(Clock::time_point when, std::function<void()> callback);
  // Runs every timer due at `now` that was scheduled before this call began (so a callback that
  // schedules a zero-delay timer cannot starve the loop). Returns how many ran. Exceptions from
  // callbacks go to `on_error` and do not stop the others.
  size_t run_due(Clock::time_point now, const std::function<void(const std::exception&)>& on_error);
  std::optional<Clock::time_point> next_deadline() const;
  size_t size() const { return heap_.size(); }
  bool empty() const { return heap_.empty(); }

 private:
  friend class TimerHandle;
  struct Node {
    Clock::time_point deadline;
    uint64_t sequence;  // FIFO among equal deadlines
    uint32_t heap_index;
    uint32_t generation;
    std::function<void()> callback;
  };
  bool live(uint32_t slot, uint32_t generation) const;
  void remove(uint32_t slot);
  void move_to(uint32_t slot, Clock::time_point when);
  bool before(uint32_t a, uint32_t b) const;
  void place(size_t index, uint32_t slot);
  void sift_up(size_t index);
  void sift_down(size_t index);
  void release(uint32_t slot);

  std::vector<Node> nodes_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t> heap_;  // slots, ordered as a binary heap by (deadline, sequence)
  uint64_t next_sequence_ = 0;
};

}  // namespace asyncore

// OutputQueue: the bytes a stream has yet to send, in order. Two kinds of piece: copies of what
// the caller handed over (consecutive small writes share one piece) and references to shared,
// immutable buffers, so a broadcast encoded once is queued by any number of connections without
// a copy each. Consumed by offset, never by moving the rest; gather() fills an iovec array for
// one sendmsg over several pieces.
//
// Empty, it is a single null pointer and owns no memory: every held connection carries one, and
// what a burst needed is given back as soon as the queue drains.
#pragma once
#include <sys/uio.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace asyncore {

// Bytes several owners read and nobody changes (a broadcast, a cached response).
using SharedBytes = std::shared_ptr<const std::string>;

class OutputQueue {
 public:
  bool empty() const { return !state_; }
  size_t size() const { return state_ ? state_->size : 0; }

  void append(std::string_view bytes);  // copied
  // References bytes[begin, end) without copying; the caller must not change *bytes afterwards.
  void append(SharedBytes bytes, size_t begin, size_t end);
  // Up to `max` pieces from the front, in order; returns how many were filled.
  size_t gather(iovec* out, size_t max) const;
  std::string_view front() const;  // the first piece ("" when empty)
  void consume(size_t n);          // drops n bytes from the front (at most size())
  void clear() { state_.reset(); }

 private:
  struct Piece {
    SharedBytes shared;  // null: the bytes are `owned`
    std::string owned;
    size_t begin = 0;    // bytes before it are sent (for owned, end is owned.size())
    size_t end = 0;
    std::string_view view() const {
      return shared ? std::string_view(*shared).substr(begin, end - begin) : std::string_view(owned).substr(begin);
    }
  };
  struct State {
    std::vector<Piece> pieces;
    size_t head = 0;  // the first piece not yet sent
    size_t size = 0;  // bytes queued
  };
  State& state();
  std::unique_ptr<State> state_;
};

}  // namespace asyncore

// OutputQueue: the bytes a stream has yet to send, in order. Three kinds of piece: copies of what
// the caller handed over (consecutive small writes share one piece), references to shared,
// immutable buffers, so a broadcast encoded once is queued by any number of connections without
// a copy each, and lazy producers (asynchat's), asked for bytes only once everything before them
// is sent. Consumed by offset, never by moving the rest; gather() fills an iovec array for one
// sendmsg over several pieces. Free of I/O: the stream that owns it does the sending.
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

// asynchat's producer: a lazy source of output, asked for more() only when the queue reaches it,
// so a large reply (a file, a generated listing) never has to sit in memory whole.
class ChatProducer {
 public:
  virtual ~ChatProducer() = default;
  // The next piece of output; "" means the producer is exhausted and is dropped.
  virtual std::string more() = 0;
};

class OutputQueue {
 public:
  // Not empty while a producer waits, even one that will produce nothing more.
  bool empty() const { return !state_; }
  size_t size() const { return state_ ? state_->size : 0; }  // bytes queued, producers excluded

  void append(std::string_view bytes);  // copied
  // References bytes[begin, end) without copying; the caller must not change *bytes afterwards.
  void append(SharedBytes bytes, size_t begin, size_t end);
  void append(std::unique_ptr<ChatProducer> producer);
  // Up to `max` pieces from the front, in order, stopping at a producer; returns how many.
  size_t gather(iovec* out, size_t max) const;
  std::string_view front() const;  // the first piece ("" when empty or a producer)
  void consume(size_t n);          // drops n bytes from the front (at most what gather() offers)
  // When the front is a producer: asks it for more(), queued before it, or drops it once it is
  // exhausted. Returns false (doing nothing) when the front is not a producer.
  bool pull();
  void clear() { state_.reset(); }

 private:
  struct Piece {
    SharedBytes shared;  // null: the bytes are `owned` (or it is a producer)
    std::string owned;
    size_t begin = 0;    // bytes before it are sent (for owned, end is owned.size())
    size_t end = 0;
    std::unique_ptr<ChatProducer> producer;
    std::string_view view() const {
      return shared ? std::string_view(*shared).substr(begin, end - begin) : std::string_view(owned).substr(begin);
    }
  };
  struct State {
    std::vector<Piece> pieces;
    size_t head = 0;       // the first piece not yet sent
    size_t size = 0;       // bytes queued
    size_t producers = 0;  // producer pieces queued
  };
  State& state();
  void release_if_drained();
  std::unique_ptr<State> state_;
};

}  // namespace asyncore

// OutputQueue: the bytes a connection still has to send, as shared immutable frames. A broadcast
// encodes its frame once and every connection queues a reference to the same bytes, so 1,000
// receivers cost 1,000 pointers, not 1,000 copies. Flushing gathers many frames per syscall.
#pragma once
#include <cstddef>
#include <deque>
#include <memory>
#include <string>

namespace asyncore::messenger {

using SharedBytes = std::shared_ptr<const std::string>;

class OutputQueue {
 public:
  void push(SharedBytes bytes);  // empty frames are ignored
  std::size_t size() const { return size_; }  // bytes not yet written
  bool empty() const { return size_ == 0; }
  void clear();

  // Writes what the socket takes now (never blocks, never raises SIGPIPE) and returns the count.
  // Throws std::system_error for a failed send other than "try again".
  std::size_t write_to(int fd);

 private:
  struct Segment {
    SharedBytes bytes;
    std::size_t offset = 0;  // already written
  };
  void consume(std::size_t n);
  std::deque<Segment> segments_;
  std::size_t size_ = 0;
};

}  // namespace asyncore::messenger

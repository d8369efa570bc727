// ByteBuffer: a FIFO of bytes for output (or input) queues. Consuming moves an offset instead of
// copying the rest, and the front is reclaimed only when it is at least half the storage, so a
// stream of partial sends costs amortised O(n), never O(n^2) as Python's `buf = buf[n:]` does.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace asyncore {

class ByteBuffer {
 public:
  bool empty() const { return begin_ == data_.size(); }
  size_t size() const { return data_.size() - begin_; }
  std::string_view view() const { return std::string_view(data_).substr(begin_); }
  const char* data() const { return data_.data() + begin_; }

  void append(std::string_view bytes) {
    if (begin_ > 0 && begin_ == data_.size()) clear();
    data_.append(bytes);
  }
  void consume(size_t n) {
    begin_ += n < size() ? n : size();
    if (begin_ == data_.size()) clear();
    else if (begin_ >= 4096 && begin_ * 2 >= data_.size()) {
      data_.erase(0, begin_);
      begin_ = 0;
    }
  }
  void clear() {
    data_.clear();
    begin_ = 0;
  }
  // Gives back memory after a burst (a long-lived connection should not keep a peak buffer).
  void shrink() {
    if (empty()) std::string().swap(data_), begin_ = 0;
  }

 private:
  std::string data_;
  size_t begin_ = 0;
};

}  // namespace asyncore

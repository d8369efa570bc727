#include <asyncore/chat/producer.h>

#include <stdexcept>

namespace asyncore {

SimpleProducer::SimpleProducer(std::string data, size_t buffer_size)
    : data_(std::move(data)), buffer_size_(buffer_size) {
  if (buffer_size == 0) throw std::invalid_argument("SimpleProducer: buffer_size must be at least 1");
}

std::string SimpleProducer::more() {
  std::string piece = data_.substr(offset_, buffer_size_);
  offset_ += piece.size();
  if (offset_ == data_.size()) std::string().swap(data_), offset_ = 0;
  return piece;
}

}  // namespace asyncore

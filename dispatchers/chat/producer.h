// Producers: asynchat's lazy output sources (named ChatProducer: asyncore::Producer is the
// push-producer interface of dispatchers/twisted/protocol.h). async_chat asks the first queued producer for
// more() only when the socket can take data, so a large reply (a file, a generated listing)
// never has to sit in memory whole.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace asyncore {

class ChatProducer {
 public:
  virtual ~ChatProducer() = default;
  // The next piece of output; "" means the producer is exhausted and is dropped.
  virtual std::string more() = 0;
};

// asynchat.simple_producer: hands out `data` in pieces of at most `buffer_size` bytes.
class SimpleProducer : public ChatProducer {
 public:
  explicit SimpleProducer(std::string data, size_t buffer_size = 512);
  std::string more() override;

 private:
  std::string data_;
  size_t offset_ = 0;  // an offset, not Python's `data = data[n:]`, which copies the rest each time
  size_t buffer_size_;
};
using simple_producer = SimpleProducer;

}  // namespace asyncore

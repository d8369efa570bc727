// Producers: asynchat's lazy output sources. The interface, ChatProducer, is the output queue's
// (<asyncore/stream/output_queue.h>; asyncore::Producer is Twisted's push producer); here is
// asynchat's simple_producer.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include <asyncore/stream/output_queue.h>

namespace asyncore {

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

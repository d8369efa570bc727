// DispatcherWithSend: asyncore.dispatcher_with_send. send() queues what the socket does not take
// at once and flushes it when the socket is writable. A BufferedStream without bounds, as in
// Python: reading never pauses and nothing is refused (up to StreamLimits' 4 GiB).
#pragma once
#include <limits>

#include <asyncore/stream/buffered_stream.h>

namespace asyncore {

class DispatcherWithSend : public BufferedStream {
 public:
  explicit DispatcherWithSend(ChannelMap* map = nullptr) : BufferedStream(map) { unbounded(); }
  explicit DispatcherWithSend(Fd socket, ChannelMap* map = nullptr) : BufferedStream(std::move(socket), map) { unbounded(); }
  DispatcherWithSend(Fd socket, const Address& peer, ChannelMap* map = nullptr) : BufferedStream(std::move(socket), peer, map) {
    unbounded();
  }
  // Not `not connected or len(out_buffer)` as in Python: an unconnected idle socket would spin.
  // (BufferedStream's writable(): something is queued.)

 protected:
  void initiate_send() { handle_write(); }

 private:
  void unbounded() {
    constexpr uint32_t kNoBound = std::numeric_limits<uint32_t>::max();
    limits = StreamLimits{kNoBound, kNoBound, kNoBound};
  }
};
using dispatcher_with_send = DispatcherWithSend;

}  // namespace asyncore

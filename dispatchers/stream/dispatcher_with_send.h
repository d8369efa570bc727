// DispatcherWithSend: asyncore.dispatcher_with_send. send() queues what the socket does not take
// at once and flushes it when the socket is writable.
#pragma once
#include <asyncore/dispatcher.h>
#include <asyncore/stream/byte_buffer.h>

namespace asyncore {

class DispatcherWithSend : public Dispatcher {
 public:
  // Declared interest: writable() changes only through send() and handle_write(), which re-check.
  explicit DispatcherWithSend(ChannelMap* map = nullptr) : Dispatcher(map) { set_interest(Interest::declared); }
  explicit DispatcherWithSend(Fd socket, ChannelMap* map = nullptr) : Dispatcher(std::move(socket), map) { set_interest(Interest::declared); }
  DispatcherWithSend(Fd socket, const Address& peer, ChannelMap* map = nullptr) : Dispatcher(std::move(socket), peer, map) {
    set_interest(Interest::declared);
  }
  // Takes all of `data` (returns its size); what the socket refuses now waits in the buffer.
  size_t send(std::string_view data) override;
  // Not `not connected or len(out_buffer)` as in Python: an unconnected idle socket would spin.
  bool writable() override { return !out_buffer_.empty(); }
  void handle_write() override { initiate_send(); }
  size_t pending() const { return out_buffer_.size(); }

 protected:
  void initiate_send();
  ByteBuffer out_buffer_;
};
using dispatcher_with_send = DispatcherWithSend;

}  // namespace asyncore

// ClientStream<Owner>: the socket of one connection attempt of a client object that outlives its
// connections (a reconnecting client). It reports to its owner until detached: owner->connected(),
// owner->received(bytes), owner->lost(reason), the last at most once. A connection being replaced
// is detached first, so it can never call into an owner that moved on.
#pragma once
#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include <asyncore/stream/buffered_stream.h>

namespace asyncore {

template <class Owner>
class ClientStream final : public BufferedStream {
 public:
  ClientStream(Owner* owner, ChannelMap* map) : BufferedStream(map), owner_(owner) {}
  void detach() { owner_ = nullptr; }

  void handle_connect() override {
    if (owner_) owner_->connected();
  }
  void handle_read() override {
    thread_local char buffer[64 * 1024];  // one per thread: thousands of clients may share a loop
    size_t n = recv_into(buffer, sizeof buffer);
    if (n > 0 && owner_) owner_->received(std::string_view(buffer, n));
  }
  void handle_close() override { end("connection closed by the server"); }
  void handle_error(const std::exception& error) override { end(error.what()); }

 private:
  void end(const std::string& reason) {
    close();
    if (Owner* owner = std::exchange(owner_, nullptr)) owner->lost(reason);
  }
  Owner* owner_;
};

}  // namespace asyncore

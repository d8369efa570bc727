// BufferedStream: a stream dispatcher with a bounded output queue. Past `high_water` queued
// bytes it stops reading (so a peer that does not read cannot make us buffer without bound),
// and reads again once the queue drains below `low_water`. A queue past `max_output` (bytes
// pushed from elsewhere, e.g. a broadcast) calls handle_overflow(), which closes by default.
// send_shared() queues a shared immutable buffer by reference: a broadcast encoded once costs
// each connection no copy, even when it has to wait; what waits goes out in one sendmsg.
#pragma once
#include <cstdint>

#include <asyncore/dispatcher.h>
#include <asyncore/stream/output_queue.h>

namespace asyncore {

// 32-bit on purpose: every connection carries one, and 4 GiB queued is beyond any sane bound.
struct StreamLimits {
  uint32_t high_water = 256 * 1024;
  uint32_t low_water = 64 * 1024;
  uint32_t max_output = 16 * 1024 * 1024;
};

class BufferedStream : public Dispatcher {
 public:
  // Declared interest: every change of the queue or of reading_paused() re-checks.
  explicit BufferedStream(ChannelMap* map = nullptr) : Dispatcher(map) { set_interest(Interest::declared); }
  explicit BufferedStream(Fd socket, ChannelMap* map = nullptr) : Dispatcher(std::move(socket), map) { set_interest(Interest::declared); }
  BufferedStream(Fd socket, const Address& peer, ChannelMap* map = nullptr) : Dispatcher(std::move(socket), peer, map) {
    set_interest(Interest::declared);
  }

  // Queues what cannot go now; always returns data.size() unless refused. Inline: the common
  // case, nothing waiting and all of it sent at once, changes nothing readable()/writable() say.
  size_t send(std::string_view data) override {
    if (out_.empty() && is_open() && !closing) [[likely]] {
      const size_t sent = send_unchecked(data);
      if (sent == data.size()) [[likely]] return sent;
      if (!is_open()) return sent;  // the peer is gone (handle_close() ran)
      return queue(data.substr(sent), data.size());
    }
    if (!is_open() || closing) return 0;
    return queue(data, data.size());
  }
  // bytes[begin, end), sent now if nothing waits, else queued by reference (never copied); the
  // caller must not change *bytes afterwards. Returns the size, or 0 when refused.
  size_t send_shared(const SharedBytes& bytes, size_t begin = 0, size_t end = std::string::npos);
  bool readable() override { return !reading_paused_; }
  bool writable() override { return !out_.empty(); }
  void handle_write() override;

  // Closes once everything queued is sent (after shutting the write side). Idempotent.
  void close_when_done();
  size_t pending() const { return out_.size(); }
  bool reading_paused() const { return reading_paused_; }
  StreamLimits limits;

 protected:
  virtual void handle_overflow();  // default: log a warning and close
  void flush();

 private:
  void after_output_change();
  size_t queue(std::string_view rest, size_t total);  // send()'s slow part: returns total, or 0 if refused
  bool room_for(size_t bytes);  // false (after handle_overflow) when it would pass max_output
  OutputQueue out_;
  bool reading_paused_ = false;
};

}  // namespace asyncore

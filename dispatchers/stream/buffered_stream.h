// BufferedStream: the one output stream under every protocol (DispatcherWithSend, AsyncChat, the
// Twisted transport, HTTP, the messenger, the apps' sessions). Its OutputQueue holds copies,
// shared immutable buffers (send_shared(): a broadcast encoded once costs each connection no
// copy, even when it has to wait) and asynchat producers; what waits goes out in one sendmsg.
// - Water marks: past `high_water` queued bytes it stops reading (so a peer that does not read
//   cannot make us buffer without bound) and pauses a registered Producer; both resume once the
//   queue drains to `low_water`.
// - A hard bound: a send that would queue past `max_output` is refused and calls
//   handle_output_overflow(), which by default logs the reason and closes.
// - close_when_done(): closes once everything queued is sent (after shutting the write side).
// - cork_output(): sends wait for the end of the loop pass (the before-wait hook) and leave in
//   one gathered system call with whatever else the pass queued.
#pragma once
#include <cstdint>
#include <memory>

#include <asyncore/dispatcher.h>
#include <asyncore/stream/output_queue.h>

namespace asyncore {

// Twisted's IPushProducer: something that can be asked to stop and start producing data.
class Producer {
 public:
  virtual ~Producer() = default;
  virtual void pause_producing() = 0;
  virtual void resume_producing() = 0;
  virtual void stop_producing() {}  // the consumer is gone for good
};

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

  // Queues (a copy of) what the socket does not take now; before the connection is made all of
  // it waits. Returns data.size(), or 0 when refused (closed, closing, or past max_output).
  // Inline: it is on every message's path, and the common case -- nothing waits, the socket
  // takes it all -- changes nothing about readable()/writable(), so needs no re-check.
  size_t send(std::string_view data) override {
    if (!sends_directly()) return queue(data, 0);
    const size_t sent = send_unchecked(data);
    return sent == data.size() ? sent : queue(data, sent);
  }
  // bytes[begin, end), sent now if nothing waits, else queued by reference (never copied); the
  // caller must not change *bytes afterwards. Returns the size, or 0 when refused.
  size_t send_shared(const SharedBytes& bytes, size_t begin = 0, size_t end = std::string::npos);
  // Queues a lazy producer behind everything queued so far (asynchat's push_with_producer).
  void send_producer(std::unique_ptr<ChatProducer> producer);
  bool readable() override { return !reading_paused_ && !closing; }
  bool writable() override { return !out_.empty(); }
  void handle_write() override;
  void handle_flush() override;

  // Closes once everything queued is sent (after shutting the write side). Idempotent.
  void close_when_done();
  // From now on sends wait for the end of the loop pass, then leave in one gathered send.
  void cork_output() {
    corked_ = true;
    update_hold();
  }
  // Twisted's registerProducer: paused past high_water, resumed at low_water. Not owned; one at
  // a time (a second different one throws std::logic_error).
  void register_producer(Producer& producer);
  void unregister_producer() { producer_ = nullptr; }
  Producer* producer() const { return producer_; }
  size_t pending() const { return out_.size(); }
  bool reading_paused() const { return reading_paused_; }
  StreamLimits limits;

 protected:
  // A send would queue past limits.max_output; its `refused_bytes` are dropped.
  // Default: handle_overflow().
  virtual void handle_output_overflow(size_t refused_bytes);
  virtual void handle_overflow();  // default: log a warning and close
  // The queue drained to low_water and reading resumed (input held back may be processed now).
  virtual void handle_resume() {}
  // close_when_done()'s end: everything was sent and the write side shut. Default: close().
  virtual void handle_done() { close(); }
  void flush();
  void discard_output();  // drops everything queued (producers too)
  void after_output_change();

 private:
  // `connected` implies an open socket (close() clears it), so the socket is not tested again.
  bool sends_directly() const { return hold_ == 0 && connected; }
  // The one place hold_ is written: after every change of the queue, corking or closing (which
  // only close_when_done() sets on a stream).
  void update_hold() { hold_ = static_cast<uint8_t>((out_.empty() ? 0 : 1) | corked_ << 1 | closing << 2); }
  size_t queue(std::string_view data, size_t sent);  // the rest, after `sent` bytes went out
  void after_queueing();
  bool room_for(size_t bytes);  // false (after handle_output_overflow) when it would pass max_output
  // Laid out so the flags fill the limits' padding: every held connection carries these.
  bool reading_paused_ = false;
  bool corked_ = false;
  // Non-zero when a send may not go straight to the socket: something is queued, output is
  // corked, or the stream is closing. One compare on every message's path instead of three.
  uint8_t hold_ = 0;
  OutputQueue out_;
  Producer* producer_ = nullptr;
};

}  // namespace asyncore

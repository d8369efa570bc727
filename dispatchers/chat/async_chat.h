// AsyncChat: asynchat.async_chat in C++. Input is split at a terminator (a byte string, a byte
// count, or none) and handed to collect_incoming_data() / found_terminator(); output is a fifo
// of pushed bytes and lazy producers, sent as the socket takes it.
//
// Where this differs from Python's asynchat on purpose:
// - Output is a BufferedStream's queue: pushed bytes and producers wait in its one fifo, pushed
//   bytes are coalesced and consumed by offset, what waits leaves in one sendmsg. No quadratic
//   copies: input is scanned once (TerminatorScanner), SimpleProducer hands out pieces by offset.
// - Input is bounded: while waiting for a byte-string terminator, more than `max_incoming`
//   collected bytes call handle_incoming_overflow() (default: log the reason and close). Counts
//   and "none" are what the application asked for, so it bounds those itself.
// - Output is bounded by BufferedStream's limits: past `limits.high_water` queued bytes no more
//   input is read or processed until the queue drains to `limits.low_water`; a push() past
//   `limits.max_output` calls handle_output_overflow() (default: log and close). Producers are
//   asked for more() only when the queue reaches them, so they are the way to send much.
// - writable() is `connected && queue not empty` (Python: `fifo or not connected`, which spins on
//   an idle unconnected socket); a connect in progress is watched by the core anyway.
// - At end of input (the peer half-closed), handle_eof() calls close_when_done(), so replies
//   already queued are still sent; Python closes at once and drops them.
// - Reaching close_when_done()'s mark shuts the write side (FIN after the data) before
//   handle_close(), and pushes after close_when_done() are dropped (Python never sends them).
// - Once the channel is closed, input already read is not processed further.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <asyncore/stream/buffered_stream.h>
#include <asyncore/chat/producer.h>
#include <asyncore/chat/terminator.h>

namespace asyncore {

class AsyncChat : public BufferedStream {
 public:
  explicit AsyncChat(ChannelMap* map = nullptr) : BufferedStream(map) {}
  explicit AsyncChat(Fd socket, ChannelMap* map = nullptr) : BufferedStream(std::move(socket), map) {}

  // --- input -------------------------------------------------------------------------------
  // "\r\n", a count (negative throws std::invalid_argument), or nullptr / Terminator::none().
  // Safe to call from found_terminator(): the rest of the input is split by the new terminator.
  void set_terminator(Terminator terminator) { scanner_.set_terminator(std::move(terminator)); }
  // The current terminator; a count shows the bytes still wanted (0 once it was reached).
  const Terminator& get_terminator() const { return scanner_.terminator(); }
  // Default: appends to the incoming buffer that get_data() returns (Python's
  // _collect_incoming_data). Override to handle data as it arrives.
  virtual void collect_incoming_data(std::string_view data) { incoming_.append(data); }
  virtual void found_terminator() = 0;
  // Everything collected by the default collect_incoming_data() since the last call (_get_data).
  std::string get_data() { return std::exchange(incoming_, std::string()); }

  // --- output ------------------------------------------------------------------------------
  // Refused whole (handle_output_overflow) when it would take the queue past max_output, even if
  // the socket could take part of it now: asynchat's bound is on what is pushed.
  void push(std::string_view data) {
    if (!closing && pending() + data.size() > limits.max_output) return handle_output_overflow(data.size());
    BufferedStream::send(data);
  }
  void push_with_producer(std::unique_ptr<ChatProducer> producer) { send_producer(std::move(producer)); }
  void push_with_producer(std::string data) { push(data); }  // bytes act as their own producer
  // close_when_done() (BufferedStream's): closes, after shutting the write side, once
  // everything queued before the call is sent; handle_close() is called then, as in asynchat.

  // Emergencies only: drops buffered input, collected data and queued output.
  void discard_buffers();
  // Sends what the socket takes now; called by push() and whenever the socket is writable.
  void initiate_send() { BufferedStream::handle_write(); }
  size_t pending_output() const { return pending(); }  // bytes queued, producers excluded

  // --- tuning (Python's class attributes; the output bounds are BufferedStream's `limits`) ---
  size_t ac_in_buffer_size = 65536;   // bytes asked of each recv
  size_t max_incoming = 1024 * 1024;  // collected bytes allowed while waiting for a terminator

  // --- dispatcher hooks --------------------------------------------------------------------
  // Input goes on being read after close_when_done(), as in asynchat (pushes are dropped).
  bool readable() override { return !reading_paused(); }
  bool writable() override { return connected && BufferedStream::writable(); }
  void handle_read() override;
  void handle_eof() override { close_when_done(); }
  void handle_close() override { close(); }

 protected:
  // More than max_incoming bytes arrived without the terminator. The piece that crossed the
  // bound is not collected (a terminator right after it is still reported) and counting
  // starts again. Default: log a warning and close.
  virtual void handle_incoming_overflow();
  // A push() would queue more than limits.max_output bytes; the data is dropped.
  // Default: log a warning and close.
  void handle_output_overflow(size_t refused_bytes) override;
  void handle_resume() override { process_incoming(); }  // input held back while the queue was full
  void handle_done() override { handle_close(); }

 private:
  void process_incoming();

  TerminatorScanner scanner_;
  std::string incoming_;
  size_t collected_since_terminator_ = 0;
  bool processing_ = false;  // process_incoming() is on the stack (found_terminator may push)
};
using async_chat = AsyncChat;

}  // namespace asyncore

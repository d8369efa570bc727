// AsyncChat: asynchat.async_chat in C++. Input is split at a terminator (a byte string, a byte
// count, or none) and handed to collect_incoming_data() / found_terminator(); output is a fifo
// of pushed bytes and lazy producers, sent as the socket takes it.
//
// Where this differs from Python's asynchat on purpose:
// - No quadratic copies: input is scanned once (TerminatorScanner), pushed bytes are coalesced
//   into a ByteBuffer and consumed by offset, SimpleProducer hands out pieces by offset.
// - Input is bounded: while waiting for a byte-string terminator, more than `max_incoming`
//   collected bytes call handle_incoming_overflow() (default: log the reason and close). Counts
//   and "none" are what the application asked for, so it bounds those itself.
// - Output is bounded as in BufferedStream: past `limits.high_water` queued bytes no more input
//   is read or processed until the queue drains below `limits.low_water`; a push() past
//   `limits.max_output` calls handle_output_overflow() (default: log and close). Producers are
//   asked for more() only when the queue reaches them, so they are the way to send much.
// - writable() is `connected && fifo not empty` (Python: `fifo or not connected`, which spins on
//   an idle unconnected socket); a connect in progress is watched by the core anyway.
// - At end of input (the peer half-closed), handle_eof() calls close_when_done(), so replies
//   already queued are still sent; Python closes at once and drops them.
// - Reaching close_when_done()'s mark shuts the write side (FIN after the data) before
//   handle_close(), and pushes after close_when_done() are dropped (Python never sends them).
// - Once the channel is closed, input already read is not processed further.
#pragma once
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <asyncore/dispatcher.h>
#include <asyncore/stream/buffered_stream.h>
#include <asyncore/stream/byte_buffer.h>
#include <asyncore/chat/producer.h>
#include <asyncore/chat/terminator.h>

namespace asyncore {

class AsyncChat : public Dispatcher {
 public:
  // Declared interest: push(), initiate_send() and pausing re-check.
  explicit AsyncChat(ChannelMap* map = nullptr) : Dispatcher(map) { set_interest(Interest::declared); }
  explicit AsyncChat(Fd socket, ChannelMap* map = nullptr) : Dispatcher(std::move(socket), map) { set_interest(Interest::declared); }

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
  void push(std::string_view data);
  void push_with_producer(std::unique_ptr<ChatProducer> producer);
  void push_with_producer(std::string data) { push(data); }  // bytes act as their own producer
  // Closes (after shutting the write side) once everything queued before this call is sent.
  void close_when_done();
  // Emergencies only: drops buffered input, collected data and queued output.
  void discard_buffers();
  // Sends what the socket takes now; called by push() and whenever the socket is writable.
  void initiate_send();
  size_t pending_output() const { return queued_bytes_; }  // bytes queued, producers excluded
  bool reading_paused() const { return reading_paused_; }

  // --- tuning (Python's class attributes) --------------------------------------------------
  size_t ac_in_buffer_size = 65536;   // bytes asked of each recv
  size_t ac_out_buffer_size = 65536;  // bytes offered to each send
  size_t max_incoming = 1024 * 1024;  // collected bytes allowed while waiting for a terminator
  StreamLimits limits;                // output queue bounds

  // --- dispatcher hooks --------------------------------------------------------------------
  bool readable() override { return !reading_paused_; }
  bool writable() override { return connected && !fifo_.empty(); }
  void handle_read() override;
  void handle_write() override { initiate_send(); }
  void handle_eof() override { close_when_done(); }
  void handle_close() override { close(); }

 protected:
  // More than max_incoming bytes arrived without the terminator. The piece that crossed the
  // bound is not collected (a terminator right after it is still reported) and counting
  // starts again. Default: log a warning and close.
  virtual void handle_incoming_overflow();
  // A push() would queue more than limits.max_output bytes; the data is dropped.
  // Default: log a warning and close.
  virtual void handle_output_overflow(size_t refused_bytes);

 private:
  struct OutputItem {
    ByteBuffer data;                     // pushed bytes (when neither of the others)
    std::unique_ptr<ChatProducer> producer;  // a producer not yet exhausted
    bool close_mark = false;             // close_when_done()'s None
  };
  void process_incoming();
  void after_output_change();

  TerminatorScanner scanner_;
  std::string incoming_;
  size_t collected_since_terminator_ = 0;
  bool processing_ = false;  // process_incoming() is on the stack (found_terminator may push)
  std::deque<OutputItem> fifo_;
  size_t queued_bytes_ = 0;
  bool reading_paused_ = false;
};
using async_chat = AsyncChat;

}  // namespace asyncore

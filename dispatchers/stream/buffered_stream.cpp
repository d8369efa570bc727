#include <asyncore/stream/buffered_stream.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace asyncore {
namespace {
// Pieces per sendmsg: a connection that fell behind by this many broadcasts catches up in one
// system call; more wait for the next.
constexpr size_t kMaxPiecesPerWrite = 64;
// Producer pieces asked for per flush: one fast producer must not hold the loop.
constexpr size_t kMaxPullsPerFlush = 16;
}  // namespace

size_t BufferedStream::queue(std::string_view data, size_t sent) {
  if (!is_open()) return sent;  // closed, or the peer vanished during the send
  if (closing) return 0;
  if (!room_for(data.size() - sent)) return 0;
  out_.append(data.substr(sent));
  update_hold();
  after_queueing();
  return data.size();
}

size_t BufferedStream::send_shared(const SharedBytes& bytes, size_t begin, size_t end) {
  if (!is_open() || closing || !bytes) return 0;
  end = std::min(end, bytes->size());
  if (begin >= end) return 0;
  const size_t total = end - begin;
  if (sends_directly()) {
    size_t sent = send_unchecked(std::string_view(*bytes).substr(begin, total));
    if (sent == total) return sent;
    begin += sent;
    if (!is_open()) return sent;
  }
  if (!room_for(end - begin)) return 0;
  out_.append(bytes, begin, end);  // the only copy: of the pointer
  update_hold();
  after_queueing();
  return total;
}

void BufferedStream::send_producer(std::unique_ptr<ChatProducer> producer) {
  if (!is_open() || closing || !producer) return;
  out_.append(std::move(producer));
  update_hold();
  if (connected && !corked_) flush();
  after_queueing();
}

void BufferedStream::after_queueing() {
  // Corked: handle_flush() sends and re-checks once, just before the loop waits, however many
  // sends the pass made.
  if (corked_) {
    if (connected) flush_before_wait();
    return;
  }
  after_output_change();
}

// Only what must wait counts against max_output.
bool BufferedStream::room_for(size_t bytes) {
  if (out_.size() + bytes <= limits.max_output) return true;
  handle_output_overflow(bytes);
  return false;
}

void BufferedStream::flush() {
  iovec pieces[kMaxPiecesPerWrite];
  size_t pulls = 0;
  while (!out_.empty() && is_open()) {
    const size_t count = out_.gather(pieces, kMaxPiecesPerWrite);
    if (count == 0) {  // a producer is next: it is asked only now that everything before it went
      if (pulls++ == kMaxPullsPerFlush) break;
      out_.pull();
      continue;
    }
    size_t offered = 0;
    for (size_t i = 0; i < count; ++i) offered += pieces[i].iov_len;
    const size_t sent = count == 1 ? send_unchecked(out_.front()) : send_vector_unchecked(pieces, count);
    out_.consume(sent);
    // A short write means the socket is full: asking again would only hear EAGAIN.
    if (sent < offered) break;
  }
  update_hold();
}

void BufferedStream::handle_write() {
  flush();
  after_output_change();
}

void BufferedStream::handle_flush() {
  if (!connected) return;  // the queue waits for the connection
  flush();
  after_output_change();
}

void BufferedStream::after_output_change() {
  if (!is_open()) return;
  if (out_.empty() && closing) {
    shutdown_write();
    handle_done();
    return;
  }
  const bool pause = reading_paused_ ? out_.size() > limits.low_water : out_.size() >= limits.high_water;
  if (pause != reading_paused_) {
    reading_paused_ = pause;
    if (producer_) pause ? producer_->pause_producing() : producer_->resume_producing();
    if (!pause && is_open()) handle_resume();
    if (!is_open()) return;
  }
  recheck();
}

void BufferedStream::close_when_done() {
  if (!is_open() || closing) return;
  closing = true;  // nothing more is read or queued once we are closing
  update_hold();
  after_output_change();
}

void BufferedStream::discard_output() {
  out_.clear();
  update_hold();
  after_output_change();
}

void BufferedStream::register_producer(Producer& producer) {
  if (producer_ && producer_ != &producer) throw std::logic_error("register_producer: " + describe() + " already has a producer");
  producer_ = &producer;
  if (reading_paused_) producer.pause_producing();
}

void BufferedStream::handle_output_overflow(size_t) { handle_overflow(); }

void BufferedStream::handle_overflow() {
  log_warning(describe() + ": output queue over " + std::to_string(limits.max_output) + " bytes; closing");
  handle_close();
}

}  // namespace asyncore

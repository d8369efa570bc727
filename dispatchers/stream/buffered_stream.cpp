#include <asyncore/stream/buffered_stream.h>

#include <algorithm>
#include <string>

namespace asyncore {
namespace {
// Pieces per sendmsg: a connection that fell behind by this many broadcasts catches up in one
// system call; more wait for the next.
constexpr size_t kMaxPiecesPerWrite = 64;
}  // namespace

size_t BufferedStream::queue(std::string_view rest, size_t total) {
  if (!room_for(rest.size())) return 0;
  out_.append(rest);
  after_output_change();
  return total;
}

size_t BufferedStream::send_shared(const SharedBytes& bytes, size_t begin, size_t end) {
  if (!is_open() || closing || !bytes) return 0;
  end = std::min(end, bytes->size());
  if (begin >= end) return 0;
  const size_t total = end - begin;
  if (out_.empty()) {
    size_t sent = send_unchecked(std::string_view(*bytes).substr(begin, total));
    if (sent == total) return sent;
    begin += sent;
    if (!is_open()) return sent;
  }
  if (!room_for(end - begin)) return 0;
  out_.append(bytes, begin, end);  // the only copy: of the pointer
  after_output_change();
  return total;
}

// Only what must wait counts against max_output.
bool BufferedStream::room_for(size_t bytes) {
  if (out_.size() + bytes <= limits.max_output) return true;
  handle_overflow();
  return false;
}

void BufferedStream::flush() {
  iovec pieces[kMaxPiecesPerWrite];
  while (!out_.empty() && is_open()) {
    const size_t count = out_.gather(pieces, kMaxPiecesPerWrite);
    size_t offered = 0;
    for (size_t i = 0; i < count; ++i) offered += pieces[i].iov_len;
    const size_t sent = count == 1 ? send_unchecked(out_.front()) : send_vector_unchecked(pieces, count);
    out_.consume(sent);
    // A short write means the socket is full: asking again would only hear EAGAIN.
    if (sent < offered) break;
  }
}

void BufferedStream::handle_write() {
  flush();
  after_output_change();
}

void BufferedStream::after_output_change() {
  if (!is_open()) return;
  if (out_.empty() && closing) {
    shutdown_write();
    close();
    return;
  }
  bool pause = reading_paused_ ? out_.size() > limits.low_water : out_.size() >= limits.high_water;
  if (pause != reading_paused_) reading_paused_ = pause;
  recheck();
}

void BufferedStream::close_when_done() {
  if (!is_open()) return;
  closing = true;
  reading_paused_ = true;  // nothing more is read once we are closing
  after_output_change();
}

void BufferedStream::handle_overflow() {
  log_warning(describe() + ": output queue over " + std::to_string(limits.max_output) + " bytes; closing");
  handle_close();
}

}  // namespace asyncore

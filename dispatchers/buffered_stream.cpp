#include "dispatchers/buffered_stream.h"

#include <string>

namespace asyncore {

size_t BufferedStream::send(std::string_view data) {
  if (!is_open() || closing) return 0;
  if (out_.empty()) {
    size_t sent = send_unchecked(data);
    // The common case: all of it went out at once, so nothing about readable()/writable()
    // changed and no re-check is needed.
    if (sent == data.size()) return sent;
    data.remove_prefix(sent);
    if (!is_open()) return sent;
  }
  // Only what must wait counts against max_output.
  if (out_.size() + data.size() > limits.max_output) {
    handle_overflow();
    return 0;
  }
  out_.append(data);
  after_output_change();
  return data.size();
}

void BufferedStream::flush() {
  while (!out_.empty() && is_open()) {
    size_t sent = send_unchecked(out_.view());
    if (sent == 0) break;
    out_.consume(sent);
  }
}

void BufferedStream::handle_write() {
  flush();
  after_output_change();
}

void BufferedStream::after_output_change() {
  if (!is_open()) return;
  if (out_.empty()) {
    out_.shrink();
    if (closing) {
      shutdown_write();
      close();
      return;
    }
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

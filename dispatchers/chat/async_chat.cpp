#include <asyncore/chat/async_chat.h>

#include <algorithm>
#include <string>

#include "dispatchers/stream/scratch_buffer.h"

namespace asyncore {
namespace {

class ClearOnExit {
 public:
  explicit ClearOnExit(bool& flag) : flag_(flag) { flag_ = true; }
  ~ClearOnExit() { flag_ = false; }
  ClearOnExit(const ClearOnExit&) = delete;
  ClearOnExit& operator=(const ClearOnExit&) = delete;

 private:
  bool& flag_;
};

}  // namespace

void AsyncChat::handle_read() {
  const size_t size = ac_in_buffer_size > 0 ? ac_in_buffer_size : 1;
  char* buffer = scratch_buffer(size);
  const size_t n = recv_into(buffer, size);
  if (n == 0) return;  // nothing now, or end of input (handle_eof ran), or the peer vanished
  scanner_.append(std::string_view(buffer, n));
  process_incoming();
}

void AsyncChat::process_incoming() {
  if (processing_) return;  // found_terminator() pushed and the queue drained: the outer loop goes on
  {
    ClearOnExit guard(processing_);
    while (is_open() && !reading_paused()) {
      auto piece = scanner_.next();
      if (!piece) break;
      if (!piece->data.empty()) {
        const bool bounded = scanner_.terminator().kind() == Terminator::Kind::bytes;
        if (bounded && collected_since_terminator_ + piece->data.size() > max_incoming) {
          collected_since_terminator_ = 0;
          handle_incoming_overflow();  // the piece is dropped; its terminator still counts
          if (!is_open()) break;
        } else {
          collected_since_terminator_ += piece->data.size();
          collect_incoming_data(piece->data);
        }
      }
      if (piece->terminated) {
        collected_since_terminator_ = 0;
        found_terminator();
      }
    }
  }
  if (!reading_paused()) scanner_.shrink();
}

void AsyncChat::discard_buffers() {
  scanner_.clear();
  incoming_.clear();
  collected_since_terminator_ = 0;
  discard_output();  // close_when_done() survives: it was a decision, not a buffer
}

void AsyncChat::handle_incoming_overflow() {
  log_warning(describe() + ": no terminator (" + get_terminator().to_string() + ") within " +
              std::to_string(max_incoming) + " bytes; closing");
  handle_close();
}

void AsyncChat::handle_output_overflow(size_t refused_bytes) {
  log_warning(describe() + ": output queue would exceed " + std::to_string(limits.max_output) + " bytes (" +
              std::to_string(pending()) + " queued, " + std::to_string(refused_bytes) + " more pushed); closing");
  handle_close();
}

}  // namespace asyncore

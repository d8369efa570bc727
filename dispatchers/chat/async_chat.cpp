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
    while (is_open() && !reading_paused_) {
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
  if (!reading_paused_) scanner_.shrink();
}

void AsyncChat::push(std::string_view data) {
  if (closing || data.empty()) return;
  if (queued_bytes_ + data.size() > limits.max_output) {
    handle_output_overflow(data.size());
    return;
  }
  if (fifo_.empty() || fifo_.back().producer || fifo_.back().close_mark) fifo_.emplace_back();
  fifo_.back().data.append(data);
  queued_bytes_ += data.size();
  initiate_send();
}

void AsyncChat::push_with_producer(std::unique_ptr<ChatProducer> producer) {
  if (closing || !producer) return;
  fifo_.push_back(OutputItem{.data = {}, .producer = std::move(producer)});
  initiate_send();
}

void AsyncChat::close_when_done() {
  if (closing) return;
  closing = true;
  fifo_.push_back(OutputItem{.data = {}, .producer = nullptr, .close_mark = true});
  initiate_send();
}

void AsyncChat::discard_buffers() {
  scanner_.clear();
  incoming_.clear();
  collected_since_terminator_ = 0;
  // The close mark survives: close_when_done() was a decision, not a buffer.
  const bool had_close_mark = !fifo_.empty() && fifo_.back().close_mark;
  fifo_.clear();
  queued_bytes_ = 0;
  if (had_close_mark) fifo_.push_back(OutputItem{.data = {}, .producer = nullptr, .close_mark = true});
  after_output_change();
}

void AsyncChat::initiate_send() {
  // A budget per call keeps one fast producer from holding the loop.
  size_t budget = 16 * (ac_out_buffer_size > 0 ? ac_out_buffer_size : 1);
  while (connected && is_open() && !fifo_.empty() && budget > 0) {
    OutputItem& first = fifo_.front();
    if (first.close_mark) {
      fifo_.pop_front();
      shutdown_write();
      handle_close();
      return;
    }
    if (first.producer) {
      std::string more = first.producer->more();
      if (more.empty()) {
        fifo_.pop_front();
      } else {
        queued_bytes_ += more.size();
        OutputItem piece;
        piece.data.append(more);
        fifo_.push_front(std::move(piece));
      }
      continue;
    }
    const std::string_view chunk = first.data.view().substr(0, std::min(ac_out_buffer_size, budget));
    const size_t sent = send(chunk);
    if (sent == 0 || !is_open()) break;
    first.data.consume(sent);
    queued_bytes_ -= sent;
    budget -= std::min(budget, sent);
    if (first.data.empty()) fifo_.pop_front();
    if (sent < chunk.size()) break;  // the socket is full: wait for writability
  }
  after_output_change();
}

void AsyncChat::after_output_change() {
  if (!is_open()) return;
  const bool pause = reading_paused_ ? queued_bytes_ > limits.low_water : queued_bytes_ >= limits.high_water;
  if (pause != reading_paused_) {
    reading_paused_ = pause;
    if (!pause) process_incoming();  // input held back while the queue was full
  }
  recheck();
}

void AsyncChat::handle_incoming_overflow() {
  log_warning(describe() + ": no terminator (" + get_terminator().to_string() + ") within " +
              std::to_string(max_incoming) + " bytes; closing");
  handle_close();
}

void AsyncChat::handle_output_overflow(size_t refused_bytes) {
  log_warning(describe() + ": output queue would exceed " + std::to_string(limits.max_output) + " bytes (" +
              std::to_string(queued_bytes_) + " queued, " + std::to_string(refused_bytes) + " more pushed); closing");
  handle_close();
}

}  // namespace asyncore

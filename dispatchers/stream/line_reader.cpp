#include <asyncore/stream/line_reader.h>

#include "dispatchers/stream/scratch_buffer.h"

namespace asyncore {

LineReader::LineReader(int fd, OnLine on_line, OnEnd on_end, ChannelMap* map)
    : FileDispatcher(fd, map), on_line_(std::move(on_line)), on_end_(std::move(on_end)) {
  scanner_.set_terminator("\n");
}

LineReader::LineReader(Fd fd, OnLine on_line, OnEnd on_end, ChannelMap* map)
    : FileDispatcher(std::move(fd), map), on_line_(std::move(on_line)), on_end_(std::move(on_end)) {
  scanner_.set_terminator("\n");
}

void LineReader::handle_read() {
  const size_t size = read_size > 0 ? read_size : 1;
  char* buffer = scratch_buffer(size);
  const size_t n = recv_into(buffer, size);
  if (n == 0) return;  // nothing now, or the end (handle_eof ran)
  scanner_.append(std::string_view(buffer, n));
  while (is_open() && !ended_) {
    auto piece = scanner_.next();
    if (!piece) break;
    deliver(piece->data, piece->terminated);
  }
  scanner_.shrink();
}

void LineReader::deliver(std::string_view piece, bool complete) {
  if (skipping_) {
    if (complete) {
      skipping_ = false;
      ++lines_;
    }
    return;
  }
  if (!complete) {
    // +1: a '\r' at the end of this piece would be dropped if '\n' follows.
    if (partial_.size() + piece.size() > max_line_length + 1) {
      partial_.clear();
      skipping_ = true;
      handle_overlong_line();
    } else {
      partial_.append(piece);
    }
    return;
  }
  if (partial_.empty()) {
    emit(piece);
  } else {
    partial_.append(piece);
    std::string line;
    line.swap(partial_);  // on_line_ may be re-entered through the loop; never alias partial_
    emit(line);
  }
}

void LineReader::emit(std::string_view line) {
  if (line.ends_with('\r')) line.remove_suffix(1);
  if (line.size() > max_line_length) {
    handle_overlong_line();
    ++lines_;
    return;
  }
  ++lines_;
  if (on_line_) on_line_(line);
}

void LineReader::handle_overlong_line() {
  end("line " + std::to_string(lines_ + 1) + " is longer than " + std::to_string(max_line_length) + " bytes");
}

void LineReader::handle_error(const std::exception& error) {
  log_error(type_name(typeid(error)) + ": " + error.what() + " in " + describe());
  end(error.what());
}

void LineReader::end(std::string problem) {
  if (ended_) return;
  // End of input ends the last line as '\n' would.
  if (problem.empty() && !skipping_ && !partial_.empty()) {
    std::string last;
    last.swap(partial_);
    emit(last);
    if (ended_) return;  // the last line was too long and that ended the reader
  }
  ended_ = true;
  close();
  if (on_end_) on_end_(problem);
}

}  // namespace asyncore

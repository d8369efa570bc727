#include <asyncore/stream/line_reader.h>

#include <string>

#include "dispatchers/stream/scratch_buffer.h"

namespace asyncore {

LineReader::LineReader(int fd, OnLine on_line, OnEnd on_end, ChannelMap* map)
    : FileDispatcher(fd, map), on_line_(std::move(on_line)), on_end_(std::move(on_end)) {}

LineReader::LineReader(Fd fd, OnLine on_line, OnEnd on_end, ChannelMap* map)
    : FileDispatcher(std::move(fd), map), on_line_(std::move(on_line)), on_end_(std::move(on_end)) {}

void LineReader::handle_read() {
  const size_t size = read_size > 0 ? read_size : 1;
  char* buffer = scratch_buffer(size);
  const size_t n = recv_into(buffer, size);
  if (n == 0) return;  // nothing now, or the end (handle_eof ran)
  splitter_.set_max_length(max_line_length + 1);  // a public member: it may have changed
  splitter_.feed(std::string_view(buffer, n));
  while (is_open() && !ended_) {
    auto item = splitter_.next();
    if (!item) break;
    if (item->kind == LineSplitter::Kind::too_long) {
      handle_overlong_line();  // the splitter drops the rest of that line
      ++lines_;
    } else {
      emit(item->data);
    }
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
  if (problem.empty()) {
    if (auto last = splitter_.finish()) {
      std::string line(last->data);  // on_line_ may be re-entered through the loop
      if (last->kind == LineSplitter::Kind::too_long) {
        handle_overlong_line();
        ++lines_;
      } else {
        emit(line);
      }
      if (ended_) return;  // the last line was too long and that ended the reader
    }
  }
  ended_ = true;
  close();
  if (on_end_) on_end_(problem);
}

}  // namespace asyncore

// LineSplitter: turns a byte stream (a child's stdout or stderr) into lines. Bytes pass through
// untouched (no UTF-8 check, '\r' kept): the caller decides what they mean.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace asyncore {

class LineSplitter {
 public:
  using Emit = std::function<void(std::string_view line)>;

  // Lines longer than max_line_length are SPLIT into pieces of exactly that many bytes (nothing
  // is dropped), so a child that never writes '\n' cannot make us buffer without bound.
  // 0: no limit.
  explicit LineSplitter(size_t max_line_length = 64 * 1024) : max_(max_line_length) {}

  // Emits every complete line in the stream so far, without its '\n'; keeps the partial tail.
  void feed(std::string_view bytes, const Emit& emit);
  // End of stream: emits the partial last line (one without '\n'), if there is one.
  void finish(const Emit& emit);
  size_t pending() const { return partial_.size(); }

 private:
  void emit_line(std::string_view line, const Emit& emit) const;
  void keep_partial(std::string_view tail, const Emit& emit);
  size_t max_;
  std::string partial_;  // the bytes after the last '\n' seen
};

}  // namespace asyncore

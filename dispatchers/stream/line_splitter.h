// LineSplitter: the one line framing of the library, without I/O. Bytes go in with feed(); next()
// hands back one item at a time, so the caller may change its mind between items (Twisted's
// raw mode takes the rest with take_buffered()). A delimiter split across feeds is found: a tail
// that could start it is held back, and bytes already known not to start one are not scanned
// again, so a long line arriving in small reads costs O(n).
//
// A line longer than max_length bytes (0: no limit) is handled as its user chose:
// - OverlongLine::error: one Kind::too_long item carrying everything buffered; the buffer is
//   emptied and splitting goes on with what arrives next (Twisted's lineLengthExceeded, after
//   which the connection is usually closed).
// - OverlongLine::truncate: one Kind::too_long item carrying the line's first max_length bytes;
//   the rest of that line, up to and including its delimiter, is dropped (LineReader).
// - OverlongLine::pieces: the line comes out in Kind::piece items of exactly max_length bytes and
//   a last Kind::line with the rest; nothing is dropped (a child's output).
// Either way it is reported as soon as more than max_length bytes surely belong to the line, so
// a peer that never sends the delimiter cannot make it buffer without bound.
#pragma once
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace asyncore {

enum class OverlongLine { error, truncate, pieces };

class LineSplitter {
 public:
  enum class Kind { line, piece, too_long };
  struct Item {
    Kind kind;
    std::string_view data;  // valid until the next feed(); the delimiter is not part of it
  };
  using Emit = std::function<void(std::string_view line)>;

  // Throws std::invalid_argument for an empty delimiter.
  explicit LineSplitter(size_t max_length = 64 * 1024, OverlongLine overlong = OverlongLine::pieces, std::string delimiter = "\n");

  void feed(std::string_view bytes);
  std::optional<Item> next();
  // End of input: the unterminated rest as a last line (a piece first if it is too long), once.
  std::optional<Item> finish();
  // Hands back and forgets whatever is buffered and not yet handed out.
  std::string take_buffered();
  size_t buffered() const { return buffer_.size() - begin_; }
  size_t pending() const { return buffered(); }

  // Feeds and emits every line and piece now complete (for callers with no use for the kinds).
  void feed(std::string_view bytes, const Emit& emit);
  void finish(const Emit& emit);

  const std::string& delimiter() const { return delimiter_; }
  size_t max_length() const { return max_length_; }
  void set_max_length(size_t max_length) { max_length_ = max_length; }

 private:
  std::string_view take(size_t n, size_t skip);  // n bytes handed out, then `skip` dropped
  bool over(size_t length) const { return max_length_ > 0 && length > max_length_; }
  // The line (line_length bytes, then delimiter_length of delimiter) is too long; `ended`: its
  // end is known (a delimiter or the end of input), so truncate drops nothing after it.
  std::optional<Item> overlong(size_t line_length, size_t delimiter_length, bool ended);

  std::string delimiter_;
  size_t max_length_;
  OverlongLine overlong_;
  bool skipping_ = false;  // truncate: dropping the rest of a reported line
  std::string buffer_;
  size_t begin_ = 0;    // handed-out bytes at the front, dropped lazily (at the next feed)
  size_t scanned_ = 0;  // bytes after begin_ known not to start a delimiter
};

}  // namespace asyncore

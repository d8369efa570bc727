// LineParser: the framing of Twisted's LineReceiver without the socket: the library's
// LineSplitter with Twisted's overlong-line policy, plus raw mode. Bytes go in with feed(); next()
// hands back one item at a time -- a line (delimiter removed), raw data (in raw mode), or an
// over-long line -- so the caller may switch modes between items and the rest of the buffer is
// parsed in the new mode.
//
// An over-long line (more than max_length bytes before a delimiter, or that many bytes with no
// delimiter yet) comes back as Kind::too_long carrying everything buffered, and the buffer is
// emptied, as Twisted does (OverlongLine::error); parsing then goes on with whatever arrives next.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <asyncore/stream/line_splitter.h>

namespace asyncore {

class LineParser {
 public:
  struct Item {
    enum class Kind { line, raw, too_long };
    Kind kind;
    std::string data;
    bool operator==(const Item&) const = default;
  };

  // Throws std::invalid_argument for an empty delimiter.
  explicit LineParser(std::string delimiter = "\r\n", size_t max_length = 16384);

  void feed(std::string_view data) { splitter_.feed(data); }
  std::optional<Item> next();

  void set_raw_mode() { line_mode_ = false; }
  void set_line_mode() { line_mode_ = true; }
  bool line_mode() const { return line_mode_; }
  // Hands back and forgets whatever is buffered and not yet parsed.
  std::string clear() { return splitter_.take_buffered(); }
  size_t buffered() const { return splitter_.buffered(); }

  const std::string& delimiter() const { return splitter_.delimiter(); }
  size_t max_length() const { return splitter_.max_length(); }
  void set_max_length(size_t max_length) { splitter_.set_max_length(max_length); }

 private:
  LineSplitter splitter_;
  bool line_mode_ = true;
};

}  // namespace asyncore

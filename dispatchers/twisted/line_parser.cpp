#include <asyncore/twisted/line_parser.h>

#include <algorithm>
#include <stdexcept>

namespace asyncore {

LineParser::LineParser(std::string delimiter, size_t max_length) : delimiter_(std::move(delimiter)), max_length_(max_length) {
  if (delimiter_.empty()) throw std::invalid_argument("LineParser: the delimiter must not be empty");
}

void LineParser::feed(std::string_view data) {
  // Drop the parsed front only when it is at least half the storage: amortised O(n).
  if (begin_ > 0 && begin_ * 2 >= buffer_.size()) {
    buffer_.erase(0, begin_);
    begin_ = 0;
  }
  buffer_.append(data);
}

std::string LineParser::take(size_t n) {
  std::string out = buffer_.substr(begin_, n);
  begin_ += n;
  scanned_ = 0;
  if (begin_ == buffer_.size()) {
    buffer_.clear();
    begin_ = 0;
  }
  return out;
}

std::string LineParser::clear() { return take(buffered()); }

std::optional<LineParser::Item> LineParser::next() {
  const size_t available = buffered();
  if (available == 0) return std::nullopt;
  if (!line_mode_) return Item{Item::Kind::raw, take(available)};

  std::string_view pending = std::string_view(buffer_).substr(begin_);
  size_t at = pending.find(delimiter_, scanned_);
  if (at == std::string_view::npos) {
    // Only a tail that is a prefix of the delimiter may still turn into one; the rest is line.
    size_t maybe_delimiter = std::min(delimiter_.size() - 1, available);
    while (maybe_delimiter > 0 && !pending.ends_with(std::string_view(delimiter_).substr(0, maybe_delimiter))) --maybe_delimiter;
    size_t surely_line = available - maybe_delimiter;
    scanned_ = surely_line;
    if (surely_line > max_length_) return Item{Item::Kind::too_long, take(available)};
    return std::nullopt;
  }
  if (at > max_length_) return Item{Item::Kind::too_long, take(available)};
  Item line{Item::Kind::line, take(at)};
  begin_ += delimiter_.size();
  if (begin_ == buffer_.size()) {
    buffer_.clear();
    begin_ = 0;
  }
  return line;
}

}  // namespace asyncore

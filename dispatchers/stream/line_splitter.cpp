#include <asyncore/stream/line_splitter.h>

#include <algorithm>
#include <stdexcept>

namespace asyncore {

LineSplitter::LineSplitter(size_t max_length, OverlongLine overlong, std::string delimiter)
    : delimiter_(std::move(delimiter)), max_length_(max_length), overlong_(overlong) {
  if (delimiter_.empty()) throw std::invalid_argument("LineSplitter: the delimiter must not be empty");
}

void LineSplitter::feed(std::string_view bytes) {
  // Drop the handed-out front only when it is at least half the storage: amortised O(n).
  if (begin_ > 0 && begin_ * 2 >= buffer_.size()) {
    buffer_.erase(0, begin_);
    begin_ = 0;
  }
  buffer_.append(bytes);
}

std::string_view LineSplitter::take(size_t n, size_t skip) {
  const std::string_view out = std::string_view(buffer_).substr(begin_, n);
  begin_ += n + skip;
  scanned_ = scanned_ > n + skip ? scanned_ - n - skip : 0;
  if (begin_ == buffer_.size() && begin_ > 0 && out.empty()) {
    buffer_.clear();
    begin_ = 0;
  }
  return out;
}

std::string LineSplitter::take_buffered() {
  std::string rest(take(buffered(), 0));
  buffer_.clear();
  begin_ = scanned_ = 0;
  return rest;
}

std::optional<LineSplitter::Item> LineSplitter::overlong(size_t line_length, size_t delimiter_length, bool ended) {
  switch (overlong_) {
    case OverlongLine::error:
      return Item{Kind::too_long, take(buffered(), 0)};
    case OverlongLine::pieces:
      return Item{Kind::piece, take(max_length_, 0)};
    case OverlongLine::truncate:
      break;
  }
  // The first max_length bytes are reported; what follows of the line is dropped, now and as
  // it arrives, until its delimiter.
  skipping_ = !ended;
  return Item{Kind::too_long, take(max_length_, line_length - max_length_ + delimiter_length)};
}

std::optional<LineSplitter::Item> LineSplitter::next() {
  while (buffered() > 0) {
    const std::string_view pending = std::string_view(buffer_).substr(begin_);
    const size_t at = pending.find(delimiter_, scanned_);
    if (at != std::string_view::npos) {
      if (skipping_) {  // the end of a truncated line
        skipping_ = false;
        take(0, at + delimiter_.size());
        continue;
      }
      if (over(at)) return overlong(at, delimiter_.size(), true);
      return Item{Kind::line, take(at, delimiter_.size())};
    }
    // Only a tail that is a prefix of the delimiter may still turn into one; the rest is line.
    size_t maybe_delimiter = std::min(delimiter_.size() - 1, pending.size());
    while (maybe_delimiter > 0 && !pending.ends_with(std::string_view(delimiter_).substr(0, maybe_delimiter))) --maybe_delimiter;
    const size_t surely_line = pending.size() - maybe_delimiter;
    if (skipping_) {
      take(0, surely_line);
      return std::nullopt;
    }
    scanned_ = surely_line;
    if (over(surely_line)) return overlong(surely_line, 0, false);
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<LineSplitter::Item> LineSplitter::finish() {
  if (buffered() == 0 || skipping_) {
    skipping_ = false;
    take_buffered();
    return std::nullopt;
  }
  if (over(buffered())) return overlong(buffered(), 0, true);
  return Item{Kind::line, take(buffered(), 0)};
}

void LineSplitter::feed(std::string_view bytes, const Emit& emit) {
  feed(bytes);
  while (auto item = next()) emit(item->data);
}

void LineSplitter::finish(const Emit& emit) {
  while (auto item = next()) emit(item->data);
  while (auto item = finish()) emit(item->data);
}

}  // namespace asyncore

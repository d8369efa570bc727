#include <asyncore/chat/terminator.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace asyncore {

void Terminator::throw_negative_count(long long count) {
  throw std::invalid_argument("set_terminator: the number of received bytes must be positive, got " +
                              std::to_string(count));
}

std::string Terminator::to_string() const {
  switch (kind_) {
    case Kind::none: return "none";
    case Kind::count: return "count " + std::to_string(count_);
    case Kind::bytes: break;
  }
  std::string out = "bytes \"";
  for (unsigned char c : bytes_) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
    else if (c >= 0x20 && c < 0x7f) out += static_cast<char>(c);
    else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out + "\"";
}

size_t find_prefix_at_end(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return 0;
  size_t length = std::min(needle.size() - 1, haystack.size());
  while (length > 0 && !haystack.ends_with(needle.substr(0, length))) --length;
  return length;
}

void TerminatorScanner::apply_consumed() {
  buffer_.consume(consumed_);
  consumed_ = 0;
}

void TerminatorScanner::append(std::string_view bytes) {
  apply_consumed();
  buffer_.append(bytes);
}

void TerminatorScanner::clear() {
  buffer_.clear();
  consumed_ = 0;
}

void TerminatorScanner::shrink() {
  apply_consumed();
  constexpr size_t kSmall = 256;
  if (buffer_.empty()) {
    buffer_.shrink();
  } else if (buffer_.size() <= kSmall) {
    std::string kept(buffer_.view());
    buffer_ = ByteBuffer();
    buffer_.append(kept);
  }
}

// Mirrors the loop body of asynchat.async_chat.handle_read, one iteration per call. The bytes
// handed out are dropped only at the next call, so `Piece::data` can point into the buffer.
std::optional<TerminatorScanner::Piece> TerminatorScanner::next() {
  apply_consumed();
  const std::string_view input = buffer_.view();
  if (input.empty()) return std::nullopt;

  if (terminator_.is_none()) {
    consumed_ = input.size();
    return Piece{input, false};
  }
  if (terminator_.kind() == Terminator::Kind::count) {
    const size_t wanted = terminator_.count();
    if (input.size() < wanted) {
      terminator_ = Terminator(wanted - input.size());
      consumed_ = input.size();
      return Piece{input, false};
    }
    terminator_ = Terminator(0);
    consumed_ = wanted;
    return Piece{input.substr(0, wanted), true};
  }

  const std::string& needle = terminator_.bytes();
  if (size_t index = input.find(needle); index != std::string_view::npos) {
    consumed_ = index + needle.size();
    return Piece{input.substr(0, index), true};
  }
  // No whole terminator: hand out everything except a tail that may be its beginning.
  const size_t held = find_prefix_at_end(input, needle);
  if (held == input.size()) return std::nullopt;
  consumed_ = input.size() - held;
  return Piece{input.substr(0, consumed_), false};
}

}  // namespace asyncore

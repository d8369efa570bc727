// The messenger wire format, compatible with the original Python module:
//   [hlen: uint16 little-endian][header text: hlen bytes][body: CL bytes]
// encode_frame() builds frames; FrameDecoder takes a byte stream apart.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "apps/messenger/frame_error.h"
#include "apps/messenger/header.h"
#include "apps/messenger/header_text.h"

namespace asyncore::messenger {

inline constexpr std::size_t kDefaultMaxBody = 16 * 1024 * 1024;
inline constexpr std::size_t kLengthPrefixBytes = 2;

// A header with TP:Check is a connection probe; receivers swallow it.
inline constexpr std::string_view kTypeKey = "TP";
inline constexpr std::string_view kProbeType = "Check";
Header probe_header();

struct Message {
  Header header;     // without CL: body.size() is the length
  std::string body;  // binary

  bool is_probe() const;
  bool operator==(const Message&) const = default;
};

// One complete frame. Throws FrameError (see format_header_text) and produces nothing.
std::string encode_frame(const Header& user_header, std::string_view body = {});
// Appends one complete frame to `out`; on FrameError `out` is left as it was.
void append_frame(std::string& out, const Header& user_header, std::string_view body = {});

// Incremental decoder for one connection. Bytes go in with feed(), in pieces
// of any size; complete messages come out with next(). A malformed frame makes
// feed() throw FrameError with the reason; the decoder is then failed() and
// every later feed() throws too, because the stream can no longer be trusted.
// Messages completed before the error can still be taken with next().
class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_body = kDefaultMaxBody);

  void feed(std::string_view bytes);
  // The oldest complete message, or nullopt when none is ready.
  std::optional<Message> next();
  std::size_t ready() const { return messages_.size(); }

  bool failed() const { return stage_ == Stage::failed; }
  // The reason of the failure, or "" while the stream is good.
  const std::string& error() const { return error_; }
  std::size_t max_body() const { return max_body_; }
  // True when a frame has started but is not complete (useful at EOF).
  bool mid_frame() const { return stream_offset_ != frame_start_; }
  // Memory held for the frame in progress: its header and its body, reserved at the size the
  // header announced. Complete messages waiting in next() are not counted.
  std::size_t held() const { return header_text_.capacity() + current_.body.capacity(); }

 private:
  enum class Stage { length, header, body, failed };

  void finish_length();
  void finish_header();
  void finish_body();
  [[noreturn]] void fail(const std::string& reason);

  std::size_t max_body_;
  Stage stage_ = Stage::length;
  std::string error_;
  std::uint8_t length_bytes_[kLengthPrefixBytes] = {};
  std::size_t length_bytes_held_ = 0;
  std::size_t header_size_ = 0;
  std::string header_text_;
  Message current_;
  std::size_t body_size_ = 0;
  std::deque<Message> messages_;
  // For error messages: which frame, and where it began in the stream.
  std::uint64_t frame_index_ = 0;
  std::uint64_t frame_start_ = 0;
  std::uint64_t stream_offset_ = 0;
};

}  // namespace asyncore::messenger

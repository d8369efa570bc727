// Device framing: a 4-byte big-endian body length, then that many bytes of JSON.
//
// FrameExtractor is packet.extract from the seed as a pure class: feed it whatever a read
// returned, take complete bodies out with next(), and it keeps exactly the bytes of an
// unfinished frame for the next feed. Complete frames are handed out as views into the fed
// bytes, so a connection can read into a shared scratch buffer and keep only its leftovers.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace asyncore::device {

inline constexpr std::size_t kFrameHeaderSize = 4;
inline constexpr std::uint32_t kDefaultMaxFrame = 65536;

inline std::uint32_t read_be32(const char* bytes) {
  auto b = [bytes](int i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}
inline void write_be32(char* bytes, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>(value >> (24 - 8 * i));
}

struct FrameEvent {
  enum Kind { frame, need_more, zero_length, oversized };
  Kind kind = need_more;
  std::string_view body;     // kind == frame: valid until the next next() or feed()
  std::uint32_t length = 0;  // the declared length (frame, zero_length, oversized)
};

class FrameExtractor {
 public:
  explicit FrameExtractor(std::uint32_t max_frame = kDefaultMaxFrame) : max_frame_(max_frame) {}

  // `bytes` must stay valid until next() returns need_more (or an error).
  void feed(std::string_view bytes) { input_ = bytes; }
  // The next complete body, need_more once the fed bytes are used up (the unfinished rest is
  // kept), or a length error, after which the stream cannot be trusted and every call repeats it.
  // Inline for what every read of a device gives: whole frames, then the end of the bytes.
  FrameEvent next() {
    if (partial_.empty() && !failed()) [[likely]] {
      if (input_.empty()) return {};
      if (input_.size() >= kFrameHeaderSize) {
        const std::uint32_t length = read_be32(input_.data());
        if (length - 1 < max_frame_ && length <= input_.size() - kFrameHeaderSize) {
          FrameEvent event{FrameEvent::frame, std::string_view(input_.data() + kFrameHeaderSize, length), length};
          input_.remove_prefix(kFrameHeaderSize + length);
          return event;
        }
      }
    }
    return next_slow();
  }

  std::size_t leftover() const { return (partial_done_ ? 0 : partial_.size()) + input_.size(); }
  bool failed() const { return failed_.kind != FrameEvent::need_more; }
  std::uint32_t max_frame() const { return max_frame_; }

 private:
  FrameEvent next_slow();  // an unfinished frame, a partial header, a length error
  FrameEvent check_length(std::uint32_t length);
  FrameEvent from_partial();

  std::uint32_t max_frame_;
  std::string_view input_;  // fed bytes not looked at yet
  std::string partial_;     // an unfinished frame (header included), copied out of input_
  bool partial_done_ = false;  // partial_ holds a frame already handed out
  FrameEvent failed_;
};

// assemble: the frame for one body.
std::string encode_frame(std::string_view body);
void append_frame(std::string& out, std::string_view body);

}  // namespace asyncore::device

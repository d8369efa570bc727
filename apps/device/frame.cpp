#include "apps/device/frame.h"

#include <algorithm>

namespace asyncore::device {

void append_frame(std::string& out, std::string_view body) {
  char header[kFrameHeaderSize];
  write_be32(header, static_cast<std::uint32_t>(body.size()));
  out.append(header, kFrameHeaderSize);
  out.append(body);
}

std::string encode_frame(std::string_view body) {
  std::string out;
  out.reserve(kFrameHeaderSize + body.size());
  append_frame(out, body);
  return out;
}

FrameEvent FrameExtractor::check_length(std::uint32_t length) {
  if (length == 0) failed_ = {FrameEvent::zero_length, {}, length};
  else if (length > max_frame_) failed_ = {FrameEvent::oversized, {}, length};
  return failed_;
}

FrameEvent FrameExtractor::from_partial() {
  // Complete the header, then the body, from the fed bytes.
  auto take = [this](std::size_t wanted) {
    const std::size_t n = std::min(wanted, input_.size());
    partial_.append(input_.substr(0, n));
    input_.remove_prefix(n);
  };
  if (partial_.size() < kFrameHeaderSize) take(kFrameHeaderSize - partial_.size());
  if (partial_.size() < kFrameHeaderSize) return {};
  const std::uint32_t length = read_be32(partial_.data());
  if (FrameEvent error = check_length(length); error.kind != FrameEvent::need_more) return error;
  take(kFrameHeaderSize + length - partial_.size());
  if (partial_.size() < kFrameHeaderSize + length) return {};
  partial_done_ = true;
  return {FrameEvent::frame, std::string_view(partial_).substr(kFrameHeaderSize), length};
}

FrameEvent FrameExtractor::next_slow() {
  if (failed()) return failed_;
  if (partial_done_) {
    partial_done_ = false;
    // A long-lived connection must not keep the peak of one large frame.
    if (partial_.capacity() > 256) std::string().swap(partial_);
    else partial_.clear();
  }
  if (!partial_.empty()) return from_partial();
  if (input_.size() < kFrameHeaderSize) {
    partial_.assign(input_);
    input_ = {};
    return {};
  }
  const std::uint32_t length = read_be32(input_.data());
  if (FrameEvent error = check_length(length); error.kind != FrameEvent::need_more) return error;
  if (input_.size() - kFrameHeaderSize < length) return from_partial();
  FrameEvent event{FrameEvent::frame, input_.substr(kFrameHeaderSize, length), length};
  input_.remove_prefix(kFrameHeaderSize + length);
  return event;
}

}  // namespace asyncore::device

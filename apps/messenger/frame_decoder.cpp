#include "apps/messenger/frame.h"

#include <algorithm>

namespace asyncore::messenger {

FrameDecoder::FrameDecoder(std::size_t max_body) : max_body_(max_body) {}

void FrameDecoder::feed(std::string_view bytes) {
  if (stage_ == Stage::failed) throw FrameError("messenger stream already failed: " + error_);
  // Every byte is moved once, straight into its final place (length prefix,
  // header text or the pre-sized body), so no leftover buffer is ever shifted.
  while (!bytes.empty()) {
    std::size_t taken = 0;
    switch (stage_) {
      case Stage::length:
        taken = std::min(bytes.size(), kLengthPrefixBytes - length_bytes_held_);
        std::copy_n(bytes.begin(), taken, length_bytes_ + length_bytes_held_);
        length_bytes_held_ += taken;
        stream_offset_ += taken;
        if (length_bytes_held_ == kLengthPrefixBytes) finish_length();
        break;
      case Stage::header:
        taken = std::min(bytes.size(), header_size_ - header_text_.size());
        header_text_.append(bytes.data(), taken);
        stream_offset_ += taken;
        if (header_text_.size() == header_size_) finish_header();
        break;
      case Stage::body:
        taken = std::min(bytes.size(), body_size_ - current_.body.size());
        current_.body.append(bytes.data(), taken);
        stream_offset_ += taken;
        if (current_.body.size() == body_size_) finish_body();
        break;
      case Stage::failed:
        return;  // unreachable: fail() throws
    }
    bytes.remove_prefix(taken);
  }
}

std::optional<Message> FrameDecoder::next() {
  if (messages_.empty()) return std::nullopt;
  Message message = std::move(messages_.front());
  messages_.pop_front();
  return message;
}

void FrameDecoder::finish_length() {
  header_size_ = static_cast<std::size_t>(length_bytes_[0]) | (static_cast<std::size_t>(length_bytes_[1]) << 8);
  length_bytes_held_ = 0;
  header_text_.clear();
  header_text_.reserve(header_size_);
  stage_ = Stage::header;
  // An empty header is still parsed, so it fails as "CL missing" right away.
  if (header_size_ == 0) finish_header();
}

void FrameDecoder::finish_header() {
  ParsedHeader parsed;
  try {
    parsed = parse_header_text(header_text_, max_body_);
  } catch (const FrameError& error) {
    fail(error.what());
  }
  current_.header = std::move(parsed.header);
  current_.body.clear();
  current_.body.reserve(parsed.body_size);  // once: large bodies never regrow
  body_size_ = parsed.body_size;
  stage_ = Stage::body;
  if (body_size_ == 0) finish_body();
}

void FrameDecoder::finish_body() {
  messages_.push_back(std::move(current_));
  current_ = Message{};
  ++frame_index_;
  frame_start_ = stream_offset_;
  stage_ = Stage::length;
}

void FrameDecoder::fail(const std::string& reason) {
  stage_ = Stage::failed;
  error_ = "frame #" + std::to_string(frame_index_ + 1) + " (stream byte " + std::to_string(frame_start_) +
           "): " + reason;
  header_text_ = std::string();
  current_ = Message{};
  throw FrameError(error_);
}

}  // namespace asyncore::messenger

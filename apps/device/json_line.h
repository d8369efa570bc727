// JsonLine: writes one compact JSON object straight into a string, member by member, without
// building a json::Value first. The journal's record lines are written on the hot path (every
// login journals an "online" event), where a json::Object and its dump cost several thousand
// instructions; this writes the same text json::dump would.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "apps/device/imei.h"

namespace asyncore::device {

class JsonLine {
 public:
  // `out` gets the line when the JsonLine ends (and any time its buffer fills): nothing else
  // may write to it meanwhile.
  explicit JsonLine(std::string& out) : out_(out) { *at_++ = '{'; }
  ~JsonLine() {
    room(1);
    *at_++ = '}';
    flush();
  }
  JsonLine(const JsonLine&) = delete;
  JsonLine& operator=(const JsonLine&) = delete;

  JsonLine& operator()(std::string_view key, std::string_view text);  // a string, escaped as needed
  JsonLine& operator()(std::string_view key, const char* text) { return (*this)(key, std::string_view(text)); }
  JsonLine& operator()(std::string_view key, double number);          // kept a double when read back
  JsonLine& operator()(std::string_view key, int number) { return integer(key, number); }
  JsonLine& operator()(std::string_view key, std::uint64_t number);
  JsonLine& operator()(std::string_view key, bool value);
  JsonLine& operator()(std::string_view key, Imei imei);              // as its 15-digit string
  // A value that is JSON text already (compact, one line), e.g. a stored command.
  JsonLine& raw(std::string_view key, std::string_view json);

 private:
  JsonLine& integer(std::string_view key, long long number);
  // The key, with room for a value of `value_size` bytes after it in the buffer.
  void key(std::string_view name, std::size_t value_size);
  [[gnu::noinline, gnu::cold]] void long_key(std::string_view name, std::size_t value_size);
  void room(std::size_t n) {
    if (static_cast<std::size_t>(buffer_ + sizeof buffer_ - at_) < n) flush();
  }
  void flush() {
    out_.append(buffer_, at_);
    at_ = buffer_;
  }
  std::string& out_;
  // The line is put together here and appended once: an append per member (the string's
  // out-of-line append and a memcpy call) cost more than writing most members.
  char buffer_[224];
  char* at_ = buffer_;
  bool first_ = true;
};

}  // namespace asyncore::device

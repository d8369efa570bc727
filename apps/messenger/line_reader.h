// LineReader: reads lines from a file descriptor (stdin) on the loop, for typed or scripted
// commands. A pipe or terminal is polled; a redirected regular file reads as always ready.
#pragma once
#include <functional>
#include <string>

#include "core/dispatcher.h"

namespace asyncore::messenger {

class LineReader final : public Dispatcher {
 public:
  static constexpr std::size_t kMaxLine = 64 * 1024;

  // Reads from a duplicate of `fd` (made non-blocking; its flags are restored on close).
  LineReader(int fd, ChannelMap* map = nullptr);
  ~LineReader() override;

  std::function<void(const std::string& line)> on_line;  // without "\n" (and "\r")
  std::function<void()> on_eof;  // after the last line; the reader is then closed

  void handle_read() override;
  void handle_close() override { finish(); }

 private:
  void finish();
  int original_fd_;
  int original_flags_ = -1;
  std::string pending_;
  bool skipping_long_line_ = false;
  bool finished_ = false;
};

}  // namespace asyncore::messenger

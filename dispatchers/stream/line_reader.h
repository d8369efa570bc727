// LineReader: reads a pipe, stdin or a file and calls back once per complete line, e.g. the
// commands a program takes on stdin.
//
// - A line ends at '\n'; the '\n' and one '\r' before it are not part of the line.
// - At end of input a last line without '\n' is delivered too, then on_end("") is called.
// - A line longer than max_line_length bytes calls handle_overlong_line(); by default that
//   ends the reader with a reason naming the line ("line 3 is longer than 65536 bytes"). An
//   override that keeps the reader open skips the rest of that line (LineSplitter's
//   OverlongLine::truncate).
// - A read error ends the reader with the error as the reason.
// on_end is called at most once, and not when the owner close()s the reader itself.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include <asyncore/stream/file_dispatcher.h>
#include <asyncore/stream/line_splitter.h>

namespace asyncore {

class LineReader : public FileDispatcher {
 public:
  using OnLine = std::function<void(std::string_view line)>;
  using OnEnd = std::function<void(std::string_view problem)>;  // "" at a clean end of input

  LineReader(int fd, OnLine on_line, OnEnd on_end = {}, ChannelMap* map = nullptr);  // dups fd
  LineReader(Fd fd, OnLine on_line, OnEnd on_end = {}, ChannelMap* map = nullptr);

  size_t max_line_length = 64 * 1024;
  size_t read_size = 64 * 1024;  // bytes asked of each read

  void handle_read() override;
  void handle_eof() override { end(""); }
  void handle_error(const std::exception& error) override;
  size_t lines_read() const { return lines_; }

 protected:
  virtual void handle_overlong_line();

 private:
  void emit(std::string_view line);
  void end(std::string problem);

  OnLine on_line_;
  OnEnd on_end_;
  // '\n'-delimited; its bound is max_line_length + 1, so a '\r' before the '\n' does not count.
  LineSplitter splitter_{0, OverlongLine::truncate};
  size_t lines_ = 0;
  bool ended_ = false;
};

}  // namespace asyncore

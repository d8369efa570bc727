// FileDispatcher: asyncore.file_dispatcher. A pipe, terminal, stdin/stdout or regular file in
// the loop: recv maps to read(2) and send to write(2).
//
// - FileDispatcher(int fd) dups the fd, as Python's file_wrapper does (the caller keeps its
//   own); FileDispatcher(Fd fd) takes ownership. Either way the fd is made non-blocking, which
//   is shared with every other fd for the same open file (e.g. the terminal behind stdin).
// - `connected` is true from the start, as in Python.
// - End of input (read returns 0) calls handle_eof() (default: handle_close()) once; the
//   dispatcher then stops asking for readability. A write-only fd (a pipe's write end) is
//   never asked for readability.
// - poll and epoll report a pipe whose writers are gone as hung up even while data is still in
//   it; handle_close() therefore reads what is left (through handle_read(), reaching end of
//   input and handle_eof()) before closing. A subclass overriding handle_close() calls
//   FileDispatcher::handle_close() or drain_input() to keep that.
// - Regular files are always ready (select and poll say so; the core's epoll backend treats
//   the EPERM it gets for them the same way).
#pragma once
#include <string>
#include <string_view>

#include <asyncore/dispatcher.h>

namespace asyncore {

class FileDispatcher : public Dispatcher {
 public:
  explicit FileDispatcher(int fd, ChannelMap* map = nullptr);  // dups fd
  explicit FileDispatcher(Fd fd, ChannelMap* map = nullptr);   // takes ownership

  // Up to `size` bytes; 0 means nothing now, or end of input (handle_eof() was called), or a
  // vanished reader/writer (handle_close() was called). Hides Dispatcher's socket recv.
  size_t recv_into(char* buffer, size_t size);
  std::string recv(size_t buffer_size);
  // Writes what the fd takes now; returns the count (0: try later). EPIPE calls handle_close().
  size_t send(std::string_view data) override;

  bool readable() override { return !input_ended_; }
  void handle_close() override;
  bool input_ended() const { return input_ended_; }

 protected:
  // Reads what is buffered now through handle_read() until end of input or nothing is left.
  void drain_input();

 private:
  bool input_ended_ = false;
};
using file_dispatcher = FileDispatcher;

}  // namespace asyncore

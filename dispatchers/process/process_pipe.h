// OutputPipeReader: the read end of a child's stdout or stderr pipe as a dispatcher. Uses read(2)
// (Dispatcher::recv is for sockets) and reports bytes as they come and the end of the stream.
#pragma once
#include <functional>
#include <string_view>

#include <asyncore/dispatcher.h>

namespace asyncore {

class OutputPipeReader final : public Dispatcher {
 public:
  using OnData = std::function<void(std::string_view bytes)>;
  using OnEnd = std::function<void()>;

  // `pipe` must be non-blocking. on_end is called once, at EOF or on a read error; the reader
  // is closed by then.
  OutputPipeReader(Fd pipe, OnData on_data, OnEnd on_end, ChannelMap* map = nullptr);

  void handle_read() override;
  // Hangup: every writer is gone, so what is buffered is all there is; read it, then end.
  void handle_close() override { drain(); }
  void handle_error(const std::exception& error) override;
  // Reads whatever is buffered now without waiting; ends the stream if it reaches EOF.
  void drain();

 private:
  // Reads at most `max_reads` chunks; false once the stream ended or nothing is left now.
  bool read_chunks(int max_reads);
  void end();
  OnData on_data_;
  OnEnd on_end_;
};

}  // namespace asyncore

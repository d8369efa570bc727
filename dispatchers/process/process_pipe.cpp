#include "dispatchers/process/process_pipe.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace asyncore {
namespace {
constexpr size_t kChunk = 64 * 1024;
constexpr int kChunksPerEvent = 4;  // then let other channels have their turn
}  // namespace

OutputPipeReader::OutputPipeReader(Fd pipe, OnData on_data, OnEnd on_end, ChannelMap* map)
    : Dispatcher(map), on_data_(std::move(on_data)), on_end_(std::move(on_end)) {
  set_interest(Interest::declared);  // readable()/writable() change only with a re-check
  set_socket(std::move(pipe));
}

void OutputPipeReader::handle_read() { read_chunks(kChunksPerEvent); }

void OutputPipeReader::drain() {
  while (read_chunks(kChunksPerEvent)) {
  }
}

bool OutputPipeReader::read_chunks(int max_reads) {
  char buffer[kChunk];
  for (int i = 0; i < max_reads && is_open(); ++i) {
    ssize_t n = ::read(fileno(), buffer, sizeof buffer);
    if (n > 0) {
      on_data_(std::string_view(buffer, static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    if (n < 0) log_info(std::string("read: ") + std::strerror(errno), LogLevel::warning);
    end();
    return false;
  }
  return is_open();
}

void OutputPipeReader::end() {
  if (!is_open()) return;
  close();
  if (on_end_) on_end_();
}

void OutputPipeReader::handle_error(const std::exception& error) {
  log_info(std::string("error: ") + error.what(), LogLevel::error);
  end();
}

}  // namespace asyncore

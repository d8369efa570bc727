#include "apps/messenger/line_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <system_error>

namespace asyncore::messenger {
namespace {

Fd duplicate(int fd) {
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw std::system_error(errno, std::generic_category(), "dup");
  return Fd(copy);
}

}  // namespace

LineReader::LineReader(int fd, ChannelMap* map) : Dispatcher(map), original_fd_(fd) {
  original_flags_ = ::fcntl(fd, F_GETFL);
  Fd copy = duplicate(fd);
  // The flag lives on the shared file description, hence the restore in the destructor.
  if (original_flags_ >= 0) ::fcntl(copy.get(), F_SETFL, original_flags_ | O_NONBLOCK);
  set_socket(std::move(copy));
}

LineReader::~LineReader() {
  if (original_flags_ >= 0) ::fcntl(original_fd_, F_SETFL, original_flags_);
}

void LineReader::handle_read() {
  char buffer[16384];
  ssize_t n = ::read(fileno(), buffer, sizeof buffer);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    throw std::system_error(errno, std::generic_category(), "read stdin");
  }
  if (n == 0) {
    if (!pending_.empty() && !skipping_long_line_ && on_line) on_line(std::exchange(pending_, {}));
    finish();
    return;
  }
  std::string_view data(buffer, static_cast<std::size_t>(n));
  while (!data.empty() && is_open()) {
    std::size_t newline = data.find('\n');
    if (newline == std::string_view::npos) {
      if (!skipping_long_line_) pending_.append(data);
      if (pending_.size() > kMaxLine) {
        log_warning("stdin: line longer than " + std::to_string(kMaxLine) + " bytes ignored");
        pending_.clear();
        skipping_long_line_ = true;
      }
      return;
    }
    if (!skipping_long_line_) {
      pending_.append(data.substr(0, newline));
      if (!pending_.empty() && pending_.back() == '\r') pending_.pop_back();
      std::string line = std::exchange(pending_, {});
      if (on_line) on_line(line);
    }
    skipping_long_line_ = false;
    data.remove_prefix(newline + 1);
  }
}

void LineReader::finish() {
  close();
  if (finished_) return;
  finished_ = true;
  if (on_eof) on_eof();
}

}  // namespace asyncore::messenger

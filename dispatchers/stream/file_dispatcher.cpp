#include <asyncore/stream/file_dispatcher.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <stdexcept>
#include <system_error>

namespace asyncore {
namespace {

[[noreturn]] void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), what);
}

Fd duplicate(int fd) {
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw_errno(errno, "FileDispatcher: dup fd " + std::to_string(fd));
  return Fd(copy);
}

// Returns the fd's status flags as they were.
int make_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) throw_errno(errno, "FileDispatcher: fcntl F_GETFL on fd " + std::to_string(fd));
  if (!(flags & O_NONBLOCK) && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    throw_errno(errno, "FileDispatcher: fcntl O_NONBLOCK on fd " + std::to_string(fd));
  }
  return flags;
}

bool is_fifo(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

size_t bytes_available(int fd) {
  int n = 0;
  return ::ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? static_cast<size_t>(n) : 0;
}

// A handle_read() that reads a byte at a time still drains a full pipe well within this.
constexpr int kMaxDrainRounds = 4096;

}  // namespace

FileDispatcher::FileDispatcher(int fd, ChannelMap* map) : FileDispatcher(duplicate(fd), map) {}

FileDispatcher::FileDispatcher(Fd fd, ChannelMap* map) : Dispatcher(map) {
  set_interest(Interest::declared);  // readable()/writable() change only with a re-check
  if (!fd) throw std::invalid_argument("FileDispatcher: no file descriptor given");
  // A write-only fd (the write end of a pipe) has no input: never ask for readability.
  input_ended_ = (make_nonblocking(fd.get()) & O_ACCMODE) == O_WRONLY;
  set_socket(std::move(fd));
  connected = true;
}

size_t FileDispatcher::recv_into(char* buffer, size_t size) {
  if (size == 0 || !is_open()) return 0;
  for (;;) {
    ssize_t n = ::read(fileno(), buffer, size);
    if (n > 0) return static_cast<size_t>(n);
    if (n == 0) {
      if (!input_ended_) {
        input_ended_ = true;
        recheck();
        handle_eof();
      }
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (is_disconnect_error(errno)) {
      input_ended_ = true;  // before handle_close(), whose drain would read again
      handle_close();
      return 0;
    }
    throw_errno(errno, "read fd " + std::to_string(fileno()));
  }
}

std::string FileDispatcher::recv(size_t buffer_size) {
  std::string data(buffer_size, '\0');
  data.resize(recv_into(data.data(), buffer_size));
  return data;
}

size_t FileDispatcher::send(std::string_view data) {
  if (!is_open() || data.empty()) return 0;
  for (;;) {
    ssize_t n = ::write(fileno(), data.data(), data.size());
    if (n >= 0) {
      recheck();
      return static_cast<size_t>(n);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (is_disconnect_error(errno)) {
      handle_close();
      return 0;
    }
    throw_errno(errno, "write fd " + std::to_string(fileno()));
  }
}

void FileDispatcher::handle_close() {
  drain_input();
  close();
}

void FileDispatcher::drain_input() {
  // Only pipes hang up with data still in them; a regular file or terminal closed on purpose
  // must not be read to its end first.
  if (!is_open() || !is_fifo(fileno())) return;
  for (int round = 0; round < kMaxDrainRounds && is_open() && !input_ended_ && readable(); ++round) {
    const size_t before = bytes_available(fileno());
    handle_read();  // with nothing buffered, this read finds the end of input (or EAGAIN)
    if (!is_open() || input_ended_ || before == 0) return;
    if (bytes_available(fileno()) >= before) return;  // handle_read() took nothing: do not spin
  }
}

}  // namespace asyncore

#include "apps/messenger/output_queue.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <system_error>

namespace asyncore::messenger {
namespace {
// Enough frames per sendmsg to fill a socket buffer with small messages.
constexpr std::size_t kMaxIovecs = 64;
}  // namespace

void OutputQueue::push(SharedBytes bytes) {
  if (!bytes || bytes->empty()) return;
  size_ += bytes->size();
  segments_.push_back({std::move(bytes), 0});
}

void OutputQueue::clear() {
  segments_.clear();
  size_ = 0;
}

std::size_t OutputQueue::write_to(int fd) {
  std::size_t total = 0;
  while (!segments_.empty()) {
    iovec vectors[kMaxIovecs];
    std::size_t count = 0, offered = 0;
    for (auto it = segments_.begin(); it != segments_.end() && count < kMaxIovecs; ++it, ++count) {
      vectors[count].iov_base = const_cast<char*>(it->bytes->data() + it->offset);
      vectors[count].iov_len = it->bytes->size() - it->offset;
      offered += vectors[count].iov_len;
    }
    msghdr message{};
    message.msg_iov = vectors;
    message.msg_iovlen = count;
    ssize_t n = ::sendmsg(fd, &message, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ENOBUFS) break;
      throw std::system_error(errno, std::generic_category(), "send");
    }
    consume(static_cast<std::size_t>(n));
    total += static_cast<std::size_t>(n);
    if (static_cast<std::size_t>(n) < offered) break;  // the socket buffer is full
  }
  return total;
}

void OutputQueue::consume(std::size_t n) {
  size_ -= n;
  while (n > 0) {
    Segment& front = segments_.front();
    std::size_t left = front.bytes->size() - front.offset;
    if (n < left) {
      front.offset += n;
      return;
    }
    n -= left;
    segments_.pop_front();
  }
}

}  // namespace asyncore::messenger

#include "apps/messenger/file_sender.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "apps/messenger/file_name.h"
#include "apps/messenger/file_protocol.h"

namespace asyncore::messenger {

FileSender::FileSender(Token, MessengerPtr connection, std::string from, Done done)
    : connection_(std::move(connection)), from_(std::move(from)), done_(std::move(done)) {}

std::shared_ptr<FileSender> FileSender::start(MessengerPtr connection, const std::string& path, std::string from,
                                              Done done, Progress progress) {
  auto sender = std::make_shared<FileSender>(Token{}, std::move(connection), std::move(from), std::move(done));
  sender->progress_ = std::move(progress);
  sender->open(path);
  if (!sender->finished_) sender->pump();
  return sender;
}

void FileSender::open(const std::string& path) {
  name_ = base_name(path);
  if (auto problem = file_name_problem(name_)) return fail("cannot send '" + name_ + "': " + *problem);
  file_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file_) return fail("cannot open " + path + ": " + std::strerror(errno));
  struct stat info{};
  if (::fstat(file_.get(), &info) != 0) return fail("cannot stat " + path + ": " + std::strerror(errno));
  if (!S_ISREG(info.st_mode)) return fail(path + " is not a regular file");
  size_ = static_cast<std::uint64_t>(info.st_size);
}

void FileSender::pump() {
  if (finished_) return;
  if (!connection_->is_open()) return fail("connection closed");
  if (progress_ && started_) progress_(offset_ - std::min<std::uint64_t>(offset_, connection_->pending()), size_);
  // Queue chunks until the backlog reaches the mark, then wait for it to drain.
  while (connection_->pending() < kRefillMark && (!started_ || offset_ < size_)) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kMaxChunkBytes, size_ - offset_));
    std::string chunk(want, '\0');
    std::size_t got = 0;
    while (got < want) {
      ssize_t n = ::pread(file_.get(), chunk.data() + got, want - got, static_cast<off_t>(offset_ + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail(std::string("read failed: ") + std::strerror(errno));
      if (n == 0) return fail("the file shrank while being sent");
      got += static_cast<std::size_t>(n);
    }
    hash_.update(chunk);
    Header header{{"TP", std::string(kFileType)}, {std::string(kFromKey), from_}, {std::string(kNameKey), name_}};
    header.set_int(kSizeKey, static_cast<std::int64_t>(size_));
    header.set_int(kOffsetKey, static_cast<std::int64_t>(offset_));
    const bool last = offset_ + want == size_;
    if (last) {
      sha_hex_ = hash_.hex_finish();
      header.set(kSha256Key, sha_hex_);
    }
    try {
      if (!connection_->send(header, chunk)) return fail("connection closed: " + connection_->close_reason());
    } catch (const std::exception& e) {
      return fail(std::string("cannot send: ") + e.what());
    }
    started_ = true;
    offset_ += want;
    if (last) break;
  }
  auto weak = weak_from_this();
  if (offset_ == size_ && started_) {
    // Done once the last byte has left our queue for the kernel.
    connection_->when_drained(0, [weak] {
      if (auto self = weak.lock(); self && !self->finished_) {
        self->finish({true, self->name_, self->size_, self->sha_hex_, {}});
      }
    });
    return;
  }
  connection_->when_drained(kRefillMark / 2, [weak] {
    if (auto self = weak.lock()) self->pump();
  });
}

void FileSender::abort(const std::string& reason) {
  if (!finished_) fail(reason);
}

void FileSender::fail(const std::string& error) { finish({false, name_, size_, {}, error}); }

void FileSender::finish(FileSendResult result) {
  if (finished_) return;
  finished_ = true;
  file_.reset();
  if (done_) {
    auto done = std::move(done_);
    done_ = nullptr;
    done(result);
  }
}

}  // namespace asyncore::messenger

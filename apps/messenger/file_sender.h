// FileSender: streams one file over a messenger connection as TP:File chunks. It reads the next
// chunk from disk only when the connection's backlog has drained below a mark, so a 50 MiB file
// (or a slow receiver) never costs more than a few MiB of memory.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "apps/messenger/messenger.h"
#include "apps/messenger/sha256.h"

namespace asyncore::messenger {

struct FileSendResult {
  bool ok = false;
  std::string name;  // as sent
  std::uint64_t size = 0;
  std::string sha256;  // hex, when ok
  std::string error;   // when not ok
};

class FileSender : public std::enable_shared_from_this<FileSender> {
 public:
  using Done = std::function<void(const FileSendResult&)>;
  // Bytes handed to the kernel so far and the file's size, each time a refill begins.
  using Progress = std::function<void(std::uint64_t sent, std::uint64_t size)>;
  // Backlog below which the next chunk is read and queued.
  static constexpr std::size_t kRefillMark = 2 * 1024 * 1024;

  // Opens `path` and starts sending; `done` runs exactly once (possibly before this returns),
  // when every byte has left the queue or the transfer failed.
  static std::shared_ptr<FileSender> start(MessengerPtr connection, const std::string& path, std::string from, Done done,
                                           Progress progress = {});
  // Gives up (the connection closed, or the program quits); `done` reports `reason`.
  void abort(const std::string& reason);
  bool finished() const { return finished_; }

 private:
  struct Token {
    explicit Token() = default;
  };

 public:
  FileSender(Token, MessengerPtr connection, std::string from, Done done);  // use start()

 private:
  void open(const std::string& path);
  void pump();
  void finish(FileSendResult result);
  void fail(const std::string& error);

  MessengerPtr connection_;
  std::string from_;
  Done done_;
  Progress progress_;
  Fd file_;
  std::string name_;
  std::uint64_t size_ = 0;
  std::uint64_t offset_ = 0;
  bool started_ = false;
  Sha256 hash_;
  std::string sha_hex_;
  bool finished_ = false;
};

}  // namespace asyncore::messenger

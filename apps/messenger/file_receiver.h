// FileReceiver: the inbox side of TP:File. Chunks are written to a hidden temporary file in the
// inbox; only when the size and the SHA-256 match is it renamed to the sent name. Names are
// checked (no paths, no "..", no links), and a transfer that is refused, fails, or whose
// connection closes leaves nothing behind.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "apps/messenger/header.h"
#include "apps/messenger/sha256.h"
#include <asyncore/fd.h>

namespace asyncore::messenger {

struct FileOutcome {
  enum class Kind { in_progress, complete, refused, ignored };
  Kind kind = Kind::ignored;
  std::string name;
  std::uint64_t size = 0;
  std::string sha256;  // complete: the verified hex digest
  std::string reason;  // refused: why
  std::uint64_t received = 0;  // in_progress: bytes written so far
  int tenth = 0;               // in_progress: the tenth of the file this chunk reached, when it reached a new one
};

// What unsolicited files may take. A new transfer past any of these is refused at its first chunk.
struct FileLimits {
  std::uint64_t max_file_size = std::uint64_t{1} << 30;  // announced Size (--max-file-size)
  std::size_t max_per_connection = 4;                    // transfers in progress on one connection
  std::size_t max_total = 32;                            // transfers in progress in all
  // Free space the inbox's file system must keep after every transfer in progress is complete.
  std::uint64_t min_free_bytes = 64 * 1024 * 1024;
};

class FileReceiver {
 public:
  // Creates the inbox folder if needed; throws std::system_error when it cannot be opened.
  explicit FileReceiver(const std::string& inbox, FileLimits limits = {});
  ~FileReceiver();
  FileReceiver(const FileReceiver&) = delete;
  FileReceiver& operator=(const FileReceiver&) = delete;

  // One TP:File chunk that arrived on `connection` (any key naming the connection).
  FileOutcome receive(const std::string& connection, const Header& header, std::string_view body);
  // The connection is gone: its unfinished files are removed.
  void connection_closed(const std::string& connection);
  std::size_t in_progress() const { return transfers_.size(); }
  const std::string& inbox() const { return inbox_; }

 private:
  // A temporary file in the inbox, removed on destruction unless committed by rename.
  class PartFile {
   public:
    PartFile(int dir, std::string name, Fd file) : dir_(dir), name_(std::move(name)), file_(std::move(file)) {}
    ~PartFile();
    PartFile(const PartFile&) = delete;
    PartFile& operator=(const PartFile&) = delete;
    void write_all(std::string_view data);  // throws std::system_error
    void commit(const std::string& final_name);  // closes and renames; throws std::system_error
   private:
    int dir_;
    std::string name_;
    Fd file_;
    bool committed_ = false;
  };
  struct Transfer {
    std::uint64_t size = 0;
    std::uint64_t received = 0;
    Sha256 hash;
    std::unique_ptr<PartFile> part;
  };
  using Key = std::pair<std::string, std::string>;  // connection, file name

  FileOutcome refuse(const Key& key, std::string name, std::string reason);
  // Why a new transfer of `size` bytes on `connection` is refused, or "" when it may start.
  std::string admission_problem(const std::string& connection, std::uint64_t size) const;
  std::unique_ptr<PartFile> create_part();

  std::string inbox_;
  FileLimits limits_;
  Fd dir_;
  std::map<Key, Transfer> transfers_;
  std::set<Key> refused_;  // later chunks of a refused file are dropped quietly
  std::uint64_t part_counter_ = 0;
};

}  // namespace asyncore::messenger

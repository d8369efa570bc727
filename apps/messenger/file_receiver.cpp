#include "apps/messenger/file_receiver.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <system_error>

#include "apps/messenger/file_name.h"
#include "apps/messenger/file_protocol.h"

namespace asyncore::messenger {
namespace {

constexpr std::size_t kMaxRememberedRefusals = 1024;

[[noreturn]] void throw_errno(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

}  // namespace

FileReceiver::PartFile::~PartFile() {
  if (!committed_) ::unlinkat(dir_, name_.c_str(), 0);
}

void FileReceiver::PartFile::write_all(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(file_.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("write " + name_);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void FileReceiver::PartFile::commit(const std::string& final_name) {
  if (::close(file_.release()) != 0) throw_errno("close " + name_);
  if (::renameat(dir_, name_.c_str(), dir_, final_name.c_str()) != 0) throw_errno("rename to " + final_name);
  committed_ = true;
}

FileReceiver::FileReceiver(const std::string& inbox, FileLimits limits) : inbox_(inbox), limits_(limits) {
  std::error_code error;
  std::filesystem::create_directories(inbox, error);
  dir_.reset(::open(inbox.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_) throw_errno("open inbox " + inbox);
}

FileReceiver::~FileReceiver() = default;  // each PartFile removes its temporary file

std::unique_ptr<FileReceiver::PartFile> FileReceiver::create_part() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string name = ".incoming-" + std::to_string(::getpid()) + "-" + std::to_string(++part_counter_) + ".part";
    int fd = ::openat(dir_.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) return std::make_unique<PartFile>(dir_.get(), name, Fd(fd));
    if (errno != EEXIST) throw_errno("create a temporary file in " + inbox_);
  }
  throw std::runtime_error("no free temporary file name in " + inbox_);
}

FileOutcome FileReceiver::refuse(const Key& key, std::string name, std::string reason) {
  transfers_.erase(key);  // its PartFile removes the temporary file
  // Remembered so later chunks are dropped quietly, but not without bound: past it they are
  // refused again one by one (a flood of distinct names costs the sender, not our memory).
  if (refused_.size() < kMaxRememberedRefusals) refused_.insert(key);
  FileOutcome outcome;
  outcome.kind = FileOutcome::Kind::refused;
  outcome.name = std::move(name);
  outcome.reason = std::move(reason);
  return outcome;
}

std::string FileReceiver::admission_problem(const std::string& connection, std::uint64_t size) const {
  if (size > limits_.max_file_size) {
    return "Size " + std::to_string(size) + " is above the " + std::to_string(limits_.max_file_size) +
           " bytes this peer accepts (--max-file-size)";
  }
  std::size_t on_connection = 0;
  std::uint64_t still_coming = 0;  // bytes the transfers in progress will still write
  for (const auto& [key, transfer] : transfers_) {
    if (key.first == connection) ++on_connection;
    still_coming += transfer.size - transfer.received;
  }
  if (on_connection >= limits_.max_per_connection) {
    return std::to_string(on_connection) + " transfers already in progress on this connection";
  }
  if (transfers_.size() >= limits_.max_total) return std::to_string(transfers_.size()) + " transfers already in progress";
  struct statvfs disk{};
  if (::fstatvfs(dir_.get(), &disk) != 0) return std::string("cannot check the free disk space: ") + std::strerror(errno);
  const std::uint64_t free_bytes = static_cast<std::uint64_t>(disk.f_bavail) * disk.f_frsize;
  if (free_bytes < still_coming || free_bytes - still_coming < size || free_bytes - still_coming - size < limits_.min_free_bytes) {
    return "not enough free disk: " + std::to_string(free_bytes) + " bytes free, " + std::to_string(still_coming) +
           " promised to transfers in progress, " + std::to_string(limits_.min_free_bytes) + " kept free";
  }
  return {};
}

FileOutcome FileReceiver::receive(const std::string& connection, const Header& header, std::string_view body) {
  const std::string name = header.get(kNameKey);
  const Key key{connection, name};
  const auto size = header.get_int(kSizeKey);
  const auto offset = header.get_int(kOffsetKey);
  if (offset && *offset == 0) refused_.erase(key);  // a new attempt
  if (refused_.count(key)) return {};
  if (auto problem = file_name_problem(name)) return refuse(key, name, *problem);
  if (!size || *size < 0) return refuse(key, name, "missing or bad Size");
  if (!offset || *offset < 0) return refuse(key, name, "missing or bad Offset");
  if (body.size() > kMaxChunkBytes) return refuse(key, name, "chunk larger than " + std::to_string(kMaxChunkBytes) + " bytes");
  const auto total = static_cast<std::uint64_t>(*size);
  const auto at = static_cast<std::uint64_t>(*offset);
  if (at + body.size() > total) return refuse(key, name, "chunk goes past the announced size");

  auto it = transfers_.find(key);
  if (at == 0) {
    struct stat existing{};
    if (::fstatat(dir_.get(), name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(existing.st_mode)) {
      return refuse(key, name, "the inbox already has a link or folder by that name");
    }
    if (it != transfers_.end()) transfers_.erase(it);  // restarted from the beginning
    if (auto problem = admission_problem(connection, total); !problem.empty()) return refuse(key, name, problem);
    Transfer fresh;
    fresh.size = total;
    try {
      fresh.part = create_part();
    } catch (const std::exception& e) {
      return refuse(key, name, e.what());
    }
    it = transfers_.emplace(key, std::move(fresh)).first;
  } else if (it == transfers_.end()) {
    return refuse(key, name, "chunk at offset " + std::to_string(at) + " without a transfer in progress");
  }
  Transfer& transfer = it->second;
  if (transfer.size != total) return refuse(key, name, "Size changed during the transfer");
  if (transfer.received != at) {
    return refuse(key, name, "chunk at offset " + std::to_string(at) + ", expected " + std::to_string(transfer.received));
  }
  try {
    transfer.part->write_all(body);
  } catch (const std::exception& e) {
    return refuse(key, name, e.what());
  }
  transfer.hash.update(body);
  const std::uint64_t before = transfer.received;
  transfer.received += body.size();

  FileOutcome outcome;
  outcome.name = name;
  outcome.size = total;
  if (transfer.received < total) {
    outcome.kind = FileOutcome::Kind::in_progress;
    outcome.received = transfer.received;
    const auto tenth = [total](std::uint64_t n) { return static_cast<int>(n * 10 / total); };
    if (tenth(transfer.received) > tenth(before)) outcome.tenth = tenth(transfer.received);
    return outcome;
  }
  const std::string* claimed = header.find(kSha256Key);
  std::string actual = transfer.hash.hex_finish();
  if (!claimed) return refuse(key, name, "last chunk without SHA256");
  if (*claimed != actual) return refuse(key, name, "SHA-256 mismatch: sent " + *claimed + ", received " + actual);
  try {
    transfer.part->commit(name);
  } catch (const std::exception& e) {
    return refuse(key, name, e.what());
  }
  transfers_.erase(it);
  refused_.erase(key);
  outcome.kind = FileOutcome::Kind::complete;
  outcome.sha256 = actual;
  return outcome;
}

void FileReceiver::connection_closed(const std::string& connection) {
  std::erase_if(transfers_, [&](const auto& entry) { return entry.first.first == connection; });
  std::erase_if(refused_, [&](const Key& key) { return key.first == connection; });
}

}  // namespace asyncore::messenger

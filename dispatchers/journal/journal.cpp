#include <asyncore/journal/journal.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>

#include <asyncore/log.h>

namespace asyncore {

using journal_format::FileKind;
using journal_format::TailProblem;

namespace {

std::string with_errno_text(const std::string& message, int error_number) {
  return error_number ? message + ": " + std::strerror(error_number) : message;
}

// Writes all of `data` at `offset`, riding out short writes and EINTR; returns errno or 0.
int write_all_at(int fd, std::string_view data, std::uint64_t offset) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return 0;
}

// The whole file behind `fd`; returns errno or 0.
int read_all(int fd, std::string& out) {
  out.clear();
  char buffer[65536];
  for (std::uint64_t offset = 0;;) {
    ssize_t n = ::pread(fd, buffer, sizeof buffer, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return 0;
    out.append(buffer, static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
}

// fsync / fdatasync, retried when a signal interrupts them: EINTR says nothing about the data,
// so treating it as a failed sync would discard records that may well be durable.
int sync_fd(int fd, bool data_only) {
  for (;;) {
    if ((data_only ? ::fdatasync(fd) : ::fsync(fd)) == 0) return 0;
    if (errno != EINTR) return -1;
  }
}

void make_directories(const std::string& path) {
  for (std::size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    std::string prefix = path.substr(0, slash);
    if (!prefix.empty() && ::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      throw JournalError("cannot create " + prefix, errno);
    }
    if (slash == std::string::npos) break;
  }
}

int open_existing(const std::string& path, int flags) {
  for (;;) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd >= 0 || errno != EINTR) return fd;
  }
}

std::string directory_of(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

// A rename or unlink is durable only once its directory is fsynced.
void sync_directory_of(const std::string& path) {
  std::string directory = directory_of(path);
  Fd fd(open_existing(directory, O_RDONLY | O_DIRECTORY));
  if (fd.get() < 0 || sync_fd(fd.get(), false) != 0) {
    int error_number = errno;
    throw JournalError(with_errno_text("fsync of directory " + directory + " failed", error_number), error_number);
  }
}

void remove_if_present(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    int error_number = errno;
    throw JournalError(with_errno_text("cannot remove leftover " + path, error_number), error_number);
  }
}

// Creates (or replaces) `path` holding `bytes`, fsynced; returns it open read-write.
Fd write_durable_file(const std::string& path, std::string_view bytes) {
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  int error_number = fd.get() < 0 ? errno : write_all_at(fd.get(), bytes, 0);
  if (error_number == 0 && sync_fd(fd.get(), false) != 0) error_number = errno;
  if (error_number != 0) {
    ::unlink(path.c_str());
    throw JournalError(with_errno_text("writing " + path + " failed", error_number), error_number);
  }
  return fd;
}

}  // namespace

JournalError::JournalError(const std::string& message, int error_number)
    : std::runtime_error(message), error_number_(error_number) {}

Journal::Journal(std::string path, JournalOptions options) : path_(std::move(path)), options_(options) {}
Journal::Journal(Journal&& other) noexcept = default;
Journal& Journal::operator=(Journal&& other) noexcept = default;

Journal::~Journal() {
  if (fd_.get() < 0 || unsynced_records_ == 0) return;
  try {
    sync();
  } catch (const JournalError&) {
    // Best effort, as documented: close() is where errors are seen.
  }
}

JournalOptions JournalOptions::synced_by_owner() {
  JournalOptions options;
  options.sync = SyncPolicy::batched;
  options.batch_max_records = std::numeric_limits<std::size_t>::max();
  options.batch_max_delay = std::chrono::hours(24);
  return options;
}

Journal Journal::open_in(const std::string& directory, const std::string& file_name, const JournalOptions& options,
                         const RecordVisitor& visit) {
  make_directories(directory);
  return open(directory + "/" + file_name, options, visit);
}

Journal Journal::open(const std::string& path, const JournalOptions& options, const RecordVisitor& visit) {
  Journal journal(path, options);
  journal.replay(visit);
  return journal;
}

void Journal::fail(const std::string& what, int error_number) const {
  throw JournalError(with_errno_text("journal " + path_ + ": " + what, error_number), error_number);
}

void Journal::require_open() const {
  if (broken_) fail("unusable after a failed compaction; reopen it to recover", 0);
  if (fd_.get() < 0) fail("not open", 0);
}

void Journal::replay(const RecordVisitor& visit) {
  // Leftovers of an interrupted compaction were never committed (see the header).
  remove_if_present(path_ + ".tmp");
  remove_if_present(snapshot_path() + ".tmp");
  std::uint64_t snapshot_generation = replay_snapshot(visit);
  replay_journal(snapshot_generation, visit);
  stats_.snapshot_records = snapshot_records_;
  stats_.records = snapshot_records_ + journal_records_;
}

std::uint64_t Journal::replay_snapshot(const RecordVisitor& visit) {
  Fd fd(open_existing(snapshot_path(), O_RDONLY));
  if (fd.get() < 0) {
    int error_number = errno;
    if (error_number == ENOENT) return 0;  // never compacted: generation 0
    fail("cannot open " + snapshot_path(), error_number);
  }
  std::string bytes;
  if (int error_number = read_all(fd.get(), bytes)) fail("cannot read " + snapshot_path(), error_number);
  auto header = journal_format::check_header(bytes, FileKind::snapshot);
  if (!header.generation) fail("snapshot " + snapshot_path() + ": " + header.problem, 0);
  auto scan = journal_format::scan_records(bytes, journal_format::kHeaderSize, options_.max_record_bytes, visit);
  // A snapshot is renamed into place only after fsync, so damage is not a torn tail.
  if (scan.problem != TailProblem::none) {
    fail("corrupt snapshot " + snapshot_path() + ": " + scan.reason + "; `journal-check --fix " + snapshot_path() +
             "` keeps a backup and drops only the unreadable bytes",
         0);
  }
  snapshot_records_ = scan.records;
  return *header.generation;
}

void Journal::replay_journal(std::uint64_t snapshot_generation, const RecordVisitor& visit) {
  Fd fd(open_existing(path_, O_RDWR));
  if (fd.get() < 0) {
    int error_number = errno;
    if (error_number != ENOENT) fail("cannot open", error_number);
    start_empty_journal(snapshot_generation);
    return;
  }
  std::string bytes;
  if (int error_number = read_all(fd.get(), bytes)) fail("cannot read", error_number);
  if (bytes.empty()) {  // created by someone else (e.g. touch); we only ever rename complete files in
    log_warning("journal " + path_ + ": the file is empty (0 bytes, not written by this program); starting it afresh" +
                (snapshot_generation > 0 ? " after the snapshot's records" : ""));
    stats_.empty_file = true;
    start_empty_journal(snapshot_generation);
    return;
  }
  auto header = journal_format::check_header(bytes, FileKind::journal);
  if (!header.generation) fail(header.problem, 0);
  if (*header.generation > snapshot_generation) {
    fail("generation " + std::to_string(*header.generation) + " is newer than the snapshot's (" +
             std::to_string(snapshot_generation) + "): " + snapshot_path() + " is missing or outdated",
         0);
  }
  if (*header.generation < snapshot_generation) {
    // Crash between the two renames of compact(): the snapshot already holds these records.
    auto skip = [](std::string_view) {};
    stats_.stale_journal_records =
        journal_format::scan_records(bytes, journal_format::kHeaderSize, options_.max_record_bytes, skip).records;
    start_empty_journal(snapshot_generation);
    return;
  }
  auto scan = journal_format::scan_records(bytes, journal_format::kHeaderSize, options_.max_record_bytes, visit);
  if (scan.problem != TailProblem::none) {
    if (auto next = journal_format::next_readable_record(bytes, scan.good_end + 1, options_.max_record_bytes)) {
      fail(scan.reason + ", with readable records after it (from offset " + std::to_string(*next) +
               "): corruption, not a torn tail; nothing was changed. `journal-check --fix " + path_ +
               "` keeps a backup and drops only the unreadable bytes",
           0);
    }
    if (::ftruncate(fd.get(), static_cast<off_t>(scan.good_end)) != 0) {
      int error_number = errno;
      fail("cannot truncate the damaged tail (" + scan.reason + ")", error_number);
    }
    stats_.bytes_dropped = bytes.size() - scan.good_end;
    stats_.problem = scan.problem;
    stats_.reason = scan.reason;
    log_warning("journal " + path_ + ": dropped " + std::to_string(stats_.bytes_dropped) + " bytes of a torn tail (" +
                scan.reason + ")");
  }
  // What we replay may have been written by a process that died before syncing it;
  // make it durable before anyone acts on it.
  if (sync_fd(fd.get(), true) != 0) {
    int error_number = errno;
    fail("fdatasync failed", error_number);
  }
  fd_ = std::move(fd);
  generation_ = *header.generation;
  end_offset_ = synced_offset_ = scan.good_end;
  journal_records_ = synced_records_ = scan.records;
}

void Journal::start_empty_journal(std::uint64_t generation) {
  std::string temporary = path_ + ".tmp";
  Fd fd = write_durable_file(temporary, journal_format::encode_header(FileKind::journal, generation));
  if (::rename(temporary.c_str(), path_.c_str()) != 0) {
    int error_number = errno;
    ::unlink(temporary.c_str());
    fail("cannot rename " + temporary + " into place", error_number);
  }
  sync_directory_of(path_);
  use_fresh_journal(std::move(fd), generation);
}

void Journal::use_fresh_journal(Fd fd, std::uint64_t generation) {
  fd_ = std::move(fd);
  generation_ = generation;
  end_offset_ = synced_offset_ = journal_format::kHeaderSize;
  journal_records_ = synced_records_ = unsynced_records_ = 0;
  unsynced_frames_.clear();
  rewrite_ = false;
  tail_dirty_ = false;
}

void Journal::check_size(std::size_t payload_size) const {
  if (payload_size > options_.max_record_bytes) {
    fail("record of " + std::to_string(payload_size) + " bytes exceeds max_record_bytes (" +
             std::to_string(options_.max_record_bytes) + ")",
         0);
  }
}

void Journal::append(std::string_view payload) {
  require_open();
  check_size(payload.size());
  std::string frame;
  frame.reserve(journal_format::kRecordHeaderSize + payload.size());
  journal_format::append_record(frame, payload);
  write_frames(frame, 1);
}

void Journal::append_batch(std::span<const std::string> payloads) {
  require_open();
  if (payloads.empty()) return;
  std::size_t bytes = 0;
  for (const auto& payload : payloads) {
    check_size(payload.size());
    bytes += journal_format::kRecordHeaderSize + payload.size();
  }
  std::string frames;
  frames.reserve(bytes);
  for (const auto& payload : payloads) journal_format::append_record(frames, payload);
  write_frames(frames, payloads.size());
}

// Writes `count` framed records at the end; on failure none of them stays in the file.
void Journal::write_frames(const std::string& frames, std::size_t count) {
  if (tail_dirty_) {
    if (::ftruncate(fd_.get(), static_cast<off_t>(end_offset_)) != 0) {
      int error_number = errno;
      fail("cannot truncate leftover bytes after offset " + std::to_string(end_offset_), error_number);
    }
    tail_dirty_ = false;
  }
  rewrite_pending();
  if (int error_number = write_all_at(fd_.get(), frames, end_offset_)) {
    // Cut the partial record so that nothing later lands after garbage.
    tail_dirty_ = ::ftruncate(fd_.get(), static_cast<off_t>(end_offset_)) != 0;
    const std::size_t payload = frames.size() - count * journal_format::kRecordHeaderSize;
    const std::string what = count == 1 ? "a " + std::to_string(payload) + "-byte record"
                                        : std::to_string(count) + " records (" + std::to_string(payload) + " bytes)";
    fail("append of " + what + " at offset " + std::to_string(end_offset_) + " failed", error_number);
  }
  end_offset_ += frames.size();
  journal_records_ += count;
  unsynced_frames_ += frames;
  sync_after_append(count);
}

void Journal::sync_after_append(std::size_t count) {
  if (unsynced_records_ == 0) oldest_unsynced_ = Clock::now();
  unsynced_records_ += count;
  if (options_.sync == SyncPolicy::every_record || unsynced_records_ >= options_.batch_max_records) {
    sync();
  } else {
    sync_if_due();
  }
}

std::optional<Journal::Clock::time_point> Journal::next_sync_deadline() const {
  if (unsynced_records_ == 0) return std::nullopt;
  return oldest_unsynced_ + options_.batch_max_delay;
}

void Journal::sync_if_due() {
  auto deadline = next_sync_deadline();
  if (deadline && Clock::now() >= *deadline) sync();
}

void Journal::rewrite_pending() {
  if (!rewrite_) return;
  if (tail_dirty_) {
    if (::ftruncate(fd_.get(), static_cast<off_t>(synced_offset_)) != 0) {
      int error_number = errno;
      fail("cannot truncate leftover bytes after offset " + std::to_string(synced_offset_), error_number);
    }
    tail_dirty_ = false;
  }
  if (int error_number = write_all_at(fd_.get(), unsynced_frames_, synced_offset_)) {
    tail_dirty_ = ::ftruncate(fd_.get(), static_cast<off_t>(synced_offset_)) != 0;
    fail("rewriting " + std::to_string(unsynced_records_) + " unsynced records at offset " +
             std::to_string(synced_offset_) + " failed",
         error_number);
  }
  end_offset_ = synced_offset_ + unsynced_frames_.size();
  journal_records_ = synced_records_ + unsynced_records_;
  rewrite_ = false;
}

void Journal::sync() {
  require_open();
  if (unsynced_records_ == 0) return;
  rewrite_pending();
  if (sync_fd(fd_.get(), true) != 0) {
    // The kernel may have dropped the failed pages, so only what an earlier sync confirmed
    // is trusted: cut the rest off and keep it pending, to be written again (see the header).
    int error_number = errno;
    end_offset_ = synced_offset_;
    journal_records_ = synced_records_;
    rewrite_ = true;
    tail_dirty_ = ::ftruncate(fd_.get(), static_cast<off_t>(end_offset_)) != 0;
    fail("fdatasync failed; " + std::to_string(unsynced_records_) + " unsynced records after offset " +
             std::to_string(end_offset_) + " will be written again",
         error_number);
  }
  synced_offset_ = end_offset_;
  synced_records_ = journal_records_;
  unsynced_records_ = 0;
  // Keep a small buffer for the next batch, but not the peak of a burst (a login storm's
  // group commits reach a megabyte) for the rest of the process's life.
  if (unsynced_frames_.capacity() > 64 * 1024) std::string().swap(unsynced_frames_);
  else unsynced_frames_.clear();
}

void Journal::compact(std::span<const std::string> snapshot_records) {
  require_open();
  std::string snapshot = journal_format::encode_header(FileKind::snapshot, generation_ + 1);
  for (const auto& record : snapshot_records) {
    if (record.size() > options_.max_record_bytes) {
      fail("snapshot record of " + std::to_string(record.size()) + " bytes exceeds max_record_bytes", 0);
    }
    journal_format::append_record(snapshot, record);
  }
  sync();
  // Steps 1-4 and their crash points are described in journal.h.
  std::string snapshot_temporary = snapshot_path() + ".tmp";
  std::string journal_temporary = path_ + ".tmp";
  Fd fresh_journal;
  try {
    write_durable_file(snapshot_temporary, snapshot);
    fresh_journal =
        write_durable_file(journal_temporary, journal_format::encode_header(FileKind::journal, generation_ + 1));
  } catch (const JournalError&) {
    ::unlink(snapshot_temporary.c_str());
    throw;
  }
  if (::rename(snapshot_temporary.c_str(), snapshot_path().c_str()) != 0) {
    int error_number = errno;
    ::unlink(snapshot_temporary.c_str());
    ::unlink(journal_temporary.c_str());
    fail("cannot rename " + snapshot_temporary + " into place", error_number);
  }
  // Committed: the current file is now stale, so it must never be appended to again.
  broken_ = true;
  sync_directory_of(path_);
  if (::rename(journal_temporary.c_str(), path_.c_str()) != 0) {
    int error_number = errno;
    fail("cannot rename " + journal_temporary + " into place", error_number);
  }
  sync_directory_of(path_);
  broken_ = false;
  use_fresh_journal(std::move(fresh_journal), generation_ + 1);
  snapshot_records_ = snapshot_records.size();
}

void Journal::close() {
  if (fd_.get() < 0) return;
  sync();
  fd_ = Fd();
}

RepairReport repair_journal_file(const std::string& path, bool fix, std::uint32_t max_record_bytes) {
  auto fail = [&](const std::string& what, int error_number) {
    throw JournalError(with_errno_text(path + ": " + what, error_number), error_number);
  };
  std::string bytes;
  {
    Fd fd(open_existing(path, O_RDONLY));
    if (fd.get() < 0) fail("cannot open", errno);
    if (int error_number = read_all(fd.get(), bytes)) fail("cannot read", error_number);
  }
  const auto kind = journal_format::kind_of(bytes);
  if (!kind) fail("not a journal or snapshot file (bad magic at offset 0); nothing to salvage", 0);
  const auto header = journal_format::check_header(bytes, *kind);
  if (!header.generation) fail(header.problem + "; nothing to salvage", 0);
  RepairReport report;
  auto salvage = journal_format::salvage_records(bytes, journal_format::kHeaderSize, max_record_bytes,
                                                 [](std::string_view) {});
  report.records_kept = salvage.records;
  report.gaps = std::move(salvage.gaps);
  for (const auto& gap : report.gaps) report.bytes_dropped += gap.bytes;
  if (!fix || report.gaps.empty()) return report;
  report.backup = path + ".corrupt-" + std::to_string(::time(nullptr));
  write_durable_file(report.backup, bytes);
  // Written aside and renamed in: a crash leaves the original or the repaired file, never half of
  // one (a leftover .tmp is deleted by the next open, as after a compaction).
  const std::string temporary = path + ".tmp";
  write_durable_file(temporary, bytes.substr(0, journal_format::kHeaderSize) + salvage.kept);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    int error_number = errno;
    ::unlink(temporary.c_str());
    fail("cannot rename " + temporary + " into place", error_number);
  }
  sync_directory_of(path);
  return report;
}

}  // namespace asyncore

// A durable append-only journal of opaque records, with snapshot compaction.
//
// Files, for a journal at P (layout in dispatchers/journal/journal_format.h):
//   P            the journal: header(generation G) + records appended since the last compaction
//   P.snapshot   the state as of the last compaction: header(generation G) + records
//   P.tmp, P.snapshot.tmp   leftovers of an interrupted compaction; deleted by open()
//
// Replay (open) visits the snapshot's records, then the journal's, in order.
//
// Damage policy:
//  * The journal's tail may be torn by a crash (short header, short payload, bad CRC,
//    or a length beyond Options::max_record_bytes). When nothing readable follows the
//    first damaged record, replay truncates the file there, logs a warning and reports
//    what it dropped in ReplayStats; it never fails start-up for this.
//  * A damaged record with readable records after it is not a crash (a crash only tears
//    the last write): it is corruption, and truncating would silently drop acknowledged
//    records. open() refuses, naming the file and the offset, and changes nothing; the
//    operator runs `journal-check --fix FILE` (repair_journal_file below), which keeps a
//    backup and drops only the unreadable bytes.
//  * A 0-byte journal (never written by us: we only rename complete files in) starts a
//    fresh one, with a warning.
//  * The snapshot is written to a temporary name, fsynced, then renamed, so a crash
//    cannot tear it. Any damage in it is therefore real corruption: open() throws
//    rather than silently dropping state. So do a bad journal header and a journal
//    newer than the snapshot (a lost snapshot).
//
// Compaction, compact(records), for current generation G:
//   1. write P.snapshot.tmp (generation G+1, the caller's records), fsync
//   2. write P.tmp (generation G+1, no records), fsync
//   3. rename P.snapshot.tmp -> P.snapshot, fsync the directory    <- the commit point
//   4. rename P.tmp -> P, fsync the directory; keep appending to it
// Crash points:
//   before 3: P.snapshot (G or absent) and P (G) are untouched, so replay is the old
//             state; the .tmp files are deleted.
//   after 3, before 4 is durable: P.snapshot is G+1 and P is still G. A journal older
//             than the snapshot is stale (the snapshot already holds its records), so
//             replay skips it and replaces it with an empty generation G+1 journal.
//   after 4:  both are G+1; normal replay.
//   The directory fsync between 3 and 4 makes sure rename 4 can never be durable
//   while rename 3 is not (which would lose the journal's records).
//
// Durability: with SyncPolicy::every_record, append() returns only after the record
// is written and fdatasync'd. With SyncPolicy::batched, a record is durable once
// unsynced_records() is 0 again; append() syncs when the batch reaches
// Options::batch_max_records or its oldest record is Options::batch_max_delay old,
// and the owner calls sync_if_due() from a timer (see next_sync_deadline()) so the
// delay bound also holds when appends stop.
//
// Errors: a failed write truncates the partial record away and throws JournalError;
// the journal stays usable. A failed fdatasync throws after truncating back to the
// last successfully synced offset: after such a failure the kernel may have dropped
// the dirty pages, so only what an earlier sync confirmed is trusted. The unsynced
// records stay pending (unsynced_records() still counts them) and are written again,
// in order, before the next append or sync: the owners keep those records in memory
// and report them once a later sync succeeds, so dropping them would make the file
// disagree with what was reported. When the sync inside append() fails, that record is
// written and pending like the others. Not thread-safe: one owner, as in the event loop.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <asyncore/fd.h>
#include "dispatchers/journal/journal_format.h"

namespace asyncore {

// Names the file and the operation; errno text included when there is one.
class JournalError : public std::runtime_error {
 public:
  explicit JournalError(const std::string& message, int error_number = 0);
  int error_number() const { return error_number_; }  // 0 when not a system error
 private:
  int error_number_;
};

enum class SyncPolicy { every_record, batched };

struct JournalOptions {
  SyncPolicy sync = SyncPolicy::every_record;
  std::size_t batch_max_records = 64;                     // batched: sync at this many unsynced
  std::chrono::milliseconds batch_max_delay{50};          // batched: or when the oldest is this old
  std::uint32_t max_record_bytes = 16u * 1024u * 1024u;   // larger appends throw; larger lengths are corrupt

  // Batched with no bound of its own: records become durable only when the owner calls sync()
  // (group commit once per loop pass, before a reply, from a flush timer).
  static JournalOptions synced_by_owner();
};

struct ReplayStats {
  std::size_t records = 0;           // all records replayed (snapshot + journal)
  std::size_t snapshot_records = 0;  // of which from the snapshot
  std::uint64_t bytes_dropped = 0;   // journal bytes truncated off a damaged tail
  journal_format::TailProblem problem = journal_format::TailProblem::none;
  std::string reason;                // what and where, e.g. "bad CRC in record 7 at offset 212"
  std::size_t stale_journal_records = 0;  // records of a pre-compaction journal skipped (see above)
  bool empty_file = false;           // the journal was a 0-byte file
};

// What repair_journal_file() found and did.
struct RepairReport {
  std::size_t records_kept = 0;
  std::uint64_t bytes_dropped = 0;
  std::vector<journal_format::Salvage::Gap> gaps;  // empty: the file was readable as it is
  std::string backup;                              // the original bytes, when the file was changed
};

// A journal or snapshot file (told apart by its magic) rewritten with every readable record
// and nothing else, after copying the original to FILE.corrupt-<unix seconds> (fsynced). With
// `fix` false it only reports. Throws JournalError when the file cannot be read or written, or
// its header is unreadable (nothing to salvage from then). The owner must not be running.
RepairReport repair_journal_file(const std::string& path, bool fix,
                                 std::uint32_t max_record_bytes = JournalOptions{}.max_record_bytes);

class Journal {
 public:
  using Clock = std::chrono::steady_clock;
  using RecordVisitor = journal_format::RecordVisitor;

  // Replays `path` (creating it when absent) into `visit`, repairs a torn tail,
  // and returns the journal ready for appends. Throws JournalError on I/O errors
  // and on corruption that is not a torn tail (see the damage policy above).
  static Journal open(const std::string& path, const JournalOptions& options, const RecordVisitor& visit);
  // open(directory + "/" + file_name), creating the directory and its missing parents first
  // (mode 0755); a directory that cannot be created throws JournalError naming it.
  static Journal open_in(const std::string& directory, const std::string& file_name, const JournalOptions& options,
                         const RecordVisitor& visit);

  Journal(Journal&& other) noexcept;
  Journal& operator=(Journal&& other) noexcept;
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  ~Journal();  // syncs pending records best-effort; call close() to see errors

  void append(std::string_view payload);
  // Appends `payloads` in one write, all or none: when the write fails, none of them is in the
  // journal and it throws as append() does (an owner retrying a backlog needs one good write).
  void append_batch(std::span<const std::string> payloads);
  void sync();              // makes every appended record durable now
  void sync_if_due();       // sync() if the batched delay bound has been reached
  // When sync_if_due() must next be called; nullopt when nothing is unsynced.
  std::optional<Clock::time_point> next_sync_deadline() const;
  // Replaces the history with `snapshot_records` (the caller's current state).
  void compact(std::span<const std::string> snapshot_records);
  void close();             // sync and release the file; the journal is unusable after

  const std::string& path() const { return path_; }
  std::string snapshot_path() const { return path_ + ".snapshot"; }
  std::size_t record_count() const { return journal_records_; }    // since the last compaction
  std::size_t snapshot_record_count() const { return snapshot_records_; }
  std::uint64_t size_bytes() const { return end_offset_; }           // of the journal file
  std::uint64_t generation() const { return generation_; }
  std::size_t unsynced_records() const { return unsynced_records_; }
  // False after close() and after a compaction failed past its commit point (open() again).
  bool usable() const { return !broken_ && fd_.get() >= 0; }
  const ReplayStats& replay_stats() const { return stats_; }

 private:
  Journal(std::string path, JournalOptions options);
  void replay(const RecordVisitor& visit);
  std::uint64_t replay_snapshot(const RecordVisitor& visit);
  void replay_journal(std::uint64_t snapshot_generation, const RecordVisitor& visit);
  void start_empty_journal(std::uint64_t generation);
  void use_fresh_journal(Fd fd, std::uint64_t generation);
  void check_size(std::size_t payload_size) const;
  void write_frames(const std::string& frames, std::size_t count);
  void sync_after_append(std::size_t count);
  void rewrite_pending();
  void require_open() const;
  [[noreturn]] void fail(const std::string& what, int error_number) const;

  std::string path_;
  JournalOptions options_;
  Fd fd_;
  std::uint64_t generation_ = 0;
  std::uint64_t end_offset_ = 0;     // just past the last complete record
  std::uint64_t synced_offset_ = 0;  // what the last successful sync covered
  std::size_t journal_records_ = 0;
  std::size_t synced_records_ = 0;
  std::size_t snapshot_records_ = 0;
  std::size_t unsynced_records_ = 0;
  Clock::time_point oldest_unsynced_{};
  std::string unsynced_frames_;  // the unsynced records' bytes, for rewriting after a failed sync
  bool rewrite_ = false;         // unsynced_frames_ were cut off the file by a failed sync
  bool tail_dirty_ = false;  // bytes past end_offset_ that a failed truncation left behind
  bool broken_ = false;      // a compaction failed after its commit point; reopen to recover
  ReplayStats stats_;
};

}  // namespace asyncore

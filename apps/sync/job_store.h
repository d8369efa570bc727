// The durable job store: every job, its state changes, progress and log lines, in one Journal
// under the data dir, rebuilt in memory at start-up.
//
// Durability: changes are appended without fsync and made durable by sync(), which the service
// calls before any reply that reports them (so nothing is reported before it is on disk), and
// a short flush timer calls otherwise (so log lines that arrive together share one fsync).
// After a crash, jobs the journal left queued or running become `interrupted`.
//
// Growth: at most `keep_jobs` finished jobs are kept (the oldest are forgotten), a job keeps at
// most `max_lines_per_job` log lines, and the journal is compacted into a snapshot of what is
// kept once it holds far more records than that. Job numbers keep growing across restarts and
// compactions (the snapshot records the last one used).
//
// Write failures (disk full, I/O errors): a change is never dropped and never reported as saved
// before it is. A record the journal refuses stays in memory with every record after it, in
// order, and is retried with backoff (20 ms doubling to 1 s, back to 20 ms whenever a retry gets
// records through), a megabyte of records per write, until the disk takes it; the jobs in memory
// stay authoritative meanwhile.
// While failing(), sync() throws at once, the service refuses new jobs and marks what it reports
// about a job with unsaved changes (pending_write()); flush_for_exit() gives the records a last,
// bounded chance at shutdown and names the jobs whose latest changes it could not save.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "apps/sync/job.h"
#include <asyncore/channel_map.h>
#include <asyncore/twisted/backoff.h>
#include <asyncore/journal/journal.h>

namespace asyncore::sync {

struct StoreOptions {
  std::string data_dir = "./var/sync";
  std::size_t keep_jobs = 1000;
  std::size_t max_lines_per_job = 100000;
  std::size_t compact_min_records = 20000;  // journal records before compaction is considered
  double flush_delay = 0.02;                // seconds an unreported change may wait for its fsync
};

class JobStore {
 public:
  // Opens (creating the folder) and replays; throws JournalError when it cannot.
  JobStore(StoreOptions options, ChannelMap& map);
  ~JobStore();
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  Job& create(std::string_view type, std::string_view id);
  void start(Job& job);
  // A final state; exit code or signal when the program's end is known.
  void finish(Job& job, JobState state, std::optional<int> exit_code = {}, std::optional<int> signal = {});
  // Records how the program ended for a job whose state is already final (cancelled, interrupted).
  void record_exit(Job& job, std::optional<int> exit_code, std::optional<int> signal);
  void set_progress(Job& job, int progress);
  void append_line(Job& job, std::string_view text, bool stderr_line = false);
  // Forgets a queued job whose creation could not be saved before it was reported (its records,
  // and a "forget" after them, are still written once the disk takes them).
  void withdraw(std::uint64_t number);

  Job* find(std::uint64_t number);
  const Job* find(std::uint64_t number) const;
  std::vector<const Job*> newest(std::size_t limit) const;
  std::vector<Job*> unfinished();  // queued or running, oldest first

  // Writes and fsyncs whatever is not yet durable (cheap when nothing is); throws JournalError
  // when it cannot, and at once, without trying, while failing() (the retry timer tries).
  void sync();
  bool unsynced() const { return !pending_.empty() || journal_.unsynced_records() > 0; }
  // The last write failed and changes wait in memory; failure() says why (the journal's error).
  bool failing() const { return !failure_.empty(); }
  const std::string& failure() const { return failure_; }
  // The job has changes not yet on disk (made since the last successful sync).
  bool has_unsaved(std::uint64_t number) const { return unsaved_jobs_.contains(number); }
  // ... and the store is failing: what is reported about it may not survive a crash.
  bool pending_write(std::uint64_t number) const { return failing() && has_unsaved(number); }
  std::size_t pending_records() const { return pending_.size() + journal_.unsynced_records(); }
  // At shutdown: retries until everything is durable or `patience` seconds have passed (blocking;
  // the loop has stopped). Returns false, after logging what is lost, when it could not.
  bool flush_for_exit(double patience);
  // Compacts when the journal has grown well past what it holds; returns whether it did. Never
  // while failing(): the snapshot would be the largest write of all.
  bool compact_if_due();
  void compact();

  std::uint64_t last_number() const { return last_number_; }
  std::size_t job_count() const { return jobs_.size(); }
  std::size_t interrupted_at_start() const { return interrupted_at_start_; }
  const Journal& journal() const { return journal_; }

 private:
  void replay(std::string_view payload);
  void append(std::uint64_t number, const json::Object& record);
  bool flush();  // writes pending records and fsyncs; false (failure noted) when the disk refuses
  void write_pending();
  void failed(const JournalError& error, bool progressed);
  void reopen_journal();
  void forget_old_jobs();
  void note_state(const Job& job);  // keeps finished_ in step with the job's state
  std::size_t live_records() const;
  std::vector<std::string> snapshot() const;

  StoreOptions options_;
  ChannelMap& map_;
  std::map<std::uint64_t, Job> jobs_;
  std::set<std::uint64_t> finished_;  // jobs in a final state, oldest first: forgetting is O(log n)
  std::uint64_t last_number_ = 0;
  std::size_t line_count_ = 0;  // log lines held, for the compaction estimate
  std::size_t interrupted_at_start_ = 0;
  std::vector<std::string> pending_;     // records the journal has not taken yet, oldest first
  std::set<std::uint64_t> unsaved_jobs_; // jobs changed since the last successful sync
  std::string failure_;                  // the last write error; empty while writes succeed
  std::chrono::steady_clock::time_point failing_since_;
  Backoff retry_backoff_;
  ScopedTimer write_timer_;  // the flush delay while healthy, the retry backoff while failing
  ScopedTimer forget_timer_;
  bool loss_reported_ = false;  // flush_for_exit() named what could not be saved
  Journal journal_;  // last: replay fills the members above
};

}  // namespace asyncore::sync

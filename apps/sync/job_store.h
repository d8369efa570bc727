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
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apps/sync/job.h"
#include "core/channel_map.h"
#include "dispatchers/journal.h"

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
  void append_line(Job& job, std::string_view text);

  Job* find(std::uint64_t number);
  const Job* find(std::uint64_t number) const;
  std::vector<const Job*> newest(std::size_t limit) const;
  std::vector<Job*> unfinished();  // queued or running, oldest first

  // fsync whatever is not yet durable (cheap when nothing is).
  void sync();
  bool unsynced() const { return journal_.unsynced_records() > 0; }
  // Compacts when the journal has grown well past what it holds; returns whether it did.
  bool compact_if_due();
  void compact();

  std::uint64_t last_number() const { return last_number_; }
  std::size_t job_count() const { return jobs_.size(); }
  std::size_t interrupted_at_start() const { return interrupted_at_start_; }
  const Journal& journal() const { return journal_; }

 private:
  void replay(std::string_view payload);
  void append(const json::Object& record);
  void forget_old_jobs();
  std::size_t live_records() const;
  std::vector<std::string> snapshot() const;

  StoreOptions options_;
  ChannelMap& map_;
  std::map<std::uint64_t, Job> jobs_;
  std::uint64_t last_number_ = 0;
  std::size_t line_count_ = 0;  // log lines held, for the compaction estimate
  std::size_t interrupted_at_start_ = 0;
  TimerHandle flush_timer_;
  TimerHandle forget_timer_;
  Journal journal_;  // last: replay fills the members above
};

}  // namespace asyncore::sync

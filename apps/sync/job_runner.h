// The job queue: at most `max_jobs` sync programs run at once, at most `max_queued` more wait in
// order (past it a new job is refused: Submitted::queue_full). Every queue operation is O(log n):
// a full queue costs what an empty one does per command. A record
// (TYPE, ID) has at most one job queued or running; asking again returns that job. Each program
// runs through the process runner in its own process group; its output lines become log lines
// (or progress), its exit the job's final state. Timeout, cancel and shutdown end the whole
// group: SIGTERM, then SIGKILL after kKillGrace seconds.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "apps/sync/config.h"
#include "apps/sync/job_store.h"
#include <asyncore/channel_map.h>
#include <asyncore/process/process.h>
#include <asyncore/rate_limited_log.h>

namespace asyncore::sync {

inline constexpr double kKillGrace = 2.0;

struct Submitted {
  std::uint64_t job = 0;
  bool dedup = false;  // an existing queued or running job of the same record
  bool queue_full = false;  // refused: max_queued jobs already wait (no job was created)
};

class JobRunner {
 public:
  JobRunner(ChannelMap& map, JobStore& store, SyncPrograms programs, std::size_t max_jobs, std::size_t max_queued);
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  bool knows_type(std::string_view type) const { return programs_.contains(type); }
  std::vector<std::string> type_names() const {  // in name order
    std::vector<std::string> names;
    for (const auto& [name, program] : programs_) names.push_back(name);
    return names;
  }
  // The caller has checked the names and the type.
  Submitted submit(std::string_view type, std::string_view id);
  // Cancels a queued or running job (recorded at once; the program is then terminated).
  // Returns false when the job has already ended.
  // `by` names who asked ("the command port, peer 127.0.0.1:40512"); the job's log records it.
  bool cancel(std::uint64_t number, std::string_view by);
  // Forgets a job that is still queued because its creation could not be saved before the reply
  // (the client is told it failed, so it must not run).
  void withdraw(std::uint64_t number);

  // Graceful stop: queued jobs are left as they are on disk (queued: a restart marks them
  // interrupted, as after a crash), so the stop costs nothing per queued job; running ones get
  // `grace` seconds to finish, then are recorded interrupted and terminated. `done` runs once no program is left.
  void shutdown(double grace, std::function<void()> done);
  bool shutting_down() const { return shutting_down_; }

  std::size_t running_count() const { return running_.size(); }
  std::size_t queued_count() const { return waiting_.size(); }
  std::size_t max_queued() const { return max_queued_; }

 private:
  struct Running {
    std::unique_ptr<Process> process;
    bool ended_early = false;  // cancelled or interrupted: the state is already recorded
  };
  void start_next();
  void start(Job& job);
  void on_line(std::uint64_t number, std::string_view line, bool stderr_line);
  void on_exit(std::uint64_t number, const ExitStatus& status);
  void release_record(const Job& job);
  void end_shutdown_if_idle();
  void interrupt_running();

  ChannelMap& map_;
  JobStore& store_;
  SyncPrograms programs_;
  std::size_t max_jobs_;
  std::size_t max_queued_;
  std::set<std::uint64_t> waiting_;  // job numbers grow, so the smallest waited longest
  std::map<std::uint64_t, Running> running_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> active_records_;  // queued or running
  // Any client can queue, run and cancel jobs in a loop: each kind of line is logged in full
  // after a quiet second, then summarised once a second.
  RateLimitedLog queued_log_, started_log_, ended_log_, cancelled_log_;
  bool shutting_down_ = false;
  std::function<void()> on_idle_;
  ScopedTimer grace_timer_;
  ScopedTimer start_timer_;  // start_next at the next pass
};

}  // namespace asyncore::sync

#include "apps/sync/job_runner.h"

#include <algorithm>

#include "apps/sync/progress_line.h"
#include <asyncore/log.h>

namespace asyncore::sync {

JobRunner::JobRunner(ChannelMap& map, JobStore& store, SyncPrograms programs, std::size_t max_jobs,
                     std::size_t max_queued)
    : map_(map),
      store_(store),
      programs_(std::move(programs)),
      max_jobs_(std::max<std::size_t>(1, max_jobs)),
      max_queued_(max_queued),
      queued_log_(map, LogLevel::info, "jobs queued", 1.0),
      started_log_(map, LogLevel::info, "jobs started", 1.0),
      ended_log_(map, LogLevel::info, "jobs ended", 1.0),
      cancelled_log_(map, LogLevel::info, "jobs cancelled", 1.0) {}

JobRunner::~JobRunner() {
  grace_timer_.cancel();
  for (RateLimitedLog* log : {&queued_log_, &started_log_, &ended_log_, &cancelled_log_}) log->flush();
  // Process's destructor kills and reaps what still runs; no callback follows.
  running_.clear();
}

Submitted JobRunner::submit(std::string_view type, std::string_view id) {
  auto key = std::make_pair(std::string(type), std::string(id));
  if (auto it = active_records_.find(key); it != active_records_.end()) return {it->second, true};
  if (waiting_.size() >= max_queued_) return {0, false, true};
  Job& job = store_.create(type, id);
  active_records_.emplace(std::move(key), job.number);
  waiting_.insert(job.number);
  if (queued_log_.admit()) log_info("job " + std::to_string(job.number) + ": queued " + job.type + " " + job.id);
  // Started on the next pass, so the reply ("queued") is sent first and several submissions
  // arriving together are queued in order before any starts.
  if (!start_timer_.active()) start_timer_ = map_.call_soon([this] { start_next(); });  // starts all it can
  return {job.number, false};
}

bool JobRunner::cancel(std::uint64_t number, std::string_view by) {
  Job* job = store_.find(number);
  if (!job || is_final(job->state)) return false;
  // The log says who ended the job and when, for whoever reads it later.
  store_.append_line(*job, "sync-server: cancelled at " + utc_time_text(unix_now()) + " by " + std::string(by));
  waiting_.erase(number);
  store_.finish(*job, JobState::cancelled);
  release_record(*job);
  if (cancelled_log_.admit()) log_info("job " + std::to_string(number) + ": cancelled by " + std::string(by));
  if (auto it = running_.find(number); it != running_.end()) {
    it->second.ended_early = true;
    it->second.process->terminate_then_kill(kKillGrace);
  }
  return true;
}

void JobRunner::withdraw(std::uint64_t number) {
  Job* job = store_.find(number);
  if (!job || job->state != JobState::queued) return;
  waiting_.erase(number);
  release_record(*job);
  store_.withdraw(number);
  log_warning("job " + std::to_string(number) + ": withdrawn (the job store could not save it: " + store_.failure() + ")");
}

void JobRunner::start_next() {
  while (!shutting_down_ && running_.size() < max_jobs_ && !waiting_.empty()) {
    const std::uint64_t number = *waiting_.begin();
    waiting_.erase(waiting_.begin());
    if (Job* job = store_.find(number); job && job->state == JobState::queued) start(*job);
  }
}

void JobRunner::start(Job& job) {
  auto program = programs_.find(job.type);
  if (program == programs_.end()) {  // the config changed between runs: nothing can run it
    store_.append_line(job, "sync-server: no program is configured for type " + job.type);
    store_.finish(job, JobState::failed);
    release_record(job);
    return;
  }
  const std::uint64_t number = job.number;
  ProcessOptions options;
  options.argv = expand_argv(program->second, job.type, job.id);
  options.timeout = program->second.timeout_seconds;
  options.kill_grace = kKillGrace;
  options.map = &map_;
  options.on_line = [this, number](OutputStream stream, std::string_view line) {
    on_line(number, line, stream == OutputStream::err);
  };
  options.on_exit = [this, number](const ExitStatus& status) { on_exit(number, status); };
  store_.start(job);
  try {
    auto process = std::make_unique<Process>(std::move(options));
    if (started_log_.admit()) {
      log_info("job " + std::to_string(number) + ": started " + job.type + " " + job.id + " (pid " +
               std::to_string(process->pid()) + ")");
    }
    running_.emplace(number, Running{std::move(process), false});
  } catch (const std::exception& e) {
    log_warning("job " + std::to_string(number) + ": cannot start: " + e.what());
    store_.append_line(job, std::string("sync-server: cannot start ") + program->second.argv.front() + ": " + e.what());
    store_.finish(job, JobState::failed);
    release_record(job);
  }
}

void JobRunner::on_line(std::uint64_t number, std::string_view line, bool stderr_line) {
  Job* job = store_.find(number);
  if (!job) return;
  if (auto progress = parse_progress(line)) {
    if (!is_final(job->state)) store_.set_progress(*job, *progress);
    return;
  }
  store_.append_line(*job, line, stderr_line);
}

void JobRunner::on_exit(std::uint64_t number, const ExitStatus& status) {
  auto it = running_.find(number);
  if (it == running_.end()) return;
  const bool ended_early = it->second.ended_early;
  Job* job = store_.find(number);
  std::optional<int> code = status.exited ? std::optional<int>(status.code) : std::nullopt;
  std::optional<int> signal = status.signalled ? std::optional<int>(status.signal) : std::nullopt;
  // Recording never throws: a store that cannot write keeps the record and retries it
  // (job_store.h), so the job's final state is kept and its --max-jobs slot is freed either way.
  if (job && ended_early) {
    store_.record_exit(*job, code, signal);
  } else if (job) {
    const JobState state = status.timed_out  ? JobState::timeout
                           : status.success() ? JobState::succeeded
                                              : JobState::failed;
    store_.finish(*job, state, code, signal);
  }
  if (job && !ended_early) release_record(*job);
  if (ended_log_.admit()) {
    log_info("job " + std::to_string(number) + ": " + (job ? state_name(job->state) : "gone") + " (" +
             status.describe() + ")");
  }
  running_.erase(it);  // destroys the Process; allowed from its own callback
  try {
    // Not while stopping: with a long queue the snapshot is the slowest part of a stop, and the
    // next start replays the same state either way.
    if (!shutting_down_) store_.compact_if_due();
  } catch (const std::exception& e) {
    log_error(std::string("job store: compaction failed: ") + e.what());
  }
  start_next();
  end_shutdown_if_idle();
}

void JobRunner::release_record(const Job& job) {
  auto it = active_records_.find(std::make_pair(job.type, job.id));
  if (it != active_records_.end() && it->second == job.number) active_records_.erase(it);
}

void JobRunner::shutdown(double grace, std::function<void()> done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  on_idle_ = std::move(done);
  if (!waiting_.empty()) {
    log_info("stopping: " + std::to_string(waiting_.size()) +
             " queued jobs stay queued on disk (a restart marks them interrupted)");
  }
  waiting_.clear();
  if (!running_.empty()) {
    const std::size_t n = running_.size();
    log_info("stopping: " + std::to_string(n) + (n == 1 ? " running job gets " : " running jobs get ") +
             describe_seconds(grace) + " to finish");
    grace_timer_ = map_.call_later(grace, [this] { interrupt_running(); });
  }
  end_shutdown_if_idle();
}

void JobRunner::interrupt_running() {
  for (auto& [number, running] : running_) {
    if (running.ended_early) continue;
    if (Job* job = store_.find(number)) {
      store_.finish(*job, JobState::interrupted);
      release_record(*job);
    }
    running.ended_early = true;
    log_info("job " + std::to_string(number) + ": interrupted by the shutdown");
    running.process->terminate_then_kill(kKillGrace);
  }
}

void JobRunner::end_shutdown_if_idle() {
  if (!shutting_down_ || !running_.empty() || !on_idle_) return;
  grace_timer_.cancel();
  auto done = std::move(on_idle_);
  on_idle_ = nullptr;
  done();
}

}  // namespace asyncore::sync

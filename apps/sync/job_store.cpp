#include "apps/sync/job_store.h"

// GCC 12 at -O1 with sanitizers reports json::Value's std::variant member as maybe-uninitialized
// when temporaries are appended to a fresh json::Object (a known false positive of its variant
// analysis); -O2 builds do not.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <thread>

#include <asyncore/log.h>
#include <asyncore/json/utf8.h>

namespace asyncore::sync {
namespace {

constexpr const char* kJournalName = "jobs.journal";
// Retries of a failed write: 20 ms, doubling, at most 1 s apart (a full disk costs one failed
// pwrite a second); back to 20 ms whenever a retry gets records through.
const BackoffPolicy kRetryPolicy{0.01, 2.0, 0.0, 1.0, std::nullopt};
constexpr std::size_t kBatchBytes = 1 << 20;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::optional<double> number_of(const json::Value& record, std::string_view key) {
  const json::Value* v = record.get(key);
  return v && v->is_number() ? std::optional<double>(v->as_double()) : std::nullopt;
}

std::optional<int> int_of(const json::Value& record, std::string_view key) {
  const json::Value* v = record.get(key);
  return v && v->is_int() ? std::optional<int>(static_cast<int>(v->as_int())) : std::nullopt;
}

std::string string_of(const json::Value& record, std::string_view key) {
  const json::Value* v = record.get(key);
  return v && v->is_string() ? v->as_string() : std::string();
}

json::Value or_null(const std::optional<int>& v) { return v ? json::Value(*v) : json::Value(); }
json::Value or_null(const std::optional<double>& v) { return v ? json::Value(*v) : json::Value(); }

// The whole job except its log lines: what a snapshot holds per job.
json::Object record(std::string_view kind, std::uint64_t job) {
  json::Object r;
  r.append("k", kind);
  r.append("job", static_cast<std::int64_t>(job));
  return r;
}

json::Object job_record(const Job& job) {
  json::Object r = record("job", job.number);
  r.append("type", job.type);
  r.append("id", job.id);
  r.append("created", job.created);
  r.append("state", state_name(job.state));
  r.append("progress", job.progress);
  r.append("started", or_null(job.started));
  r.append("ended", or_null(job.ended));
  r.append("exit", or_null(job.exit_code));
  r.append("signal", or_null(job.signal));
  return r;
}

json::Object line_record(const Job& job, const LogLine& line) {
  json::Object r = record("log", job.number);
  r.append("t", line.t);
  r.append("text", line.text);
  if (line.stderr_line) r.append("err", true);  // absent in journals written before it existed
  return r;
}

}  // namespace

JobStore::JobStore(StoreOptions options, ChannelMap& map)
    : options_(std::move(options)),
      map_(map),
      retry_backoff_(kRetryPolicy),
      journal_([&]() {
        // The store decides when to fsync (before a reply, or from its flush timer), never the journal.
        return Journal::open_in(options_.data_dir, kJournalName, JournalOptions::synced_by_owner(),
                                [this](std::string_view payload) { replay(payload); });
      }()) {
  const ReplayStats& stats = journal_.replay_stats();
  for (Job* job : unfinished()) {
    finish(*job, JobState::interrupted);
    ++interrupted_at_start_;
  }
  if (!flush()) {  // a store that cannot write at start-up is refused, loudly (by the caller)
    write_timer_.cancel();
    throw JournalError(failure_);
  }
  log_info("job store: " + std::to_string(stats.records) + " records replayed, " + std::to_string(jobs_.size()) +
           " jobs, " + std::to_string(interrupted_at_start_) + " marked interrupted");
}

JobStore::~JobStore() {
  write_timer_.cancel();
  forget_timer_.cancel();
  if (!pending_.empty() && !loss_reported_) {
    log_error("job store: closing with " + std::to_string(pending_.size()) + " records never written (" + failure_ +
              ")");
  }
  try {
    journal_.close();
  } catch (const std::exception& e) {
    log_error(std::string("job store: closing the journal: ") + e.what());
  }
}

void JobStore::replay(std::string_view payload) {
  json::ParseResult parsed = json::try_parse(payload);
  if (!parsed || !parsed.value->is_object()) {
    log_warning("job store: skipping an unreadable journal record");
    return;
  }
  const json::Value& r = *parsed.value;
  const std::string kind = string_of(r, "k");
  const json::Value* number_value = r.get("job");
  if (!number_value || !number_value->is_integer()) return;
  const std::uint64_t number = number_value->as_uint();
  last_number_ = std::max(last_number_, number);
  if (kind == "next") return;
  if (kind == "job") {
    Job& job = jobs_[number];
    job.number = number;
    job.type = string_of(r, "type");
    job.id = string_of(r, "id");
    job.created = number_of(r, "created").value_or(0);
    job.state = parse_state(string_of(r, "state")).value_or(JobState::queued);
    job.progress = int_of(r, "progress").value_or(0);
    job.started = number_of(r, "started");
    job.ended = number_of(r, "ended");
    job.exit_code = int_of(r, "exit");
    job.signal = int_of(r, "signal");
    note_state(job);
    return;
  }
  auto it = jobs_.find(number);
  if (it == jobs_.end()) return;  // a record of a forgotten job
  Job& job = it->second;
  if (kind == "state") {
    auto state = parse_state(string_of(r, "state"));
    if (!state) return;
    job.state = *state;
    const double t = number_of(r, "t").value_or(0);
    if (*state == JobState::running) job.started = t;
    if (is_final(*state) && !job.ended) job.ended = t;
    if (auto p = int_of(r, "progress")) job.progress = *p;
    if (auto e = int_of(r, "exit")) job.exit_code = e;
    if (auto s = int_of(r, "signal")) job.signal = s;
    note_state(job);
  } else if (kind == "progress") {
    if (auto p = int_of(r, "p")) job.progress = *p;
  } else if (kind == "log") {
    const json::Value* err = r.get("err");
    job.lines.push_back(LogLine{number_of(r, "t").value_or(0), string_of(r, "text"), err && err->is_bool() && err->as_bool()});
    ++line_count_;
  } else if (kind == "forget") {
    line_count_ -= job.lines.size();
    finished_.erase(number);
    jobs_.erase(it);
  }
}

// Every record fits the journal's max_record_bytes (a log line is at most 64 KiB, process.h), so
// a refused one can only be refused for a reason a retry may outlast.
void JobStore::append(std::uint64_t number, const json::Object& record) {
  unsaved_jobs_.insert(number);
  std::string payload = json::dump(record);
  if (!pending_.empty()) {  // in order, behind the records that wait: the retry timer writes them all
    pending_.push_back(std::move(payload));
    return;
  }
  try {
    journal_.append(payload);
  } catch (const JournalError& e) {
    pending_.push_back(std::move(payload));
    failed(e, false);
    return;
  }
  if (!write_timer_.active()) write_timer_ = map_.call_later(options_.flush_delay, [this] { flush(); });
}

// A backlog goes out a megabyte per write, so one good write saves many records.
void JobStore::write_pending() {
  if (!journal_.usable()) reopen_journal();
  while (!pending_.empty()) {
    std::size_t count = 0;
    for (std::size_t bytes = 0; count < pending_.size() && bytes < kBatchBytes; ++count) {
      bytes += pending_[count].size();
    }
    journal_.append_batch(std::span<const std::string>(pending_.data(), count));
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(count));
  }
}

// A compaction that failed past its commit point leaves the journal unusable until it is opened
// again (journal.h); what it replays is already in memory, so its records are skipped.
void JobStore::reopen_journal() {
  journal_ = Journal::open_in(options_.data_dir, kJournalName, JournalOptions::synced_by_owner(),
                              [](std::string_view) {});
  log_info("job store: journal reopened after a failed compaction");
}

bool JobStore::flush() {
  write_timer_.cancel();
  const std::size_t waiting = pending_.size();
  try {
    write_pending();
    journal_.sync();
  } catch (const JournalError& e) {
    failed(e, pending_.size() < waiting);
    return false;
  }
  if (failing()) {
    log_info("job store: writing again after " + std::to_string(seconds_since(failing_since_)) +
             " s; every waiting record is on disk");
    failure_.clear();
    retry_backoff_.reset();
  }
  unsaved_jobs_.clear();
  return true;
}

void JobStore::failed(const JournalError& error, bool progressed) {
  if (!failing()) {
    failing_since_ = std::chrono::steady_clock::now();
    log_error(std::string("job store: cannot write: ") + error.what() + "; " + std::to_string(pending_records()) +
              " records wait in memory and are retried until the disk takes them");
  }
  failure_ = error.what();
  if (progressed) retry_backoff_.reset();
  write_timer_.cancel();
  write_timer_ = map_.call_later(retry_backoff_.next_delay().value_or(kRetryPolicy.max_delay), [this] { flush(); });
}

bool JobStore::flush_for_exit(double patience) {
  using Seconds = std::chrono::duration<double>;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::nanoseconds>(Seconds(patience));
  for (;;) {
    const bool saved = flush();
    write_timer_.cancel();  // the loop has stopped: this loop is the retry
    if (saved) return true;
    const Seconds left = deadline - std::chrono::steady_clock::now();
    if (left.count() <= 0) break;
    std::this_thread::sleep_for(std::min(Seconds(retry_backoff_.delay()), left));
  }
  std::string jobs;
  for (std::uint64_t number : unsaved_jobs_) jobs += " " + std::to_string(number);
  log_error("job store: " + std::to_string(pending_records()) + " records could not be written in " +
            describe_seconds(patience) + " (" + failure_ + "); the latest changes of job(s)" + jobs +
            " are lost: after a restart they read as last saved (a job that was running: interrupted)");
  loss_reported_ = true;
  return false;
}

Job& JobStore::create(std::string_view type, std::string_view id) {
  Job& job = jobs_[++last_number_];
  job.number = last_number_;
  job.type = std::string(type);
  job.id = std::string(id);
  job.created = unix_now();
  json::Object r = record("job", job.number);
  r.append("type", job.type);
  r.append("id", job.id);
  r.append("created", job.created);
  append(job.number, r);
  forget_old_jobs();
  return job;
}

void JobStore::start(Job& job) {
  job.state = JobState::running;
  job.started = unix_now();
  json::Object r = record("state", job.number);
  r.append("state", "running");
  r.append("t", *job.started);
  append(job.number, r);
}

void JobStore::finish(Job& job, JobState state, std::optional<int> exit_code, std::optional<int> signal) {
  job.state = state;
  job.ended = unix_now();
  if (state == JobState::succeeded) job.progress = 100;
  job.exit_code = exit_code;
  job.signal = signal;
  note_state(job);
  json::Object r = record("state", job.number);
  r.append("state", state_name(state));
  r.append("t", *job.ended);
  r.append("progress", job.progress);
  if (exit_code) r.append("exit", *exit_code);
  if (signal) r.append("signal", *signal);
  append(job.number, r);
  // Forgotten on the next pass, not now: the caller may still hold this job.
  if (jobs_.size() > options_.keep_jobs && !forget_timer_.active()) {
    forget_timer_ = map_.call_soon([this] { forget_old_jobs(); });
  }
}

void JobStore::record_exit(Job& job, std::optional<int> exit_code, std::optional<int> signal) {
  if (!exit_code && !signal) return;
  job.exit_code = exit_code;
  job.signal = signal;
  json::Object r = record("state", job.number);
  r.append("state", state_name(job.state));
  r.append("t", job.ended.value_or(0));
  if (exit_code) r.append("exit", *exit_code);
  if (signal) r.append("signal", *signal);
  append(job.number, r);
}

void JobStore::set_progress(Job& job, int progress) {
  if (progress == job.progress) return;
  job.progress = progress;
  json::Object r = record("progress", job.number);
  r.append("p", progress);
  append(job.number, r);
}

void JobStore::append_line(Job& job, std::string_view text, bool stderr_line) {
  if (job.lines.size() > options_.max_lines_per_job) return;  // the truncation note is already there
  LogLine line{unix_now(), job.lines.size() == options_.max_lines_per_job
                               ? "[sync-server: more than " + std::to_string(options_.max_lines_per_job) +
                                     " log lines; the rest is not kept]"
                               : to_valid_utf8(text),
               stderr_line && job.lines.size() < options_.max_lines_per_job};
  append(job.number, line_record(job, line));
  job.lines.push_back(std::move(line));
  ++line_count_;
}

Job* JobStore::find(std::uint64_t number) {
  auto it = jobs_.find(number);
  return it == jobs_.end() ? nullptr : &it->second;
}

const Job* JobStore::find(std::uint64_t number) const {
  auto it = jobs_.find(number);
  return it == jobs_.end() ? nullptr : &it->second;
}

std::vector<const Job*> JobStore::newest(std::size_t limit) const {
  std::vector<const Job*> out;
  for (auto it = jobs_.rbegin(); it != jobs_.rend() && out.size() < limit; ++it) out.push_back(&it->second);
  return out;
}

std::vector<Job*> JobStore::unfinished() {
  std::vector<Job*> out;
  for (auto& [number, job] : jobs_) {
    if (!is_final(job.state)) out.push_back(&job);
  }
  return out;
}

void JobStore::note_state(const Job& job) {
  if (is_final(job.state)) {
    finished_.insert(job.number);
  } else {
    finished_.erase(job.number);
  }
}

// Only finished jobs are forgotten, oldest first; queued ones are never walked over (with many
// queued, each creation walking them all made a full queue quadratic).
void JobStore::forget_old_jobs() {
  while (jobs_.size() > options_.keep_jobs && !finished_.empty()) {
    const std::uint64_t number = *finished_.begin();
    finished_.erase(finished_.begin());
    auto it = jobs_.find(number);
    if (it == jobs_.end()) continue;
    append(number, record("forget", number));
    line_count_ -= it->second.lines.size();
    jobs_.erase(it);
  }
}

void JobStore::withdraw(std::uint64_t number) {
  auto it = jobs_.find(number);
  if (it == jobs_.end()) return;
  line_count_ -= it->second.lines.size();
  finished_.erase(number);
  jobs_.erase(it);
  append(number, record("forget", number));
}

void JobStore::sync() {
  if (failing() || !flush()) throw JournalError(failure_);
}

std::size_t JobStore::live_records() const { return 1 + jobs_.size() + line_count_; }

bool JobStore::compact_if_due() {
  const std::size_t records = journal_.record_count();
  if (failing()) return false;
  if (records < options_.compact_min_records || records < live_records()) return false;
  compact();
  return true;
}

void JobStore::compact() {
  sync();  // nothing may wait in pending_: the snapshot would hold it and the records follow it
  const std::vector<std::string> records = snapshot();
  journal_.compact(records);
  log_info("job store: compacted into " + std::to_string(records.size()) + " records");
}

std::vector<std::string> JobStore::snapshot() const {
  std::vector<std::string> records;
  records.reserve(live_records());
  records.push_back(json::dump(record("next", last_number_)));
  for (const auto& [number, job] : jobs_) {
    records.push_back(json::dump(job_record(job)));
    for (const LogLine& line : job.lines) records.push_back(json::dump(line_record(job, line)));
  }
  return records;
}

}  // namespace asyncore::sync

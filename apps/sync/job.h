// A sync job as a plain value: which record, where it is in its life, its progress and its log.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asyncore/json/json.h>

namespace asyncore::sync {

enum class JobState { queued, running, succeeded, failed, timeout, cancelled, interrupted };

const char* state_name(JobState state);
std::optional<JobState> parse_state(std::string_view name);
// Every state but queued and running: nothing will change the job any more.
inline bool is_final(JobState state) { return state != JobState::queued && state != JobState::running; }

struct LogLine {
  double t = 0;  // Unix time, seconds
  std::string text;
  bool stderr_line = false;  // the program wrote it on stderr (reported as "stream":"stderr")
};

struct Job {
  std::uint64_t number = 0;
  std::string type;
  std::string id;
  JobState state = JobState::queued;
  int progress = 0;  // 0..100
  double created = 0;
  std::optional<double> started;
  std::optional<double> ended;
  std::optional<int> exit_code;  // the program's exit status, when it exited
  std::optional<int> signal;     // the signal that ended it, when one did
  std::vector<LogLine> lines;    // numbered from 0 by position
};

// The fields of `status N` (and of each entry of `jobs`): ok, job, type, id, state, progress,
// created, started, ended, exit (null until known), and signal when a signal ended the program.
json::Object status_fields(const Job& job);
// The reply of `log N FROM`: ok, job, lines from `from` onward (at most `max_lines`, and no more
// after their texts pass `max_bytes`), next, "more":true when lines from `next` on are already
// there, state, progress.
json::Object log_fields(const Job& job, std::size_t from, std::size_t max_lines, std::size_t max_bytes);

// Wall-clock time as the store records it (milliseconds kept).
double unix_now();
// "2026-12-03 09:50:50 UTC": a recorded time as a person reads it.
std::string utc_time_text(double unix_seconds);

}  // namespace asyncore::sync

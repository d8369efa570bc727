#include "apps/sync/job.h"

#include <ctime>

// GCC 12 at -O1 with sanitizers reports json::Value's std::variant member as maybe-uninitialized
// when temporaries are appended to a fresh json::Object (a known false positive of its variant
// analysis); -O2 builds do not.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <array>
#include <chrono>
#include <cmath>

namespace asyncore::sync {
namespace {

constexpr std::array<const char*, 7> kStateNames{"queued", "running", "succeeded", "failed",
                                                 "timeout", "cancelled", "interrupted"};

json::Value optional_time(const std::optional<double>& t) { return t ? json::Value(*t) : json::Value(); }

}  // namespace

const char* state_name(JobState state) { return kStateNames[static_cast<std::size_t>(state)]; }

std::optional<JobState> parse_state(std::string_view name) {
  for (std::size_t i = 0; i < kStateNames.size(); ++i) {
    if (name == kStateNames[i]) return static_cast<JobState>(i);
  }
  return std::nullopt;
}

json::Object status_fields(const Job& job) {
  json::Object o;
  o.append("ok", true);
  o.append("job", static_cast<std::int64_t>(job.number));
  o.append("type", job.type);
  o.append("id", job.id);
  o.append("state", state_name(job.state));
  o.append("progress", job.progress);
  o.append("created", job.created);
  o.append("started", optional_time(job.started));
  o.append("ended", optional_time(job.ended));
  o.append("exit", job.exit_code ? json::Value(*job.exit_code) : json::Value());
  if (job.signal) o.append("signal", *job.signal);
  o.append("lines", static_cast<std::int64_t>(job.lines.size()));
  return o;
}

json::Object log_fields(const Job& job, std::size_t from, std::size_t max_lines, std::size_t max_bytes) {
  json::Array lines;
  std::size_t end = from >= job.lines.size() ? from : std::min(job.lines.size(), from + max_lines);
  std::size_t bytes = 0;
  for (std::size_t n = from; n < end; ++n) {
    bytes += job.lines[n].text.size();
    if (bytes > max_bytes && n > from) {  // at least one line, however long, so `next` moves on
      end = n;
      break;
    }
    json::Object line;
    line.append("n", static_cast<std::int64_t>(n));
    line.append("t", job.lines[n].t);
    line.append("text", job.lines[n].text);
    if (job.lines[n].stderr_line) line.append("stream", "stderr");
    lines.push_back(std::move(line));
  }
  json::Object o;
  o.append("ok", true);
  o.append("job", static_cast<std::int64_t>(job.number));
  o.append("lines", std::move(lines));
  o.append("next", static_cast<std::int64_t>(std::max(end, from)));
  if (end < job.lines.size()) o.append("more", true);  // cut short: ask again from `next` at once
  o.append("state", state_name(job.state));
  o.append("progress", job.progress);
  return o;
}

std::string utc_time_text(double unix_seconds) {
  const std::time_t seconds = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

double unix_now() {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  return static_cast<double>(ms.count()) / 1000.0;
}

}  // namespace asyncore::sync

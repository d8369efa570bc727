#include <asyncore/rate_limited_log.h>


namespace asyncore {

RateLimitedLog::RateLimitedLog(ChannelMap& map, LogLevel level, std::string what, double interval)
    : map_(map), level_(level), what_(std::move(what)), interval_(interval) {}

RateLimitedLog::~RateLimitedLog() { window_.cancel(); }

bool RateLimitedLog::admit() {
  if (!log_enabled(level_)) return false;
  if (interval_ <= 0) return true;
  if (!window_.active()) {
    window_ = map_.call_later(interval_, [this] { window_ended(); });
    return true;
  }
  ++suppressed_;
  return false;
}

void RateLimitedLog::window_ended() {
  if (suppressed_ == 0) return;  // quiet: the next line is logged in full again
  flush();
  // Still busy: keep counting, so a steady flood gives one summary line per interval.
  window_ = map_.call_later(interval_, [this] { window_ended(); });
}

void RateLimitedLog::end_window() {
  window_.cancel();
  flush();
}

void RateLimitedLog::flush() {
  if (suppressed_ == 0) return;
  if (summary) {
    log(level_, summary(suppressed_));
  } else {
    log(level_, std::to_string(suppressed_) + " more " + what_ + " (summarised every " + describe_seconds(interval_) +
                    ", not logged one by one)");
  }
  suppressed_total_ += suppressed_;
  suppressed_ = 0;
}

}  // namespace asyncore

// RateLimitedLog: a kind of log line that any peer can trigger at will (a bad frame, a refused
// login). A peer sending garbage in a loop must not flood the log, yet nothing may vanish
// silently: the first line after a quiet period is logged in full, later ones within `interval`
// seconds are only counted, and one summary line per interval says how many there were.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <asyncore/channel_map.h>
#include <asyncore/log.h>

namespace asyncore {

class RateLimitedLog {
 public:
  // `what` names the lines in the summary, e.g. "bad frames". An interval <= 0 logs every line.
  RateLimitedLog(ChannelMap& map, LogLevel level, std::string what, double interval);
  ~RateLimitedLog();
  RateLimitedLog(const RateLimitedLog&) = delete;
  RateLimitedLog& operator=(const RateLimitedLog&) = delete;

  // True when the caller should log this line in full; otherwise it was counted for the
  // summary. Callers build the line only when it is admitted (a flood costs no formatting).
  bool admit();
  // Logs the summary of what was counted so far, if anything (at shutdown).
  void flush();
  // flush(), and the quiet period starts now: the next line is logged in full.
  void end_window();
  // True from a line logged in full until an interval passes without lines.
  bool in_window() const { return window_.active(); }
  // Applies from the next window on.
  void set_interval(double seconds) { interval_ = seconds; }
  // Writes the summary line instead of "N more <what> (...)", e.g. with counts of its own.
  std::function<std::string(std::uint64_t suppressed)> summary;
  LogLevel level() const { return level_; }
  std::uint64_t suppressed_total() const { return suppressed_total_ + suppressed_; }

 private:
  void window_ended();

  ChannelMap& map_;
  LogLevel level_;
  std::string what_;
  double interval_;
  ScopedTimer window_;           // active while lines are being counted instead of logged
  std::uint64_t suppressed_ = 0;  // in the current window
  std::uint64_t suppressed_total_ = 0;
};

}  // namespace asyncore

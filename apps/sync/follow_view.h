// How sync-client shows a job it follows: on a terminal a progress bar redrawn in place with the
// log lines scrolling above it; otherwise plain lines ("progress 40" when it moves), so scripts
// and tests can read the output.
#pragma once
#include <cstdio>
#include <string>
#include <string_view>

namespace asyncore::sync {

// "[##########..........]  50%" (width characters inside the brackets).
std::string progress_bar(int percent, int width = 30);

class FollowView {
 public:
  FollowView(std::FILE* out, bool terminal) : out_(out), terminal_(terminal) {}
  void line(std::string_view text);  // a log line
  void progress(int percent, std::string_view state);
  void end(std::string_view summary);  // the last line

 private:
  void clear_bar();
  void draw_bar();
  std::FILE* out_;
  bool terminal_;
  bool bar_shown_ = false;
  int percent_ = -1;
  std::string state_;
};

}  // namespace asyncore::sync

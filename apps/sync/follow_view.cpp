#include "apps/sync/follow_view.h"

#include <algorithm>

namespace asyncore::sync {

std::string progress_bar(int percent, int width) {
  percent = std::clamp(percent, 0, 100);
  const int filled = percent * width / 100;
  std::string bar = "[" + std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(width - filled), '.') + "] ";
  std::string number = std::to_string(percent) + "%";
  return bar + std::string(4 - std::min<size_t>(4, number.size()), ' ') + number;
}

void FollowView::clear_bar() {
  if (terminal_ && bar_shown_) std::fputs("\r\033[K", out_);
  bar_shown_ = false;
}

void FollowView::draw_bar() {
  if (!terminal_ || percent_ < 0) return;
  std::fprintf(out_, "\r\033[K%s %s", progress_bar(percent_).c_str(), state_.c_str());
  bar_shown_ = true;
  std::fflush(out_);
}

void FollowView::line(std::string_view text) {
  clear_bar();
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fputc('\n', out_);
  draw_bar();
  std::fflush(out_);
}

void FollowView::progress(int percent, std::string_view state) {
  const bool moved = percent != percent_;
  percent_ = percent;
  state_ = std::string(state);
  if (terminal_) {
    draw_bar();
  } else if (moved) {
    std::fprintf(out_, "progress %d\n", percent);
    std::fflush(out_);
  }
}

void FollowView::end(std::string_view summary) {
  if (terminal_ && bar_shown_) std::fputc('\n', out_);
  bar_shown_ = false;
  std::fwrite(summary.data(), 1, summary.size(), out_);
  std::fputc('\n', out_);
  std::fflush(out_);
}

}  // namespace asyncore::sync

#include "apps/sync/command_channel.h"

#include <algorithm>

#include <asyncore/channel_map.h>
#include <asyncore/json/utf8.h>

namespace asyncore::sync {
CommandPort::CommandPort(ChannelMap& map, CommandPortOptions options_)
    : options(options_), closings(map, LogLevel::info, "command connections closed or refused a line", 10.0) {}

CommandChannel::CommandChannel(Fd socket, SyncService& service, CommandPort& port, ChannelMap* map)
    : AsyncChat(std::move(socket), map), service_(service), port_(port) {
  set_terminator("\n");
  max_incoming = kMaxCommandLine - 1;  // the '\n' is not collected
  limits.max_output = static_cast<uint32_t>(port_.options.max_output);
  // Reading stops well before the cap, so only a client that never reads reaches it.
  limits.high_water = std::min<uint32_t>(limits.high_water, limits.max_output / 4);
  limits.low_water = std::min<uint32_t>(limits.low_water, limits.high_water / 4);
  arm_idle_deadline();
}

CommandChannel::~CommandChannel() {
  idle_timer_.cancel();
  line_timer_.cancel();
  quiet_timer_.cancel();
}

void CommandChannel::arm_idle_deadline() {
  const double timeout = port_.options.idle_timeout;
  if (timeout <= 0) return;
  if (idle_timer_.active()) return idle_timer_.reset(timeout);
  idle_timer_ = map().call_later(timeout, [this] { idle_deadline_passed(); });
}

void CommandChannel::idle_deadline_passed() {
  if (!is_open()) return;
  ++port_.closed_idle;  // also a client that stopped reading its answers: writes re-arm the deadline
  if (port_.closings.admit()) {
    log_info(describe() + ": idle for " + describe_seconds(port_.options.idle_timeout) +
             " (--idle-timeout: no input, no output progress); closing");
  }
  close();
}

void CommandChannel::line_deadline_passed() {
  if (!is_open() || draining_ || line_.empty()) return;
  if (reading_paused() || !deferred_.empty()) {  // we are not reading: the wait is not the line's
    line_timer_ = map().call_later(port_.options.line_deadline, [this] { line_deadline_passed(); });
    return;
  }
  ++port_.closed_slow_line;
  if (port_.closings.admit()) {
    log_info(describe() + ": a command line not completed within " + describe_seconds(port_.options.line_deadline) +
             " (--line-timeout); closing");
  }
  refuse_then_drain("command line not completed within " + describe_seconds(port_.options.line_deadline));
}

void CommandChannel::quiet_gap_passed() {
  if (!is_open() || draining_ || closing || line_.empty()) return;
  if (reading_paused() || !deferred_.empty()) {  // more of the line may be waiting unread in the socket
    quiet_timer_ = map().call_later(port_.options.quiet_gap, [this] { quiet_gap_passed(); });
    return;
  }
  line_timer_.cancel();
  ran_unterminated_ = true;
  run_command(std::exchange(line_, std::string()));
}

void CommandChannel::collect_incoming_data(std::string_view data) {
  if (draining_) return;
  if (line_.empty() && port_.options.line_deadline > 0) {
    line_timer_.cancel();
    line_timer_ = map().call_later(port_.options.line_deadline, [this] { line_deadline_passed(); });
  }
  line_.append(data);
}

void CommandChannel::found_terminator() {
  std::string line = std::move(line_);
  line_.clear();
  line_timer_.cancel();
  quiet_timer_.cancel();
  const bool after_unterminated = std::exchange(ran_unterminated_, false);
  if (draining_ || closing) return;  // after an over-long line nothing more is run
  // The '\n' of a command already run at a quiet gap: not a second, empty command.
  if (after_unterminated && (line.empty() || line == "\r")) return;
  if (!deferred_.empty() || pass_spent()) {
    deferred_.push_back(std::move(line));
    schedule_deferred();
    return;
  }
  run_command(line);
}

void CommandChannel::new_pass() {
  pass_commands_ = 0;
  pass_bytes_ = 0;
}

void CommandChannel::schedule_deferred() {
  if (deferred_scheduled_) return;
  deferred_scheduled_ = true;
  std::weak_ptr<Dispatcher> self = weak_from_this();
  map().call_soon([self] {
    if (auto channel = self.lock()) static_cast<CommandChannel&>(*channel).run_deferred();
  });
}

void CommandChannel::run_deferred() {
  deferred_scheduled_ = false;
  if (!is_open() || draining_ || closing) {
    deferred_.clear();
    return;
  }
  if (reading_paused()) return;  // handle_write() resumes once the client has read
  new_pass();
  reading_ = true;
  while (!deferred_.empty() && !pass_spent() && !reading_paused() && is_open()) {
    std::string line = std::move(deferred_.front());
    deferred_.pop_front();
    run_command(line);
  }
  reading_ = false;
  send_replies();
  if (!deferred_.empty()) {
    if (!reading_paused()) schedule_deferred();
  } else if (is_open()) {
    recheck();  // readable again
  }
}

void CommandChannel::run_all_deferred() {
  while (!deferred_.empty()) {
    std::string line = std::move(deferred_.front());
    deferred_.pop_front();
    run_command(line);
  }
}

void CommandChannel::handle_read() {
  arm_idle_deadline();
  new_pass();
  reading_ = true;
  AsyncChat::handle_read();
  reading_ = false;
  send_replies();
  if (!is_open() || draining_ || line_.empty() || port_.options.quiet_gap <= 0) {
    quiet_timer_.cancel();
  } else if (quiet_timer_.active()) {
    quiet_timer_.reset(port_.options.quiet_gap);
  } else {
    quiet_timer_ = map().call_later(port_.options.quiet_gap, [this] { quiet_gap_passed(); });
  }
}

void CommandChannel::send_replies() {
  if (replies_.empty()) return;
  std::string out;
  out.reserve(replies_bytes_);
  if (auto problem = service_.make_durable()) {
    // Nothing of this batch may be reported as done: every reply becomes the error.
    const std::string error = SyncService::error(*problem, 500).line() + "\n";
    for (size_t i = 0; i < replies_.size(); ++i) out += error;
  } else {
    for (const std::string& reply : replies_) out += reply;
  }
  replies_.clear();
  replies_bytes_ = 0;
  push(out);
}

void CommandChannel::handle_eof() {
  if (draining_) {
    close();
    return;
  }
  line_timer_.cancel();
  quiet_timer_.cancel();
  if (!closing) run_all_deferred();
  if (!line_.empty() && !closing) run_command(std::exchange(line_, std::string()));
  send_replies();  // end of input can come inside handle_read: the replies go before the close
  close_when_done();
}

void CommandChannel::handle_incoming_overflow() {
  if (draining_) return;
  if (port_.closings.admit()) log_info(describe() + ": over-long command line; closing");
  refuse_then_drain("command line longer than " + std::to_string(kMaxCommandLine) + " bytes");
}

void CommandChannel::refuse_then_drain(const std::string& reason) {
  line_.clear();
  line_timer_.cancel();
  quiet_timer_.cancel();
  run_all_deferred();
  send_replies();  // the lines before it were answered first
  draining_ = true;
  push(SyncService::error(reason).line() + "\n");
  std::weak_ptr<Dispatcher> self = weak_from_this();
  map().call_later(kDrainSeconds, [self] {
    if (auto channel = self.lock()) channel->close();
  });
  finish_reply_then_drain();
}

void CommandChannel::handle_output_overflow(size_t refused_bytes) {
  ++port_.closed_output;
  if (port_.closings.admit()) {
    log_info(describe() + ": " + std::to_string(pending_output() + refused_bytes) +
             " bytes of replies unsent past --max-output (" + std::to_string(limits.max_output) + "); closing");
  }
  close();
}

void CommandChannel::handle_write() {
  arm_idle_deadline();
  new_pass();  // input held back by the high-water mark may be run from here
  AsyncChat::handle_write();
  finish_reply_then_drain();
  if (!deferred_.empty() && !reading_paused()) schedule_deferred();
}

void CommandChannel::finish_reply_then_drain() {
  if (draining_ && !write_shut_ && is_open() && pending_output() == 0) {
    write_shut_ = true;
    shutdown_write();
  }
}

void CommandChannel::run_command(std::string_view line) {
  if (line.ends_with('\r')) line.remove_suffix(1);  // telnet and friends send CRLF
  Reply reply = valid_utf8(line) ? service_.execute(line, addr, true) : SyncService::error("command is not valid UTF-8");
  replies_.push_back(reply.line() + "\n");
  replies_bytes_ += replies_.back().size();
  ++pass_commands_;
  pass_bytes_ += replies_.back().size();
  // Replies of one read share an fsync, but only up to the high-water mark: past it they go out
  // now, and AsyncChat stops running further input until the client reads them.
  if (!reading_ || replies_bytes_ + pending_output() >= limits.high_water) send_replies();
}

}  // namespace asyncore::sync

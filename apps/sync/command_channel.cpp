#include "apps/sync/command_channel.h"

#include <cstdio>

#include "core/channel_map.h"
#include "dispatchers/utf8.h"

namespace asyncore::sync {

CommandChannel::CommandChannel(Fd socket, SyncService& service, CommandPort& port, ChannelMap* map)
    : AsyncChat(std::move(socket), map), service_(service), port_(port) {
  set_terminator("\n");
  max_incoming = kMaxCommandLine - 1;  // the '\n' is not collected
  arm_idle_deadline();
}

CommandChannel::~CommandChannel() { idle_timer_.cancel(); }

void CommandChannel::arm_idle_deadline() {
  if (port_.idle_timeout <= 0) return;
  if (idle_timer_.active()) return idle_timer_.reset(port_.idle_timeout);
  idle_timer_ = map().call_later(port_.idle_timeout, [this] { idle_deadline_passed(); });
}

void CommandChannel::idle_deadline_passed() {
  if (!is_open()) return;
  ++port_.closed_idle;  // also a client that stopped reading its answers: writes re-arm the deadline
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%g", port_.idle_timeout);
  log_info(describe() + ": idle for " + seconds + " s (--idle-timeout: no input, no output progress); closing");
  close();
}

void CommandChannel::collect_incoming_data(std::string_view data) {
  if (!draining_) line_.append(data);
}

void CommandChannel::found_terminator() {
  std::string line = std::move(line_);
  line_.clear();
  if (draining_ || closing) return;  // after an over-long line nothing more is run
  run_command(line);
}

void CommandChannel::handle_read() {
  arm_idle_deadline();
  reading_ = true;
  AsyncChat::handle_read();
  reading_ = false;
  send_replies();
}

void CommandChannel::send_replies() {
  if (replies_.empty()) return;
  std::string out;
  if (auto problem = service_.make_durable()) {
    // Nothing of this batch may be reported as done: every reply becomes the error.
    const std::string error = SyncService::error(*problem, 500).line() + "\n";
    for (size_t i = 0; i < replies_.size(); ++i) out += error;
  } else {
    for (const std::string& reply : replies_) out += reply;
  }
  replies_.clear();
  push(out);
}

void CommandChannel::handle_eof() {
  if (draining_) {
    close();
    return;
  }
  if (!line_.empty() && !closing) {
    std::string line = std::move(line_);
    line_.clear();
    run_command(line);
  }
  send_replies();  // end of input can come inside handle_read: the replies go before the close
  close_when_done();
}

void CommandChannel::handle_incoming_overflow() {
  if (draining_) return;
  line_.clear();
  send_replies();  // the lines before it were answered first
  draining_ = true;
  push(SyncService::error("command line longer than " + std::to_string(kMaxCommandLine) + " bytes").line() + "\n");
  log_info(describe() + ": over-long command line; closing");
  std::weak_ptr<Dispatcher> self = weak_from_this();
  map().call_later(kDrainSeconds, [self] {
    if (auto channel = self.lock()) channel->close();
  });
  finish_reply_then_drain();
}

void CommandChannel::handle_write() {
  arm_idle_deadline();
  AsyncChat::handle_write();
  finish_reply_then_drain();
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
  if (!reading_) send_replies();
}

}  // namespace asyncore::sync

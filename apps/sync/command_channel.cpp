#include "apps/sync/command_channel.h"

#include "apps/sync/utf8.h"
#include "core/channel_map.h"

namespace asyncore::sync {

CommandChannel::CommandChannel(Fd socket, SyncService& service, ChannelMap* map)
    : AsyncChat(std::move(socket), map), service_(service) {
  set_terminator("\n");
  max_incoming = kMaxCommandLine - 1;  // the '\n' is not collected
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
  close_when_done();
}

void CommandChannel::handle_incoming_overflow() {
  if (draining_) return;
  line_.clear();
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
  Reply reply = valid_utf8(line) ? service_.execute(line, addr) : SyncService::error("command is not valid UTF-8");
  push(reply.line() + "\n");
}

}  // namespace asyncore::sync

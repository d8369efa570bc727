// One connection to the command port: UTF-8 lines of at most kMaxCommandLine bytes (the '\n'
// included), each answered by one JSON line, in order. A last command without '\n' still runs
// when the client half-closes, or once the client has sent nothing for the port's quiet_gap
// (asyncore clients send `quit` without a newline and wait for the reply without half-closing);
// a lone '\n' that follows such a command is not a second, empty command. An over-long line is
// answered with an error and the connection closes (after reading what the client still sends for
// a moment, so that closing with unread input does not reset the connection and destroy the
// error before the client reads it); so is a line not completed within the port's line_deadline
// (one byte now and then must not hold a connection forever); a line that is not UTF-8 gets an
// error and the connection goes on. The commands of one read share one fsync before their
// replies go out (group commit).
//
// Output is bounded: once unsent replies reach AsyncChat's limits.high_water no more input is
// read or run until the client reads (a client that pipelines big commands and never reads costs
// that, not its input times the reply size), and a connection whose unsent replies would pass
// the port's max_output is closed. One read runs at most kPassCommands commands or kPassReplyBytes
// of replies; the rest of its lines wait for later passes (no more input is read meanwhile), so
// a client pipelining expensive commands takes its turn with the others instead of holding the
// loop. A connection that sends nothing for the port's idle_timeout
// (while nothing is being written to it) is closed and counted. Closings a peer can cause are
// logged through one RateLimitedLog per port.
#pragma once
#include <deque>
#include <string>
#include <vector>

#include "apps/sync/service.h"
#include <asyncore/timer_queue.h>
#include <asyncore/chat/async_chat.h>
#include <asyncore/rate_limited_log.h>

namespace asyncore::sync {

inline constexpr std::size_t kMaxCommandLine = 4096;
inline constexpr double kDrainSeconds = 2.0;
inline constexpr std::size_t kPassCommands = 1024;
inline constexpr std::size_t kPassReplyBytes = 256 * 1024;

struct CommandPortOptions {
  double idle_timeout = 120;   // seconds without input before a connection is closed; 0: never
  double line_deadline = 10;   // seconds from a line's first byte to its '\n'; 0: none
  double quiet_gap = 0.2;      // seconds of silence after which an unterminated line runs
  std::size_t max_output = 16u << 20;  // unsent reply bytes past which a connection is closed
};

// What every connection of one command port shares.
class CommandPort {
 public:
  CommandPort(ChannelMap& map, CommandPortOptions options);
  CommandPortOptions options;
  std::size_t closed_idle = 0;      // connections closed for idle_timeout
  std::size_t closed_slow_line = 0; // ... for line_deadline
  std::size_t closed_output = 0;    // ... for max_output
  RateLimitedLog closings;          // the log lines of those closings (and over-long lines)
};

class CommandChannel : public AsyncChat {
 public:
  CommandChannel(Fd socket, SyncService& service, CommandPort& port, ChannelMap* map);
  ~CommandChannel() override;

  void collect_incoming_data(std::string_view data) override;
  void found_terminator() override;
  bool readable() override { return deferred_.empty() && AsyncChat::readable(); }
  void handle_read() override;
  void handle_eof() override;
  void handle_write() override;

 protected:
  void handle_incoming_overflow() override;
  void handle_output_overflow(size_t refused_bytes) override;

 private:
  void run_command(std::string_view line);
  void refuse_then_drain(const std::string& reason);  // error reply, FIN, close after kDrainSeconds
  void finish_reply_then_drain();
  void arm_idle_deadline();  // from now: any input or output progress re-arms it
  void idle_deadline_passed();
  void line_deadline_passed();
  void quiet_gap_passed();
  void send_replies();  // after one fsync for all of them
  void new_pass();
  bool pass_spent() const { return pass_commands_ >= kPassCommands || pass_bytes_ >= kPassReplyBytes; }
  void schedule_deferred();
  void run_deferred();
  void run_all_deferred();  // before an end that must come after every earlier reply
  std::vector<std::string> replies_;  // made while reading, not yet durable
  std::size_t replies_bytes_ = 0;
  std::deque<std::string> deferred_;  // complete lines of a read past its pass budget, in order
  std::size_t pass_commands_ = 0;
  std::size_t pass_bytes_ = 0;
  bool deferred_scheduled_ = false;
  bool reading_ = false;
  bool draining_ = false;     // after an over-long or too slow line: input is dropped until EOF
  bool write_shut_ = false;
  bool ran_unterminated_ = false;  // the last command ran at a quiet gap, before its '\n'
  SyncService& service_;
  CommandPort& port_;
  std::string line_;
  ScopedTimer idle_timer_;
  ScopedTimer line_timer_;   // the line deadline, armed at a line's first byte
  ScopedTimer quiet_timer_;  // armed while an unterminated line waits
};

}  // namespace asyncore::sync

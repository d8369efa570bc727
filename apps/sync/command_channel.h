// One connection to the command port: UTF-8 lines of at most kMaxCommandLine bytes (the '\n'
// included), each answered by one JSON line, in order. A last command without '\n' still runs
// when the client half-closes. An over-long line is answered with an error and the connection
// closes (after reading what the client still sends for a moment, so that closing with unread
// input does not reset the connection and destroy the error before the client reads it); a
// line that is not UTF-8 gets an error and the connection goes on. The commands of one read
// share one fsync before their replies go out (group commit). A connection that sends nothing
// for the port's idle_timeout (while nothing is being written to it) is closed and counted.
#pragma once
#include <string>
#include <vector>

#include "apps/sync/service.h"
#include "core/timer_queue.h"
#include "dispatchers/async_chat.h"

namespace asyncore::sync {

inline constexpr std::size_t kMaxCommandLine = 4096;
inline constexpr double kDrainSeconds = 2.0;

// What every connection of one command port shares.
struct CommandPort {
  double idle_timeout = 120;     // seconds without input before a connection is closed; 0: never
  std::size_t closed_idle = 0;   // connections closed so far for that
};

class CommandChannel : public AsyncChat {
 public:
  CommandChannel(Fd socket, SyncService& service, CommandPort& port, ChannelMap* map);
  ~CommandChannel() override;

  void collect_incoming_data(std::string_view data) override;
  void found_terminator() override;
  void handle_read() override;
  void handle_eof() override;
  void handle_write() override;

 protected:
  void handle_incoming_overflow() override;

 private:
  void run_command(std::string_view line);
  void finish_reply_then_drain();
  void arm_idle_deadline();  // from now: any input or output progress re-arms it
  void idle_deadline_passed();
  void send_replies();  // after one fsync for all of them
  std::vector<std::string> replies_;  // made while reading, not yet durable
  bool reading_ = false;
  bool draining_ = false;     // after an over-long line: input is dropped until EOF
  bool write_shut_ = false;
  SyncService& service_;
  CommandPort& port_;
  std::string line_;
  ScopedTimer idle_timer_;
};

}  // namespace asyncore::sync

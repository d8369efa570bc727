// sync-client: sends one command to sync-server's command port and prints the reply; with
// `sync TYPE ID --follow` it then follows the job's log and progress until it ends.
// Exit status: 0 ok / succeeded, 1 an error reply or a job that ended otherwise, 2 usage,
// 3 the server cannot be reached (or went away, or stopped answering).
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "apps/sync/command_client.h"
#include "apps/sync/follow_view.h"
#include "apps/sync/job.h"
#include "apps/sync/reply_text.h"
#include "apps/sync/service.h"
#include <asyncore/asyncore.h>
#include "apps/common/cli.h"
#include <asyncore/json/json.h>

using namespace asyncore;
using namespace asyncore::sync;

namespace {

constexpr int kUnreachable = 3;

class Session {
 public:
  Session(ChannelMap& map, std::string command, bool follow, bool human, double poll_seconds, double reply_timeout)
      : map_(map), command_(std::move(command)), follow_(follow), human_(human), poll_seconds_(poll_seconds),
        reply_timeout_(reply_timeout), view_(stdout, ::isatty(STDOUT_FILENO) == 1) {}

  int run(const Address& server) {
    client_ = make<CommandClient>(
        server, [this](std::string_view line) { on_reply(line); },
        [this, server](std::string_view reason) {
          end_with(kUnreachable, "sync-client: cannot reach " + server.to_string() + ": " + std::string(reason));
        },
        &map_);
    send(command_);
    map_.run();
    return exit_code_;
  }

 private:
  void send(const std::string& command) {
    client_->send_command(command);
    deadline_.cancel();
    deadline_ = map_.call_later(reply_timeout_, [this] { end_with(kUnreachable, "sync-client: no reply from the server"); });
  }

  void end_with(int code, const std::string& message) {
    if (done_) return;
    done_ = true;
    exit_code_ = code;
    if (!message.empty()) std::fprintf(stderr, "%s\n", message.c_str());
    deadline_.cancel();
    poll_timer_.cancel();
    if (client_) client_->finish();
    map_.stop();
  }

  void on_reply(std::string_view line) {
    deadline_.cancel();
    json::ParseResult parsed = json::try_parse(line);
    const bool ok = parsed && parsed.value->is_object() && parsed.value->get("ok") && parsed.value->get("ok")->is_bool() &&
                    parsed.value->get("ok")->as_bool();
    if (job_ == 0) {  // the reply to the command itself
      if (human_ && parsed && parsed.value->is_object()) {
        const std::string text = reply_text(command_.substr(0, command_.find(' ')), *parsed.value);
        std::fputs(text.c_str(), ok ? stdout : stderr);
      } else {
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fputc('\n', stdout);
      }
      std::fflush(stdout);
      if (!follow_ || !ok) return end_with(ok ? 0 : 1, "");
      const json::Value* job = parsed.value->get("job");
      if (!job || !job->is_integer()) return end_with(1, "sync-client: the reply names no job");
      job_ = job->as_uint();
      return ask_for_log();
    }
    if (!ok) return end_with(1, "sync-client: " + std::string(line));
    const json::Value& reply = *parsed.value;
    const json::Value* lines = reply.get("lines");
    const json::Value* next = reply.get("next");
    const json::Value* state = reply.get("state");
    const json::Value* progress = reply.get("progress");
    if (!lines || !lines->is_array() || !next || !next->is_integer() || !state || !state->is_string() || !progress ||
        !progress->is_int()) {
      return end_with(1, "sync-client: unexpected reply: " + std::string(line));
    }
    for (const json::Value& entry : lines->as_array()) {
      const json::Value* text = entry.get("text");
      const json::Value* stream = entry.get("stream");  // marked as the page and `log` mark it
      const bool err = stream && stream->is_string() && stream->as_string() == "stderr";
      if (text && text->is_string()) view_.line(err ? "[stderr] " + text->as_string() : text->as_string());
    }
    next_line_ = next->as_uint();
    view_.progress(static_cast<int>(progress->as_int()), state->as_string());
    auto parsed_state = parse_state(state->as_string());
    const bool more_waiting = lines->size() >= kMaxLinesPerReply || reply.get("more") != nullptr;
    if (parsed_state && is_final(*parsed_state) && !more_waiting) {
      std::string summary = "job " + std::to_string(job_) + " " + state->as_string();
      // The sync itself has ended; the server's record of it waits for its disk (sync-relay.md).
      const json::Value* storage_error = reply.get("storage_error");
      if (reply.get("pending_write") && storage_error && storage_error->is_string()) {
        summary += " (not yet saved by the server: " + storage_error->as_string() + ")";
      }
      view_.end(summary);
      return end_with(*parsed_state == JobState::succeeded ? 0 : 1, "");
    }
    if (more_waiting) return ask_for_log();
    poll_timer_ = map_.call_later(poll_seconds_, [this] { ask_for_log(); });
  }

  void ask_for_log() { send("log " + std::to_string(job_) + " " + std::to_string(next_line_)); }

  ChannelMap& map_;
  std::string command_;
  bool follow_;
  bool human_;  // readable text instead of the server's JSON line
  double poll_seconds_;
  double reply_timeout_;
  FollowView view_;
  std::shared_ptr<CommandClient> client_;
  ScopedTimer deadline_, poll_timer_;
  std::uint64_t job_ = 0;
  std::uint64_t next_line_ = 0;
  int exit_code_ = kUnreachable;
  bool done_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 8081;
  bool follow = false, json_output = false, human_output = false;
  double poll = 0.25, timeout = 10;
  Cli cli("sync-client", "[--host H] [--port P] [--json | --human] [--poll S] [--timeout S] COMMAND ... | sync TYPE ID --follow",
          "Sends one command to sync-server (sync TYPE ID, status N, log N [FROM], cancel N, jobs [LIMIT], quit)\n"
          "and prints the reply: readable on a terminal (dates, durations, a table for jobs), the server's JSON\n"
          "line otherwise. With --follow, a sync is then followed to its end.\n"
          "Exit status: 0 ok (or the job succeeded), 1 an error reply (or the job ended otherwise), 2 usage,\n"
          "3 the server cannot be reached.");
  cli.option("--host", &host, "H", "the server's host (default 127.0.0.1)");
  cli.option("--port", &port, "P", "the server's command port (default 8081)", 1, 65535);
  cli.flag("--follow", &follow, "after 'sync TYPE ID': follow the job's log and progress until it ends");
  cli.flag("--json", &json_output, "print the server's JSON reply line, even on a terminal (for scripts)");
  cli.flag("--human", &human_output, "print the readable form, even into a pipe");
  cli.option("--poll", &poll, "S", "seconds between log polls while following (default 0.25)", 0.01, 60);
  cli.option("--timeout", &timeout, "S", "seconds to wait for each reply (default 10)", 0.1, 3600);
  cli.positionals("COMMAND", 1, 16);
  std::vector<std::string> words = cli.parse(argc, argv);
  if (follow && (words.size() != 3 || words[0] != "sync")) cli.fail("--follow goes with 'sync TYPE ID'");
  std::string command;
  for (const std::string& word : words) command += (command.empty() ? "" : " ") + word;
  if (command.find('\n') != std::string::npos) cli.fail("a command is one line");
  if (json_output && human_output) cli.fail("--json and --human exclude each other");
  const bool human = human_output || (!json_output && ::isatty(STDOUT_FILENO) == 1);

  Address server;
  try {
    server = Address::resolve(host, static_cast<uint16_t>(port));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sync-client: cannot resolve %s: %s\n", host.c_str(), e.what());
    return kUnreachable;
  }
  ChannelMap map;
  Session session(map, command, follow, human, poll, timeout);
  return session.run(server);
}

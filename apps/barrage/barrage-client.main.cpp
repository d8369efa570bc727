// barrage-client: joins a Douyu room and prints one line per broadcast (see
// docs/douyu.md). One dispatcher, the heartbeat on a loop timer, no threads.
#include <csignal>
#include <cstdio>
#include <set>
#include <sstream>

#include "apps/barrage/client.h"
#include "apps/barrage/output.h"
#include "apps/common/cli.h"

using namespace asyncore;
using namespace asyncore::barrage;

namespace {

std::set<std::string, std::less<>> parse_types(std::string_view text) {
  std::set<std::string, std::less<>> types;
  std::string item;
  std::istringstream in{std::string(text)};
  while (std::getline(in, item, ',')) {
    if (item.empty()) throw std::invalid_argument("empty type name");
    types.insert(item);
  }
  if (types.empty()) throw std::invalid_argument("no type given");
  return types;
}

// Lines are gathered during a loop pass and written once just before the loop waits: one write
// for a burst of messages, and nothing is left unflushed while the loop sleeps.
class Printer {
 public:
  explicit Printer(ChannelMap& map) : hook_(map.before_wait([this] { flush(); })) {}
  std::string& line() { return buffer_; }
  void end_line() { buffer_ += '\n'; }
  void flush() {
    if (buffer_.empty()) return;
    std::fwrite(buffer_.data(), 1, buffer_.size(), stdout);
    std::fflush(stdout);
    buffer_.clear();
  }

 private:
  std::string buffer_;
  BeforeWaitHook hook_;
};

}  // namespace

int main(int argc, char** argv) {
  ClientOptions options;
  int port = 8601;
  double count = 0;
  std::string format = "text";
  std::set<std::string, std::less<>> types;
  Cli cli("barrage-client",
          "--room ID [--host H] [--port P] [--heartbeat S] [--format text|json] [--types chatmsg,uenter,...] "
          "[--reconnect] [--retry-delay S] [--login-timeout S] [--count N]",
          "Joins a Douyu barrage room and prints one line per broadcast: `[room] nickname: text` for chat\n"
          "messages and a short line for other types, or one JSON object per line with --format json.\n"
          "Server errors go to stderr with their code. SIGINT logs out and exits 0.\n"
          "For tests and benchmarks: --count N exits after N printed messages; --quiet keeps stderr to\n"
          "warnings and errors; --heartbeat 0 sends no heartbeat.");
  cli.option("--room", &options.room, "ID", "the room to join (required)");
  cli.option("--host", &options.host, "H", "server (default 127.0.0.1; the real one is openbarrage.douyutv.com)");
  cli.option("--port", &port, "P", "server port (default 8601)", 1, 65535);
  cli.option("--heartbeat", &options.heartbeat, "S", "seconds between heartbeats (default 45; 0: none)", 0, 86400);
  cli.option("--format", "FORMAT", "text or json (default text)", [&](std::string_view v) {
    if (v != "text" && v != "json") throw std::invalid_argument("must be text or json");
    format = std::string(v);
  });
  cli.option("--types", "T,T", "print only these message types (default: every broadcast)",
             [&](std::string_view v) { types = parse_types(v); });
  cli.flag("--reconnect", &options.reconnect, "reconnect with backoff after error 51 or 52 or a lost connection");
  cli.option("--retry-delay", &options.backoff.initial_delay, "S",
             "first reconnect delay before growth by e (default 1; the first retry waits S*e)", 0.001, 3600);
  cli.option("--login-timeout", &options.login_timeout, "S", "seconds to wait for loginres (default 10)", 0.001, 3600);
  cli.option("--count", &count, "N", "exit 0 after printing N messages (default: run until SIGINT)", 1, 9e15);
  cli.parse(argc, argv);
  if (options.room.empty()) cli.fail("--room is required");
  options.port = static_cast<uint16_t>(port);

  ChannelMap& map = socket_map();
  Printer printer(map);
  Client client(options, &map);
  const bool json = format == "json";
  uint64_t printed = 0;
  bool we_left = false;  // SIGINT or --count: a clean end; anything else that closes us failed
  auto leave = [&] {
    we_left = true;
    client.logout();
  };

  client.on_message = [&](std::string_view type, const Fields& fields) {
    if (types.empty() ? is_control_type(type) : !types.contains(type)) return;
    if (json) append_json_line(printer.line(), fields);
    else append_text_line(printer.line(), options.room, fields);
    printer.end_line();
    if (count > 0 && ++printed >= static_cast<uint64_t>(count)) leave();
  };
  client.on_error = [&](const ClientError& error) {
    if (error.from_server()) log_error("barrage-client: " + error.text);
    else log_warning("barrage-client: " + error.text);
  };
  client.on_state = [&](ClientState state) {
    log_debug(std::string("barrage-client: ") + state_name(state));
    if (state == ClientState::running) log_info("barrage-client: joined room " + options.room);
    if (state == ClientState::closed) map.stop();
  };
  auto interrupted = [&] {
    log_info("barrage-client: logging out");
    leave();
  };
  map.add_signal_handler(SIGINT, interrupted);
  map.add_signal_handler(SIGTERM, interrupted);

  client.start();
  if (client.state() != ClientState::closed) map.run();
  printer.flush();
  // Let the logout reach the server before the process goes.
  for (int i = 0; i < 40 && !map.empty(); ++i) map.poll_once(0.05);
  return we_left ? 0 : 1;
}

// msg-peer: a messenger peer. Reports to the hub, prints the directory when it changes, and
// runs commands from stdin (peers, connect, msg, broadcast, send, quit; see peer_command.h).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>

#include "apps/messenger/directory.h"
#include "apps/messenger/limit_flags.h"
#include "apps/messenger/peer.h"
#include <asyncore/asyncore.h>
#include "apps/common/cli.h"
#include "apps/common/connection_flags.h"
#include <asyncore/stream/line_reader.h>

using namespace asyncore;

namespace {

void print_line(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Seconds a quit (or end of stdin) waits for queued messages and file transfers.
constexpr double kQuitWaitSeconds = 60.0;
constexpr double kSignalWaitSeconds = 5.0;

// Commands come from stdin; a line too long to be one is skipped with a warning and reading
// goes on (the toolkit's reader would end there).
class CommandReader final : public LineReader {
 public:
  using LineReader::LineReader;

 protected:
  void handle_overlong_line() override {
    log_warning("stdin: line longer than " + std::to_string(max_line_length) + " bytes ignored");
  }
};

// The reader makes stdin non-blocking, a flag shared with everything else using the same open
// file (the terminal, the shell's pipe): put the flags back when the peer is done.
class StdinFlagsRestorer {
 public:
  StdinFlagsRestorer() : flags_(::fcntl(STDIN_FILENO, F_GETFL)) {}
  ~StdinFlagsRestorer() {
    if (flags_ >= 0) ::fcntl(STDIN_FILENO, F_SETFL, flags_);
  }
  StdinFlagsRestorer(const StdinFlagsRestorer&) = delete;
  StdinFlagsRestorer& operator=(const StdinFlagsRestorer&) = delete;

 private:
  int flags_;
};

}  // namespace

int main(int argc, char** argv) {
  messenger::PeerOptions options;
  std::string hub, inbox;
  int port = 0;
  Cli cli("msg-peer",
          "--name NAME --hub H:P[,H:P...] [--host H] [--port P] [--report S] [--inbox DIR] [--max-connections N] [--max-per-peer N] "
          "[--frame-timeout S] [--max-partial-input BYTES] [--accept-files-from none|all|NAME,...] [--max-file-size BYTES] "
          "[--max-transfers N] [--max-transfers-per-peer N] [--min-free-disk BYTES] [--hub-token-file FILE]",
          "A messenger peer: reports to the hub and talks to other peers; commands on stdin:\n" +
              std::string(messenger::peer_command_help()));
  cli.option("--name", "NAME", "this peer's name (required; no spaces, ',', ';' or ':')", [&](std::string_view v) {
    if (auto problem = messenger::peer_name_problem(v)) throw std::invalid_argument(*problem);
    options.name = std::string(v);
  });
  cli.option("--hub", "H:P[,H:P...]",
             "the hub's address (required); several hubs sharing one directory (msg-hub --redis): the peer reports "
             "to the first and moves to the next when it loses one",
             [&](std::string_view v) {
               options.hubs.clear();
               for (std::size_t at = 0; at <= v.size();) {
                 const std::size_t comma = std::min(v.find(',', at), v.size());
                 const std::string_view item = v.substr(at, comma - at);
                 const auto colon = item.rfind(':');
                 if (colon == std::string_view::npos || colon == 0) throw std::invalid_argument("expected HOST:PORT");
                 const uint16_t hub_port = parse_port(item.substr(colon + 1));
                 if (hub_port == 0) throw std::invalid_argument("port must be 1..65535");
                 options.hubs.push_back({std::string(item.substr(0, colon)), hub_port});
                 at = comma + 1;
               }
               hub = std::string(v);
             });
  cli.option("--host", &options.host, "H", "address to listen on for other peers (default 127.0.0.1)");
  cli.option("--port", &port, "P", "port to listen on (default 0: any free port)", 0, 65535);
  cli.option("--report", &options.report, "S", "seconds between reports to the hub (default 1)", 0.01, 86400);
  cli.option("--inbox", &inbox, "DIR", "where received files go (default ./var/msg-peer/NAME/inbox)");
  add_connection_cap_flags(cli, options.caps, "connections from other peers");
  messenger::add_frame_limit_flags(cli, options.connection);
  std::string hub_token_file;
  cli.option("--hub-token-file", &hub_token_file, "FILE", "send the first line of FILE as the hub's Token (msg-hub --token-file)");
  cli.option("--accept-files-from", "WHO",
             "who may send us files: none, all, or NAME,NAME (each only from the address the hub lists for it) "
             "(default none)",
             [&](std::string_view v) { messenger::parse_accept_files_from(v, options); });
  auto bytes_option = [&](const std::string& name, std::uint64_t* target, const std::string& help, std::uint64_t min) {
    cli.option(name, "BYTES", help, [target, min](std::string_view v) {
      if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string_view::npos) {
        throw std::invalid_argument("must be a whole number of bytes");
      }
      const std::uint64_t bytes = std::stoull(std::string(v));
      if (bytes < min) throw std::out_of_range("must be at least " + std::to_string(min));
      *target = bytes;
    });
  };
  bytes_option("--max-file-size", &options.files.max_file_size, "largest file accepted, by its announced size (default 1 GiB)",
               0);
  bytes_option("--min-free-disk", &options.files.min_free_bytes,
               "free space the inbox must keep once every transfer in progress is complete (default 64 MiB)", 0);
  int max_transfers = static_cast<int>(options.files.max_total);
  int max_transfers_per_peer = static_cast<int>(options.files.max_per_connection);
  cli.option("--max-transfers", &max_transfers, "N", "files being received at once, in all (default 32)", 1, 100000);
  cli.option("--max-transfers-per-peer", &max_transfers_per_peer, "N",
             "files being received at once over one connection (default 4)", 1, 100000);
  cli.parse(argc, argv);
  if (!hub_token_file.empty()) options.hub_token = messenger::read_token_flag(cli, "--hub-token-file", hub_token_file);
  options.files.max_total = static_cast<std::size_t>(max_transfers);
  options.files.max_per_connection = static_cast<std::size_t>(max_transfers_per_peer);
  if (options.name.empty()) cli.fail("--name is required");
  if (hub.empty()) cli.fail("--hub is required");
  options.port = static_cast<uint16_t>(port);
  options.inbox = inbox.empty() ? "var/msg-peer/" + options.name + "/inbox" : inbox;

  ChannelMap& map = socket_map();
  std::unique_ptr<messenger::Peer> peer;
  try {
    peer = std::make_unique<messenger::Peer>(options, print_line, &map);
  } catch (const std::exception& e) {
    cli.fail("cannot start: " + std::string(e.what()));
  }
  StdinFlagsRestorer restore_stdin_flags;
  std::shared_ptr<CommandReader> input;
  auto quit = [&](double max_wait) {
    if (input) input->close();
    peer->shut_down(max_wait, [&] { map.stop(); });
  };
  // End of stdin (or a read error, which the reader logs) quits as the quit command does.
  input = make<CommandReader>(
      STDIN_FILENO, [&](std::string_view line) { peer->run_command(std::string(line)); },
      [&](std::string_view) { quit(kQuitWaitSeconds); }, &map);
  peer->on_quit = [&] { quit(kQuitWaitSeconds); };
  auto on_signal = [&] {
    log_info("msg-peer: stopping");
    quit(kSignalWaitSeconds);
  };
  map.add_signal_handler(SIGINT, on_signal);
  map.add_signal_handler(SIGTERM, on_signal);
  announce_listening("peer", peer->address());  // after the handlers: a script may signal at once
  map.run();
  log_info("msg-peer: stopped; connections " + peer->connection_limits().refusal_summary());
  return 0;
}

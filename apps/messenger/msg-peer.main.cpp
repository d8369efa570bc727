// msg-peer: a messenger peer. Reports to the hub, prints the directory when it changes, and
// runs commands from stdin (peers, connect, msg, broadcast, send, quit; see peer_command.h).
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>

#include "apps/messenger/directory.h"
#include "apps/messenger/line_reader.h"
#include "apps/messenger/peer.h"
#include "core/asyncore.h"
#include "dispatchers/cli.h"

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

}  // namespace

int main(int argc, char** argv) {
  messenger::PeerOptions options;
  std::string hub, inbox;
  int port = 0;
  Cli cli("msg-peer", "--name NAME --hub H:P [--host H] [--port P] [--report S] [--inbox DIR]",
          "A messenger peer: reports to the hub and talks to other peers; commands on stdin:\n" +
              std::string(messenger::peer_command_help()));
  cli.option("--name", "NAME", "this peer's name (required; no spaces, ',', ';' or ':')", [&](std::string_view v) {
    if (auto problem = messenger::peer_name_problem(v)) throw std::invalid_argument(*problem);
    options.name = std::string(v);
  });
  cli.option("--hub", "H:P", "the hub's address (required)", [&](std::string_view v) {
    auto colon = v.rfind(':');
    if (colon == std::string_view::npos || colon == 0) throw std::invalid_argument("expected HOST:PORT");
    uint16_t hub_port = parse_port(v.substr(colon + 1));
    if (hub_port == 0) throw std::invalid_argument("port must be 1..65535");
    options.hub_host = std::string(v.substr(0, colon));
    options.hub_port = hub_port;
    hub = std::string(v);
  });
  cli.option("--host", &options.host, "H", "address to listen on for other peers (default 127.0.0.1)");
  cli.option("--port", &port, "P", "port to listen on (default 0: any free port)", 0, 65535);
  cli.option("--report", &options.report, "S", "seconds between reports to the hub (default 1)", 0.01, 86400);
  cli.option("--inbox", &inbox, "DIR", "where received files go (default ./var/msg-peer/NAME/inbox)");
  cli.parse(argc, argv);
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
  std::shared_ptr<messenger::LineReader> input;
  auto quit = [&](double max_wait) {
    if (input) input->close();
    peer->shut_down(max_wait, [&] { map.stop(); });
  };
  input = make<messenger::LineReader>(STDIN_FILENO, &map);
  input->on_line = [&](const std::string& line) { peer->run_command(line); };
  peer->on_quit = [&] { quit(kQuitWaitSeconds); };
  input->on_eof = [&] { quit(kQuitWaitSeconds); };
  auto on_signal = [&] {
    log_info("msg-peer: stopping");
    quit(kSignalWaitSeconds);
  };
  map.add_signal_handler(SIGINT, on_signal);
  map.add_signal_handler(SIGTERM, on_signal);
  announce_listening("peer", peer->address());  // after the handlers: a script may signal at once
  map.run();
  return 0;
}

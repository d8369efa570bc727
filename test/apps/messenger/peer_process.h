// Starting msg-hub and msg-peer for the peer tests, and waiting for their stdout lines.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "test/apps/messenger/messenger_testing.h"

namespace messenger_testing {

struct Hub {
  testing::Child child;
  int port;
  Hub(double interval, double alive)
      : child({testing::bin_path("msg-hub"), "--port", "0", "--interval", std::to_string(interval), "--alive",
               std::to_string(alive)}),
        port(child.listening_port("hub")) {}
};

struct Peer {
  std::string name;
  testing::Child child;
  int port;
  Peer(const std::string& peer_name, int hub_port, const std::string& inbox, std::vector<std::string> extra = {})
      : Peer(peer_name, address_arg(hub_port), inbox, std::move(extra)) {}
  // `hubs`: --hub's value, "H:P" or "H:P,H:P,...".
  Peer(const std::string& peer_name, const std::string& hubs, const std::string& inbox, std::vector<std::string> extra = {})
      : name(peer_name),
        child([&] {
          std::vector<std::string> argv{testing::bin_path("msg-peer"), "--name", peer_name, "--hub", hubs,
                                        "--report", "0.1", "--inbox", inbox};
          argv.insert(argv.end(), extra.begin(), extra.end());
          return argv;
        }()),
        port(child.listening_port("peer")) {}

  void command(const std::string& line) { child.write_stdin(line + "\n"); }
  // The next stdout line satisfying `wanted` (earlier lines are skipped).
  std::string line_where(const std::function<bool(const std::string&)>& wanted, double timeout = 10) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                           std::chrono::duration<double>(timeout));
    for (;;) {
      auto left = std::chrono::duration_cast<testing::Seconds>(deadline - std::chrono::steady_clock::now());
      auto line = left.count() > 0 ? child.read_line(left) : std::nullopt;
      if (!line) throw std::runtime_error(name + ": no wanted line; stderr: " + child.stderr_text());
      if (wanted(*line)) return *line;
    }
  }
  std::string line_starting(const std::string& prefix, double timeout = 10) {
    return line_where([&](const std::string& l) { return l.rfind(prefix, 0) == 0; }, timeout);
  }
  std::string entry() const { return name + "@127.0.0.1:" + std::to_string(port); }
};

}  // namespace messenger_testing

// echo-client: sends each line of stdin (or --message) to an echo server and prints the echo.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include <asyncore/asyncore.h>
#include "apps/common/cli.h"
#include <asyncore/stream/dispatcher_with_send.h>

using namespace asyncore;

namespace {

class EchoClient final : public DispatcherWithSend {
 public:
  EchoClient(const Address& server, std::string payload) : expected_(payload.size()) {
    create_socket(server.family());
    connect(server);
    send(payload);
  }
  void handle_connect() override {}
  void handle_read() override {
    char buffer[65536];
    size_t n = recv_into(buffer, sizeof buffer);
    std::fwrite(buffer, 1, n, stdout);
    if (n > 0) last_byte_ = buffer[n - 1];
    received_ += n;
    if (received_ >= expected_) {
      std::fflush(stdout);
      close();
    }
  }
  void handle_close() override {
    close();
  }
  void handle_error(const std::exception& e) override {
    std::fprintf(stderr, "echo-client: %s\n", e.what());
    failed = true;
    close();
  }
  size_t received() const { return received_; }
  char last_byte() const { return last_byte_; }
  bool failed = false;

 private:
  size_t expected_;
  size_t received_ = 0;
  char last_byte_ = '\n';
};

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", message;
  int port = 7007;
  Cli cli("echo-client", "[--host H] [--port P] [--message TEXT]",
          "Sends TEXT (or all of stdin) to an echo server and prints what comes back.");
  cli.option("--host", &host, "H", "server address (default 127.0.0.1)");
  cli.option("--port", &port, "P", "server port (default 7007)", 1, 65535);
  cli.option("--message", &message, "TEXT", "what to send (default: stdin)");
  cli.parse(argc, argv);
  if (message.empty()) message.assign(std::istreambuf_iterator<char>(std::cin), {});
  if (message.empty()) return 0;
  auto client = make<EchoClient>(Address::resolve(host, static_cast<uint16_t>(port)), message);
  loop(5.0);
  // On a terminal the echo ends its line, so the shell's prompt does not follow it on the same
  // line; into a pipe or file the bytes stay exactly what came back.
  if (client->last_byte() != '\n' && ::isatty(STDOUT_FILENO) == 1) std::fputc('\n', stdout);
  if (client->failed) return 3;
  if (client->received() != message.size()) {
    std::fprintf(stderr, "echo-client: got %zu of %zu bytes back\n", client->received(), message.size());
    return 1;
  }
  return 0;
}

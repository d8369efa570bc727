// messenger-bench: (1) broadcast throughput of a MessengerServer to 1,000 connected
// MessengerClient connections in the same process and loop; (2) file transfer MB/s between two
// msg-peer processes on loopback, beside the same bytes through a plain socat pipe as baseline.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include "apps/messenger/client.h"
#include "apps/messenger/server.h"
#include <asyncore/channel_map.h>
#include "apps/common/cli.h"
#include "test/support/testing.h"

using namespace asyncore;
using namespace asyncore::messenger;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

void raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

bool pump_until(ChannelMap& map, const std::function<bool()>& done, double timeout) {
  auto start = Clock::now();
  while (!done()) {
    if (seconds_since(start) > timeout) return false;
    map.poll_once(0.01);
  }
  return true;
}

int broadcast_bench(int connections, int messages, int body_size) {
  ChannelMap map;
  MessengerLimits limits;
  limits.max_output = 64 * 1024 * 1024;
  MessengerServer server("127.0.0.1", 0, &map, limits);
  MessengerClient clients(&map, limits);
  std::size_t delivered = 0;
  clients.on_message = [&](const MessengerPtr&, const Header&, const std::string&) { ++delivered; };
  for (int i = 0; i < connections; ++i) clients.add_connection("127.0.0.1", server.address().port());
  if (!pump_until(map, [&] { return server.size() == static_cast<std::size_t>(connections) &&
                                    clients.size() == static_cast<std::size_t>(connections); }, 30)) {
    std::fprintf(stderr, "messenger-bench: only %zu of %d connections came up\n", server.size(), connections);
    return 1;
  }
  const std::string body(static_cast<std::size_t>(body_size), 'm');
  const std::size_t expected = static_cast<std::size_t>(messages) * static_cast<std::size_t>(connections);
  auto start = Clock::now();
  for (int i = 0; i < messages; ++i) {
    server.broadcast(Header{{"TP", "Msg"}}, body);
    if (i % 16 == 15) map.poll_once(0);  // lets the receiving side keep up
  }
  if (!pump_until(map, [&] { return delivered == expected; }, 120)) {
    std::fprintf(stderr, "messenger-bench: %zu of %zu deliveries\n", delivered, expected);
    return 1;
  }
  double elapsed = seconds_since(start);
  std::printf("broadcast: %d connections, %d messages of %d bytes: %.2f s, %.0f broadcasts/s, %.0f deliveries/s\n",
              connections, messages, body_size, elapsed, messages / elapsed, static_cast<double>(expected) / elapsed);
  return 0;
}

void write_random_file(const std::string& path, std::size_t size) {
  std::mt19937_64 random(1);
  std::ofstream out(path, std::ios::binary);
  std::string block(1 << 20, '\0');
  for (std::size_t done = 0; done < size; done += block.size()) {
    for (std::size_t i = 0; i + 8 <= block.size(); i += 8) {
      std::uint64_t v = random();
      std::memcpy(block.data() + i, &v, 8);
    }
    out.write(block.data(), static_cast<std::streamsize>(std::min(block.size(), size - done)));
  }
}

double peer_transfer_seconds(const std::string& dir, const std::string& file) {
  testing::Child hub({testing::bin_path("msg-hub"), "--port", "0", "--interval", "0.1", "--quiet"});
  std::string hub_arg = "127.0.0.1:" + std::to_string(hub.listening_port("hub"));
  testing::Child alice({testing::bin_path("msg-peer"), "--name", "alice", "--hub", hub_arg, "--report", "0.1",
                        "--inbox", dir + "/alice", "--quiet"});
  testing::Child bob({testing::bin_path("msg-peer"), "--name", "bob", "--hub", hub_arg, "--report", "0.1", "--inbox",
                      dir + "/bob", "--accept-files-from", "alice", "--max-file-size", "1099511627776", "--quiet"});
  alice.listening_port("peer");
  bob.listening_port("peer");
  // Both must be in alice's directory before she can address bob.
  for (;;) {
    std::string line = alice.wait_for_line("directory", testing::Seconds(10));
    if (line.find("bob@") != std::string::npos) break;
  }
  alice.write_stdin("connect bob\n");
  alice.wait_for_line("ok connect", testing::Seconds(10));
  auto start = Clock::now();
  alice.write_stdin("send bob " + file + "\n");
  bob.wait_for_line("file alice", testing::Seconds(120));
  return seconds_since(start);
}

double socat_transfer_seconds(const std::string& dir, const std::string& file) {
  int port = testing::unused_port();
  testing::Child receiver({"socat", "-u", "TCP-LISTEN:" + std::to_string(port) + ",bind=127.0.0.1,reuseaddr",
                           "CREATE:" + dir + "/socat.out"});
  // socat prints nothing when it listens; wait until the port accepts.
  for (int i = 0; i < 200; ++i) {
    if (testing::run({"socat", "-u", "/dev/null", "TCP:127.0.0.1:" + std::to_string(port)}).code == 0) break;
    usleep(10000);
  }
  // The probe above consumed the first listener; start the real one.
  receiver.wait(testing::Seconds(5));
  testing::Child real_receiver({"socat", "-u", "TCP-LISTEN:" + std::to_string(port) + ",bind=127.0.0.1,reuseaddr",
                                "CREATE:" + dir + "/socat.out"});
  usleep(200000);
  auto start = Clock::now();
  auto sent = testing::run({"socat", "-u", "OPEN:" + file, "TCP:127.0.0.1:" + std::to_string(port)}, testing::Seconds(120));
  real_receiver.wait(testing::Seconds(120));
  if (sent.code != 0) std::fprintf(stderr, "messenger-bench: socat failed: %s\n", sent.err.c_str());
  return seconds_since(start);
}

int file_bench(int mib) {
  testing::TempDir dir;
  const std::string file = dir.file("payload.bin");
  const std::size_t size = static_cast<std::size_t>(mib) * 1024 * 1024;
  write_random_file(file, size);
  double peers = peer_transfer_seconds(dir.path(), file);
  double socat = socat_transfer_seconds(dir.path(), file);
  const double mb = static_cast<double>(size) / 1e6;
  std::printf("file: %d MiB msg-peer -> msg-peer (SHA-256 both ends, written to disk): %.2f s, %.0f MB/s\n", mib, peers,
              mb / peers);
  std::printf("file: %d MiB socat -> socat baseline (raw bytes, written to disk):        %.2f s, %.0f MB/s\n", mib, socat,
              mb / socat);
  std::printf("file: msg-peer reaches %.0f%% of the socat pipe\n", 100.0 * socat / peers);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int connections = 1000, messages = 2000, body = 64, file_mib = 200;
  Cli cli("messenger-bench", "[--connections N] [--messages M] [--body B] [--file-mib F]",
          "Broadcast throughput to N connections, and file transfer MB/s against a socat baseline.");
  cli.option("--connections", &connections, "N", "connected clients (default 1000)", 1, 15000);
  cli.option("--messages", &messages, "M", "broadcasts (default 2000)", 1, 10000000);
  cli.option("--body", &body, "B", "body bytes per broadcast (default 64)", 0, 1 << 20);
  cli.option("--file-mib", &file_mib, "F", "file size for the transfer (default 200; 0 skips it)", 0, 4096);
  cli.parse(argc, argv);
  set_log_level(LogLevel::warning);
  raise_fd_limit();
  if (int rc = broadcast_bench(connections, messages, body); rc != 0) return rc;
  if (file_mib > 0) return file_bench(file_mib);
  return 0;
}

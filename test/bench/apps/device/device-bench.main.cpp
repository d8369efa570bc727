// device-bench: how many devices one device-server holds and what they cost.
//
// Starts a server and a fleet of emulators (2+ processes: one process cannot hold more than its
// fd limit), then reports: the login storm rate, devices held over a hold period with none
// dropped, resident memory per connected device (VmRSS delta / devices), the server's CPU while
// the fleet idles on heartbeats, and interact round trips per second through the admin API.
// Output: one "name value" line per figure on stdout, progress on stderr.
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "apps/common/cli.h"
#include <asyncore/json/json.h>
#include "test/support/testing.h"

using namespace asyncore;
using testing::Seconds;
using Clock = std::chrono::steady_clock;

namespace {

// utime + stime in clock ticks.
long cpu_ticks(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

long metric(int admin, std::string_view name) {
  testing::HttpResponse r = testing::http(admin, "GET", "/metrics");
  std::string key = std::string(name) + " ";
  for (std::size_t at = r.body.find("\n" + key); at != std::string::npos;) return std::stol(r.body.substr(at + 1 + key.size()));
  return -1;
}

// Keeps the server and its load on separate cores (-1: anywhere), as run-bench.sh does.
void pin(int pid, int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (::sched_setaffinity(pid, sizeof set, &set) != 0) std::perror("device-bench: sched_setaffinity");
}

double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

void figure(const char* name, double value, const char* unit) {
  std::printf("%-34s %12.2f %s\n", name, value, unit);
  std::fflush(stdout);
}

void progress(const std::string& text) { std::fprintf(stderr, "[device-bench] %s\n", text.c_str()); }

}  // namespace

int main(int argc, char** argv) {
  int devices = 19000, emulators = 2, interacts = 2000, threads = 4, server_cpu = -1, load_cpu = -1;
  double hold = 10, heartbeat = 30;
  std::string server_bin = testing::bin_path("device-server"), emulator_bin = testing::bin_path("device-emulator");
  Cli cli("device-bench", "[--devices N] [--emulators K] [--hold S] [--heartbeat S] [--interacts N] [--threads T] [--server-cpu C] [--load-cpu C]",
          "Benchmarks device-server: login storm, devices held, memory and idle CPU per device, interact rate.");
  cli.option("--devices", &devices, "N", "devices to connect (default 19000; ulimit -n bounds it)", 1, 1000000);
  cli.option("--emulators", &emulators, "K", "emulator processes sharing the devices (default 2)", 1, 64);
  cli.option("--hold", &hold, "S", "seconds to hold every device while measuring idle CPU (default 10)", 1, 86400);
  cli.option("--heartbeat", &heartbeat, "S", "emulated heartbeat interval (default 30)", 1, 1800);
  cli.option("--interacts", &interacts, "N", "interact round trips through the admin API (default 2000)", 0, 10000000);
  cli.option("--threads", &threads, "T", "concurrent admin clients for the interacts (default 4)", 1, 256);
  cli.option("--server-cpu", &server_cpu, "C", "pin the server to this CPU (default: not pinned)", -1, 4095);
  cli.option("--load-cpu", &load_cpu, "C", "pin the emulators and this program to this CPU (default: not pinned)", -1, 4095);
  cli.option("--server", &server_bin, "PATH", "device-server binary");
  cli.option("--emulator", &emulator_bin, "PATH", "device-emulator binary");
  cli.parse(argc, argv);

  testing::TempDir dir;
  testing::Child server({server_bin, "--port", "0", "--admin-port", "0", "--auto-register", "--quiet", "--data-dir",
                         dir.file("data")});
  pin(server.pid(), server_cpu);
  pin(0, load_cpu);  // the emulators started below inherit it
  const int port = server.listening_port("device");
  const int admin = server.listening_port("admin");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const long rss_before = testing::resident_kib(server.pid());
  progress("server pid " + std::to_string(server.pid()) + ", VmRSS " + std::to_string(rss_before) + " KiB before devices");

  // --- login storm -------------------------------------------------------------------------------
  std::vector<std::unique_ptr<testing::Child>> fleet;
  const long storm_ticks = cpu_ticks(server.pid());
  const auto storm_start = Clock::now();
  for (int i = 0; i < emulators; ++i) {
    const int share = devices / emulators + (i < devices % emulators ? 1 : 0);
    const std::uint64_t base = 860000000000000ULL + static_cast<std::uint64_t>(i) * 1000000ULL;
    // A source address per emulator: from one address, past ~14,000 connections to the server
    // every connect() scans the kernel's ephemeral port range and the client, not the server,
    // sets the pace (19,000 devices: 10x the kernel time per connect).
    const std::string source = "127.0.0." + std::to_string(2 + i);
    fleet.push_back(std::make_unique<testing::Child>(std::vector<std::string>{
        emulator_bin, "--port", std::to_string(port), "--devices", std::to_string(share), "--imei-base",
        std::to_string(base), "--heartbeat", std::to_string(heartbeat), "--report", "0", "--quiet", "--source", source}));
  }
  double slowest = 0;
  for (auto& emulator : fleet) {
    std::string line = emulator->wait_for_line("all logged in", Seconds(120));
    slowest = std::max(slowest, std::stod(line.substr(line.rfind(" in ") + 4)));
  }
  const double storm_seconds = since(storm_start);
  const double storm_cpu = static_cast<double>(cpu_ticks(server.pid()) - storm_ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  long online = metric(admin, "device_online");
  progress("all " + std::to_string(devices) + " logged in; server says " + std::to_string(online) + " online");
  figure("devices_held", static_cast<double>(online), "devices");
  figure("login_storm_rate", devices / slowest, "logins/s (slowest emulator's own clock)");
  figure("login_storm_rate_wall", devices / storm_seconds, "logins/s (incl. process start)");
  // The emulators share the cores with the server; this is what the server alone would sustain.
  figure("server_cpu_per_login", 1e6 * storm_cpu / devices, "us of server CPU per login");
  figure("server_login_capacity", devices / std::max(storm_cpu, 1e-3), "logins/s per core of server CPU");

  // --- hold: memory, idle CPU, drops -------------------------------------------------------------
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const long ticks_start = cpu_ticks(server.pid());
  const auto hold_start = Clock::now();
  long lowest_online = online;
  while (since(hold_start) < hold) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    lowest_online = std::min(lowest_online, metric(admin, "device_online"));
  }
  const double hold_seconds = since(hold_start);
  const long rss_held = testing::resident_kib(server.pid());  // after the heartbeats, with every device still held
  const double cpu_seconds = static_cast<double>(cpu_ticks(server.pid()) - ticks_start) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  figure("rss_per_device", static_cast<double>(rss_held - rss_before) * 1024.0 / devices, "bytes (VmRSS delta / devices)");
  figure("rss_total", static_cast<double>(rss_held) / 1024.0, "MiB");
  figure("idle_cpu", 100.0 * cpu_seconds / hold_seconds, "% of one core while heartbeating");
  figure("hold_seconds", hold_seconds, "s");
  figure("lowest_online_during_hold", static_cast<double>(lowest_online), "devices");

  // --- interact round trips ----------------------------------------------------------------------
  if (interacts > 0) {
    std::atomic<int> next{0}, ok{0};
    const auto start = Clock::now();
    std::vector<std::thread> clients;
    for (int t = 0; t < threads; ++t) {
      clients.emplace_back([&, t] {
        std::mt19937 rng(static_cast<unsigned>(t));
        while (next.fetch_add(1) < interacts) {
          const int i = static_cast<int>(rng() % static_cast<unsigned>(devices));
          const int e = i % emulators;
          const std::uint64_t imei = 860000000000000ULL + static_cast<std::uint64_t>(e) * 1000000ULL + static_cast<std::uint64_t>(i / emulators);
          testing::HttpResponse r = testing::http(admin, "POST", "/devices/" + std::to_string(imei) + "/commands?mode=interact&timeout=5",
                                                  R"({"type":104,"text":"bench"})");
          if (r.status == 200) ok.fetch_add(1);
        }
      });
    }
    for (auto& c : clients) c.join();
    const double seconds = since(start);
    figure("interact_round_trips", ok / seconds, "per second (one HTTP connection each)");
    figure("interact_ok", ok, "of requested");
  }

  // --- stop ----------------------------------------------------------------------------------------
  long disconnects = 0;
  for (auto& emulator : fleet) {
    emulator->signal(SIGTERM);
    std::string summary = emulator->wait_for_line("summary", Seconds(60));
    const std::size_t at = summary.find("disconnects=");
    disconnects += std::stol(summary.substr(at + 12)) ;
    emulator->wait(Seconds(30));
  }
  // Each device disconnects once at the final stop; more means some were dropped on the way.
  figure("devices_dropped", static_cast<double>(disconnects - devices), "devices");
  server.signal(SIGTERM);
  const auto code = server.wait(Seconds(60));
  figure("server_exit", code ? *code : -1, "");
  return lowest_online == devices && disconnects == devices ? 0 : 1;
}

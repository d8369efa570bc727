// timers: schedule, reset and cancel rates with many live timers, and their memory.
// Prints one key=value line; the baseline is a plain std::multimap of deadlines (what a naive
// timer list would use), measured in the same run.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <asyncore/asyncore.h>

using namespace asyncore;
using Wall = std::chrono::steady_clock;

static long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  long value = 0;
  while (status >> key) {
    if (key == "VmRSS:") {
      status >> value;
      return value;
    }
  }
  return 0;
}

template <class F>
static double rate(size_t n, F&& body) {
  auto start = Wall::now();
  body();
  return static_cast<double>(n) / std::chrono::duration<double>(Wall::now() - start).count();
}

int main(int argc, char** argv) {
  size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1000000;
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> delay(1000.0, 2000.0);
  std::vector<double> delays(n);
  for (auto& d : delays) d = delay(rng);

  long rss_before = rss_kib();
  ChannelMap map;
  std::vector<TimerHandle> handles;
  handles.reserve(n);
  long fired = 0;
  double schedule_rate = rate(n, [&] {
    for (size_t i = 0; i < n; ++i) handles.push_back(map.call_later(delays[i], [&fired] { ++fired; }));
  });
  long rss_live = rss_kib();
  double reset_rate = rate(n, [&] {
    for (size_t i = 0; i < n; ++i) handles[i].reset(delays[n - 1 - i]);
  });
  double cancel_rate = rate(n, [&] {
    for (size_t i = 0; i < n; ++i) handles[i].cancel();
  });
  bool all_cancelled = map.timer_count() == 0;

  // Baseline: a multimap keyed by deadline (insert, then erase by iterator).
  std::multimap<double, int> baseline;
  std::vector<std::multimap<double, int>::iterator> its;
  its.reserve(n);
  double base_schedule = rate(n, [&] {
    for (size_t i = 0; i < n; ++i) its.push_back(baseline.emplace(delays[i], 0));
  });
  double base_cancel = rate(n, [&] {
    for (size_t i = 0; i < n; ++i) baseline.erase(its[i]);
  });

  std::printf("timers=%zu schedule_per_s=%.0f reset_per_s=%.0f cancel_per_s=%.0f bytes_per_timer=%.0f "
              "baseline_multimap_schedule_per_s=%.0f baseline_multimap_cancel_per_s=%.0f all_cancelled=%d fired=%ld\n",
              n, schedule_rate, reset_rate, cancel_rate,
              static_cast<double>(rss_live - rss_before) * 1024.0 / static_cast<double>(n), base_schedule, base_cancel,
              all_cancelled ? 1 : 0, fired);
  return all_cancelled && fired == 0 ? 0 : 1;
}

// Load for bench-sync.sh against a running sync-server.
//   sync-load jobs PORT TYPE COUNT
//     submits COUNT syncs of TYPE (ids j0..) pipelined on one connection, then polls until all
//     have ended; prints "submit_per_s=.. jobs_per_s=.. succeeded=.." (jobs_per_s from the first
//     job's creation to the last end, on the server's clock)
//   sync-load lines PORT HTTP_PORT TYPE ID LINES
//     starts one sync expected to print LINES lines and follows its log through the JSON API
//     twice a second, as the page does; prints "lines_per_s=.. polled_lines=.. polls=.."
//     (lines_per_s from the job's own started/ended times)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <asyncore/json/json.h>
#include "test/support/testing.h"

namespace json = asyncore::json;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

int jobs(int port, const std::string& type, int count) {
  testing::Client client(port);
  const auto start = Clock::now();
  std::string batch;
  for (int i = 0; i < count; ++i) batch += "sync " + type + " j" + std::to_string(i) + "\n";
  std::thread writer([&] { client.send_all(batch); });
  int64_t first = 0, last = 0;
  for (int i = 0; i < count; ++i) {
    json::Value reply = json::parse(client.recv_until("\n", testing::Seconds(60)));
    if (!reply["ok"].as_bool()) {
      std::fprintf(stderr, "sync-load: %s\n", json::dump(reply).c_str());
      writer.join();
      return 1;
    }
    if (i == 0) first = reply["job"].as_int();
    last = reply["job"].as_int();
  }
  writer.join();
  const double submitted = seconds_since(start);
  // Polls only the jobs not yet seen ended, so the poller stays light next to the server.
  std::vector<int64_t> pending;
  for (int64_t job = first; job <= last; ++job) pending.push_back(job);
  int succeeded = 0;
  double first_created = 0, last_ended = 0;  // the server's own clock: the poller's pace does not count
  while (!pending.empty()) {
    std::string batch_status;
    for (int64_t job : pending) batch_status += "status " + std::to_string(job) + "\n";
    client.send_all(batch_status);
    std::vector<int64_t> still;
    for (int64_t job : pending) {
      json::Value status = json::parse(client.recv_until("\n", testing::Seconds(60)));
      const std::string state = status["state"].as_string();
      if (state == "queued" || state == "running") {
        still.push_back(job);
        continue;
      }
      if (state == "succeeded") ++succeeded;
      if (job == first) first_created = status["created"].as_double();
      last_ended = std::max(last_ended, status["ended"].as_double());
    }
    pending = std::move(still);
    if (seconds_since(start) > 300) {
      std::fprintf(stderr, "sync-load: jobs did not end\n");
      return 1;
    }
    if (!pending.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const double total = std::max(last_ended - first_created, 1e-3);
  std::printf("submit_per_s=%.0f jobs_per_s=%.1f succeeded=%d seconds=%.2f\n", count / submitted, count / total,
              succeeded, total);
  return succeeded == count ? 0 : 1;
}

int lines(int port, int http_port, const std::string& type, const std::string& id, long expected) {
  json::Value started = json::parse(testing::http(http_port, "POST", "/api/sync", "{\"type\":\"" + type + "\",\"id\":\"" + id + "\"}").body);
  if (!started["ok"].as_bool()) {
    std::fprintf(stderr, "sync-load: %s\n", json::dump(started).c_str());
    return 1;
  }
  const std::string job = std::to_string(started["job"].as_int());
  long next = 0, polls = 0;
  const auto start = Clock::now();
  for (;;) {
    json::Value log = json::parse(testing::http(http_port, "GET", "/api/jobs/" + job + "/log?from=" + std::to_string(next)).body);
    ++polls;
    next = log["next"].as_int();
    const std::string state = log["state"].as_string();
    const bool more = log["lines"].size() >= 1000;
    if (!more && state != "queued" && state != "running") break;
    if (seconds_since(start) > 300) return 1;
    if (!more) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  testing::Client client(port);
  client.send_all("status " + job + "\n");
  json::Value status = json::parse(client.recv_until("\n"));
  const double run = status["ended"].as_double() - status["started"].as_double();
  std::printf("lines_per_s=%.0f polled_lines=%ld polls=%ld state=%s seconds=%.2f\n", expected / std::max(run, 1e-3), next,
              polls, status["state"].as_string().c_str(), run);
  return next == expected && status["state"].as_string() == "succeeded" ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "jobs" && argc == 5) return jobs(std::stoi(argv[2]), argv[3], std::stoi(argv[4]));
    if (mode == "lines" && argc == 7) return lines(std::stoi(argv[2]), std::stoi(argv[3]), argv[4], argv[5], std::stol(argv[6]));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sync-load: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: sync-load jobs PORT TYPE COUNT | lines PORT HTTP_PORT TYPE ID LINES\n");
  return 2;
}

// The job store across crashes and restarts: kill -9 mid-job keeps every reported job and log
// line and marks the running job interrupted; numbers keep growing; a torn tail is skipped;
// the journal is compacted so it does not grow forever.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/stat.h>

#include <filesystem>

#include "test/apps/sync/sync_testing.h"

using namespace sync_testing;

TEST_CASE("kill -9 while a job runs: after restart every reported job and log line is there") {
  testing::TempDir dir;
  std::vector<json::Value> finished_status;
  std::vector<std::vector<std::string>> finished_logs;
  int64_t running = 0;
  std::vector<std::string> reported;
  {
    Server server(dir);
    for (const char* id : {"k1", "k2"}) {
      const auto job = start_sync(server.port, "steps", id);
      finished_status.push_back(wait_final(server.port, job));
      finished_logs.push_back(log_texts(server.port, job));
    }
    running = start_sync(server.port, "slow", "k3");
    REQUIRE(testing::eventually([&] { return log_texts(server.port, running).size() >= 5; }));
    reported = log_texts(server.port, running);  // these were reported: they must survive
    server.child->signal(SIGKILL);
    server.child->wait();
  }
  Server again(dir);
  for (size_t i = 0; i < finished_status.size(); ++i) {
    const int64_t job = finished_status[i]["job"].as_int();
    CHECK(json::dump(command(again.port, "status " + std::to_string(job))) == json::dump(finished_status[i]));
    CHECK(log_texts(again.port, job) == finished_logs[i]);
  }
  json::Value status = command(again.port, "status " + std::to_string(running));
  CHECK(status["state"].as_string() == "interrupted");
  CHECK(!status["ended"].is_null());
  std::vector<std::string> after = log_texts(again.port, running);
  REQUIRE(after.size() >= reported.size());
  CHECK(std::equal(reported.begin(), reported.end(), after.begin()));
  // Numbers keep growing.
  CHECK(start_sync(again.port, "echo", "k4") == running + 1);
}

TEST_CASE("job numbers keep growing across graceful restarts, and a torn journal tail is skipped") {
  testing::TempDir dir;
  {
    Server server(dir);
    CHECK(start_sync(server.port, "echo", "n1") == 1);
    wait_final(server.port, 1);
    command(server.port, "quit");
    CHECK(server.child->wait() == 0);
  }
  {
    // A crash in the middle of a write: garbage after the last complete record.
    std::ofstream journal(dir.file("data/jobs.journal"), std::ios::app | std::ios::binary);
    journal << std::string("\x30\x00\x00\x00garbage", 11);
  }
  Server again(dir);
  CHECK(command(again.port, "status 1")["state"].as_string() == "succeeded");
  CHECK(start_sync(again.port, "echo", "n2") == 2);
}

TEST_CASE("old jobs are forgotten past --keep-jobs and the journal is compacted") {
  testing::TempDir dir;
  int64_t last = 0;
  {
    Server server(dir, {"--keep-jobs", "3", "--max-jobs", "8", "--compact-records", "200"});
    for (int i = 0; i < 240; ++i) last = start_sync(server.port, "echo", "c" + std::to_string(i));
    // Finished jobs are forgotten soon after, so wait for the newest, then for nothing to run.
    CHECK(wait_final(server.port, last)["state"].as_string() == "succeeded");
    CHECK(testing::eventually([&] {
      const json::Value jobs = command(server.port, "jobs 100");
      for (const json::Value& job : jobs["jobs"].as_array()) {
        if (!final_state(job["state"].as_string())) return false;
      }
      return true;
    }));
    CHECK(testing::eventually([&] { return command(server.port, "jobs 100")["jobs"].size() == 3; }));
    CHECK(command(server.port, "status 1")["error"].as_string() == "no job 1");
    command(server.port, "quit");
    CHECK(server.child->wait() == 0);
  }
  // 240 jobs of 5 records each went through the journal; compaction kept it to a few jobs' worth.
  CHECK(std::filesystem::exists(dir.file("data/jobs.journal.snapshot")));
  const auto size = std::filesystem::file_size(dir.file("data/jobs.journal")) +
                    std::filesystem::file_size(dir.file("data/jobs.journal.snapshot"));
  CHECK(size < 40 * 1024);
  Server again(dir);
  CHECK(start_sync(again.port, "echo", "after") == last + 1);
  CHECK(command(again.port, "status " + std::to_string(last))["state"].as_string() == "succeeded");
}

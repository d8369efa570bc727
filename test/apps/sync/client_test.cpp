// sync-client against a real sync-server: one command and its reply, --follow to the end with
// progress and log lines, and the exit statuses (0, 1, 2, 3).
#include <doctest/doctest.h>

#include <signal.h>

#include "test/apps/sync/sync_testing.h"

using namespace sync_testing;

namespace {

testing::RunResult client(int port, std::vector<std::string> args, testing::Seconds timeout = testing::Seconds(30)) {
  std::vector<std::string> argv{testing::bin_path("sync-client"), "--port", std::to_string(port)};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::run(argv, timeout);
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) lines.push_back(text.substr(start, end - start));
  return lines;
}

}  // namespace

TEST_CASE("sync-client sync demo 1 --follow shows the log and progress reaching 100, and exits 0") {
  testing::TempDir dir;
  testing::Child server({testing::bin_path("sync-server"), "--port", "0", "--http-port", "0", "--data-dir", dir.file("data")});
  const int port = server.listening_port("command");
  auto result = client(port, {"sync", "demo", "1", "--follow"});
  CAPTURE(result.out);
  CAPTURE(result.err);
  CHECK(result.code == 0);
  auto lines = split_lines(result.out);
  REQUIRE(lines.size() > 3);
  CHECK(lines.front() == R"({"ok":true,"job":1,"state":"queued"})");
  CHECK(lines.back() == "job 1 succeeded");
  std::vector<int> progress;
  std::vector<std::string> log;
  for (const std::string& line : lines) {
    if (line.starts_with("progress ")) progress.push_back(std::stoi(line.substr(9)));
    else if (line.starts_with("step ")) log.push_back(line);
  }
  REQUIRE(!progress.empty());
  CHECK(progress.back() == 100);
  CHECK(std::is_sorted(progress.begin(), progress.end()));
  CHECK(log.size() == 10);
  CHECK(log.front() == "step 1/10: connecting to the remote API");
  // Every log line the server has, in order.
  std::vector<std::string> server_log = log_texts(port, 1);
  size_t at = 0;
  for (const std::string& line : lines) {
    if (at < server_log.size() && line == server_log[at]) ++at;
  }
  CHECK(at == server_log.size());
}

TEST_CASE("sync-client: one command, one reply; exit 1 for an error reply or a job that did not succeed") {
  testing::TempDir dir;
  Server server(dir);
  auto jobs = client(server.port, {"jobs"});
  CHECK(jobs.code == 0);
  CHECK(jobs.out == "{\"ok\":true,\"jobs\":[]}\n");
  auto missing = client(server.port, {"status", "7"});
  CHECK(missing.code == 1);
  CHECK(missing.out == "{\"ok\":false,\"error\":\"no job 7\"}\n");
  auto bad = client(server.port, {"sync", "echo", "a/b"});
  CHECK(bad.code == 1);
  auto failed = client(server.port, {"sync", "fail", "4", "--follow"});
  CHECK(failed.code == 1);
  CHECK(failed.out.find("about to fail\n") != std::string::npos);
  CHECK(failed.out.ends_with("job 1 failed\n"));  // the refused sync made no job
  auto timed_out = client(server.port, {"--follow", "sync", "hang", "x"});
  CHECK(timed_out.code == 1);
  CHECK(timed_out.out.ends_with(" timeout\n"));
  auto ok = client(server.port, {"sync", "steps", "3", "--follow"});
  CHECK(ok.code == 0);
  CHECK(ok.out.find("line 3 of 3\n") != std::string::npos);
  CHECK(ok.out.find("\n[stderr] a note on stderr\n") != std::string::npos);  // the program's stderr, marked
}

TEST_CASE("sync-client --human: readable replies (a terminal's default); --json: the server's line") {
  testing::TempDir dir;
  Server server(dir);
  auto none = client(server.port, {"--human", "jobs"});
  CHECK(none.code == 0);
  CHECK(none.out == "no jobs\n");
  auto started = client(server.port, {"--human", "sync", "steps", "3", "--follow"});
  CHECK(started.code == 0);
  CHECK(started.out.starts_with("job 1 queued\n"));
  auto status = client(server.port, {"--human", "status", "1"});
  CAPTURE(status.out);
  CHECK(status.code == 0);
  std::vector<std::string> lines = split_lines(status.out);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == "job 1: steps 3, succeeded, 100%");
  for (int i : {1, 2, 3}) {  // created, started, ended as UTC dates, never as epoch floats
    CAPTURE(lines[i]);
    CHECK(lines[i].find(" UTC") == 30);  // "  created  2026-12-03 10:08:35 UTC"
    CHECK(lines[i].substr(11, 19).find_first_not_of("0123456789-: ") == std::string::npos);
  }
  CHECK(lines[3].find(" (ran ") != std::string::npos);
  CHECK(lines[3].ends_with(" s)"));
  CHECK(lines[4] == "  exit 0, 4 log lines");
  auto log = client(server.port, {"--human", "log", "1"});
  CAPTURE(log.out);
  CHECK(log.out.find("  line 1 of 3\n") == 8);  // "HH:MM:SS  text"
  CHECK(log.out.find(" [stderr] a note on stderr\n") != std::string::npos);
  CHECK(log.out.ends_with("(job 1 succeeded, 100%; next line 4)\n"));
  auto table = client(server.port, {"--human", "jobs"});
  CAPTURE(table.out);
  lines = split_lines(table.out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].starts_with("JOB    TYPE        ID            STATE        PROGRESS  STARTED"));
  CHECK(lines[1].starts_with("1      steps       3             succeeded    100%      20"));
  auto refused = client(server.port, {"--human", "status", "9"});
  CHECK(refused.code == 1);
  CHECK(refused.out.empty());
  CHECK(refused.err == "error: no job 9\n");
  auto json_line = client(server.port, {"--json", "status", "1"});
  CHECK(json_line.code == 0);
  CHECK(json::parse(json_line.out)["state"].as_string() == "succeeded");
  CHECK(client(server.port, {"--json", "--human", "jobs"}).code == 2);
}

TEST_CASE("sync-client: usage errors exit 2, an unreachable server exits 3") {
  for (std::vector<std::string> usage : {std::vector<std::string>{}, {"--bogus", "jobs"}, {"--follow", "jobs"},
                                         {"--follow", "sync", "demo"}, {"--port", "0", "jobs"}}) {
    std::vector<std::string> argv{testing::bin_path("sync-client")};
    argv.insert(argv.end(), usage.begin(), usage.end());
    auto result = testing::run(argv);
    CAPTURE(result.err);
    CHECK(result.code == 2);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  }
  CHECK(testing::run({testing::bin_path("sync-client"), "--help"}).code == 0);
  auto unreachable = client(testing::unused_port(), {"sync", "demo", "1", "--follow"});
  CHECK(unreachable.code == 3);
  CHECK(unreachable.err.find("cannot reach") != std::string::npos);
}

TEST_CASE("sync-client --follow exits 3 when the server goes away mid-job") {
  testing::TempDir dir;
  Server server(dir);
  std::vector<std::string> argv{testing::bin_path("sync-client"), "--port", std::to_string(server.port),
                                "sync", "slow", "gone", "--follow"};  // slow ends by itself: the kill -9 leaves nothing running
  testing::Child follower(argv);
  CHECK(follower.read_line().value_or("") == R"({"ok":true,"job":1,"state":"queued"})");
  server.child->signal(SIGKILL);
  CHECK(follower.wait(testing::Seconds(15)) == 3);
}

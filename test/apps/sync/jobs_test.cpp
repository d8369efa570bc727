// sync-server running sync programs: output and progress, exit codes, timeouts that leave no
// process behind, cancel, the --max-jobs limit, dedup, and graceful shutdown with --grace.
#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "test/apps/sync/sync_testing.h"

using namespace sync_testing;

namespace {

bool process_gone(int pid) {
  if (::kill(pid, 0) != 0) return true;
  // An orphaned grandchild stays a zombie until init reaps it (some containers' init never
  // does): it has exited, which is what counts.
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t close_paren = stat.rfind(')');
  return stat.empty() || (close_paren != std::string::npos && stat.substr(close_paren + 2, 1) == "Z");
}

std::vector<int> pids_in(const std::string& path) {
  std::istringstream in(read_file(path));
  std::string word;
  std::vector<int> pids;
  in >> word;
  int pid;
  while (in >> pid) pids.push_back(pid);
  return pids;
}

}  // namespace

TEST_CASE("flags follow the conventions and a bad config line names its file and line") {
  testing::TempDir dir;
  auto help = testing::run({testing::bin_path("sync-server"), "--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("--max-jobs") != std::string::npos);
  for (std::vector<std::string> bad : {std::vector<std::string>{"--bogus"}, {"--max-jobs", "0"}, {"--port", "70000"},
                                       {"--grace", "soon"}}) {
    std::vector<std::string> argv{testing::bin_path("sync-server")};
    argv.insert(argv.end(), bad.begin(), bad.end());
    auto result = testing::run(argv);
    CAPTURE(bad[0]);
    CHECK(result.code == 2);
    CHECK(result.err.find(bad[0]) != std::string::npos);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  }
  for (std::string line : {"steps", "bad/type 5 /bin/true", "steps soon /bin/true", "steps -1 /bin/true"}) {
    std::ofstream(dir.file("bad.conf")) << "# fine\necho 10 /bin/echo {id}\n\n" << line << "\n";
    auto result = testing::run({testing::bin_path("sync-server"), "--port", "0", "--http-port", "0", "--data-dir",
                                dir.file("data"), "--config", dir.file("bad.conf")});
    CAPTURE(line);
    CHECK(result.code == 2);
    CHECK(result.err.find(dir.file("bad.conf") + ":4:") != std::string::npos);
  }
}

TEST_CASE("a sync streams its log lines in order, progress lines move the bar, and it ends succeeded") {
  testing::TempDir dir;
  Server server(dir);
  const auto job = start_sync(server.port, "steps", "12");
  json::Value status = wait_final(server.port, job);
  CHECK(status["state"].as_string() == "succeeded");
  CHECK(status["progress"].as_int() == 100);
  CHECK(status["exit"].as_int() == 0);
  CHECK(status["type"].as_string() == "steps");
  CHECK(status["id"].as_string() == "12");
  CHECK(status["started"].as_double() >= status["created"].as_double());
  CHECK(status["ended"].as_double() >= status["started"].as_double());

  json::Value log = command(server.port, "log " + std::to_string(job));
  const json::Array& lines = log["lines"].as_array();
  std::vector<std::string> stdout_lines;
  for (size_t n = 0; n < lines.size(); ++n) {
    CHECK(lines[n]["n"].as_int() == static_cast<int64_t>(n));
    CHECK(lines[n]["t"].as_double() > 0);
    const std::string& text = lines[n]["text"].as_string();
    CHECK(text.find("PROGRESS") == std::string::npos);  // progress lines are not log lines
    if (text.starts_with("line ")) stdout_lines.push_back(text);
  }
  REQUIRE(stdout_lines.size() == 12);
  for (int i = 1; i <= 12; ++i) CHECK(stdout_lines[static_cast<size_t>(i - 1)] == "line " + std::to_string(i) + " of 12");
  CHECK(lines.size() == 13);  // and the stderr line
  CHECK(log["next"].as_int() == 13);
  CHECK(log["state"].as_string() == "succeeded");

  json::Value tail = command(server.port, "log " + std::to_string(job) + " 10");
  REQUIRE(tail["lines"].size() == 3);
  CHECK(tail["lines"][0]["n"].as_int() == 10);
  CHECK(command(server.port, "log " + std::to_string(job) + " 99")["lines"].size() == 0);

  // {type} and {id} are substituted into the program's arguments.
  const auto echo = start_sync(server.port, "echo", "rec-7");
  CHECK(wait_final(server.port, echo)["state"].as_string() == "succeeded");
  CHECK(log_texts(server.port, echo) == std::vector<std::string>{"echo:rec-7"});
}

TEST_CASE("a failing program ends failed with its exit code") {
  testing::TempDir dir;
  Server server(dir);
  const auto job = start_sync(server.port, "fail", "3");
  json::Value status = wait_final(server.port, job);
  CHECK(status["state"].as_string() == "failed");
  CHECK(status["exit"].as_int() == 3);
  CHECK(status["progress"].as_int() == 0);
  CHECK(log_texts(server.port, job) == std::vector<std::string>{"about to fail"});
}

TEST_CASE("a program that hangs ends timeout, and neither it nor what it started is left behind") {
  testing::TempDir dir;
  Server server(dir);
  for (std::string type : {"hang", "stubborn"}) {  // stubborn ignores SIGTERM: SIGKILL after 2 s
    CAPTURE(type);
    const auto job = start_sync(server.port, type, "t" + type);
    json::Value status = wait_final(server.port, job, testing::Seconds(15));
    CHECK(status["state"].as_string() == "timeout");
    std::vector<int> pids = pids_in(dir.file("pids-t" + type));
    REQUIRE(pids.size() == 2);
    for (int pid : pids) CHECK_MESSAGE(testing::eventually([&] { return process_gone(pid); }, testing::Seconds(5)), pid);
    auto texts = log_texts(server.port, job);
    REQUIRE(texts.size() == 1);
    CHECK(texts[0].starts_with("pids "));
    if (type == "stubborn") CHECK(status["ended"].as_double() - status["started"].as_double() >= 2.5);
  }
}

TEST_CASE("cancel ends a running job and its processes, and a queued one before it starts") {
  testing::TempDir dir;
  Server server(dir, {"--max-jobs", "1"});
  const auto running = start_sync(server.port, "waits", "c1");
  const auto queued = start_sync(server.port, "waits", "c2");
  REQUIRE(testing::eventually([&] { return command(server.port, "status " + std::to_string(running))["state"].as_string() == "running"; }));
  REQUIRE(testing::eventually([&] { return pids_in(dir.file("pids-c1")).size() == 2; }));
  CHECK(command(server.port, "status " + std::to_string(queued))["state"].as_string() == "queued");

  json::Value reply = command(server.port, "cancel " + std::to_string(queued));
  CHECK(json::dump(reply) == R"({"ok":true,"job":)" + std::to_string(queued) + R"(,"state":"cancelled"})");
  reply = command(server.port, "cancel " + std::to_string(running));
  CHECK(reply["state"].as_string() == "cancelled");
  for (int pid : pids_in(dir.file("pids-c1"))) CHECK(testing::eventually([&] { return process_gone(pid); }));
  CHECK(command(server.port, "status " + std::to_string(running))["state"].as_string() == "cancelled");
  CHECK(!std::ifstream(dir.file("pids-c2")));  // the queued one never started
  reply = command(server.port, "cancel " + std::to_string(running));
  CHECK(reply["ok"].as_bool() == false);
  CHECK(reply["error"].as_string().find("cancelled") != std::string::npos);
}

TEST_CASE("the same record queued or running is deduplicated; once ended it syncs again") {
  testing::TempDir dir;
  Server server(dir);
  const auto first = start_sync(server.port, "slow", "d1");
  json::Value again = command(server.port, "sync slow d1");
  CHECK(again["job"].as_int() == first);
  CHECK(again["dedup"].as_bool() == true);
  const auto other = start_sync(server.port, "slow", "d2");
  CHECK(other != first);
  command(server.port, "cancel " + std::to_string(first));
  json::Value after = command(server.port, "sync slow d1");
  CHECK(after["job"].as_int() > other);
  CHECK(after.get("dedup") == nullptr);
}

TEST_CASE("ten syncs with --max-jobs 2 never run more than two at once, in order, and all finish") {
  testing::TempDir dir;
  Server server(dir, {"--max-jobs", "2"});
  std::vector<int64_t> jobs;
  for (int i = 0; i < 10; ++i) jobs.push_back(start_sync(server.port, "record", "r" + std::to_string(i)));
  for (size_t i = 1; i < jobs.size(); ++i) CHECK(jobs[i] == jobs[i - 1] + 1);
  for (auto job : jobs) CHECK(wait_final(server.port, job, testing::Seconds(30))["state"].as_string() == "succeeded");

  // Sweep the start/end events in time order: never more than two at once.
  std::istringstream in(read_file(dir.file("times")));
  std::vector<std::pair<long long, int>> events;  // (time, +1 start / -1 end)
  std::vector<std::string> start_order;
  std::string kind, id;
  long long t;
  while (in >> kind >> id >> t) {
    events.emplace_back(t, kind == "start" ? 1 : -1);
    if (kind == "start") start_order.push_back(id);
  }
  REQUIRE(events.size() == 20);
  std::sort(events.begin(), events.end());  // an end and a start at the same instant: the end first
  int now = 0, most = 0;
  for (auto [time, delta] : events) most = std::max(most, now += delta);
  CHECK(most == 2);
  // In queue order: two programs started together may log their start either way round.
  REQUIRE(start_order.size() == 10);
  CHECK(std::set<std::string>{start_order[0], start_order[1]} == std::set<std::string>{"r0", "r1"});
  CHECK(std::set<std::string>{start_order[8], start_order[9]} == std::set<std::string>{"r8", "r9"});
}

TEST_CASE("SIGTERM lets running jobs finish within --grace; past it they are interrupted and killed") {
  testing::TempDir dir;
  {
    Server server(dir, {"--grace", "5"});
    const auto job = start_sync(server.port, "steps", "g1");
    REQUIRE(testing::eventually([&] { return command(server.port, "status " + std::to_string(job))["state"].as_string() != "queued"; }));
    server.child->signal(SIGTERM);
    CHECK(server.child->wait(testing::Seconds(10)) == 0);
  }
  {
    Server server(dir, {"--grace", "0.3", "--max-jobs", "1"});
    const auto steps = command(server.port, "jobs 1")["jobs"][0];
    CHECK(steps["state"].as_string() == "succeeded");  // the first server let it finish
    const auto job = start_sync(server.port, "stubborn", "g2");
    const auto queued = start_sync(server.port, "steps", "g3");
    REQUIRE(testing::eventually([&] { return pids_in(dir.file("pids-g2")).size() == 2; }));
    json::Value bye = command(server.port, "quit");
    CHECK(json::dump(bye) == R"({"ok":true})");
    CHECK(server.child->wait(testing::Seconds(10)) == 0);
    for (int pid : pids_in(dir.file("pids-g2"))) CHECK(testing::eventually([&] { return process_gone(pid); }));
    Server again(dir);
    CHECK(command(again.port, "status " + std::to_string(job))["state"].as_string() == "interrupted");
    CHECK(command(again.port, "status " + std::to_string(queued))["state"].as_string() == "interrupted");
  }
}

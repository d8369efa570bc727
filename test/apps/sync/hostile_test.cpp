// sync-server against hostile peers: each attack driven as the attacker would, with a
// well-behaved client beside it that must be answered within 1 s, and the bound checked.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <iterator>
#include <string>
#include <vector>

#include "test/apps/sync/sync_testing.h"

using namespace sync_testing;

TEST_CASE("a pipelined flood of distinct syncs: past --max-queued a clear refusal; SIGTERM stops at once and the queue stays on disk") {
  testing::TempDir dir;
  std::int64_t last_queued = 0;
  {
    Server server(dir, {"--max-jobs", "1", "--max-queued", "2000", "--grace", "0.2"});
    testing::Client flood(server.port);
    std::string lines;
    for (int i = 0; i < 3000; ++i) lines += "sync waits q" + std::to_string(i) + "\n";
    flood.send_all(lines);
    int ok = 0, refused = 0;
    std::string refusal;
    for (int i = 0; i < 3000; ++i) {
      json::Value reply = json::parse(flood.recv_until("\n", testing::Seconds(20)));
      if (reply["ok"].as_bool()) {
        ++ok;
        last_queued = reply["job"].as_int();
      } else {
        ++refused;
        refusal = reply["error"].as_string();
      }
    }
    // 2000 waiting, and one more if the first had started before the read that filled the queue.
    CHECK(ok + refused == 3000);
    CHECK((ok == 2000 || ok == 2001));
    CHECK(refusal.find("the queue is full") != std::string::npos);
    CHECK(refusal.find("--max-queued") != std::string::npos);
    CHECK(served_promptly(server.port));
    // A record already queued is still answered with its job, full queue or not.
    json::Value again = command(server.port, "sync waits q5");
    CHECK(again["dedup"].as_bool());
    server.child->signal(SIGTERM);
    CHECK(server.child->wait(testing::Seconds(5)) == 0);
    CHECK(server.child->stderr_text().find("queued jobs stay queued on disk") != std::string::npos);
  }
  Server again(dir, {"--max-jobs", "1"});
  // Queued at the stop, so interrupted at the restart (the contract for jobs left queued).
  CHECK(command(again.port, "status " + std::to_string(last_queued))["state"].as_string() == "interrupted");
}

namespace {

// `count` distinct jobs queued behind one that waits, so that `jobs 1000` answers ~150 B each.
void queue_jobs(int port, int count) {
  testing::Client client(port);
  std::string lines;
  for (int i = 0; i < count; ++i) lines += "sync waits j" + std::to_string(i) + "\n";
  client.send_all(lines);
  for (int i = 0; i < count; ++i) REQUIRE(json::parse(client.recv_until("\n"))["ok"].as_bool());
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("reply amplification: pipelined `jobs 1000` from a client that never reads stops being read at the high-water mark") {
  testing::TempDir dir;
  // --line-timeout 1: the wait while the server holds the attacker's input back is not the line's.
  Server server(dir, {"--max-jobs", "1", "--line-timeout", "1", "--grace", "0"});
  queue_jobs(server.port, 300);
  std::size_t reply_size = 0;
  {
    testing::Client probe(server.port);
    probe.send_all("jobs 1000\n");
    reply_size = probe.recv_until("\n").size();
  }
  REQUIRE(reply_size > 40000);
  const long before = rss_kb(server.child->pid());
  testing::Client attacker(server.port);
  std::string lines;
  while (lines.size() < 64 * 1024) lines += "jobs 1000\n";
  attacker.send_all(lines);  // 6,554 commands: ~300 MB of replies if all were made
  long most = 0;
  for (int i = 0; i < 40; ++i) {
    most = std::max(most, rss_kb(server.child->pid()));
    CHECK(served_promptly(server.port));
  }
  MESSAGE("resident " << before << " kB before, at most " << most << " kB under the attack; reply " << reply_size
                      << " B");
#ifndef TEST_SANITIZED  // AddressSanitizer keeps freed memory in quarantine: resident size says little there
  CHECK(most < before + 32 * 1024);
#endif
  ::usleep(1500 * 1000);  // past --line-timeout with the last line cut by the server's read size
  // The attacker is served as it reads: every reply arrives, whole and in order.
  std::size_t replies = 0;
  std::string carry;
  while (replies < lines.size() / 10) {
    carry += attacker.recv_some(1 << 20, testing::Seconds(20));
    for (auto nl = carry.find('\n'); nl != std::string::npos; nl = carry.find('\n')) {
      REQUIRE(nl + 1 == reply_size);
      carry.erase(0, nl + 1);
      ++replies;
    }
  }
  CHECK(replies == lines.size() / 10);
  server.child->signal(SIGTERM);  // ends the job that waits, and what it started
  CHECK(server.child->wait() == 0);
}

namespace {

// A type whose program prints 3,000,000 bytes without a newline: 46 log lines of 64 KiB.
void configure_big_output(testing::TempDir& dir) {
  std::ofstream(dir.file("big.sh")) << "head -c 3000000 /dev/zero | tr '\\0' a\n";
  std::ofstream(dir.file("sync.conf")) << fixture_config(dir) << "big 20 /bin/sh " << dir.file("big.sh") << "\n";
}

}  // namespace

TEST_CASE("a log reply is at most ~1 MiB of text, with \"more\" until the whole log is read") {
  testing::TempDir dir;
  configure_big_output(dir);
  Server server(dir);
  const auto job = start_sync(server.port, "big", "b0");
  wait_final(server.port, job);
  testing::Client reader(server.port);
  std::size_t text = 0, replies = 0;
  std::int64_t next = 0;
  for (bool more = true; more; ++replies) {
    reader.send_all("log " + std::to_string(job) + " " + std::to_string(next) + "\n");
    const std::string line = reader.recv_until("\n");
    CHECK(line.size() < (1u << 20) + 70000);  // used to be one 3 MB reply (up to 64 MB)
    const json::Value reply = json::parse(line);
    for (const json::Value& entry : reply["lines"].as_array()) text += entry["text"].as_string().size();
    next = reply["next"].as_int();
    more = reply.get("more") != nullptr;
  }
  CHECK(text == 3000000);
  CHECK(replies >= 3);
}

TEST_CASE("a reply backlog past --max-output closes that connection, logged once; others are served") {
  testing::TempDir dir;
  configure_big_output(dir);
  Server server(dir, {"--max-output", "262144"});
  const auto job = start_sync(server.port, "big", "b1");
  wait_final(server.port, job);
  std::vector<testing::Client> attackers;
  for (int i = 0; i < 5; ++i) {
    attackers.emplace_back(server.port);
    attackers.back().send_all("log " + std::to_string(job) + "\n");  // ~1 MB of reply each
  }
  for (auto& attacker : attackers) CHECK(attacker.wait_closed(testing::Seconds(10)));
  CHECK(served_promptly(server.port));
  const std::string log = server.child->stderr_text();
  CHECK(count_of(log, "replies unsent past --max-output") == 1);
  testing::HttpResponse status = testing::http(server.http_port, "GET", "/api/status");
  CHECK(json::parse(status.body)["connections"]["command"]["closed_unread_output"].as_int() == 5);
}

TEST_CASE("command slowloris: a line not completed within --line-timeout gets an error and the connection closes") {
  testing::TempDir dir;
  Server server(dir, {"--line-timeout", "1", "--quiet-gap", "0"});
  testing::Client slow(server.port);
  std::string got;
  bool closed = false;
  // One byte every 100 ms, never a newline: each byte used to re-arm the idle deadline forever.
  for (int i = 0; i < 100 && !closed; ++i) {
    try {
      slow.send_all("s");
    } catch (const std::exception&) {
      closed = true;
      break;
    }
    CHECK(served_promptly(server.port));
    ::usleep(100 * 1000);
    try {
      got += slow.recv_some(4096, testing::Seconds(0.01));
      closed = got.find('\n') != std::string::npos;
    } catch (const std::exception&) {
    }
  }
  REQUIRE(closed);
  CHECK(got.find("command line not completed within 1 s") != std::string::npos);
  CHECK(slow.wait_closed(testing::Seconds(5)));
  testing::HttpResponse status = testing::http(server.http_port, "GET", "/api/status");
  CHECK(json::parse(status.body)["connections"]["command"]["closed_slow_line"].as_int() == 1);
}

TEST_CASE("log lines any peer can cause are summarised: 300 over-long lines, 300 idle closings, 300 jobs queued and cancelled") {
  testing::TempDir dir;
  Server server(dir, {"--idle-timeout", "0.5"});
  const std::string long_line(5000, 'x');
  for (int i = 0; i < 300; ++i) {
    testing::Client c(server.port);
    c.send_all(long_line);
    c.recv_until("\n");
  }
  {
    std::vector<testing::Client> idle;
    for (int i = 0; i < 300; ++i) idle.emplace_back(server.port);
    for (auto& c : idle) CHECK(c.wait_closed(testing::Seconds(10)));
  }
  {
    // Jobs queued and cancelled in a loop.
    testing::Client churn(server.port);
    for (int i = 0; i < 300; ++i) {
      const json::Value queued = command(churn, "sync waits c" + std::to_string(i));
      REQUIRE(queued["ok"].as_bool());
      REQUIRE(command(churn, "cancel " + std::to_string(queued["job"].as_int()))["ok"].as_bool());
    }
  }
  CHECK(served_promptly(server.port));
  server.child->signal(SIGTERM);
  CHECK(server.child->wait(testing::Seconds(10)) == 0);
  const std::string log = server.child->stderr_text();
  CHECK(count_of(log, "over-long command line") + count_of(log, "idle for") <= 4);
  CHECK(count_of(log, ": queued waits c") + count_of(log, ": cancelled") <= 8);
  CHECK(log.find("more jobs cancelled") != std::string::npos);
  CHECK(log.find("more command connections closed or refused a line") != std::string::npos);
  MESSAGE("log after 600 peer-caused closings and 300 cancelled jobs: " << log.size() << " bytes");
  CHECK(log.size() < 8192);
}

TEST_CASE("one flipped byte mid-journal: sync-server refuses naming file and offset; journal-check --fix keeps 19 of 20 jobs") {
  testing::TempDir dir;
  {
    Server server(dir, {"--max-jobs", "1", "--grace", "0.2"});
    for (int i = 0; i < 20; ++i) start_sync(server.port, "waits", "r" + std::to_string(i));
    server.child->signal(SIGTERM);
    REQUIRE(server.child->wait() == 0);
  }
  const std::string journal = dir.file("data/jobs.journal");
  std::string bytes;
  {
    std::ifstream in(journal, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::size_t at = bytes.find("\"r9\"");
  REQUIRE(at != std::string::npos);
  bytes[at + 1] = static_cast<char>(bytes[at + 1] ^ 0x01);
  std::ofstream(journal, std::ios::binary | std::ios::trunc) << bytes;

  testing::RunResult refused =
      testing::run({testing::bin_path("sync-server"), "--port", "0", "--http-port", "0", "--data-dir", dir.file("data"),
                    "--config", dir.file("sync.conf")});
  CHECK(refused.code == 1);
  CHECK(refused.err.find(journal) != std::string::npos);
  CHECK(refused.err.find("at offset ") != std::string::npos);
  CHECK(refused.err.find("journal-check --fix") != std::string::npos);
  testing::RunResult fixed = testing::run({testing::bin_path("journal-check"), "--fix", journal});
  CHECK(fixed.code == 0);
  CHECK(testing::run({testing::bin_path("journal-check"), journal}).code == 0);

  Server again(dir, {"--max-jobs", "1"});
  json::Value listed = command(again.port, "jobs 100");
  CHECK(listed["jobs"].as_array().size() == 19);
  CHECK(command(again.port, "status 10")["ok"].as_bool() == false);  // job 10 was sync waits r9
  CHECK(command(again.port, "status 11")["state"].as_string() == "interrupted");
}

TEST_CASE("a 0-byte journal starts with a log line saying so") {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.file("data"));
  std::ofstream(dir.file("data/jobs.journal"));
  Server server(dir);
  CHECK(served_promptly(server.port));
  CHECK(server.child->stderr_text().find("jobs.journal: the file is empty") != std::string::npos);
}

TEST_CASE("HTTP bodies trickled from one host take at most --max-per-peer slots; the page is served to others") {
  testing::TempDir dir;
  Server server(dir, {"--max-connections", "32", "--max-per-peer", "8"});
  std::vector<testing::Client> tricklers;
  for (int i = 0; i < 40; ++i) {
    tricklers.emplace_back(server.http_port, "127.0.0.1", "127.0.0.2");
    try {
      tricklers.back().send_all("POST /api/sync HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                                "Content-Length: 100000\r\n\r\n{");
    } catch (const std::exception&) {
      // refused at accept: the reset may come before the send
    }
  }
  auto refused = [&] {
    testing::HttpResponse status = testing::http(server.http_port, "GET", "/api/status");
    return json::parse(status.body)["connections"]["http"]["refused"]["max_per_peer"].as_int();
  };
  CHECK(testing::eventually([&] { return refused() == 32; }));  // past 8 from 127.0.0.2, closed at accept
  const int fds = open_fds(server.child->pid());
  for (int round = 0; round < 5; ++round) {
    for (auto& t : tricklers) {
      try {
        t.send_all("\"");  // a byte now and then: each used to re-arm the body timeout
      } catch (const std::exception&) {
      }
    }
    testing::HttpResponse page = testing::http(server.http_port, "GET", "/api/jobs", {}, {}, testing::Seconds(1));
    CHECK(page.status == 200);
  }
  CHECK(open_fds(server.child->pid()) <= fds + 2);
  CHECK(refused() == 32);
}

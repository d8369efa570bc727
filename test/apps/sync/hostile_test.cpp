// sync-server against hostile peers: each attack driven as the attacker would, with a
// well-behaved client beside it that must be answered within 1 s, and the bound checked.
#include <doctest/doctest.h>

#include <csignal>
#include <string>

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

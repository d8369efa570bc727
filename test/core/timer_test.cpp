// Timers: order, FIFO among equal deadlines, cancel/reset/delay/active, callbacks that change
// timers and close dispatchers, exceptions, the loop sleeping exactly until the next timer, and
// 100,000 timers at once.
#include <random>
#include <stdexcept>

#include "test/core/core_testing.h"

using namespace coretest;
using testing::Client;

TEST_CASE("timers run in deadline order, equal deadlines first-in first-out") {
  each_backend([](ChannelMap& map, BackendKind) {
    std::vector<int> order;
    map.call_later(0.03, [&] { order.push_back(3); });
    map.call_later(0.01, [&] { order.push_back(1); });
    map.call_later(0.02, [&] { order.push_back(2); });
    for (int i = 0; i < 5; ++i) map.call_soon([&, i] { order.push_back(100 + i); });
    map.loop(1.0);
    CHECK(order == std::vector<int>{100, 101, 102, 103, 104, 1, 2, 3});
  });

  // Exactly equal deadlines, straight on the queue.
  TimerQueue q;
  auto when = Clock::now();
  std::vector<int> order;
  for (int i = 0; i < 50; ++i) q.schedule(when, [&, i] { order.push_back(i); });
  q.schedule(when - std::chrono::milliseconds(1), [&] { order.push_back(-1); });
  CHECK(q.run_due(when, [](const std::exception&) {}) == 51);
  REQUIRE(order.size() == 51);
  CHECK(order[0] == -1);
  for (int i = 0; i < 50; ++i) CHECK(order[static_cast<size_t>(i) + 1] == i);
}

TEST_CASE("cancel, active(), reset and delay") {
  ChannelMap map;
  int a = 0, b = 0, c = 0;
  TimerHandle never;
  CHECK_FALSE(never.active());
  never.cancel();  // harmless

  auto ha = map.call_later(0.02, [&] { ++a; });
  auto hb = map.call_later(0.02, [&] { ++b; });
  CHECK(ha.active());
  hb.cancel();
  CHECK_FALSE(hb.active());
  hb.cancel();
  CHECK_THROWS_AS(hb.reset(1), std::logic_error);
  CHECK_THROWS_AS(hb.delay(1), std::logic_error);
  CHECK(map.timer_count() == 1);
  map.loop(1.0);
  CHECK(a == 1);
  CHECK(b == 0);
  CHECK_FALSE(ha.active());
  ha.cancel();  // after it ran: no effect

  // reset: a 5 s timer brought forward to 50 ms.
  auto start = SteadyClock::now();
  auto hc = map.call_later(5, [&] { ++c; });
  hc.reset(0.05);
  map.loop(10.0);
  double took = seconds_since(start);
  CHECK(c == 1);
  CHECK(took >= 0.049);
  CHECK(took < 1.0);

  // delay: pushed back by 100 ms from its deadline.
  start = SteadyClock::now();
  double fired_at = 0;
  auto hd = map.call_later(0.05, [&] { fired_at = seconds_since(start); });
  auto deadline = hd.deadline();
  hd.delay(0.1);
  CHECK(hd.deadline() - deadline >= std::chrono::milliseconds(99));
  map.loop(10.0);
  CHECK(fired_at >= 0.149);
  CHECK(fired_at < 1.0);

  // active() is false inside the timer's own callback; the handle stays safe afterwards.
  bool active_inside = true;
  TimerHandle self;
  self = map.call_soon([&] { active_inside = self.active(); });
  map.loop(1.0);
  CHECK_FALSE(active_inside);
  // Its slot is reused by a new timer; the old handle must not affect it.
  int fresh = 0;
  auto next = map.call_later(0.01, [&] { ++fresh; });
  self.cancel();
  CHECK(next.active());
  map.loop(1.0);
  CHECK(fresh == 1);
}

TEST_CASE("a timer callback that adds and cancels timers and closes dispatchers") {
  each_backend([](ChannelMap& map, BackendKind) {
    Listener listener(map);
    Client client(listener.port());
    REQUIRE(pump(map, [&] { return listener.accepted.size() == 1; }));
    Recorder conn(std::move(listener.accepted[0]), &map);
    std::vector<std::string> ran;
    TimerHandle later, same_time;
    size_t passes_when_added = 0, passes = 0;
    map.call_later(0.02, [&] {
      ran.push_back("first");
      later.cancel();
      same_time.cancel();  // due in this very run: must not run
      conn.close();
      listener.close();
      passes_when_added = passes;
      map.call_soon([&] { ran.push_back("added"); });
    });
    same_time = map.call_later(0.02, [&] { ran.push_back("same_time"); });
    later = map.call_later(0.05, [&] { ran.push_back("later"); });
    auto start = SteadyClock::now();
    while (map.timer_count() > 0 && seconds_since(start) < 5) {
      map.poll_once(1.0);
      ++passes;
    }
    CHECK(ran == std::vector<std::string>{"first", "added"});
    CHECK(passes > passes_when_added + 1);  // the added timer ran in a later pass
    CHECK_FALSE(conn.is_open());
    CHECK(client.wait_closed(testing::Seconds(5)));
    CHECK(map.empty());
  });
}

TEST_CASE("an exception in a timer is logged and the loop continues") {
  each_backend([](ChannelMap& map, BackendKind) {
    LogCapture log;
    int after = 0;
    map.call_later(0.01, [] { throw std::out_of_range("timer went wrong"); });
    map.call_later(0.01, [] { throw 5; });
    map.call_later(0.02, [&] { ++after; });
    map.loop(1.0);
    CHECK(after == 1);
    auto lines = log.matching("timer");
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].find("std::out_of_range") != std::string::npos);
    CHECK(lines[0].find("timer went wrong") != std::string::npos);
    CHECK(lines[1].find("unknown exception") != std::string::npos);
  });
}

TEST_CASE("the loop sleeps until the next timer: 50 ms fires after >= 50 ms, well before 200 ms") {
  each_backend([](ChannelMap& map, BackendKind) {
    Listener idle(map);  // a channel, so that the loop would otherwise wait its full timeout
    double fired = -1;
    auto start = SteadyClock::now();
    map.call_later(0.05, [&] {
      fired = seconds_since(start);
      idle.close();
    });
    map.loop(30.0);
    double took = seconds_since(start);
    CHECK(fired >= 0.05);
    CHECK(fired < 0.2);
    CHECK(took < 0.2);
  });
}

TEST_CASE("100,000 timers scheduled and half cancelled, quickly, the rest in deadline order") {
  ChannelMap map;
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> ms(0, 50);
  std::vector<TimerHandle> handles;
  handles.reserve(100000);
  std::vector<int> ran;
  ran.reserve(50000);
  auto start = SteadyClock::now();
  for (int i = 0; i < 100000; ++i) {
    handles.push_back(map.call_later(ms(rng) / 1000.0, [&ran, i] { ran.push_back(i); }));
  }
  for (int i = 0; i < 100000; i += 2) handles[static_cast<size_t>(i)].cancel();
  CHECK(map.timer_count() == 50000);
  std::vector<Clock::time_point> deadlines(100000);
  for (int i = 1; i < 100000; i += 2) deadlines[static_cast<size_t>(i)] = handles[static_cast<size_t>(i)].deadline();
  double schedule_time = seconds_since(start);
  map.loop(1.0);
  double total = seconds_since(start);
  MESSAGE("schedule+cancel: " << schedule_time << " s; all run: " << total << " s");
  CHECK(total < 5.0);
  REQUIRE(ran.size() == 50000);
  for (int i : ran) CHECK_MESSAGE(i % 2 == 1, "a cancelled timer ran");
  // Deadline order; equal deadlines in scheduling order.
  bool ordered = true;
  for (size_t k = 1; k < ran.size(); ++k) {
    auto a = static_cast<size_t>(ran[k - 1]), b = static_cast<size_t>(ran[k]);
    if (deadlines[a] > deadlines[b] || (deadlines[a] == deadlines[b] && a > b)) ordered = false;
  }
  CHECK(ordered);
  CHECK(map.timer_count() == 0);
}

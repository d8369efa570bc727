// Embedding the loop in a threaded program: call_soon_threadsafe from many threads, stop() from
// another thread, POSIX signals through add_signal_handler (raised in-process and a real kill()
// of a child program).
#include <signal.h>

#include <atomic>
#include <future>
#include <thread>

#include "test/core/core_testing.h"

using namespace coretest;
using testing::Child;

TEST_CASE("call_soon_threadsafe: 4 threads x 10,000 callbacks, each runs exactly once on the loop thread") {
  each_backend([](ChannelMap& map, BackendKind) {
    constexpr int kThreads = 4, kEach = 10000;
    std::vector<int> runs(kThreads * kEach, 0);  // touched by the loop thread only
    int total = 0;
    bool wrong_thread = false;
    const auto loop_thread = std::this_thread::get_id();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          map.call_soon_threadsafe([&, index = t * kEach + i] {
            if (std::this_thread::get_id() != loop_thread) wrong_thread = true;
            ++runs[static_cast<size_t>(index)];
            if (++total == kThreads * kEach) map.stop();
          });
        }
      });
    }
    auto guard = map.call_later(30, [&] { map.stop(); });  // never hang
    auto start = SteadyClock::now();
    map.run();
    guard.cancel();
    for (auto& th : threads) th.join();
    MESSAGE(std::string(backend_name(map.backend_kind())) << ": 40,000 callbacks in " << seconds_since(start) << " s");
    CHECK(total == kThreads * kEach);
    CHECK_FALSE(wrong_thread);
    CHECK(std::all_of(runs.begin(), runs.end(), [](int n) { return n == 1; }));
  });
}

TEST_CASE("stop() from another thread wakes a loop blocked in run()") {
  each_backend([](ChannelMap& map, BackendKind) {
    Listener idle(map);
    auto guard = map.call_later(10, [&] { map.stop(); });
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      map.stop();
    });
    auto start = SteadyClock::now();
    map.run();
    double took = seconds_since(start);
    stopper.join();
    CHECK(took >= 0.09);
    CHECK(took < 2.0);
    CHECK(guard.active());  // it was the thread, not the guard timer
    guard.cancel();
  });
}

TEST_CASE("stop() from another thread just before run() starts is not lost") {
  each_backend([](ChannelMap& map, BackendKind) {
    Listener idle(map);
    // The worker asks the loop to stop before the loop thread gets to run(): a natural race in
    // `std::thread t([&] { map.run(); }); ... map.stop();`.
    std::thread early([&] { map.stop(); });
    early.join();
    auto done = std::async(std::launch::async, [&] { map.run(); });
    bool returned = done.wait_for(std::chrono::seconds(2)) == std::future_status::ready;
    if (!returned) {
      map.stop();  // rescue, so that the test ends
      done.wait();
    }
    CHECK(returned);
    // The request is consumed: a later run() blocks until the next stop().
    auto again = std::async(std::launch::async, [&] { map.run(); });
    CHECK(again.wait_for(std::chrono::milliseconds(200)) == std::future_status::timeout);
    map.stop();
    CHECK(again.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  });
}

TEST_CASE("a call_soon_threadsafe callback that throws does not break later ones") {
  each_backend([](ChannelMap& map, BackendKind) {
    LogCapture log;
    int ran = 0;
    map.call_soon_threadsafe([] { throw std::runtime_error("std one"); });
    map.call_soon_threadsafe([] { throw 3; });
    map.call_soon_threadsafe([&] { ++ran; });
    REQUIRE(pump(map, [&] { return ran == 1; }, 2.0));
    std::thread later([&] { map.call_soon_threadsafe([&] { ++ran; }); });
    later.join();
    CHECK(pump(map, [&] { return ran == 2; }, 2.0));
    CHECK(log.matching("call_soon_threadsafe").size() == 2);
  });
}

TEST_CASE("SIGINT and SIGTERM through add_signal_handler, raised in-process") {
  each_backend([](ChannelMap& map, BackendKind) {
    int ints = 0, terms = 0;
    bool ran_on_loop_only = true;
    map.add_signal_handler(SIGINT, [&] { ++ints; });
    map.add_signal_handler(SIGTERM, [&] {
      ++terms;
      map.stop();
    });
    REQUIRE(::raise(SIGINT) == 0);
    if (ints != 0) ran_on_loop_only = false;  // the callback must not run inside the handler
    REQUIRE(pump(map, [&] { return ints == 1; }, 2.0));
    REQUIRE(::raise(SIGINT) == 0);
    REQUIRE(::raise(SIGINT) == 0);
    REQUIRE(pump(map, [&] { return ints == 3; }, 2.0));
    auto guard = map.call_later(5, [&] { map.stop(); });
    map.call_soon([] { ::raise(SIGTERM); });
    map.run();  // stopped by the SIGTERM callback
    CHECK(terms == 1);
    CHECK(guard.active());
    guard.cancel();
    CHECK(ran_on_loop_only);

    // A throwing signal callback is logged; the loop and other signals go on.
    LogCapture log;
    map.add_signal_handler(SIGINT, [] { throw 1; });
    REQUIRE(::raise(SIGINT) == 0);
    REQUIRE(::raise(SIGTERM) == 0);
    REQUIRE(pump(map, [&] { return terms == 2; }, 2.0));
    CHECK(log.matching("signal").size() == 1);
    map.remove_signal_handler(SIGINT);
    map.remove_signal_handler(SIGTERM);
  });
}

TEST_CASE("a real kill() of a child program: echo-server stops cleanly on SIGINT and on SIGTERM") {
  for (int signo : {SIGINT, SIGTERM}) {
    for (BackendKind kind : kAllBackends) {
      INFO(std::string(backend_name(kind)) << " signal " << signo);
      Child server({testing::bin_path("echo-server"), "--port", "0", "--backend", backend_name(kind)});
      int port = server.listening_port("echo");
      testing::Client c(port);
      c.send_all("x");
      CHECK(c.recv_exact(1) == "x");
      server.signal(signo);
      CHECK(server.wait(testing::Seconds(5)) == 0);
      CHECK(server.stderr_text().find("stopping") != std::string::npos);
    }
  }
}

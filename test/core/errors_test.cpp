// Exceptions from user code: a throwing handler reaches handle_error, whose default logs one line
// (exception type, message, class, fd, peer) and closes that dispatcher only; a throwing
// handle_error, readable() or non-std exception never takes the loop down. Once per backend.
#include <errno.h>

#include <memory>
#include <thread>
#include <stdexcept>
#include <system_error>

#include "test/core/core_testing.h"

using namespace coretest;
using testing::Client;

namespace {

struct Boom : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Echoes, unless the data says "throw": then it throws what `thrower` throws.
class Thrower : public Dispatcher {
 public:
  using Dispatcher::Dispatcher;
  void handle_read() override {
    std::string data = recv(1000);
    if (data.find("throw") != std::string::npos) thrower();
    if (!data.empty()) send(data);
  }
  std::function<void()> thrower = [] { throw Boom("boom: the handler failed"); };
};

class CustomError : public Thrower {
 public:
  using Thrower::Thrower;
  void handle_error(const std::exception& e) override {
    ++errors;
    what = e.what();
    was_boom = dynamic_cast<const Boom*>(&e) != nullptr;
    if (also_throw) also_throw();
    close();
  }
  int errors = 0;
  std::string what;
  bool was_boom = false;
  std::function<void()> also_throw;
};

// Two accepted connections: `victim` will throw, `bystander` must keep echoing.
template <class Victim>
struct Setup {
  explicit Setup(ChannelMap& map) : listener(map), c1(listener.port()), c2(listener.port()) {
    REQUIRE(pump(map, [&] { return listener.accepted.size() == 2; }));
    victim = std::make_unique<Victim>(std::move(listener.accepted[0]), &map);
    bystander = std::make_unique<Thrower>(std::move(listener.accepted[1]), &map);
  }
  void bystander_still_echoes(ChannelMap& map) {
    bool done = false;
    std::string got;
    c2.send_all("ping");
    std::thread reader([&] {
      try {
        got = c2.recv_exact(4, testing::Seconds(5));
      } catch (...) {
      }
      done = true;
    });
    pump(map, [&] { return done; });
    reader.join();
    CHECK(got == "ping");
  }
  Listener listener;
  Client c1, c2;
  std::unique_ptr<Victim> victim;
  std::unique_ptr<Thrower> bystander;
};

}  // namespace

TEST_CASE("a throwing handler reaches the default handle_error: one log line, that dispatcher closed") {
  each_backend([](ChannelMap& map, BackendKind) {
    Setup<Thrower> s(map);
    int fd = s.victim->fileno();
    std::string peer = s.victim->addr.to_string();
    REQUIRE(s.victim->addr.port() != 0);
    LogCapture log;
    s.c1.send_all("please throw");
    REQUIRE(pump(map, [&] { return !s.victim->is_open(); }));
    auto lines = log.lines();
    REQUIRE(lines.size() == 1);
    const std::string& line = lines[0].text;
    INFO(line);
    CHECK(lines[0].level == LogLevel::error);
    CHECK(line.find("Boom") != std::string::npos);  // the exception type
    CHECK(line.find("boom: the handler failed") != std::string::npos);
    CHECK(line.find("Thrower") != std::string::npos);  // the class
    CHECK(line.find("fd=" + std::to_string(fd)) != std::string::npos);
    CHECK(line.find("peer=" + peer) != std::string::npos);
    CHECK(s.c1.wait_closed(testing::Seconds(5)));
    CHECK(s.bystander->is_open());
    s.bystander_still_echoes(map);
    CHECK(log.count() == 1);
  });
}

TEST_CASE("an overriding handle_error receives the exception object itself") {
  each_backend([](ChannelMap& map, BackendKind) {
    Setup<CustomError> s(map);
    LogCapture log;
    s.c1.send_all("throw now");
    REQUIRE(pump(map, [&] { return s.victim->errors == 1; }));
    CHECK(s.victim->was_boom);
    CHECK(s.victim->what == "boom: the handler failed");
    CHECK(log.count() == 0);
    s.bystander_still_echoes(map);
  });
}

TEST_CASE("a handle_error that itself throws does not kill the loop") {
  each_backend([](ChannelMap& map, BackendKind) {
    Setup<CustomError> s(map);
    s.victim->also_throw = [] { throw std::logic_error("handle_error failed too"); };
    LogCapture log;
    s.c1.send_all("throw");
    REQUIRE(pump(map, [&] { return !s.victim->is_open(); }));
    CHECK(s.victim->errors == 1);
    CHECK(log.matching("handle_error failed too").size() == 1);
    s.bystander_still_echoes(map);
  });
}

TEST_CASE("a handle_error that throws a non-std exception does not kill the loop either") {
  each_backend([](ChannelMap& map, BackendKind) {
    Setup<CustomError> s(map);
    s.victim->also_throw = [] { throw 42; };
    LogCapture log;
    s.c1.send_all("throw");
    bool ok = true;
    try {
      REQUIRE(pump(map, [&] { return !s.victim->is_open(); }));
    } catch (...) {
      ok = false;  // escaped poll_once
    }
    REQUIRE(ok);
    CHECK(s.victim->errors == 1);
    CHECK(log.count() == 1);
    s.bystander_still_echoes(map);
  });
}

TEST_CASE("a non-std exception from a handler reaches handle_error as 'unknown exception'") {
  each_backend([](ChannelMap& map, BackendKind) {
    Setup<CustomError> s(map);
    s.victim->thrower = [] { throw 7; };
    s.c1.send_all("throw");
    REQUIRE(pump(map, [&] { return s.victim->errors == 1; }));
    CHECK(s.victim->what.find("unknown exception") != std::string::npos);
    s.bystander_still_echoes(map);
  });
}

TEST_CASE("an exception from readable() goes to handle_error") {
  struct BadReadable : CustomError {
    using CustomError::CustomError;
    bool readable() override {
      if (explode) throw std::runtime_error("readable exploded");
      return true;
    }
    bool explode = false;
  };
  each_backend([](ChannelMap& map, BackendKind) {
    Setup<BadReadable> s(map);
    map.poll_once(0);
    s.victim->explode = true;
    s.victim->recheck();
    REQUIRE(pump(map, [&] { return s.victim->errors == 1; }));
    CHECK(s.victim->what == "readable exploded");
    CHECK_FALSE(s.victim->is_open());
    s.bystander_still_echoes(map);
  });
}

TEST_CASE("a disconnect error (ECONNRESET, EPIPE) thrown by a handler means handle_close, not handle_error") {
  struct Closer : CustomError {
    using CustomError::CustomError;
    void handle_close() override {
      ++closes;
      close();
    }
    int closes = 0;
  };
  each_backend([](ChannelMap& map, BackendKind) {
    Setup<Closer> s(map);
    s.victim->thrower = [] { throw std::system_error(EPIPE, std::generic_category(), "write"); };
    s.c1.send_all("throw");
    REQUIRE(pump(map, [&] { return !s.victim->is_open(); }));
    CHECK(s.victim->closes == 1);
    CHECK(s.victim->errors == 0);
    s.bystander_still_echoes(map);
  });
}

TEST_CASE("an exception thrown by handle_close in the disconnect path reaches handle_error") {
  struct BadClose : CustomError {
    using CustomError::CustomError;
    void handle_close() override { throw std::runtime_error("handle_close failed"); }
  };
  each_backend([](ChannelMap& map, BackendKind) {
    Setup<BadClose> s(map);
    s.victim->thrower = [] { throw std::system_error(ECONNRESET, std::generic_category(), "recv"); };
    s.c1.send_all("throw");
    REQUIRE(pump(map, [&] { return s.victim->errors == 1; }));
    CHECK(s.victim->what == "handle_close failed");
    CHECK_FALSE(s.victim->is_open());
  });
}

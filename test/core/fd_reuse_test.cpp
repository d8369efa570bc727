// A handler that closes its own channel and, in the same callback, opens a new one that gets the
// same fd number: the new channel must be registered (the loop skips re-checks of the fd it is
// dispatching, so registration must not depend on that path) and must not receive the old
// channel's events.
#include "test/core/core_testing.h"

using namespace coretest;

namespace {

class ReuseListener final : public Dispatcher {
 public:
  explicit ReuseListener(ChannelMap& map) : Dispatcher(&map) {
    create_socket(AF_INET);
    bind(Address::ipv4("127.0.0.1", 0));
    listen(8);
  }
  void handle_accepted(Fd socket, const Address&) override { accepted.push_back(std::move(socket)); }
  std::vector<Fd> accepted;
};

// Reads one byte, then replaces itself with a listener that (being the lowest free fd) reuses
// this channel's fd number.
class Replacer final : public Dispatcher {
 public:
  Replacer(Fd socket, ChannelMap& map, std::shared_ptr<ReuseListener>& slot) : Dispatcher(std::move(socket), &map), slot_(slot) {}
  void handle_read() override {
    char byte;
    recv_into(&byte, 1);
    int old_fd = fileno();
    close();
    slot_ = make<ReuseListener>(map());
    reused = slot_->fileno() == old_fd;
  }
  bool reused = false;

 private:
  std::shared_ptr<ReuseListener>& slot_;
};

}  // namespace

TEST_CASE("a channel opened on the fd number of the channel being dispatched is registered") {
  each_backend([](ChannelMap& map, BackendKind) {
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    Fd peer(pair[1]);
    std::shared_ptr<ReuseListener> listener;
    auto replacer = make<Replacer>(Fd(pair[0]), map, listener);
    REQUIRE(::write(peer.get(), "x", 1) == 1);
    REQUIRE(pump(map, [&] { return listener != nullptr; }));
    CHECK(replacer->reused);

    // The new listener works: a client connecting to it is accepted by the loop.
    testing::Client client(listener->addr.port());
    CHECK(pump(map, [&] { return listener->accepted.size() == 1; }));
    listener->close();
  });
}

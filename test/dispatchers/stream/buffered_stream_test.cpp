// BufferedStream's output queue on a real socket, every backend: shared buffers queued by
// reference while a peer does not read, then delivered in order with the copies sent around
// them; references given back once sent; max_output counts shared bytes too.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <asyncore/asyncore.h>
#include <asyncore/stream/buffered_stream.h>
#include "test/dispatchers/loop_helpers.h"

using namespace asyncore;
using namespace dispatcher_tests;

namespace {

class Stream : public BufferedStream {
 public:
  using BufferedStream::BufferedStream;
  void handle_read() override {
    char buffer[256];
    recv_into(buffer, sizeof buffer);
  }
  void handle_overflow() override {
    overflowed = true;
    BufferedStream::handle_overflow();
  }
  bool overflowed = false;
};

struct Pair {
  Fd ours, theirs;
  Pair() {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    ours = Fd(sv[0]);
    theirs = Fd(sv[1]);
  }
};

SharedBytes broadcast(size_t index, size_t size) {
  std::string text(size, '\0');
  for (size_t i = 0; i < size; ++i) text[i] = static_cast<char>('a' + (index * 7 + i) % 26);
  return std::make_shared<const std::string>(std::move(text));
}

// Reads what is there now from a non-blocking fd.
std::string read_available(int fd) {
  std::string out;
  char buffer[65536];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) out.append(buffer, static_cast<size_t>(n));
  return out;
}

// A Stream on one end of a socket pair, on its own map with the given backend.
struct Rig {
  ChannelMap map;
  Pair pair;
  Stream stream;
  explicit Rig(BackendKind kind) : stream(std::move(pair.ours), &with_backend(map, kind)) {}
  static ChannelMap& with_backend(ChannelMap& map, BackendKind kind) {
    map.use_backend(kind);
    return map;
  }
};

}  // namespace

TEST_CASE("send_shared: a peer that does not read holds references, not copies; all arrives in order") {
  for (BackendKind kind : kAllBackends) {
    CAPTURE(backend_name(kind));
    ChannelMap map;
    map.use_backend(kind);
    Pair pair;
    Stream stream(std::move(pair.ours), &map);
    stream.limits.high_water = 1u << 30;  // keep reading; this test is about output
    stream.limits.max_output = 1u << 30;

    std::vector<SharedBytes> batches;
    std::string expected;
    for (size_t i = 0; i < 200; ++i) {  // 200 x 8 KiB: far more than the socket buffer
      batches.push_back(broadcast(i, 8192));
      CHECK(stream.send_shared(batches.back()) == 8192);
      expected += *batches.back();
      if (i % 50 == 0) {  // copies in between keep their place
        CHECK(stream.send("<copy " + std::to_string(i) + ">") > 0);
        expected += "<copy " + std::to_string(i) + ">";
      }
    }
    REQUIRE(stream.pending() > 0);
    CHECK(batches.back().use_count() == 2);  // queued by reference

    std::string received;
    REQUIRE(run_until(map, [&] {
      received += read_available(pair.theirs.get());
      return received.size() == expected.size() && stream.pending() == 0;
    }));
    CHECK(received == expected);
    for (const SharedBytes& b : batches) CHECK(b.use_count() == 1);  // every reference given back
  }
}

TEST_CASE("a send goes straight to the socket only while nothing waits: behind a queue it keeps its place even when the socket has room, and once the queue drained the next leaves at once") {
  for (BackendKind kind : kAllBackends) {
    CAPTURE(backend_name(kind));
    Rig rig(kind);
    auto& [map, pair, stream] = rig;
    const std::string big = broadcast(1, 1024 * 1024)->substr();
    CHECK(stream.send(big) == big.size());
    const size_t waiting = stream.pending();
    REQUIRE(waiting > 0);  // the socket took only part of it
    // The peer empties the socket, so it has room again, but the loop has not yet written the
    // rest: a send now must queue behind it, not overtake it.
    std::string received = read_available(pair.theirs.get());
    CHECK(stream.send("tail") == 4);
    CHECK(stream.pending() == waiting + 4);
    REQUIRE(run_until(map, [&] {
      received += read_available(pair.theirs.get());
      return stream.pending() == 0 && received.size() == big.size() + 4;
    }));
    CHECK(received == big + "tail");
    // Drained: the next send needs no pass.
    CHECK(stream.send("next") == 4);
    CHECK(stream.pending() == 0);
    CHECK(read_available(pair.theirs.get()) == "next");
    // A corked or closing stream queues (or refuses) whatever the queue holds.
    stream.cork_output();
    CHECK(stream.send("corked") == 6);
    CHECK(stream.pending() == 6);
    map.poll_once(0);
    CHECK(stream.pending() == 0);
    CHECK(read_available(pair.theirs.get()) == "corked");
    CHECK(stream.send("still corked") == 12);
    CHECK(stream.pending() == 12);
    stream.close_when_done();
    CHECK(stream.send("refused") == 0);
    REQUIRE(run_until(map, [&] { return !stream.is_open(); }));
    CHECK(read_available(pair.theirs.get()) == "still corked");
  }
}

TEST_CASE("send_shared sends at once what the socket takes, and a range of the buffer only") {
  ChannelMap map;
  Pair pair;
  Stream stream(std::move(pair.ours), &map);
  SharedBytes batch = std::make_shared<const std::string>("[one][two][three]");
  CHECK(stream.send_shared(batch, 5, 10) == 5);
  CHECK(stream.send_shared(batch, 10) == 7);
  CHECK(stream.send_shared(batch, 3, 3) == 0);  // nothing to send
  CHECK(stream.pending() == 0);
  CHECK(batch.use_count() == 1);
  CHECK(read_available(pair.theirs.get()) == "[two][three]");
}

TEST_CASE("shared bytes that must wait count against max_output") {
  ChannelMap map;
  Pair pair;
  int size = 4096;
  ::setsockopt(pair.ours.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  Stream stream(std::move(pair.ours), &map);
  stream.limits.max_output = 64 * 1024;
  SharedBytes batch = broadcast(0, 16 * 1024);
  for (int i = 0; i < 100 && stream.is_open(); ++i) stream.send_shared(batch);
  CHECK(stream.overflowed);
  CHECK_FALSE(stream.is_open());
  CHECK(stream.send_shared(batch) == 0);  // closed: refused
}

TEST_CASE("cork_output: what one pass sends leaves together, before the loop waits") {
  for (BackendKind kind : kAllBackends) {
    CAPTURE(backend_name(kind));
    Rig rig(kind);
    auto& [map, pair, stream] = rig;
    stream.cork_output();
    CHECK(stream.send("one ") == 4);
    CHECK(stream.send_shared(std::make_shared<const std::string>("two ")) == 4);
    CHECK(stream.send("three") == 5);
    CHECK(read_available(pair.theirs.get()).empty());  // nothing went yet
    CHECK(stream.pending() == 13);
    map.poll_once(0);
    CHECK(read_available(pair.theirs.get()) == "one two three");
    CHECK(stream.pending() == 0);
  }
}

TEST_CASE("a registered producer is paused at high_water and resumed at low_water") {
  struct Recorder : Producer {
    int pauses = 0, resumes = 0;
    void pause_producing() override { ++pauses; }
    void resume_producing() override { ++resumes; }
  };
  for (BackendKind kind : kAllBackends) {
    CAPTURE(backend_name(kind));
    Rig rig(kind);
    auto& [map, pair, stream] = rig;
    stream.limits.high_water = 64 * 1024;
    stream.limits.low_water = 16 * 1024;
    Recorder producer;
    stream.register_producer(producer);
    CHECK_THROWS_AS(stream.register_producer(*std::make_unique<Recorder>()), std::logic_error);
    const std::string chunk(8192, 'p');
    size_t sent = 0;
    while (producer.pauses == 0 && sent < (64u << 20)) sent += stream.send(chunk);  // the peer does not read
    CHECK(producer.pauses == 1);
    CHECK(stream.pending() >= stream.limits.high_water);
    CHECK(stream.reading_paused());
    std::string received;
    REQUIRE(run_until(map, [&] {
      received += read_available(pair.theirs.get());
      return producer.resumes == 1;
    }));
    CHECK(stream.pending() <= stream.limits.low_water);
    CHECK_FALSE(stream.reading_paused());
    REQUIRE(run_until(map, [&] {
      received += read_available(pair.theirs.get());
      return received.size() == sent;
    }));
    CHECK(producer.pauses == 1);
    stream.unregister_producer();
    CHECK(stream.producer() == nullptr);
  }
}

TEST_CASE("a lazy producer keeps its place in the queue and is asked only once the queue reaches it") {
  struct Lazy : ChatProducer {  // dropped by the queue once exhausted
    Stream& stream;
    size_t& queued_when_asked;  // the most bytes queued at a call: outlives the producer
    int left = 3;
    Lazy(Stream& s, size_t& queued) : stream(s), queued_when_asked(queued) {}
    std::string more() override {
      queued_when_asked = std::max(queued_when_asked, stream.pending());
      return left-- > 0 ? "<lazy>" : "";
    }
  };
  size_t queued_when_asked = 0;
  ChannelMap map;
  Pair pair;
  Stream stream(std::move(pair.ours), &map);
  stream.limits.high_water = stream.limits.max_output = 1u << 30;
  const std::string big(4 << 20, 'b');  // more than the socket takes: the rest waits
  CHECK(stream.send(big) == big.size());
  REQUIRE(stream.pending() > 0);
  auto lazy = std::make_unique<Lazy>(stream, queued_when_asked);
  Lazy& producer = *lazy;
  stream.send_producer(std::move(lazy));
  CHECK(producer.left == 3);  // not asked while bytes wait before it
  CHECK(stream.send("tail") == 4);
  std::string received;
  REQUIRE(run_until(map, [&] {
    received += read_available(pair.theirs.get());
    return received.size() == big.size() + 3 * 6 + 4;
  }));
  CHECK(received == big + "<lazy><lazy><lazy>tail");
  CHECK(queued_when_asked == 4);  // only "tail", queued behind it
  CHECK_FALSE(stream.writable());
}

// AsyncChat beyond test_asynchat: terminators split at every byte position on a real socket,
// length-prefixed records, lazy producers, close_when_done flushing everything, the input and
// output bounds, backpressure, discard_buffers and end of input.
#include <doctest/doctest.h>

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <asyncore/asyncore.h>
#include <asyncore/chat/async_chat.h>
#include "test/dispatchers/chat/chat_fixtures.h"
#include "test/dispatchers/loop_helpers.h"

using namespace asyncore;
using namespace dispatcher_tests;

namespace {

// Records every line; the server side of most tests here.
class LineCollector : public AsyncChat {
 public:
  LineCollector(Fd socket, ChannelMap* map, Terminator terminator = "\r\n") : AsyncChat(std::move(socket), map) {
    set_terminator(std::move(terminator));
  }
  void found_terminator() override { lines.push_back(get_data()); }
  std::vector<std::string> lines;
};

// Reads everything from `fd` until EOF on its own thread (the loop runs on the test's).
class Drain {
 public:
  explicit Drain(int fd, size_t read_size = 65536) : thread_([this, fd, read_size] {
      std::string buffer(read_size, '\0');
      while (wait_for(fd, POLLIN, 20)) {
        ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
        if (n <= 0) break;
        std::lock_guard lock(mutex_);
        data_.append(buffer.data(), static_cast<size_t>(n));
      }
      done_ = true;
    }) {}
  ~Drain() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  bool done() const { return done_; }
  size_t size() {
    std::lock_guard lock(mutex_);
    return data_.size();
  }
  const std::string& data() const { return data_; }  // after join()

 private:
  std::mutex mutex_;
  std::string data_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace

TEST_CASE("a terminator split at every byte position on a real socket is found") {
  for (BackendKind backend : kAllBackends) {
    for (const std::string terminator : {"\r\n", "qqq", "--boundary--"}) {
      const std::string backend_label = backend_name(backend);
      CAPTURE(backend_label);
      CAPTURE(terminator);
      ChannelMap map;
      map.use_backend(backend);
      auto pair = loopback_pair();
      LineCollector chat(std::move(pair.server), &map, terminator);
      const std::string message = "hello" + terminator + terminator + "world" + terminator;
      std::vector<std::string> expected;
      for (size_t cut = 0; cut <= message.size(); ++cut) {
        // Each part is sent, then read by the loop, before the next is sent: two reads.
        send_all(pair.client.get(), message.substr(0, cut));
        REQUIRE(run_until(map, [&] { return unread_bytes(chat.fileno()) == 0; }));
        send_all(pair.client.get(), message.substr(cut));
        REQUIRE(run_until(map, [&] { return unread_bytes(chat.fileno()) == 0; }));
        expected.insert(expected.end(), {"hello", "", "world"});
      }
      REQUIRE(run_until(map, [&] { return chat.lines.size() >= expected.size(); }));
      CHECK(chat.lines == expected);
    }
  }
}

TEST_CASE("length-prefixed records: a header line, then a numeric terminator for the body") {
  ChannelMap map;
  auto pair = loopback_pair();
  CommandChat chat(std::move(pair.server), &map);
  // Body bytes include the line terminator and arrive one byte at a time.
  const std::string body = "ab\r\ncd\r\n";
  send_all(pair.client.get(), "DATA " + std::to_string(body.size()) + "\r\n");
  for (char c : body) {
    send_all(pair.client.get(), std::string(1, c));
    REQUIRE(run_until(map, [&] { return unread_bytes(chat.fileno()) == 0; }));
  }
  CHECK(chat.get_terminator() == Terminator("\r\n"));  // back to lines after the body
  send_all(pair.client.get(), "ECHO after\r\nDATA 0\r\nECHO zero\r\n");
  REQUIRE(run_until(map, [&] { return chat.commands == 5; }));
  const std::string expected = "GOT 8 ab|cd|\r\nafter\r\nzero\r\n";  // DATA 0 has no body, so no reply
  CHECK(recv_exactly(pair.client.get(), expected.size()) == expected);
}

TEST_CASE("a producer is asked for more only when the queue reaches it") {
  // Counts its own calls and checks how much output was queued at each.
  class Counting : public ChatProducer {
   public:
    // `max_queued` outlives the producer, which the chat drops once it is exhausted.
    Counting(AsyncChat& chat, size_t pieces, size_t piece_size, size_t& max_queued)
        : chat_(chat), left_(pieces), size_(piece_size), max_queued_(max_queued) {}
    std::string more() override {
      max_queued_ = std::max(max_queued_, chat_.pending_output());
      if (left_ == 0) return "";
      --left_;
      std::string piece = pattern(size_, produced_);
      produced_ += size_;
      return piece;
    }
   private:
    AsyncChat& chat_;
    size_t left_, size_, produced_ = 0;
    size_t& max_queued_;
  };
  for (BackendKind backend : kAllBackends) {
    const std::string backend_label = backend_name(backend);
    CAPTURE(backend_label);
    ChannelMap map;
    map.use_backend(backend);
    auto pair = loopback_pair();
    LineCollector chat(std::move(pair.server), &map);
    constexpr size_t kPieces = 256, kPieceSize = 32 * 1024;  // 8 MiB in all
    size_t max_queued = 0;
    chat.push_with_producer(std::make_unique<Counting>(chat, kPieces, kPieceSize, max_queued));
    chat.close_when_done();
    Drain reader(pair.client.get());
    REQUIRE(run_until(map, [&] { return !chat.is_open(); }, 30));
    reader.join();
    CHECK(reader.data().size() == kPieces * kPieceSize);
    CHECK(reader.data() == pattern(kPieces * kPieceSize));
    // Never more than the piece being sent was held: the rest stayed in the producer.
    CHECK(max_queued == 0);
  }
}

TEST_CASE("close_when_done sends everything queued before it, then closes") {
  for (BackendKind backend : kAllBackends) {
    const std::string backend_label = backend_name(backend);
    CAPTURE(backend_label);
    ChannelMap map;
    map.use_backend(backend);
    auto pair = loopback_pair();
    LineCollector chat(std::move(pair.server), &map);
    chat.limits.high_water = 64 * 1024 * 1024;  // this test is about flushing, not pausing
    chat.limits.max_output = 64 * 1024 * 1024;
    const std::string first = pattern(3 * 1024 * 1024);
    chat.push(first);
    chat.push_with_producer(std::make_unique<SimpleProducer>(pattern(2 * 1024 * 1024, first.size()), 50000));
    chat.push("tail");
    chat.close_when_done();
    chat.push("after close_when_done: dropped");
    Drain reader(pair.client.get());
    REQUIRE(run_until(map, [&] { return !chat.is_open(); }, 30));
    reader.join();
    CHECK(reader.data() == pattern(5 * 1024 * 1024) + "tail");
  }
}

TEST_CASE("no terminator within max_incoming bytes closes with a logged reason") {
  LogCapture log;
  ChannelMap map;
  auto pair = loopback_pair();
  LineCollector chat(std::move(pair.server), &map);
  chat.max_incoming = 1000;
  // Exactly at the bound is fine.
  send_all(pair.client.get(), std::string(1000, 'a') + "\r\n");
  REQUIRE(run_until(map, [&] { return chat.lines.size() == 1; }));
  CHECK(chat.lines[0].size() == 1000);
  // One byte more is not, even spread over many reads.
  for (int i = 0; i < 10; ++i) {
    send_all(pair.client.get(), std::string(100, 'b'));
    REQUIRE(run_until(map, [&] { return unread_bytes(chat.fileno()) == 0; }));
  }
  CHECK(chat.is_open());
  send_all(pair.client.get(), "b");
  REQUIRE(run_until(map, [&] { return !chat.is_open(); }));
  CHECK(chat.lines.size() == 1);
  CHECK(log.contains("no terminator (bytes \"\\r\\n\") within 1000 bytes; closing"));
}

TEST_CASE("an overflow handler that keeps the channel open goes on with the next record") {
  class Tolerant : public LineCollector {
   public:
    using LineCollector::LineCollector;
    void handle_incoming_overflow() override {
      ++overflows;
      skip_rest_of_record = true;
      get_data();  // drop what was collected of the oversized record
    }
    void found_terminator() override {
      std::string line = get_data();
      if (std::exchange(skip_rest_of_record, false)) return;
      lines.push_back(line);
    }
    int overflows = 0;
    bool skip_rest_of_record = false;
  };
  ChannelMap map;
  auto pair = loopback_pair();
  Tolerant chat(std::move(pair.server), &map);
  chat.max_incoming = 10;
  send_all(pair.client.get(), "short\r\n" + std::string(50, 'x') + "\r\nafter\r\n");
  REQUIRE(run_until(map, [&] { return chat.lines.size() == 2; }));
  CHECK(chat.lines == std::vector<std::string>{"short", "after"});
  CHECK(chat.overflows == 1);
  CHECK(chat.is_open());
}

TEST_CASE("pushing past limits.max_output closes with a logged reason") {
  LogCapture log;
  ChannelMap map;
  auto pair = loopback_pair();
  LineCollector chat(std::move(pair.server), &map);
  chat.limits.max_output = 100000;
  chat.limits.high_water = 50000;
  // The peer does not read: the kernel buffers fill, then our queue.
  for (int i = 0; i < 1000 && chat.is_open(); ++i) chat.push(std::string(10000, 'z'));
  CHECK_FALSE(chat.is_open());
  CHECK(log.contains("output queue would exceed 100000 bytes"));
}

TEST_CASE("a full output queue pauses input until the peer reads") {
  // Each request asks for 100 KB; the peer sends 100 requests and reads nothing at first.
  class BigReplies : public LineCollector {
   public:
    using LineCollector::LineCollector;
    void found_terminator() override {
      lines.push_back(get_data());
      push(std::string(100 * 1024, 'r'));
      max_seen = std::max(max_seen, pending_output());
    }
    size_t max_seen = 0;
  };
  for (BackendKind backend : kAllBackends) {
    const std::string backend_label = backend_name(backend);
    CAPTURE(backend_label);
    ChannelMap map;
    map.use_backend(backend);
    auto pair = loopback_pair();
    BigReplies chat(std::move(pair.server), &map);
    chat.limits.high_water = 256 * 1024;
    chat.limits.low_water = 64 * 1024;
    chat.limits.max_output = 1024 * 1024;  // far below 100 x 100 KB: only pausing keeps us under
    std::string requests;
    for (int i = 0; i < 100; ++i) requests += "GET " + std::to_string(i) + "\r\n";
    send_all(pair.client.get(), requests);
    REQUIRE(run_until(map, [&] { return chat.reading_paused(); }));
    for (int i = 0; i < 20; ++i) map.poll_once(0.01);
    CHECK(chat.lines.size() < 100);
    CHECK(chat.is_open());
    // Now the peer reads everything: every request is answered, in order, and none was lost.
    Drain reader(pair.client.get());
    REQUIRE(run_until(map, [&] { return reader.size() == 100u * 100 * 1024; }, 30));
    CHECK(chat.lines.size() == 100);
    CHECK(chat.lines.back() == "GET 99");
    CHECK(chat.max_seen <= chat.limits.max_output);
    chat.close();
  }
}

TEST_CASE("discard_buffers drops input, collected data and queued output") {
  ChannelMap map;
  auto pair = loopback_pair();
  LineCollector chat(std::move(pair.server), &map);
  chat.limits.max_output = 64 * 1024 * 1024;
  chat.limits.high_water = 64 * 1024 * 1024;
  send_all(pair.client.get(), "partial line without end");
  REQUIRE(run_until(map, [&] { return unread_bytes(chat.fileno()) == 0; }));
  for (int i = 0; i < 100; ++i) chat.push(std::string(100000, 'q'));  // more than the kernel takes
  CHECK(chat.pending_output() > 0);
  chat.discard_buffers();
  CHECK(chat.pending_output() == 0);
  CHECK_FALSE(chat.writable());
  send_all(pair.client.get(), "fresh\r\n");
  REQUIRE(run_until(map, [&] { return chat.lines.size() == 1; }));
  CHECK(chat.lines[0] == "fresh");
}

TEST_CASE("a peer that half-closes still gets the replies queued for it") {
  for (BackendKind backend : kAllBackends) {
    const std::string backend_label = backend_name(backend);
    CAPTURE(backend_label);
    ChannelMap map;
    map.use_backend(backend);
    auto pair = loopback_pair();
    CommandChat chat(std::move(pair.server), &map);
    send_all(pair.client.get(), "ECHO one\r\nBIG 300000\r\n");
    ::shutdown(pair.client.get(), SHUT_WR);
    Drain reader(pair.client.get());
    REQUIRE(run_until(map, [&] { return !chat.is_open(); }, 20));
    reader.join();
    CHECK(reader.data() == "one\r\nSIZE 300000\r\n" + pattern(300000));
  }
}

TEST_CASE("once closed, input already read is not processed further") {
  ChannelMap map;
  auto pair = loopback_pair();
  CommandChat chat(std::move(pair.server), &map);
  chat.set_terminator("\r\n");
  // QUIT's close_when_done closes at once (nothing queued can block it), mid-buffer.
  send_all(pair.client.get(), "QUIT\r\nECHO never\r\nECHO never\r\n");
  REQUIRE(run_until(map, [&] { return !chat.is_open(); }));
  CHECK(chat.commands == 1);
}

TEST_CASE("the default collector keeps data for get_data until a terminator") {
  ChannelMap map;
  auto pair = loopback_pair();
  class Keeper : public AsyncChat {
   public:
    using AsyncChat::AsyncChat;
    void found_terminator() override { records.push_back(get_data()); }
    std::vector<std::string> records;
  } chat(std::move(pair.server), &map);
  chat.set_terminator(4);
  send_all(pair.client.get(), "abcdefg");
  REQUIRE(run_until(map, [&] { return !chat.records.empty() && unread_bytes(chat.fileno()) == 0; }));
  CHECK(chat.records == std::vector<std::string>{"abcd"});
  CHECK(chat.get_data() == "efg");  // the count reached 0: the rest is collected as it comes
  CHECK(chat.get_data().empty());
}

// A client that falls far behind: the simulator queues each broadcast by reference (the room's
// shared buffer) instead of copying it, so the room must never reuse a buffer some member still
// queues. The late reader must get every message, in order and byte for byte.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <thread>

#include "apps/barrage/generator.h"
#include "test/apps/barrage/barrage_testing.h"

using namespace asyncore::barrage;
using namespace barrage_testing;

namespace {

// Joins, stops reading for a while (the server's queue grows far past the socket buffers), then
// checks that messages 0..total-1 arrive exactly as generated.
void late_reader_gets_everything(const std::string& mode) {
  CAPTURE(mode);
  const int total = 20000;  // about 6 MB of broadcasts: more than the kernel buffers hold
  Server server({"--mode", mode, "--rate", "20000", "--total", std::to_string(total), "--batch", "0.01", "--wait-for", "2",
                 "--max-queue", std::to_string(64 << 20)});
  RawClient late(server.port), reader(server.port);
  // A small receive buffer (no autotuning) keeps the kernel from absorbing the backlog.
  int size = 65536;
  REQUIRE(::setsockopt(late.connection().fd(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size) == 0);
  late.login_and_join("9");
  reader.login_and_join("9");
  // The prompt reader sees the room run to its end while the late one is not reading.
  for (int seq = 0; seq < total;) {
    Fields message = decode_map(reader.next(Seconds(20)).value());
    if (message.contains("seq")) REQUIRE(*message.get_int("seq") == seq++);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (int seq = 0; seq < total;) {
    std::string text = late.next(Seconds(20)).value();
    Fields message = decode_map(text);
    if (!message.contains("seq")) continue;
    REQUIRE(text == generated_message(9, static_cast<uint64_t>(seq)));
    ++seq;
  }
}

}  // namespace

TEST_CASE("a client far behind gets every broadcast intact: coalesce (one write per batch)") {
  late_reader_gets_everything("coalesce");
}

TEST_CASE("a client far behind gets every broadcast intact: normal (one write per packet)") {
  late_reader_gets_everything("normal");
}

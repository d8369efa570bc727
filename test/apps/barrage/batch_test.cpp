// The batch codec barrage-server nodes speak through Redis: what encode_batch writes,
// decode_batch reads back; everything else is refused with a reason.
#include <doctest/doctest.h>

#include "apps/barrage/batch.h"

using namespace asyncore::barrage;

namespace {
std::string two_packets() {
  return encode_packet("type@=chatmsg/seq@=7/", server_message_type) + encode_packet("type@=uenter/seq@=8/", server_message_type);
}
std::string error_of(std::string_view payload) {
  try {
    decode_batch(payload);
  } catch (const BatchError& error) {
    return error.what();
  }
  return "";
}
}  // namespace

TEST_CASE("a batch round-trips: numbers, packets and where each ends") {
  const std::string packets = two_packets();
  const std::string payload = encode_batch(7, 2, packets);
  CHECK(payload.starts_with("7 2\n"));
  const BatchView batch = decode_batch(payload);
  CHECK(batch.first == 7);
  CHECK(batch.count == 2);
  CHECK(batch.packets == packets);
  REQUIRE(batch.ends.size() == 2);
  CHECK(batch.ends[1] == packets.size());
  CHECK(packets.substr(0, batch.ends[0]) == encode_packet("type@=chatmsg/seq@=7/", server_message_type));
  CHECK(decode_batch(encode_batch(0, 0, "")).count == 0);
}

TEST_CASE("what is not a batch is refused, saying why") {
  const std::string packets = two_packets();
  CHECK(error_of("garbage") == "no \"<first> <count>\" line");
  CHECK(error_of("7\n" + packets) == "no \"<first> <count>\" line");
  CHECK(error_of("-1 2\n" + packets) == "no \"<first> <count>\" line");
  CHECK(error_of("7 2x\n" + packets) == "no \"<first> <count>\" line");
  CHECK(error_of("7 3\n" + packets) == "2 packets where the header says 3");
  CHECK(error_of("7 2\n" + packets.substr(0, packets.size() - 1)) == "packet 2 is cut short");
  CHECK(error_of("7 1\n" + std::string(12, '\xff')).starts_with("packet 1: "));
  uint64_t n = 0;
  CHECK(parse_count("18446744073709551615", n));
  CHECK(!parse_count("18446744073709551616", n));
  CHECK(!parse_count("", n));
  CHECK(!parse_count("+1", n));
}

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "apps/barrage/packet.h"

using namespace asyncore::barrage;

namespace {

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char byte : bytes) {
    out += digits[byte >> 4];
    out += digits[byte & 0xf];
  }
  return out;
}

std::string u32le(uint32_t value) {
  std::string out;
  for (int shift = 0; shift < 32; shift += 8) out += static_cast<char>((value >> shift) & 0xff);
  return out;
}

// A packet written by hand, so the decoder is tested against bytes, not against encode_packet.
std::string raw_packet(uint32_t first_length, uint32_t second_length, uint16_t type, std::string_view body) {
  std::string out = u32le(first_length) + u32le(second_length);
  out += static_cast<char>(type & 0xff);
  out += static_cast<char>(type >> 8);
  out += std::string(2, '\0');
  out += body;
  return out;
}

std::vector<Packet> drain(PacketDecoder& decoder) {
  std::vector<Packet> packets;
  while (auto packet = decoder.next_packet()) packets.push_back(std::move(*packet));
  return packets;
}

std::vector<Packet> sample_packets() {
  return {
      {client_message_type, "type@=loginreq/roomid@=58839/"},
      {server_message_type, "type@=chatmsg/nn@=张三/txt@=你好@S世界/"},
      {server_message_type, ""},
      {client_message_type, "type@=mrkl/"},
  };
}

std::string stream_of(const std::vector<Packet>& packets) {
  std::string stream;
  for (const Packet& packet : packets) append_packet(stream, packet.text, packet.type);
  return stream;
}

template <typename Call>
PacketError packet_error_of(Call&& call) {
  try {
    call();
  } catch (const PacketError& error) {
    return error;
  }
  FAIL("expected a PacketError");
  return PacketError("", 0);
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

}  // namespace

TEST_CASE("the contract's worked example, byte for byte") {
  std::string packet = encode_packet("type@=loginreq/roomid@=58839/");
  CHECK(packet.size() == 42);
  CHECK(hex(packet) ==
        "26000000" "26000000" "b1020000"
        "74797065403d6c6f67696e7265712f726f6f6d6964403d35383833392f" "00");

  PacketDecoder decoder;
  decoder.feed(packet);
  auto view = decoder.next();
  REQUIRE(view.has_value());
  CHECK(view->type == 689);
  CHECK(view->text == "type@=loginreq/roomid@=58839/");
  CHECK_FALSE(decoder.next().has_value());
  CHECK(decoder.stream_offset() == 42);
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("encoding: server type, appending, Chinese length in bytes, NUL refused") {
  std::string chat = encode_packet("type@=chatmsg/txt@=你好世界/", server_message_type);
  // 19 ASCII bytes + 4 characters of 3 bytes + '/' = 32 bytes of text, so L = 41.
  CHECK(chat.substr(0, 8) == u32le(41) + u32le(41));
  CHECK(hex(chat.substr(8, 4)) == "b2020000");
  CHECK(chat.size() == 45);
  CHECK(chat.back() == '\0');

  std::string out = "xy";
  append_packet(out, "a");
  CHECK(out.size() == 2 + 14);
  CHECK(out.substr(2) == encode_packet("a"));

  PacketError nul = packet_error_of([] { encode_packet(std::string("ab\0c", 4)); });
  CHECK(nul.offset() == 2);
  CHECK(contains(nul.what(), "NUL byte at byte 2"));
}

TEST_CASE("many packets in one feed") {
  std::vector<Packet> sent;
  for (int i = 0; i < 200; ++i) {
    sent.push_back({server_message_type, "type@=chatmsg/uid@=" + std::to_string(i) + "/txt@=" + std::string(i % 37, 'x') + "/"});
  }
  std::string stream = stream_of(sent);
  PacketDecoder decoder;
  decoder.feed(stream);
  CHECK(drain(decoder) == sent);
  CHECK(decoder.stream_offset() == stream.size());
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("one packet fed byte by byte appears only with its last byte") {
  std::string packet = encode_packet("type@=chatmsg/nn@=张三/", server_message_type);
  PacketDecoder decoder;
  for (size_t i = 0; i + 1 < packet.size(); ++i) {
    decoder.feed(packet.substr(i, 1));
    REQUIRE_FALSE(decoder.next().has_value());
  }
  decoder.feed(packet.substr(packet.size() - 1));
  auto view = decoder.next();
  REQUIRE(view.has_value());
  CHECK(view->text == "type@=chatmsg/nn@=张三/");
}

TEST_CASE("a stream split at every offset, and in random chunks, decodes the same") {
  std::vector<Packet> sent = sample_packets();
  std::string stream = stream_of(sent);
  for (size_t split = 0; split <= stream.size(); ++split) {
    INFO("split at ", split);
    PacketDecoder decoder;
    decoder.feed(std::string_view(stream).substr(0, split));
    std::vector<Packet> received = drain(decoder);
    decoder.feed(std::string_view(stream).substr(split));
    for (Packet& packet : drain(decoder)) received.push_back(std::move(packet));
    CHECK(received == sent);
  }

  std::mt19937 rng(7);
  std::string long_stream;
  std::vector<Packet> long_sent;
  for (int i = 0; i < 300; ++i) {
    for (const Packet& packet : sent) long_sent.push_back(packet);
  }
  long_stream = stream_of(long_sent);
  PacketDecoder decoder;
  std::vector<Packet> received;
  for (size_t position = 0; position < long_stream.size();) {
    size_t chunk = std::uniform_int_distribution<size_t>(1, 90)(rng);
    decoder.feed(std::string_view(long_stream).substr(position, chunk));
    position += chunk;
    for (Packet& packet : drain(decoder)) received.push_back(std::move(packet));
  }
  CHECK(received == long_sent);
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("a missing trailing NUL is tolerated and only one NUL is dropped") {
  PacketDecoder decoder;
  decoder.feed(raw_packet(8 + 3, 8 + 3, server_message_type, "abc"));
  decoder.feed(raw_packet(9 + 4, 9 + 4, server_message_type, std::string("abc\0\0", 5)));
  auto packets = drain(decoder);
  REQUIRE(packets.size() == 2);
  CHECK(packets[0].text == "abc");
  CHECK(packets[1].text == std::string("abc\0", 4));
}

TEST_CASE("lengths that disagree are an error, after which the decoder refuses input") {
  PacketDecoder decoder;
  std::string good = encode_packet("type@=mrkl/");
  decoder.feed(good);
  decoder.feed(raw_packet(38, 39, client_message_type, std::string(30, 'x')));
  CHECK(decoder.next().has_value());
  PacketError error = packet_error_of([&] { decoder.next(); });
  CHECK(error.offset() == good.size() + 4);
  CHECK(contains(error.what(), "disagree"));
  CHECK(contains(error.what(), "38 at stream offset " + std::to_string(good.size())));
  CHECK(contains(error.what(), "39 at stream offset " + std::to_string(good.size() + 4)));
  CHECK(decoder.failed());
  CHECK(decoder.error() == error.what());
  CHECK_THROWS_AS(decoder.feed(good), PacketError);
  CHECK_THROWS_AS(decoder.next(), PacketError);
}

TEST_CASE("a length below 9 is caught from its first 4 bytes") {
  PacketDecoder decoder;
  decoder.feed(u32le(8));
  PacketError error = packet_error_of([&] { decoder.next(); });
  CHECK(error.offset() == 0);
  CHECK(contains(error.what(), "length 8 is below the minimum 9 at stream offset 0"));
  CHECK(decoder.failed());
}

TEST_CASE("a length above the cap is caught before buffering the body") {
  PacketDecoder small(100);
  std::string at_cap = raw_packet(100, 100, server_message_type, std::string(91, 'y') + '\0');
  small.feed(at_cap);
  auto packet = small.next_packet();
  REQUIRE(packet.has_value());
  CHECK(packet->text == std::string(91, 'y'));

  small.feed(u32le(101));
  PacketError error = packet_error_of([&] { small.next(); });
  CHECK(error.offset() == at_cap.size());
  CHECK(contains(error.what(), "length 101 is above the limit 100"));

  PacketDecoder standard;
  CHECK(standard.max_length() == default_max_packet_length);
  standard.feed(u32le(default_max_packet_length + 1));
  CHECK_THROWS_AS(standard.next(), PacketError);

  PacketDecoder huge;
  huge.feed(u32le(0xffffffff));
  CHECK_THROWS_AS(huge.next(), PacketError);
}

TEST_CASE("packets larger than 4 KiB and up to the 1 MiB cap") {
  std::string big_text(default_max_packet_length - min_packet_length, 'z');
  std::string stream = encode_packet(std::string(5000, 'q'), server_message_type) + encode_packet(big_text);
  PacketDecoder decoder;
  for (size_t position = 0; position < stream.size(); position += 4096) {
    decoder.feed(std::string_view(stream).substr(position, 4096));
  }
  auto packets = drain(decoder);
  REQUIRE(packets.size() == 2);
  CHECK(packets[0].text.size() == 5000);
  CHECK(packets[1].text == big_text);
}

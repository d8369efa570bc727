// The frame extractor: frames split anywhere, many per read, leftovers kept exactly, and the
// length errors the contract names.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "apps/device/frame.h"

using namespace asyncore::device;

namespace {

// Feeds `chunks` in order and collects every body (copied: views die with the next call).
struct Collected {
  std::vector<std::string> bodies;
  FrameEvent::Kind last = FrameEvent::need_more;
};

Collected feed_all(FrameExtractor& extractor, const std::vector<std::string>& chunks) {
  Collected out;
  for (const std::string& chunk : chunks) {
    extractor.feed(chunk);
    for (;;) {
      FrameEvent event = extractor.next();
      out.last = event.kind;
      if (event.kind != FrameEvent::frame) break;
      out.bodies.emplace_back(event.body);
    }
    if (out.last != FrameEvent::need_more) break;
  }
  return out;
}

std::string stream_of(const std::vector<std::string>& bodies) {
  std::string stream;
  for (const std::string& b : bodies) append_frame(stream, b);
  return stream;
}

const std::vector<std::string> kBodies = {R"({"type":1,"ident":1})", R"({"type":3,"ident":2,"battery":80})", "x",
                                          std::string(300, 'a'), R"({"type":4,"ident":3,"lat":1.5,"lon":2.5})"};

}  // namespace

TEST_CASE("encode_frame writes a big-endian length before the body") {
  CHECK(encode_frame("abc") == std::string("\0\0\0\3abc", 7));
  std::string big(0x010203, 'z');
  std::string frame = encode_frame(big);
  CHECK(frame.substr(0, 4) == std::string("\0\1\2\3", 4));
  CHECK(read_be32(frame.data()) == 0x010203u);
}

TEST_CASE("many frames in one read come out in order") {
  FrameExtractor extractor;
  Collected c = feed_all(extractor, {stream_of(kBodies)});
  CHECK(c.last == FrameEvent::need_more);
  CHECK(c.bodies == kBodies);
  CHECK(extractor.leftover() == 0);
}

TEST_CASE("a stream split at every single position yields the same frames") {
  const std::string stream = stream_of(kBodies);
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameExtractor extractor;
    Collected c = feed_all(extractor, {stream.substr(0, cut), stream.substr(cut)});
    CAPTURE(cut);
    CHECK(c.bodies == kBodies);
    CHECK(extractor.leftover() == 0);
  }
}

TEST_CASE("byte by byte") {
  const std::string stream = stream_of(kBodies);
  std::vector<std::string> chunks;
  for (char c : stream) chunks.emplace_back(1, c);
  FrameExtractor extractor;
  CHECK(feed_all(extractor, chunks).bodies == kBodies);
}

TEST_CASE("random chunking keeps exactly the leftover bytes") {
  std::mt19937 rng(7);
  std::vector<std::string> bodies;
  for (int i = 0; i < 200; ++i) bodies.push_back(std::string(rng() % 700 + 1, static_cast<char>('a' + i % 26)));
  const std::string stream = stream_of(bodies);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::string> chunks;
    for (std::size_t at = 0; at < stream.size();) {
      std::size_t n = std::min<std::size_t>(rng() % 1500 + 1, stream.size() - at);
      chunks.push_back(stream.substr(at, n));
      at += n;
    }
    FrameExtractor extractor;
    CHECK(feed_all(extractor, chunks).bodies == bodies);
  }
}

TEST_CASE("an unfinished frame is kept, then completed") {
  FrameExtractor extractor;
  const std::string frame = encode_frame("hello");
  extractor.feed(std::string_view(frame).substr(0, 6));
  CHECK(extractor.next().kind == FrameEvent::need_more);
  CHECK(extractor.leftover() == 6);
  const std::string rest = frame.substr(6) + encode_frame("next").substr(0, 2);
  extractor.feed(rest);
  FrameEvent event = extractor.next();
  REQUIRE(event.kind == FrameEvent::frame);
  CHECK(event.body == "hello");
  CHECK(extractor.next().kind == FrameEvent::need_more);
  CHECK(extractor.leftover() == 2);
}

TEST_CASE("zero length is an error, and stays one") {
  FrameExtractor extractor;
  const std::string stream = encode_frame("ok") + std::string(4, '\0') + encode_frame("never");
  extractor.feed(stream);
  CHECK(extractor.next().kind == FrameEvent::frame);
  CHECK(extractor.next().kind == FrameEvent::zero_length);
  CHECK(extractor.failed());
  CHECK(extractor.next().kind == FrameEvent::zero_length);
}

TEST_CASE("a length past max_frame is an error before the body arrives") {
  FrameExtractor extractor(100);
  CHECK(feed_all(extractor, {encode_frame(std::string(100, 'a'))}).bodies.size() == 1);
  FrameExtractor small(100);
  std::string header = encode_frame(std::string(101, 'a')).substr(0, 4);
  small.feed(std::string_view(header).substr(0, 2));
  CHECK(small.next().kind == FrameEvent::need_more);
  small.feed(std::string_view(header).substr(2));
  FrameEvent event = small.next();
  CHECK(event.kind == FrameEvent::oversized);
  CHECK(event.length == 101);
  FrameExtractor huge;
  const std::string all_ones("\xff\xff\xff\xff", 4);
  huge.feed(all_ones);
  CHECK(huge.next().kind == FrameEvent::oversized);
}

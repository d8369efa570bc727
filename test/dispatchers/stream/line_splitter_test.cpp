// LineSplitter: the one line framing, each overlong-line policy, delimiters split across feeds
// at every byte position, the end of input.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include <asyncore/stream/line_splitter.h>

using asyncore::LineSplitter;
using asyncore::OverlongLine;
using Kind = LineSplitter::Kind;

namespace {

struct Got {
  Kind kind;
  std::string data;
  bool operator==(const Got&) const = default;
};

std::vector<Got> drain(LineSplitter& splitter) {
  std::vector<Got> out;
  while (auto item = splitter.next()) out.push_back({item->kind, std::string(item->data)});
  return out;
}

// Feeds `input` in two parts split at `at`, then ends the input.
std::vector<Got> split_at(LineSplitter splitter, const std::string& input, size_t at) {
  splitter.feed(std::string_view(input).substr(0, at));
  std::vector<Got> out = drain(splitter);
  splitter.feed(std::string_view(input).substr(at));
  for (auto& got : drain(splitter)) out.push_back(got);
  while (auto item = splitter.finish()) out.push_back({item->kind, std::string(item->data)});
  return out;
}

}  // namespace

TEST_CASE("every policy gives the same lines when none is too long, wherever the input is split") {
  const std::string input = "one\r\n\r\ntwo\r\nthree";
  const std::vector<Got> expected{{Kind::line, "one"}, {Kind::line, ""}, {Kind::line, "two"}, {Kind::line, "three"}};
  for (OverlongLine policy : {OverlongLine::error, OverlongLine::truncate, OverlongLine::pieces}) {
    for (size_t at = 0; at <= input.size(); ++at) {
      CAPTURE(at);
      CHECK(split_at(LineSplitter(5, policy, "\r\n"), input, at) == expected);
    }
  }
}

TEST_CASE("error: everything buffered comes back as too_long, then splitting goes on") {
  LineSplitter splitter(4, OverlongLine::error, "\r\n");
  splitter.feed("abcd\r\nabcde\r\nrest");
  CHECK(drain(splitter) == std::vector<Got>{{Kind::line, "abcd"}, {Kind::too_long, "abcde\r\nrest"}});
  CHECK(splitter.buffered() == 0);
  splitter.feed("ok\r\n");
  CHECK(drain(splitter) == std::vector<Got>{{Kind::line, "ok"}});
}

TEST_CASE("truncate: the first max_length bytes are reported, the rest of that line dropped as it arrives") {
  LineSplitter splitter(4, OverlongLine::truncate, "\n");
  splitter.feed("abcdefg\nok\n0123");
  CHECK(drain(splitter) == std::vector<Got>{{Kind::too_long, "abcd"}, {Kind::line, "ok"}});
  for (int i = 0; i < 100; ++i) splitter.feed("x");  // the line never ends: reported once, nothing held
  CHECK(drain(splitter) == std::vector<Got>{{Kind::too_long, "0123"}});
  CHECK(splitter.buffered() == 0);
  splitter.feed("yyy\nfine\n");
  CHECK(drain(splitter) == std::vector<Got>{{Kind::line, "fine"}});
  splitter.feed("tail-too-long");
  CHECK(drain(splitter) == std::vector<Got>{{Kind::too_long, "tail"}});
  CHECK_FALSE(splitter.finish());  // the rest of that line is not a line of its own
}

TEST_CASE("pieces: nothing is dropped, and a piece of exactly max_length waits for what follows") {
  LineSplitter splitter(3, OverlongLine::pieces, "\r\n");
  splitter.feed("abcdefg\r\nabc");
  CHECK(drain(splitter) == std::vector<Got>{{Kind::piece, "abc"}, {Kind::piece, "def"}, {Kind::line, "g"}});
  splitter.feed("\r");  // "abc\r" may still be "abc" + "\r\n"
  CHECK(drain(splitter).empty());
  splitter.feed("\n");
  CHECK(drain(splitter) == std::vector<Got>{{Kind::line, "abc"}});
  splitter.feed("12345");
  CHECK(drain(splitter) == std::vector<Got>{{Kind::piece, "123"}});
  CHECK(splitter.finish()->data == "45");
  CHECK_FALSE(splitter.finish());
}

TEST_CASE("a long line fed a byte at a time, with no limit, is found whole") {
  LineSplitter splitter(0, OverlongLine::error, "END");
  const std::string line(200000, 'x');
  bool early = false;
  for (char c : line) {
    splitter.feed(std::string_view(&c, 1));
    early = early || splitter.next().has_value();
  }
  CHECK_FALSE(early);
  splitter.feed("EN");
  CHECK_FALSE(splitter.next());
  splitter.feed("D");
  auto item = splitter.next();
  REQUIRE(item);
  CHECK(item->data.size() == line.size());
  CHECK_THROWS_AS(LineSplitter(1, OverlongLine::error, ""), std::invalid_argument);
}

// LineReceiver and IntNStringReceiver: their pure parsers byte by byte, the protocols over an
// in-memory transport, and each once over real loopback sockets.
#include <doctest/doctest.h>

#include <bit>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <asyncore/asyncore.h>
#include <asyncore/twisted/int_n_string_receiver.h>
#include <asyncore/twisted/line_receiver.h>
#include <asyncore/twisted/tcp_connector.h>
#include <asyncore/twisted/tcp_port.h>
#include "test/dispatchers/twisted/string_transport.h"

using namespace asyncore;
using LineKind = LineParser::Item::Kind;
using StringKind = IntNStringParser::Item::Kind;
using testing::StringTransport;

namespace {

std::vector<LineParser::Item> drain(LineParser& parser) {
  std::vector<LineParser::Item> items;
  while (auto item = parser.next()) items.push_back(std::move(*item));
  return items;
}

std::vector<LineParser::Item> lines(std::initializer_list<std::string> texts) {
  std::vector<LineParser::Item> items;
  for (const std::string& text : texts) items.push_back({LineKind::line, text});
  return items;
}

// Feeds `input` in two pieces split at `split` and collects every item.
std::vector<LineParser::Item> parse_split(LineParser parser, std::string_view input, size_t split) {
  parser.feed(input.substr(0, split));
  auto items = drain(parser);
  parser.feed(input.substr(split));
  for (auto& item : drain(parser)) items.push_back(std::move(item));
  return items;
}

std::vector<std::string> drain_strings(IntNStringParser& parser) {
  std::vector<std::string> out;
  while (auto item = parser.next()) {
    REQUIRE(item->kind == StringKind::string);
    out.push_back(item->data);
  }
  return out;
}

// Hands the protocol a StringTransport and returns it.
std::shared_ptr<StringTransport> connect(Protocol& protocol) {
  auto transport = std::make_shared<StringTransport>();
  protocol.make_connection(transport);
  return transport;
}

}  // namespace

// --- LineParser ----------------------------------------------------------------------------

TEST_CASE("LineParser splits lines on the delimiter, however the bytes arrive") {
  const std::string input = "first\r\nsecond line\r\n\r\nlast\r\n";
  const auto expected = lines({"first", "second line", "", "last"});
  for (size_t split = 0; split <= input.size(); ++split) {
    CAPTURE(split);
    CHECK(parse_split(LineParser(), input, split) == expected);
  }
  LineParser one_at_a_time;
  std::vector<LineParser::Item> items;
  for (char c : input) {
    one_at_a_time.feed(std::string_view(&c, 1));
    for (auto& item : drain(one_at_a_time)) items.push_back(item);
  }
  CHECK(items == expected);
}

TEST_CASE("LineParser keeps an unfinished line, and works with other delimiters") {
  LineParser parser;
  parser.feed("no end yet\r");
  CHECK_FALSE(parser.next());
  CHECK(parser.buffered() == 11);
  parser.feed("\n");
  CHECK(drain(parser) == lines({"no end yet"}));

  const std::string input = "aENDbbENDENDcEN";
  for (size_t split = 0; split <= input.size(); ++split) {
    CAPTURE(split);
    LineParser custom("END");
    auto items = parse_split(custom, input, split);
    CHECK(items == lines({"a", "bb", ""}));
  }
  LineParser lf("\n");
  lf.feed("x\r\ny\n");
  CHECK(drain(lf) == lines({"x\r", "y"}));
  CHECK_THROWS_AS(LineParser(""), std::invalid_argument);
}

TEST_CASE("LineParser reports over-long lines with everything buffered, then goes on") {
  LineParser parser("\r\n", 5);
  parser.feed("abcde\r\nabcdef\r\nrest");
  auto first = parser.next();
  REQUIRE(first);
  CHECK(*first == LineParser::Item{LineKind::line, "abcde"});  // exactly max_length is fine
  auto second = parser.next();
  REQUIRE(second);
  CHECK(second->kind == LineKind::too_long);
  CHECK(second->data == "abcdef\r\nrest");
  CHECK(parser.buffered() == 0);
  parser.feed("ok\r\n");
  CHECK(drain(parser) == lines({"ok"}));

  // No delimiter at all: reported once more than max_length bytes surely belong to the line.
  LineParser endless("\r\n", 5);
  endless.feed("abcde\r");  // might still be "abcde" + "\r\n"
  CHECK_FALSE(endless.next());
  endless.feed("x");
  auto too_long = endless.next();
  REQUIRE(too_long);
  CHECK(too_long->kind == LineKind::too_long);
  CHECK(too_long->data == "abcde\rx");
}

TEST_CASE("LineParser switches to raw mode mid-buffer and back") {
  LineParser parser;
  parser.feed("HEADER\r\nraw bytes\r\nmore");
  auto header = parser.next();
  REQUIRE(header);
  CHECK(*header == LineParser::Item{LineKind::line, "HEADER"});
  parser.set_raw_mode();
  CHECK_FALSE(parser.line_mode());
  auto raw = parser.next();
  REQUIRE(raw);
  CHECK(*raw == LineParser::Item{LineKind::raw, "raw bytes\r\nmore"});  // delimiters mean nothing now
  CHECK_FALSE(parser.next());
  parser.feed("x\r\n");
  CHECK(drain(parser) == std::vector<LineParser::Item>{{LineKind::raw, "x\r\n"}});
  parser.set_line_mode();
  parser.feed("a\r\nb");
  CHECK(drain(parser) == lines({"a"}));
  CHECK(parser.clear() == "b");
  CHECK(parser.buffered() == 0);
}

// --- LineReceiver ---------------------------------------------------------------------------

namespace {

// A line protocol with a raw-data command: "RAW n" makes the next n bytes raw.
class Recorder : public LineReceiver {
 public:
  using LineReceiver::LineReceiver;
  std::vector<std::string> got_lines, got_raw;
  std::string raw_pending;
  size_t raw_left = 0;
  std::vector<std::string> exceeded;

  void line_received(std::string_view line) override {
    got_lines.emplace_back(line);
    if (line.starts_with("RAW ")) {
      raw_left = std::stoul(std::string(line.substr(4)));
      set_raw_mode();
    } else if (line == "QUIT") {
      transport->lose_connection();
    } else if (line == "ECHO") {
      send_line("echo!");
    }
  }
  void raw_data_received(std::string_view data) override {
    size_t take = std::min(raw_left, data.size());
    raw_pending.append(data.substr(0, take));
    raw_left -= take;
    if (raw_left == 0) {
      got_raw.push_back(std::exchange(raw_pending, {}));
      set_line_mode(data.substr(take));
    }
  }
  void line_length_exceeded(std::string_view data) override {
    exceeded.emplace_back(data);
    LineReceiver::line_length_exceeded(data);
  }
};

}  // namespace

TEST_CASE("LineReceiver delivers lines and raw data, switching modes mid-buffer, split anywhere") {
  const std::string input = "one\r\nRAW 7\r\nab\r\ncd!two\r\nRAW 0\r\nthree\r\n";
  for (size_t split = 0; split <= input.size(); ++split) {
    CAPTURE(split);
    Recorder recorder;
    auto transport = connect(recorder);
    recorder.data_received(input.substr(0, split));
    recorder.data_received(input.substr(split));
    CHECK(recorder.got_lines == std::vector<std::string>{"one", "RAW 7", "two", "RAW 0", "three"});
    CHECK(recorder.got_raw == std::vector<std::string>{"ab\r\ncd!", ""});
    CHECK(recorder.line_mode());
  }
}

TEST_CASE("LineReceiver: send_line, custom delimiter, clear_line_buffer") {
  Recorder recorder("\n");
  auto transport = connect(recorder);
  recorder.data_received("ECHO\npartial");
  CHECK(transport->written == "echo!\n");
  CHECK(recorder.delimiter() == "\n");
  CHECK(recorder.clear_line_buffer() == "partial");
  recorder.data_received("\n");
  CHECK(recorder.got_lines == std::vector<std::string>{"ECHO", ""});
}

TEST_CASE("LineReceiver: an over-long line closes the connection and nothing more is delivered") {
  set_log_level(LogLevel::error);  // the "line over 8 bytes" warnings are expected
  Recorder recorder("\r\n", 8);
  auto transport = connect(recorder);
  CHECK(recorder.max_length() == 8);
  recorder.data_received("short\r\nmuch too long\r\nafter\r\n");
  CHECK(recorder.got_lines == std::vector<std::string>{"short"});
  REQUIRE(recorder.exceeded.size() == 1);
  CHECK(recorder.exceeded[0] == "much too long\r\nafter\r\n");
  CHECK(transport->lost);

  Recorder unbounded("\r\n", 8);
  auto other = connect(unbounded);
  unbounded.data_received(std::string(9, 'x'));  // 9 > 8 bytes and no delimiter: already too long
  CHECK(unbounded.exceeded.size() == 1);
  CHECK(other->lost);
  set_log_level(LogLevel::info);
}

TEST_CASE("LineReceiver stops delivering once the transport is disconnecting") {
  Recorder recorder;
  auto transport = connect(recorder);
  recorder.data_received("a\r\nQUIT\r\nb\r\nc\r\n");
  CHECK(recorder.got_lines == std::vector<std::string>{"a", "QUIT"});
}

TEST_CASE("LineReceiver in raw mode without raw_data_received is a clear error") {
  struct LinesOnly : LineReceiver {
    void line_received(std::string_view) override { set_raw_mode(); }
  } protocol;
  auto transport = connect(protocol);
  CHECK_THROWS_WITH_AS(protocol.data_received("go\r\nraw"), doctest::Contains("raw_data_received"), std::logic_error);
}

// --- IntNStringParser -----------------------------------------------------------------------

TEST_CASE("IntNStringParser::encode writes the prefix as configured") {
  using std::endian;
  CHECK(IntNStringParser::encode("abc", {.prefix_bytes = 1}) == std::string("\x03" "abc"));
  CHECK(IntNStringParser::encode("abc", {.prefix_bytes = 2}) == std::string("\x00\x03" "abc", 5));
  CHECK(IntNStringParser::encode("abc", {.prefix_bytes = 2, .byte_order = endian::little}) == std::string("\x03\x00" "abc", 5));
  CHECK(IntNStringParser::encode("abc", {.prefix_bytes = 4}) == std::string("\x00\x00\x00\x03" "abc", 7));
  CHECK(IntNStringParser::encode("abc", {.prefix_bytes = 4, .byte_order = endian::little}) == std::string("\x03\x00\x00\x00" "abc", 7));
  CHECK(IntNStringParser::encode("abc", {.prefix_bytes = 2, .prefix_counted = true}) == std::string("\x00\x05" "abc", 5));
  CHECK(IntNStringParser::encode("", {.prefix_bytes = 1, .prefix_counted = true}) == std::string("\x01"));
  CHECK(IntNStringParser::encode(std::string(258, 'x'), {.prefix_bytes = 2, .byte_order = endian::little}).substr(0, 2) ==
        std::string("\x02\x01"));

  CHECK(IntNStringParser::encode(std::string(255, 'x'), {.prefix_bytes = 1}).size() == 256);
  CHECK_THROWS_WITH_AS(IntNStringParser::encode(std::string(256, 'x'), {.prefix_bytes = 1}), doctest::Contains("8-bit"),
                       std::length_error);
  CHECK(IntNStringParser::encode(std::string(254, 'x'), {.prefix_bytes = 1, .prefix_counted = true}).size() == 255);
  CHECK_THROWS_AS(IntNStringParser::encode(std::string(255, 'x'), {.prefix_bytes = 1, .prefix_counted = true}), std::length_error);
  CHECK_THROWS_WITH_AS(IntNStringParser({.prefix_bytes = 3}), doctest::Contains("prefix_bytes"), std::invalid_argument);
}

TEST_CASE("IntNStringParser reads every width, byte order and counting, split at every byte") {
  const std::vector<std::string> strings = {"", "a", "hello", std::string(200, 'z'), std::string("\0\xff\x01", 3)};
  for (unsigned width : {1u, 2u, 4u}) {
    for (std::endian order : {std::endian::big, std::endian::little}) {
      for (bool counted : {false, true}) {
        const IntNFormat format{.prefix_bytes = width, .byte_order = order, .prefix_counted = counted, .max_length = 1000};
        CAPTURE(width);
        CAPTURE(order == std::endian::big);
        CAPTURE(counted);
        std::string wire;
        for (const std::string& s : strings) wire += IntNStringParser::encode(s, format);
        for (size_t split = 0; split <= wire.size(); ++split) {
          IntNStringParser parser(format);
          parser.feed(std::string_view(wire).substr(0, split));
          auto got = drain_strings(parser);
          parser.feed(std::string_view(wire).substr(split));
          for (auto& s : drain_strings(parser)) got.push_back(s);
          if (got != strings) {
            CAPTURE(split);
            FAIL_CHECK("strings differ");
          }
          CHECK(parser.buffered() == 0);
        }
        IntNStringParser bytewise(format);
        std::vector<std::string> got;
        for (char c : wire) {
          bytewise.feed(std::string_view(&c, 1));
          for (auto& s : drain_strings(bytewise)) got.push_back(s);
        }
        CHECK(got == strings);
      }
    }
  }
}

TEST_CASE("IntNStringParser: the length limit, and lengths shorter than a counted prefix") {
  IntNStringParser parser({.prefix_bytes = 2, .max_length = 10});
  parser.feed(IntNStringParser::encode(std::string(10, 'a'), {.prefix_bytes = 2}));
  parser.feed(std::string("\x00\x0b", 2));  // 11 > 10: reported from the prefix alone
  auto ok = parser.next();
  REQUIRE(ok);
  CHECK(ok->data == std::string(10, 'a'));
  auto too_long = parser.next();
  REQUIRE(too_long);
  CHECK(too_long->kind == StringKind::too_long);
  CHECK(too_long->length == 11);
  CHECK(parser.failed());
  parser.feed(IntNStringParser::encode("x", {.prefix_bytes = 2}));
  CHECK_FALSE(parser.next());  // framing is lost: nothing more is parsed

  IntNStringParser big({.prefix_bytes = 4});  // default max_length 99999, as Twisted
  big.feed(std::string("\x00\x01\x86\xa0", 4));  // 100000
  auto refused = big.next();
  REQUIRE(refused);
  CHECK(refused->kind == StringKind::too_long);
  CHECK(refused->length == 100000);

  IntNStringParser counted({.prefix_bytes = 2, .prefix_counted = true});
  counted.feed(std::string("\x00\x01", 2));  // 1 < the prefix's own 2 bytes
  auto bad = counted.next();
  REQUIRE(bad);
  CHECK(bad->kind == StringKind::bad_length);
  CHECK(bad->length == 1);
  CHECK(counted.failed());
}

// --- IntNStringReceiver ---------------------------------------------------------------------

namespace {

class StringRecorder : public IntNStringReceiver {
 public:
  using IntNStringReceiver::IntNStringReceiver;
  std::vector<std::string> got;
  std::vector<uint64_t> too_long;
  void string_received(std::string_view data) override {
    got.emplace_back(data);
    if (data == "reply") send_string("replied");
    if (data == "quit") transport->lose_connection();
  }
  void length_limit_exceeded(uint64_t length) override {
    too_long.push_back(length);
    IntNStringReceiver::length_limit_exceeded(length);
  }
};

}  // namespace

TEST_CASE("IntNStringReceiver delivers strings, answers with send_string, stops after lose_connection") {
  const IntNFormat format{.prefix_bytes = 2, .byte_order = std::endian::little};
  StringRecorder recorder(format);
  auto transport = connect(recorder);
  std::string wire = IntNStringParser::encode("first", format) + IntNStringParser::encode("reply", format) +
                     IntNStringParser::encode("quit", format) + IntNStringParser::encode("never", format);
  recorder.data_received(wire.substr(0, 3));
  recorder.data_received(wire.substr(3));
  CHECK(recorder.got == std::vector<std::string>{"first", "reply", "quit"});
  CHECK(transport->written == IntNStringParser::encode("replied", format));
  CHECK(transport->lost);
}

TEST_CASE("IntNStringReceiver: over the length limit closes by default; presets are Twisted's") {
  StringRecorder recorder(IntNFormat{.prefix_bytes = 4, .max_length = 16});
  auto transport = connect(recorder);
  set_log_level(LogLevel::error);  // the warning is expected
  recorder.data_received(std::string("\x00\x00\x00\x11", 4));
  set_log_level(LogLevel::info);
  CHECK(recorder.too_long == std::vector<uint64_t>{17});
  CHECK(transport->lost);

  struct Eight : Int8StringReceiver {
    void string_received(std::string_view) override {}
  } eight;
  CHECK(eight.format().prefix_bytes == 1);
  struct ThirtyTwo : Int32StringReceiver {
    void string_received(std::string_view) override {}
  } thirty_two;
  CHECK(thirty_two.format().prefix_bytes == 4);
  CHECK(thirty_two.format().max_length == 99999);
  struct Sixteen : Int16StringReceiver {
    void string_received(std::string_view) override {}
  } sixteen;
  auto out = connect(sixteen);
  CHECK(sixteen.format().prefix_bytes == 2);
  CHECK(sixteen.format().byte_order == std::endian::big);
  sixteen.send_string("hi");
  CHECK(out->written == std::string("\x00\x02hi", 4));
  CHECK_THROWS_AS(sixteen.send_string(std::string(70000, 'x')), std::length_error);
}

// --- over sockets ---------------------------------------------------------------------------

namespace {

bool run_until(ChannelMap& map, const std::function<bool()>& done, double seconds = 10) {
  auto start = Clock::now();
  while (!done() && std::chrono::duration<double>(Clock::now() - start).count() < seconds) map.poll_once(0.02);
  return done();
}

template <class P>
class FactoryOf : public ClientFactory {
 public:
  std::function<std::shared_ptr<P>()> make;
  std::shared_ptr<Protocol> build_protocol(const Address&) override { return make(); }
};

}  // namespace

TEST_CASE("LineReceiver over TCP: a line server answers lines sent in pieces") {
  struct Shouter : LineReceiver {
    void line_received(std::string_view line) override {
      std::string upper(line);
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      send_line(upper);
    }
  };
  struct Asker : LineReceiver {
    std::vector<std::string> answers;
    void connection_made() override {
      transport->write("hel");
      transport->write("lo\r");
      transport->write("\nworld\r\n");
    }
    void line_received(std::string_view line) override {
      answers.emplace_back(line);
      if (answers.size() == 2) transport->lose_connection();
    }
  };
  ChannelMap map;
  auto port = listen_tcp(0, make_factory<Shouter>(), 50, "127.0.0.1", &map);
  std::shared_ptr<Asker> asker;
  auto factory = std::make_shared<FactoryOf<Asker>>();
  factory->make = [&] { return asker = std::make_shared<Asker>(); };
  connect_tcp("127.0.0.1", port->get_host().port(), factory, 5, std::nullopt, &map);
  REQUIRE(run_until(map, [&] { return asker && !asker->connected && asker->transport; }));
  CHECK(asker->answers == std::vector<std::string>{"HELLO", "WORLD"});
}

TEST_CASE("Int32StringReceiver over TCP: strings echo back whole") {
  struct StringEcho : Int32StringReceiver {
    void string_received(std::string_view data) override { send_string(data); }
  };
  struct Sender : Int32StringReceiver {
    std::vector<std::string> sent = {"x", std::string(50000, 'y'), "", "end"};
    std::vector<std::string> got;
    void connection_made() override {
      for (const std::string& s : sent) send_string(s);
    }
    void string_received(std::string_view data) override {
      got.emplace_back(data);
      if (got.size() == sent.size()) transport->lose_connection();
    }
  };
  ChannelMap map;
  auto port = listen_tcp(0, make_factory<StringEcho>(), 50, "127.0.0.1", &map);
  std::shared_ptr<Sender> sender;
  auto factory = std::make_shared<FactoryOf<Sender>>();
  factory->make = [&] { return sender = std::make_shared<Sender>(); };
  connect_tcp("127.0.0.1", port->get_host().port(), factory, 5, std::nullopt, &map);
  REQUIRE(run_until(map, [&] { return sender && !sender->connected && sender->transport; }));
  CHECK(sender->got == sender->sent);
}

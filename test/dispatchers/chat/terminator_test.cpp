// TerminatorScanner and Terminator without sockets: asynchat's splitting rules, checked against
// a plain reference (concatenate everything, then split) for every way of cutting the input.
#include <asyncore/chat/terminator.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using asyncore::find_prefix_at_end;
using asyncore::Terminator;
using asyncore::TerminatorScanner;

namespace {

struct Split {
  std::vector<std::string> records;  // data before each terminator
  std::string trailing;              // data collected after the last terminator
  bool operator==(const Split&) const = default;
};

// The whole stream at once, with the same rules: what the scanner must match.
Split reference_split(std::string_view stream, const Terminator& terminator) {
  Split out;
  size_t pos = 0;
  if (terminator.is_none()) return {{}, std::string(stream)};
  if (terminator.kind() == Terminator::Kind::count) {
    // After a count is reached the terminator is 0 (none): the rest is collected.
    const size_t n = terminator.count();
    if (stream.size() < n) return {{}, std::string(stream)};
    return {{std::string(stream.substr(0, n))}, std::string(stream.substr(n))};
  }
  for (;;) {
    size_t index = stream.find(terminator.bytes(), pos);
    if (index == std::string_view::npos) break;
    out.records.emplace_back(stream.substr(pos, index - pos));
    pos = index + terminator.bytes().size();
  }
  out.trailing = std::string(stream.substr(pos));
  return out;
}

// Feeds `chunks` one by one; held-back bytes (a possible terminator start) are added to the
// trailing data at the end, since the reference has no notion of "maybe".
Split scan(const std::vector<std::string>& chunks, const Terminator& terminator) {
  TerminatorScanner scanner;
  scanner.set_terminator(terminator);
  Split out;
  for (const std::string& chunk : chunks) {
    scanner.append(chunk);
    while (auto piece = scanner.next()) {
      out.trailing.append(piece->data);
      if (piece->terminated) out.records.push_back(std::exchange(out.trailing, std::string()));
    }
    CHECK(scanner.buffered() < std::max<size_t>(terminator.bytes().size(), 1));
  }
  const std::string stream = [&] {
    std::string s;
    for (const auto& c : chunks) s += c;
    return s;
  }();
  out.trailing += stream.substr(stream.size() - scanner.buffered());
  return out;
}

const std::vector<std::string> kTerminators = {"\n", "\r\n", "qqq", "--boundary--", "aab"};

}  // namespace

TEST_CASE("a terminator split at every byte position is found") {
  for (const std::string& t : kTerminators) {
    const std::string stream = "hello " + t + "world" + t + t + "I'm not dead yet!" + t + "aaa" + t + "tail" + t.substr(0, t.size() - 1);
    const Split expected = reference_split(stream, Terminator(t));
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
      CAPTURE(t);
      CAPTURE(cut);
      CHECK(scan({stream.substr(0, cut), stream.substr(cut)}, Terminator(t)) == expected);
    }
    for (size_t a = 1; a < stream.size(); ++a) {
      for (size_t b = a + 1; b < stream.size(); b += 3) {
        CAPTURE(a);
        CAPTURE(b);
        CHECK(scan({stream.substr(0, a), stream.substr(a, b - a), stream.substr(b)}, Terminator(t)) == expected);
      }
    }
  }
}

TEST_CASE("one byte at a time gives the same records") {
  for (const std::string& t : kTerminators) {
    const std::string stream = t + "x" + t + "y" + t.substr(0, 1) + "z" + t + t.substr(0, t.size() / 2);
    std::vector<std::string> bytes;
    for (char c : stream) bytes.emplace_back(1, c);
    CAPTURE(t);
    CHECK(scan(bytes, Terminator(t)) == reference_split(stream, Terminator(t)));
  }
}

TEST_CASE("an empty record between two terminators is reported, with no data") {
  TerminatorScanner scanner;
  scanner.set_terminator("\n");
  scanner.append("a\n\nb\n");
  std::vector<std::pair<std::string, bool>> pieces;
  while (auto piece = scanner.next()) pieces.emplace_back(std::string(piece->data), piece->terminated);
  CHECK(pieces == std::vector<std::pair<std::string, bool>>{{"a", true}, {"", true}, {"b", true}});
}

TEST_CASE("a numeric terminator counts down across chunks and is 0 once reached") {
  TerminatorScanner scanner;
  scanner.set_terminator(10);
  scanner.append("abcd");
  auto piece = scanner.next();
  REQUIRE(piece);
  CHECK(piece->data == "abcd");
  CHECK_FALSE(piece->terminated);
  CHECK(scanner.terminator() == Terminator(6));
  CHECK_FALSE(scanner.next());
  scanner.append("efghijKLM");
  piece = scanner.next();
  REQUIRE(piece);
  CHECK(piece->data == "efghij");
  CHECK(piece->terminated);
  CHECK(scanner.terminator() == Terminator(0));
  CHECK(scanner.terminator().is_none());
  // With the count reached and no new terminator, the rest is collected as it comes.
  piece = scanner.next();
  REQUIRE(piece);
  CHECK(piece->data == "KLM");
  CHECK_FALSE(piece->terminated);
}

TEST_CASE("numeric terminators at every split position") {
  const std::string stream = "hello world, I'm not dead yet!\n";
  for (size_t n : {size_t{1}, size_t{6}, stream.size(), stream.size() + 5}) {
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
      CAPTURE(n);
      CAPTURE(cut);
      CHECK(scan({stream.substr(0, cut), stream.substr(cut)}, Terminator(n)) == reference_split(stream, Terminator(n)));
    }
  }
}

TEST_CASE("no terminator: everything is handed out at once and nothing is held") {
  for (const Terminator& none : {Terminator(), Terminator(nullptr), Terminator(0), Terminator("")}) {
    TerminatorScanner scanner;
    scanner.set_terminator(none);
    scanner.append("abc\r\n");
    auto piece = scanner.next();
    REQUIRE(piece);
    CHECK(piece->data == "abc\r\n");
    CHECK_FALSE(piece->terminated);
    CHECK_FALSE(scanner.next());
    CHECK(scanner.buffered() == 0);
  }
}

TEST_CASE("found_terminator may change the terminator for the rest of the input") {
  // An HTTP-like exchange: a header line, a counted body, then lines again.
  TerminatorScanner scanner;
  scanner.set_terminator("\r\n");
  std::vector<std::string> records;
  std::string current;
  const std::string stream = "LEN 5\r\nab\r\ncNEXT\r\nLEN 2\r\n\r\n\r\nend\r\n";
  for (size_t i = 0; i < stream.size(); i += 3) {
    scanner.append(std::string_view(stream).substr(i, 3));
    while (auto piece = scanner.next()) {
      current.append(piece->data);
      if (!piece->terminated) continue;
      records.push_back(std::exchange(current, std::string()));
      if (records.back().starts_with("LEN ")) scanner.set_terminator(std::stoi(records.back().substr(4)));
      else scanner.set_terminator("\r\n");
    }
  }
  CHECK(records == std::vector<std::string>{"LEN 5", "ab\r\nc", "NEXT", "LEN 2", "\r\n", "", "end"});
}

TEST_CASE("clear drops buffered input but keeps the terminator") {
  TerminatorScanner scanner;
  scanner.set_terminator("\r\n");
  scanner.append("partial\r");
  auto piece = scanner.next();
  REQUIRE(piece);
  CHECK(piece->data == "partial");
  CHECK(scanner.buffered() == 1);
  scanner.clear();
  CHECK(scanner.buffered() == 0);
  scanner.append("\nline\r\n");
  piece = scanner.next();
  REQUIRE(piece);
  CHECK(piece->data == "\nline");  // the held '\r' is gone, so this '\n' is data
  CHECK(piece->terminated);
  CHECK(scanner.terminator() == Terminator("\r\n"));
}

TEST_CASE("a large input with many terminators is split in one pass") {
  std::string stream;
  for (int i = 0; i < 200000; ++i) stream += std::to_string(i) + "\r\n";
  TerminatorScanner scanner;
  scanner.set_terminator("\r\n");
  scanner.append(stream);
  int expected = 0;
  bool all_match = true;
  while (auto piece = scanner.next()) {
    all_match = all_match && piece->terminated && piece->data == std::to_string(expected);
    ++expected;
  }
  CHECK(all_match);
  CHECK(expected == 200000);
}

// test_asynchat.TestHelperFunctions.test_find_prefix_at_end
TEST_CASE("find_prefix_at_end (test_find_prefix_at_end)") {
  CHECK(find_prefix_at_end("qwerty\r", "\r\n") == 1);
  CHECK(find_prefix_at_end("qwertydkjf", "\r\n") == 0);
  CHECK(find_prefix_at_end("xx--bound", "--boundary--") == 7);
  CHECK(find_prefix_at_end("aa", "aab") == 2);
  CHECK(find_prefix_at_end("", "\r\n") == 0);
  CHECK(find_prefix_at_end("abc", "") == 0);
  CHECK(find_prefix_at_end("q", "qqq") == 1);
}

// test_asynchat.TestNotConnected.test_disallow_negative_terminator
TEST_CASE("a negative terminator is refused (test_disallow_negative_terminator)") {
  CHECK_THROWS_AS(Terminator(-1), std::invalid_argument);
  CHECK_THROWS_WITH(Terminator(-7L), "set_terminator: the number of received bytes must be positive, got -7");
  CHECK_NOTHROW(Terminator(0));
}

TEST_CASE("terminators describe themselves") {
  CHECK(Terminator().to_string() == "none");
  CHECK(Terminator(42u).to_string() == "count 42");
  CHECK(Terminator("\r\n").to_string() == "bytes \"\\r\\n\"");
  CHECK(Terminator(std::string("a\0\"", 3)).to_string() == "bytes \"a\\x00\\\"\"");
  CHECK(Terminator("x").kind() == Terminator::Kind::bytes);
  CHECK(Terminator(3).kind() == Terminator::Kind::count);
  CHECK(Terminator::none().kind() == Terminator::Kind::none);
}

// libFuzzer target: async_chat's input splitting (TerminatorScanner) fed random chunks, with the
// terminator changed after each record by a random script, must give exactly the records a
// simple reference gets from the whole stream at once.
//
// Input layout: byte 0 = number of script entries (1..8); each entry = kind byte (0 none,
// 1 count, else bytes) + length byte + that many terminator bytes (for a count, the length
// byte is the count); then the stream, cut into chunks whose sizes come from the stream's
// own bytes, so the fuzzer controls both contents and cuts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <asyncore/chat/terminator.h>

using asyncore::Terminator;
using asyncore::TerminatorScanner;

namespace {

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "async_chat_fuzz: %s\n", what);
    std::abort();
  }
}

struct Reader {
  std::string_view in;
  bool empty() const { return in.empty(); }
  uint8_t byte() {
    if (in.empty()) return 0;
    uint8_t b = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    return b;
  }
  std::string_view take(size_t n) {
    n = std::min(n, in.size());
    std::string_view out = in.substr(0, n);
    in.remove_prefix(n);
    return out;
  }
};

std::vector<Terminator> read_script(Reader& r) {
  std::vector<Terminator> script;
  const size_t entries = 1 + r.byte() % 8;
  for (size_t i = 0; i < entries; ++i) {
    const uint8_t kind = r.byte() % 4;
    const uint8_t length = r.byte();
    if (kind == 0) script.emplace_back();
    else if (kind == 1) script.emplace_back(static_cast<size_t>(length % 32));
    else script.emplace_back(r.take(1 + length % 6));
  }
  return script;
}

struct Records {
  std::vector<std::string> done;  // data before each terminator
  std::string open;               // data after the last one
};

// The whole stream at once: the obvious algorithm, with no chunk boundaries to get wrong.
Records reference(std::string_view stream, const std::vector<Terminator>& script) {
  Records out;
  Terminator current = script[0];
  size_t next_script = 1;
  size_t pos = 0;
  auto found = [&](std::string_view data) {
    out.open.append(data);
    out.done.push_back(std::move(out.open));
    out.open.clear();
    current = script[next_script++ % script.size()];
  };
  while (pos < stream.size()) {
    if (current.is_none()) {
      out.open.append(stream.substr(pos));
      break;
    }
    if (current.kind() == Terminator::Kind::count) {
      const size_t n = current.count();
      if (stream.size() - pos < n) {
        out.open.append(stream.substr(pos));
        break;
      }
      found(stream.substr(pos, n));
      pos += n;
      continue;
    }
    const size_t index = stream.find(current.bytes(), pos);
    if (index == std::string_view::npos) {
      out.open.append(stream.substr(pos));
      break;
    }
    const size_t after = index + current.bytes().size();  // before found() changes `current`
    found(stream.substr(pos, index - pos));
    pos = after;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader r{std::string_view(reinterpret_cast<const char*>(data), size)};
  const std::vector<Terminator> script = read_script(r);
  const std::string stream(r.in);

  TerminatorScanner scanner;
  scanner.set_terminator(script[0]);
  size_t next_script = 1;
  Records got;
  size_t fed = 0;
  while (fed < stream.size()) {
    const size_t chunk = 1 + static_cast<uint8_t>(stream[fed]) % 17;
    const std::string_view piece = std::string_view(stream).substr(fed, chunk);
    fed += piece.size();
    scanner.append(piece);
    while (auto next = scanner.next()) {
      got.open.append(next->data);
      if (!next->terminated) continue;
      got.done.push_back(std::move(got.open));
      got.open.clear();
      scanner.set_terminator(script[next_script++ % script.size()]);
    }
    // Between reads only a possible terminator start may be held back.
    const Terminator& t = scanner.terminator();
    require(scanner.buffered() < (t.kind() == Terminator::Kind::bytes && !t.is_none() ? t.bytes().size() : 1),
            "more held back than a partial terminator");
  }
  const Records expected = reference(stream, script);
  require(got.done == expected.done, "records differ from the reference");
  // What the scanner still holds is the end of the stream: with it, the open record matches.
  require(scanner.buffered() <= stream.size(), "holds more than was fed");
  got.open.append(stream.substr(stream.size() - scanner.buffered()));
  require(got.open == expected.open, "the open record differs from the reference");

  const Terminator& t = scanner.terminator();
  if (t.kind() == Terminator::Kind::bytes && !t.is_none()) {
    // find_prefix_at_end against its definition.
    const std::string_view tail = std::string_view(stream).substr(stream.size() - std::min<size_t>(stream.size(), 8));
    size_t longest = 0;
    for (size_t l = 1; l < t.bytes().size() && l <= tail.size(); ++l) {
      if (tail.ends_with(std::string_view(t.bytes()).substr(0, l))) longest = l;
    }
    require(asyncore::find_prefix_at_end(tail, t.bytes()) == longest, "find_prefix_at_end differs from its definition");
  }
  return 0;
}

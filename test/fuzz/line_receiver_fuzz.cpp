// libFuzzer target for LineParser (LineReceiver's framing). The first bytes choose the delimiter,
// max_length and how the rest is cut into reads; lines starting with '!' switch to raw mode and raw
// chunks containing '#' switch back. Checked: every input byte comes out exactly once (lines with
// their delimiter, raw data, over-long data, the final buffer), lines hold no delimiter and respect
// max_length, and without mode switches or over-long lines the cut into reads changes nothing.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <asyncore/twisted/line_parser.h>

using asyncore::LineParser;

namespace {

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "line_receiver_fuzz: %s\n", what);
    std::abort();
  }
}

struct Outcome {
  std::vector<LineParser::Item> items;
  std::string accounted;  // the bytes the items stand for, in order
  bool switched = false, too_long = false;
};

Outcome parse(std::string_view input, const std::string& delimiter, size_t max_length, std::string_view cuts, bool switch_modes) {
  LineParser parser(delimiter, max_length);
  Outcome out;
  size_t at = 0, cut = 0;
  while (at < input.size()) {
    size_t n = cuts.empty() ? input.size() : 1 + static_cast<unsigned char>(cuts[cut++ % cuts.size()]) % 17;
    parser.feed(input.substr(at, n));
    at += std::min(n, input.size() - at);
    while (auto item = parser.next()) {
      switch (item->kind) {
        case LineParser::Item::Kind::line:
          require(item->data.find(delimiter) == std::string::npos, "a line holds the delimiter");
          require(item->data.size() <= max_length, "a line over max_length");
          out.accounted += item->data + delimiter;
          if (switch_modes && !item->data.empty() && item->data[0] == '!') parser.set_raw_mode(), out.switched = true;
          break;
        case LineParser::Item::Kind::raw:
          require(!parser.line_mode(), "raw data in line mode");
          out.accounted += item->data;
          if (switch_modes && item->data.find('#') != std::string::npos) parser.set_line_mode(), out.switched = true;
          break;
        case LineParser::Item::Kind::too_long:
          require(item->data.size() > max_length, "too_long for a short line");
          out.accounted += item->data;
          out.too_long = true;
          break;
      }
      out.items.push_back(std::move(*item));
    }
  }
  out.accounted += parser.clear();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  static const char* const delimiters[] = {"\r\n", "\n", "END", "\r\n\r\n", "aa"};
  const std::string delimiter = delimiters[data[0] % 5];
  const size_t max_length = data[1] % 64;
  const bool switch_modes = data[2] & 1;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 3, size - 3);
  const std::string_view cuts = rest.substr(0, std::min<size_t>(8, rest.size()));

  Outcome whole = parse(rest, delimiter, max_length, {}, switch_modes);
  Outcome pieces = parse(rest, delimiter, max_length, cuts, switch_modes);
  require(whole.accounted == rest, "bytes lost or duplicated (one read)");
  require(pieces.accounted == rest, "bytes lost or duplicated (many reads)");
  if (!whole.switched && !pieces.switched && !whole.too_long && !pieces.too_long) {
    require(whole.items == pieces.items, "the cut into reads changed the lines");
  }
  return 0;
}

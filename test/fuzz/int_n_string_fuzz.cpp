// libFuzzer target for IntNStringParser (IntNStringReceiver's framing). The first bytes choose the
// prefix width, byte order, counting and max_length, and how the rest is cut into reads. Checked:
// the cut changes nothing; re-encoding the strings gives back exactly the bytes consumed; strings
// respect max_length; a reported bad length matches the prefix that follows the consumed bytes.
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <asyncore/twisted/int_n_string_parser.h>

using asyncore::IntNFormat;
using asyncore::IntNStringParser;

namespace {

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "int_n_string_fuzz: %s\n", what);
    std::abort();
  }
}

struct Outcome {
  std::vector<IntNStringParser::Item> items;
  size_t buffered = 0;
  bool failed = false;
};

Outcome parse(std::string_view input, const IntNFormat& format, std::string_view cuts) {
  IntNStringParser parser(format);
  Outcome out;
  size_t at = 0, cut = 0;
  while (at < input.size()) {
    size_t n = cuts.empty() ? input.size() : 1 + static_cast<unsigned char>(cuts[cut++ % cuts.size()]) % 13;
    parser.feed(input.substr(at, n));
    at += std::min(n, input.size() - at);
    while (auto item = parser.next()) out.items.push_back(std::move(*item));
  }
  out.buffered = parser.buffered();
  out.failed = parser.failed();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static const unsigned widths[] = {1, 2, 4};
  const IntNFormat format{.prefix_bytes = widths[data[0] % 3],
                          .byte_order = (data[0] & 4) ? std::endian::little : std::endian::big,
                          .prefix_counted = (data[0] & 8) != 0,
                          .max_length = data[1] * 4u};
  const std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);

  Outcome whole = parse(rest, format, {});
  Outcome pieces = parse(rest, format, rest.substr(0, std::min<size_t>(6, rest.size())));
  require(whole.items == pieces.items, "the cut into reads changed the strings");
  require(whole.failed == pieces.failed, "the cut into reads changed the failure");

  std::string encoded;
  for (size_t i = 0; i < whole.items.size(); ++i) {
    const auto& item = whole.items[i];
    if (item.kind != IntNStringParser::Item::Kind::string) {
      require(i + 1 == whole.items.size() && whole.failed, "items after a framing failure");
      // The failing prefix sits right after the strings consumed so far.
      require(rest.substr(0, encoded.size()) == encoded, "strings do not re-encode to the input");
      IntNStringParser again(format);
      again.feed(rest.substr(encoded.size(), format.prefix_bytes));
      auto same = again.next();
      require(same && same->kind == item.kind && same->length == item.length, "failure not reproducible from its prefix");
      return 0;
    }
    require(item.data.size() <= format.max_length, "a string over max_length");
    require(item.length == item.data.size(), "length and data disagree");
    encoded += IntNStringParser::encode(item.data, format);
  }
  require(!whole.failed, "failed without saying why");
  require(encoded.size() + whole.buffered == rest.size(), "bytes lost or duplicated");
  require(rest.substr(0, encoded.size()) == encoded, "strings do not re-encode to the input");
  return 0;
}

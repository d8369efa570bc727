// libFuzzer target: the RESP parser fed in pieces (their size taken from the first byte) must
// find exactly the replies, or the error, that it finds fed at once; every reply written back
// with append_reply must parse to an equal reply.
#include <asyncore/redis/resp.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace redis = asyncore::redis;

namespace {

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "resp_fuzz: %s\n", what);
    std::abort();
  }
}

const redis::ParserLimits kLimits{.max_bulk = 4096, .max_elements = 512, .max_depth = 8, .max_line = 256};

// The replies found, and whether the stream ended in an error.
struct Parsed {
  std::vector<redis::Reply> replies;
  bool failed = false;
};

Parsed parse(std::string_view input, size_t piece) {
  redis::ReplyParser parser(kLimits);
  Parsed out;
  try {
    while (!input.empty()) {
      const size_t n = std::min(piece, input.size());
      parser.feed(input.substr(0, n));
      input.remove_prefix(n);
      while (auto reply = parser.next()) out.replies.push_back(std::move(*reply));
    }
  } catch (const redis::ProtocolError&) {
    out.failed = true;
  }
  require(out.failed || parser.buffered() <= input.size() + kLimits.max_bulk + kLimits.max_line + 64,
          "the parser holds more than a reply's bound");
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 17;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Parsed whole = parse(input, input.size() + 1);
  const Parsed pieces = parse(input, piece);
  require(whole.failed == pieces.failed, "fed in pieces, the stream fails differently");
  require(whole.replies == pieces.replies, "fed in pieces, the stream parses to other replies");
  for (const redis::Reply& reply : whole.replies) {
    std::string encoded;
    redis::append_reply(encoded, reply);
    redis::ReplyParser again(redis::ParserLimits{.max_bulk = 1 << 20, .max_elements = 1 << 20, .max_depth = 64,
                                                 .max_line = 1 << 20});
    again.feed(encoded);
    std::optional<redis::Reply> back = again.next();
    require(back.has_value(), "a written reply does not parse");
    require(*back == reply, "a written reply parses to another value");
    require(again.buffered() == 0, "a written reply leaves bytes behind");
  }
  return 0;
}

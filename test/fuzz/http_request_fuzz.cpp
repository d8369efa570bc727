// libFuzzer target for HttpRequestParser: any bytes, fed whole or in pseudo-random pieces, must
// give the same requests (or the same refusal) without crashing, and every refusal carries a
// 4xx/5xx status and a message.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <asyncore/http/parser.h>

using asyncore::http::HttpLimits;
using asyncore::http::HttpRequestParser;
using asyncore::http::Request;

namespace {

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "http_request_fuzz: %s\n", what);
    std::abort();
  }
}

// A lookup by name finds the first pair whose decoded name it is, decoded as query_params()
// decodes it (a lookup skips decoding what has no escape: that must change nothing).
void check_query(const Request& r) {
  const auto pairs = r.query_params();
  for (size_t i = 0; i < pairs.size(); ++i) {
    size_t first = 0;
    while (pairs[first].first != pairs[i].first) ++first;
    require(r.query(pairs[i].first) == pairs[first].second, "a query lookup disagrees with query_params");
  }
}

// Everything a parse produced, as text, so two ways of feeding can be compared.
std::string describe(const Request& r) {
  check_query(r);
  std::string out;
  out.append(r.method()).append(" ").append(r.target()).append(" ").append(r.path()).append("?").append(r.raw_query());
  out.append(r.keep_alive() ? " keep " : " close ").append(std::to_string(r.version_minor())).append("\n");
  for (size_t i = 0; i < r.header_count(); ++i) {
    auto [name, value] = r.header_at(i);
    out.append(name).append(": ").append(value).append("\n");
  }
  out.append("trailers ").append(std::to_string(r.trailer_count())).append(" body ").append(r.body()).append("\n");
  return out;
}

struct Outcome {
  std::string text;  // each request and the final state
  size_t consumed = 0;
  bool refused = false;  // after a refusal the count consumed depends on the pieces
};

// Feeds `input` in pieces whose sizes come from `step` (0: whole), request after request.
Outcome run(std::string_view input, uint32_t seed) {
  HttpLimits limits;
  limits.max_head_bytes = 512;
  limits.max_headers = 16;
  limits.max_body_bytes = 4096;
  limits.max_chunk_line_bytes = 64;
  HttpRequestParser parser(limits);
  Outcome outcome;
  uint32_t state = seed;
  size_t offset = 0;
  while (offset < input.size()) {
    size_t piece = input.size() - offset;
    if (seed != 0) {
      state = state * 1103515245u + 12345u;
      piece = std::min<size_t>(piece, 1 + (state >> 16) % 17);
    }
    size_t used = parser.feed(input.substr(offset, piece));
    require(used <= piece, "feed consumed more than it was given");
    offset += used;
    if (parser.complete()) {
      require(!parser.failed(), "complete and failed at once");
      outcome.text += describe(parser.request());
      parser.reset();
      require(parser.idle(), "not idle after reset");
    } else if (parser.failed()) {
      const auto& error = parser.error();
      require(error.status >= 400 && error.status <= 599, "refusal status outside 4xx/5xx");
      require(!error.message.empty(), "refusal without a message");
      require(parser.feed("more") == 0, "a failed parser consumed more input");
      outcome.text += "refused " + std::to_string(error.status) + " " + error.message + "\n";
      outcome.refused = true;
      break;
    } else {
      require(used == piece, "an unfinished request left input unconsumed");
    }
  }
  outcome.text += parser.reading_head() ? "in head" : parser.reading_body() ? "in body" : "idle";
  outcome.consumed = offset;
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Outcome whole = run(input, 0);
  for (uint32_t seed : {1u, 7u, static_cast<uint32_t>(size) + 3u}) {
    const Outcome pieces = run(input, seed);
    require(pieces.text == whole.text, "feeding in pieces gave a different result than feeding whole");
    require(whole.refused || pieces.consumed == whole.consumed, "feeding in pieces consumed a different amount");
  }
  return 0;
}

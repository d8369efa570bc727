// libFuzzer target: whatever parses must dump to text that parses back to an equal value, in both
// layouts, and the compact dump must be a fixed point.
#include <asyncore/json/json.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace json = asyncore::json;

namespace {

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "json_fuzz: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Alternate the duplicate-key policy on the first byte so both paths are explored.
  const json::ParseOptions options{.max_depth = 64, .reject_duplicate_keys = size > 0 && (data[0] & 1)};
  const json::ParseResult result = json::try_parse(text, options);
  if (!result) {
    require(result.error.has_value(), "failure without an error");
    require(result.error->offset() <= size, "error offset beyond the input");
    return 0;
  }
  const json::Value& value = *result.value;
  const std::string compact = json::dump(value);
  const json::ParseResult again = json::try_parse(compact, options);
  require(again.value.has_value(), "compact dump does not parse");
  require(*again.value == value, "compact dump parses to a different value");
  require(json::dump(*again.value) == compact, "compact dump is not a fixed point");
  const json::ParseResult pretty = json::try_parse(json::dump(value, 2), options);
  require(pretty.value.has_value() && *pretty.value == value, "pretty dump does not round trip");
  return 0;
}

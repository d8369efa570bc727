// STT decoding never crashes in any mode; whatever strict decoding accepts
// re-encodes to text that decodes to the same pairs / items; skip_empty
// accepts all that strict does and agrees with lenient wherever it accepts.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "apps/barrage/stt.h"

using namespace asyncore::barrage;

namespace {

bool same_fields(const Fields& a, const Fields& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].key != b[i].key || a[i].value != b[i].value) return false;
  }
  return true;
}

bool same_items(const Items& a, const Items& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

void check_map(std::string_view text) {
  Fields lenient = decode_map(text, Mode::lenient);  // must not throw
  Fields skipping;
  bool skip_accepted = true;
  try {
    decode_map_into(text, skipping, Mode::skip_empty);
  } catch (const SttError&) {
    skip_accepted = false;
  }
  if (skip_accepted && !same_fields(skipping, lenient)) __builtin_trap();
  Fields strict;
  try {
    decode_map_into(text, strict, Mode::strict);
  } catch (const SttError&) {
    return;
  }
  if (!same_fields(strict, lenient)) __builtin_trap();  // modes differ only on bad input
  if (!skip_accepted) __builtin_trap();
  Fields again = decode_map(encode(strict.to_map()), Mode::strict);
  if (!same_fields(strict, again)) __builtin_trap();
}

void check_list(std::string_view text) {
  Items lenient = decode_list(text, Mode::lenient);
  Items strict;
  try {
    decode_list_into(text, strict, Mode::strict);
  } catch (const SttError&) {
    return;
  }
  if (!same_items(strict, lenient)) __builtin_trap();
  Items again = decode_list(encode(strict.to_list()), Mode::strict);
  if (!same_items(strict, again)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_map(text);
  check_list(text);
  return 0;
}

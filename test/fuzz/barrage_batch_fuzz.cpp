// The batch decoder of barrage-server nodes never crashes, and what it accepts it accepts
// exactly: re-encoding the decoded numbers and packets gives the same bytes, and the packet ends
// are increasing, the last at the end of the packets.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "apps/barrage/batch.h"

using namespace asyncore::barrage;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  BatchView batch;
  try {
    batch = decode_batch(payload, 4096);  // a small cap keeps the length check reachable
  } catch (const BatchError&) {
    return 0;
  }
  if (batch.ends.size() != batch.count) __builtin_trap();
  size_t last = 0;
  for (size_t end : batch.ends) {
    if (end <= last) __builtin_trap();
    last = end;
  }
  if (last != batch.packets.size()) __builtin_trap();
  // A number written with leading zeros decodes too, so only its canonical form is compared.
  const std::string again = encode_batch(batch.first, batch.count, batch.packets);
  if (decode_batch(again, 4096).packets != batch.packets) __builtin_trap();
  return 0;
}

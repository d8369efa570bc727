// Fuzzes the messenger FrameDecoder: the first input byte picks how the rest
// is cut into feeds. Checks that chunking never changes the outcome and that
// every decoded message re-encodes to the very bytes it came from (or, when
// the sender wrote CL late, with leading zeros or twice, to a frame that
// decodes to the same message).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apps/messenger/frame.h"

using namespace asyncore::messenger;

namespace {

struct Outcome {
  std::vector<Message> messages;
  bool failed = false;
  std::string error;
};

// Small max_body so big declared lengths hit the limit path, not the allocator.
constexpr std::size_t kFuzzMaxBody = 1 << 20;

// Feeds `stream` in chunks whose sizes come from `seed`, or whole when seed is nullopt.
Outcome decode(std::string_view stream, std::optional<std::uint32_t> seed) {
  FrameDecoder decoder(kFuzzMaxBody);
  Outcome outcome;
  std::uint32_t state = seed.value_or(0) * 2654435761u + 1;
  while (!stream.empty() && !decoder.failed()) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    // Mostly tiny chunks (they stress the stage edges), sometimes big ones.
    std::size_t limit = std::size_t{1} << (state % 11);
    std::size_t size = seed ? std::min(stream.size(), 1 + (state >> 8) % limit) : stream.size();
    try {
      decoder.feed(stream.substr(0, size));
    } catch (const FrameError& error) {
      outcome.failed = true;
      outcome.error = error.what();
      if (!decoder.failed() || decoder.error() != outcome.error) std::abort();
    }
    stream.remove_prefix(size);
  }
  while (auto message = decoder.next()) outcome.messages.push_back(std::move(*message));
  return outcome;
}

void check_reencodes(std::string_view stream, const std::vector<Message>& messages) {
  std::size_t offset = 0;
  for (const auto& message : messages) {
    for (const auto& [key, value] : message.header) {
      if (key.empty() || key == kLengthKey || key.find_first_of(":;") != std::string::npos ||
          value.find_first_of(":;") != std::string::npos) {
        std::abort();  // the decoder let through an item that cannot be sent
      }
    }
    if (offset + kLengthPrefixBytes > stream.size()) std::abort();
    std::size_t header_size = static_cast<unsigned char>(stream[offset]) |
                              (static_cast<std::size_t>(static_cast<unsigned char>(stream[offset + 1])) << 8);
    std::size_t frame_size = kLengthPrefixBytes + header_size + message.body.size();
    if (offset + frame_size > stream.size()) std::abort();
    std::string_view original = stream.substr(offset, frame_size);
    std::string_view header_text = original.substr(kLengthPrefixBytes, header_size);
    if (original.substr(kLengthPrefixBytes + header_size) != message.body) std::abort();

    std::string reencoded = encode_frame(message.header, message.body);  // must not throw
    std::string canonical_start = "CL:" + std::to_string(message.body.size());
    bool canonical = header_text.substr(0, canonical_start.size()) == canonical_start &&
                     (header_text.size() == canonical_start.size() || header_text[canonical_start.size()] == ';') &&
                     header_text.find(";CL:") == std::string_view::npos;  // not the echoed "CL:n;CL:n"
    if (canonical) {
      if (reencoded != original) std::abort();
    } else {
      FrameDecoder again(kFuzzMaxBody);
      again.feed(reencoded);
      auto decoded = again.next();
      if (!decoded || !(*decoded == message) || again.next()) std::abort();
    }
    offset += frame_size;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  Outcome chunked = decode(stream, data[0]);
  Outcome whole = decode(stream, std::nullopt);
  // Chunking must not change what is decoded nor why the stream fails.
  if (chunked.failed != whole.failed || chunked.error != whole.error || !(chunked.messages == whole.messages)) {
    std::abort();
  }
  check_reencodes(stream, chunked.messages);
  return 0;
}

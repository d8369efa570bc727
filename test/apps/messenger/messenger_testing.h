// Helpers shared by the messenger tests: reading frames with a raw testing::Client, running an
// in-process loop until a condition holds, and paths for the hub and peer programs.
#pragma once
#include <chrono>
#include <functional>
#include <string>

#include "apps/messenger/frame.h"
#include <asyncore/channel_map.h>
#include "test/support/testing.h"

namespace messenger_testing {

using asyncore::messenger::Message;

// One frame from a blocking client (throws on timeout or a malformed frame).
inline Message read_frame(testing::Client& client, testing::Seconds timeout = testing::Seconds(10)) {
  std::string prefix = client.recv_exact(2, timeout);
  std::size_t header_size = static_cast<unsigned char>(prefix[0]) | (static_cast<std::size_t>(static_cast<unsigned char>(prefix[1])) << 8);
  std::string text = client.recv_exact(header_size, timeout);
  auto parsed = asyncore::messenger::parse_header_text(text, asyncore::messenger::kDefaultMaxBody);
  std::string body = client.recv_exact(parsed.body_size, timeout);
  return {std::move(parsed.header), std::move(body)};
}

// Frames until one satisfies `wanted` (bounded by `timeout` overall).
inline Message read_frame_until(testing::Client& client, const std::function<bool(const Message&)>& wanted,
                                testing::Seconds timeout = testing::Seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
  for (;;) {
    auto left = std::chrono::duration_cast<testing::Seconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw std::runtime_error("no wanted frame in time");
    Message message = read_frame(client, left);
    if (wanted(message)) return message;
  }
}

// Runs `map` until `condition` holds or `timeout` passes; returns whether it held.
inline bool pump_until(asyncore::ChannelMap& map, const std::function<bool()>& condition,
                       double timeout = 10.0) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                         std::chrono::duration<double>(timeout));
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    map.poll_once(0.01);
  }
  return true;
}

// Runs `map` for `seconds` (to let things happen that must not).
inline void pump_for(asyncore::ChannelMap& map, double seconds) {
  pump_until(map, [] { return false; }, seconds);
}

inline std::string address_arg(int port) { return "127.0.0.1:" + std::to_string(port); }

}  // namespace messenger_testing

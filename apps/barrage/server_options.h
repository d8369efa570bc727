// What barrage-server is told on its command line, as one plain value.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <asyncore/net/connection_limits.h>

namespace asyncore::barrage {

// How broadcasts are written: one write per packet; every packet that fell due in one batch
// in a single write; a byte at a time; or one write per packet with chat packets over 4 KiB.
enum class SendMode { normal, coalesce, split, large };
SendMode parse_send_mode(std::string_view name);  // throws std::invalid_argument
const char* send_mode_name(SendMode mode);

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8601;
  std::vector<long long> rooms;      // empty: every numeric room id is served
  double rate = 5.0;                 // broadcasts a second per room; 0: none
  double batch = -1;                 // shortest time between broadcast writes; < 0: the mode's default
  double idle_timeout = 90.0;        // seconds without a packet before a kick
  SendMode mode = SendMode::normal;
  std::vector<std::string> script;   // empty: generated messages
  long long total = -1;              // messages per room before falling silent; < 0: no end
  int wait_for = 0;                  // a room starts broadcasting once this many clients joined
  size_t max_queue = 8 * 1024 * 1024;  // output bytes a client may lag behind before it is dropped
  // Unfinished packets buffered over all clients; past it the client holding most is closed.
  size_t max_partial_input = 64 * 1024 * 1024;
  ConnectionCaps caps;               // connections at once and per host; none by default (fan-out tests)

  double batch_interval() const;     // `batch`, or 0.25 s in coalesce mode and 1 ms otherwise
};

}  // namespace asyncore::barrage

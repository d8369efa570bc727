// Fleet: many barrage clients in one loop, each counting the broadcasts it receives and checking
// their sequence numbers (`seq`), for the fan-out test and benchmark. Clients connect in steps
// so a burst of thousands does not overflow the server's accept backlog.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "apps/barrage/client.h"

namespace asyncore::barrage {

struct FleetOptions {
  ClientOptions client;
  int clients = 100;
  uint64_t expect = 0;        // messages each client should get; 0: no end
  int connect_step = 250;     // clients started per step
  double step_interval = 0.01;
};

struct FleetReport {
  int clients = 0;
  int joined = 0;              // reached running at least once
  int complete = 0;            // received exactly `expect` messages in order
  int failed = 0;              // closed by an error
  uint64_t received = 0;       // broadcasts, all clients together
  uint64_t gaps = 0;           // sequence numbers skipped
  uint64_t repeats = 0;        // sequence numbers at or below one already seen
  double seconds = 0;          // first broadcast received to last
  // When they came, on the loop's steady clock (CLOCK_MONOTONIC: comparable between processes
  // of one machine, for adding up several loads over their common window).
  double first = 0, last = 0;
  double deliveries_per_second() const { return seconds > 0 ? static_cast<double>(received) / seconds : 0; }
};

class Fleet {
 public:
  Fleet(FleetOptions options, ChannelMap& map);
  ~Fleet();
  void start();
  bool done() const;  // every client complete or failed
  FleetReport report() const;
  void logout_all();

 private:
  struct Member {
    std::unique_ptr<Client> client;
    uint64_t received = 0;
    int64_t last_seq = -1;
    bool joined = false;
    bool failed = false;
  };
  void start_step(size_t from);
  void on_broadcast(Member& member, std::string_view seq_text);

  FleetOptions options_;
  ChannelMap& map_;
  std::vector<Member> members_;
  ScopedTimer step_timer_;
  int finished_ = 0;
  uint64_t gaps_ = 0, repeats_ = 0, received_ = 0;
  bool any_received_ = false;
  Clock::time_point first_, last_;
};

}  // namespace asyncore::barrage

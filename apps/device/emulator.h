// The device emulator (the seed's emulate.py): N devices in one process, one dispatcher per
// connection. Each logs in with its IMEI and token, heartbeats, reports locations, acks every
// command as the contract says, and reconnects with backoff. It is also the load generator.
#pragma once
#include <functional>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "apps/device/frame.h"
#include "apps/device/imei.h"
#include "apps/device/json_line.h"
#include <asyncore/channel_map.h>
#include <asyncore/stream/buffered_stream.h>
#include <asyncore/json/json.h>

namespace asyncore::device {

struct EmulatorOptions {
  Address server;
  // Further servers (the nodes of a cluster): device i connects to the (i mod n)-th of server and
  // these, every time, so each device keeps to one node.
  std::vector<Address> more_servers;
  // With more_servers: a device whose connection is lost (or cannot be made) tries the next
  // node, as a fleet behind a load balancer fails over when its node dies.
  bool failover = false;
  const Address& server_for(std::uint64_t index) const {
    const std::uint64_t n = 1 + more_servers.size();
    const std::uint64_t at = index % n;
    return at == 0 ? server : more_servers[at - 1];
  }
  // Local address to connect from (port 0), or empty for the kernel's choice. Linux picks
  // ephemeral ports for connect() from the even half of the range first: past ~14,000
  // connections from one address to one server, every connect() scans that half. A fleet that
  // large (a benchmark) gives each emulator a source address of its own (127.0.0.2, ...).
  Address source;
  int devices = 1;
  std::uint64_t imei_base = 860000000000000ULL;
  std::vector<std::string> tokens;  // per device; empty: send no token
  double heartbeat = 60;            // seconds between heartbeats
  double report = 300;              // seconds between location reports; 0: none
  double connect_rate = 0;          // new connections per second; 0: as fast as possible
  std::size_t connect_window = 512;  // first logins in flight at once (keeps the accept queue from overflowing)
  double backoff_min = 0.5, backoff_max = 30;
  double login_reply_timeout = 30;
};

struct FleetStats {
  std::uint64_t connects = 0, connect_failures = 0, logins = 0, login_failures = 0, disconnects = 0;
  std::uint64_t frames_out = 0, frames_in = 0, acks = 0, commands = 0, report_errors = 0, alarms = 0;
  std::size_t online = 0;          // logged in now
  std::size_t ever_logged_in = 0;  // devices that logged in at least once
  std::size_t refused = 0;         // devices the server refused (401/403): they stop trying
};

class Fleet;
class DeviceLink;

// What one emulated device remembers across connections.
struct EmulatedDevice {
  Imei imei;
  std::string token;
  std::weak_ptr<DeviceLink> link;
  ScopedTimer reconnect;
  double heartbeat = 60;
  double backoff = 0;
  std::uint64_t moves = 0;  // failover: nodes moved on from
  double lat = 0, lon = 0;
  int battery = 100;
  bool ever_logged_in = false;
  bool stopped = false;  // refused, powered off, or the fleet is stopping
  bool locked = false;
  bool first_attempt = true;  // its first login has not resolved yet
};

class DeviceLink final : public BufferedStream {
 public:
  DeviceLink(Fleet& fleet, EmulatedDevice& device);
  ~DeviceLink() override;
  void handle_connect() override;
  void handle_read() override;
  void handle_eof() override { handle_close(); }
  void handle_close() override;
  void handle_error(const std::exception& error) override;
  bool logged_in() const { return logged_in_; }
  void raise_alarm(std::string_view alarm);
  void hang_up();  // the fleet is stopping: close without reconnecting

 private:
  // Sends {"type":T,"ident":<next>, members...}: `members` writes the rest into a JsonLine
  // (no json::Object: the emulator is the load generator and must outrun the server).
  template <class Members>
  void send_message(int type, Members&& members);
  void send_raw(std::string_view body);
  void handle_message(const json::Value& message);
  void handle_command(int type, int ident, const json::Value& message);
  void send_heartbeat();
  void send_location();
  void schedule_heartbeat(double delay);
  void schedule_report(double delay);
  void disconnected();

  Fleet& fleet_;
  EmulatedDevice& device_;
  FrameExtractor extractor_{1024 * 1024};
  ScopedTimer heartbeat_timer_, report_timer_, login_timer_;
  std::uint16_t next_ident_ = 0;
  bool logged_in_ = false;
  bool gone_ = false;
};

template <class Members>
void DeviceLink::send_message(int type, Members&& members) {
  next_ident_ = static_cast<std::uint16_t>(next_ident_ == 65535 ? 1 : next_ident_ + 1);
  std::string body;
  {
    JsonLine line(body);
    line("type", type)("ident", static_cast<int>(next_ident_));
    members(line);
  }
  send_raw(body);
}

class Fleet {
 public:
  Fleet(ChannelMap& map, EmulatorOptions options);
  void start();            // begins connecting, at connect_rate
  void stop();             // closes every connection; no reconnects
  void raise_alarms(std::string_view alarm);  // every logged-in device
  const FleetStats& stats() const { return stats_; }
  std::size_t size() const { return devices_.size(); }
  std::string status_line() const;
  std::string summary() const;
  // Called before the fleet prints a line on stdout (the program clears its status line there).
  std::function<void()> before_output;

  // --- for DeviceLink ------------------------------------------------------------------------
  ChannelMap& map() { return map_; }
  const EmulatorOptions& options() const { return options_; }
  FleetStats& stats() { return stats_; }
  char* scratch() { return scratch_.data(); }
  std::size_t scratch_size() const { return scratch_.size(); }
  double random(double low, double high);
  void connect(EmulatedDevice& device);
  void schedule_reconnect(EmulatedDevice& device, double delay);
  void logged_in(EmulatedDevice& device);
  void first_attempt_done(EmulatedDevice& device);  // logged in or failed, for the connect window
  bool stopping() const { return stopping_; }

 private:
  void launch_next();
  void launch(EmulatedDevice& device);

  ChannelMap& map_;
  EmulatorOptions options_;
  std::vector<std::unique_ptr<EmulatedDevice>> devices_;
  std::vector<char> scratch_;
  std::mt19937_64 rng_;
  FleetStats stats_;
  std::size_t launched_ = 0;
  std::size_t in_flight_ = 0;  // launched devices whose first login has not resolved
  Clock::time_point started_;
  bool all_reported_ = false;
  bool launch_scheduled_ = false;
  ScopedTimer launch_timer_;  // the next launch_next
  bool stopping_ = false;
};

}  // namespace asyncore::device

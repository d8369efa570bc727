// DeviceSession: one device connection (the seed's DeviceConnect). Reads into the hub's shared
// scratch buffer, extracts frames keeping only leftover bytes, logs the device in, then answers
// each report through the instruction table and matches acks to the commands it sent.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "apps/device/frame.h"
#include "apps/device/hub.h"
#include "apps/device/imei.h"
#include "apps/device/message.h"
#include <asyncore/net/tcp_server.h>
#include <asyncore/stream/buffered_stream.h>

namespace asyncore::device {

class DeviceSession final : public BufferedStream {
 public:
  // `socket` comes straight from accept4 (non-blocking already) and `peer` is its address.
  DeviceSession(Fd socket, const Address& peer, DeviceHub& hub);
  ~DeviceSession() override;

  void handle_read() override;
  void handle_eof() override { end(OfflineReason::closed); }
  void handle_close() override { end(OfflineReason::closed); }
  void handle_error(const std::exception& error) override;

  bool logged_in() const { return logged_in_; }
  Imei imei() const { return imei_; }
  int heartbeat() const { return heartbeat_; }
  void set_heartbeat(int seconds) { heartbeat_ = static_cast<std::uint16_t>(seconds); }

  // Frames out. A reply that acknowledges durable state waits for the group commit.
  void send_body(std::string_view body, bool durable = false);
  void send_frame(std::string_view frame, bool durable = false);  // header included
  void send_command(const Command& command, PendingCommand pending);
  // Whether another queued command may be sent now (it could be tracked until its ack), and
  // whether this stored one already is in flight.
  bool room_for_queued() const;
  bool in_flight(std::uint64_t queue_id) const;
  // After the commit the hub waited for: what was held goes out.
  void release_held();
  // Goes offline (if this is still the device's connection) and closes at once.
  void end(OfflineReason reason);
  // The same, but only after the replies already queued are written.
  void end_after_reply(OfflineReason reason);

 private:
  void handle_frame(std::string_view body);
  void handle_frames();  // what the extractor holds, until a frame makes the session wait
  void handle_login(const Message& message);
  void finish_login(DeviceRecord& record, int ident, std::int64_t heartbeat);
  // --redis, --auto-register, a device this node does not know: the cluster's registry decides
  // (its cap counts every node's registrations); frames after the login wait for the answer.
  void register_in_cluster(Imei imei, int ident, std::int64_t heartbeat);
  void refuse_auto_register(int ident);  // --max-auto-registered reached
  void handle_report(const Message& message);
  void handle_heartbeat(std::string_view body, const HeartbeatFrame& heartbeat);
  // The device's record, its last_seen moved to now; null when another connection took it over.
  DeviceRecord* current_record();
  // The ack's body moves on to whoever waits for it, with its text when that is canonical.
  void handle_ack(int type, std::optional<int> ident, CommandAck ack);
  void refuse_login(std::string_view reason_metric, int type, int ident, int status, std::string_view error);
  void bad_frame(std::string_view kind, std::string_view reason);
  void arm_deadline(double seconds);
  void on_deadline();
  double idle_limit() const;

  DeviceHub& hub_;
  FrameExtractor extractor_;
  std::vector<PendingCommand> pending_;  // commands sent, waiting for acks
  std::string held_;                     // frames waiting for the group commit
  ScopedTimer deadline_;
  Clock::time_point last_frame_;
  Imei imei_;
  DeviceRecord* record_ = nullptr;       // the device's, from its login on
  std::uint64_t durable_needed_ = 0;     // the journal generation the held frames wait for
  std::uint16_t heartbeat_ = 0;
  std::uint16_t next_ident_ = 0;
  bool logged_in_ = false;
  bool ended_ = false;
  bool holding_ = false;
  bool registering_ = false;
  bool close_after_held_ = false;
};

// The device port: a DeviceSession per connection (none once the hub shuts down). Connections
// past the caps (--max-connections, --max-per-peer) are closed at accept, counted in the metrics
// as device_connections_refused_total{listener="device",reason=...} and logged (rate-limited).
// reuse_port: the port is shared with sibling worker processes (--workers).
std::shared_ptr<TcpServer> listen_devices(const Address& address, DeviceHub& hub, ConnectionCaps caps, bool reuse_port);

}  // namespace asyncore::device

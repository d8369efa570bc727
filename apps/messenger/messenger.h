// Messenger: one messenger connection (the original module's Messenger), a stream that decodes
// incoming frames and queues outgoing ones (BufferedStream, corked: what a pass queues leaves in
// one gathered send before the loop waits) with a bounded backlog. Its owner (a
// MessengerServer or MessengerClient) hears about everything through MessengerEvents.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <asyncore/asyncore.h>
#include "apps/messenger/frame.h"
#include <asyncore/stream/buffered_stream.h>
#include <asyncore/rate_limited_log.h>

namespace asyncore::messenger {

class Messenger;
using MessengerPtr = std::shared_ptr<Messenger>;

struct MessengerLimits {
  // A peer whose unsent backlog would pass this is closed (it stopped reading).
  std::size_t max_output = 32 * 1024 * 1024;
  std::size_t max_body = kDefaultMaxBody;  // larger incoming bodies close the connection
  std::size_t read_size = 256 * 1024;      // bytes read per readiness event
  // A frame must be complete this many seconds after its first byte: a body trickled a byte at
  // a time cannot hold its memory forever (16 MiB at 280 KB/s fits).
  double frame_timeout = 60.0;
  // Memory held for unfinished frames over all of an endpoint's connections; past it the
  // connection holding the most is closed.
  std::size_t max_partial_input = 64 * 1024 * 1024;
};

class Messenger;

// What a connection tells its owner. Each call comes at most once per event, on the loop.
class MessengerEvents {
 public:
  virtual void messenger_connected(const MessengerPtr& m) = 0;
  virtual void messenger_connect_failed(const MessengerPtr& m, const std::string& reason) = 0;
  virtual void messenger_message(const MessengerPtr& m) = 0;  // m->header(), m->body()
  virtual void messenger_closed(const MessengerPtr& m) = 0;   // m->close_reason()
  // The memory m holds for an unfinished frame went from `before` to `now` bytes.
  virtual void messenger_partial(Messenger& m, std::size_t before, std::size_t now) = 0;
  // Lines any peer can trigger at will (malformed frames, deadlines) are rate-limited here.
  virtual RateLimitedLog& peer_log() = 0;

 protected:
  ~MessengerEvents() = default;
};

class Messenger final : public BufferedStream {
 public:
  // An accepted connection (already established).
  Messenger(Fd socket, MessengerEvents* owner, MessengerLimits limits, ChannelMap* map);
  // An outgoing connection; call start_connect() once a shared_ptr owns it.
  Messenger(MessengerEvents* owner, MessengerLimits limits, ChannelMap* map);

  void start_connect(const Address& address);

  // "ip:port" of the other end.
  const std::string& id() const { return id_; }
  const Address& peer() const { return addr; }
  Clock::time_point recv_time() const { return recv_time_; }
  Clock::time_point send_time() const { return send_time_; }
  // The last message received (probes excluded).
  const Header& header() const { return last_.header; }
  const std::string& body() const { return last_.body; }

  // Queues one message; it is written at the end of the current loop pass, together with
  // whatever else was queued meanwhile. Throws FrameError, queueing nothing, when the header
  // cannot be sent. Returns false when the connection is closed or this send pushed its backlog
  // past the bound (it is then closed and its owner told).
  bool send(const Header& header, std::string_view body = {});
  // Queues an already encoded frame (shared by every receiver of a broadcast).
  bool send_frame(SharedBytes frame);
  bool send_probe();  // TP:Check: keeps the connection known alive; never delivered

  using BufferedStream::pending;
  // Runs `callback` once, as soon as the backlog is at most `mark` bytes (on the loop, never
  // inside this call). Several may wait at once; all are dropped if the connection closes.
  void when_drained(std::size_t mark, std::function<void()> callback);

  // Closes now, dropping any backlog, and tells the owner with this reason.
  void disconnect(std::string reason);
  const std::string& close_reason() const { return close_reason_; }
  bool established() const { return connected && is_open(); }
  void detach() { owner_ = nullptr; }  // the owner is going away: report nothing more

  // Dispatcher
  size_t send(std::string_view data) override;  // raw bytes (tests, foreign protocols)
  bool readable() override { return true; }      // the backlog bound, not pausing, limits a peer
  void handle_read() override;
  void handle_write() override;
  void handle_flush() override;
  void handle_connect() override;
  void handle_eof() override;
  void handle_close() override;
  void handle_error(const std::exception& error) override;

 private:
  void handle_output_overflow(size_t refused_bytes) override;
  MessengerPtr self();
  bool enqueue(const SharedBytes& frame);
  void check_drained();
  void configure_output();
  // Returns whether a message came out.
  bool deliver_ready_messages();
  void track_partial_frame(bool frame_completed);
  void frame_deadline_passed();

  MessengerEvents* owner_;
  MessengerLimits limits_;
  FrameDecoder decoder_;
  Message last_;
  std::string id_;
  std::string close_reason_;
  Clock::time_point recv_time_{};
  Clock::time_point send_time_{};
  struct DrainWaiter {
    std::size_t mark;
    std::function<void()> callback;
  };
  std::vector<DrainWaiter> drain_waiters_;
  ScopedTimer frame_deadline_;         // armed while a frame is in progress
  std::size_t partial_accounted_ = 0;  // what the owner was told this holds for it
  bool drain_check_queued_ = false;
  bool close_reported_ = false;
  bool awaiting_connect_ = false;  // our own flag: the core clears `connecting` on failure
};

}  // namespace asyncore::messenger

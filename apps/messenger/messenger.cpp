#include "apps/messenger/messenger.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <system_error>
#include <vector>

#include <asyncore/channel_map.h>
#include <asyncore/log_escape.h>

namespace asyncore::messenger {

Messenger::Messenger(Fd socket, MessengerEvents* owner, MessengerLimits limits, ChannelMap* map)
    : BufferedStream(std::move(socket), map), owner_(owner), limits_(limits), decoder_(limits.max_body) {
  configure_output();
  id_ = addr.to_string();
  recv_time_ = send_time_ = Clock::now();
}

Messenger::Messenger(MessengerEvents* owner, MessengerLimits limits, ChannelMap* map)
    : BufferedStream(map), owner_(owner), limits_(limits), decoder_(limits.max_body) {
  configure_output();
}

void Messenger::configure_output() {
  // Corked: every frame queued during a pass goes out in one gathered send just before the loop
  // waits, so a burst of broadcasts costs one syscall per connection, not one per frame.
  cork_output();
  const auto bound = static_cast<uint32_t>(std::min<std::size_t>(limits_.max_output, UINT32_MAX));
  limits = StreamLimits{bound, bound, bound};  // no pausing below the bound (readable() says so)
}

void Messenger::start_connect(const Address& address) {
  id_ = address.to_string();
  awaiting_connect_ = true;
  create_socket(address.family());
  connect(address);
}

MessengerPtr Messenger::self() { return std::static_pointer_cast<Messenger>(shared_from_this()); }

bool Messenger::send(const Header& header, std::string_view body) {
  return send_frame(std::make_shared<const std::string>(encode_frame(header, body)));
}

bool Messenger::send_probe() { return send(probe_header()); }

size_t Messenger::send(std::string_view data) {
  return enqueue(std::make_shared<const std::string>(data)) ? data.size() : 0;
}

bool Messenger::send_frame(SharedBytes frame) { return enqueue(frame); }

bool Messenger::enqueue(const SharedBytes& frame) {
  if (!is_open() || (!connected && !awaiting_connect_)) return false;
  send_time_ = Clock::now();
  if (!frame || frame->empty()) return true;
  return send_shared(frame) != 0;  // 0: past the bound, and disconnected
}

void Messenger::handle_output_overflow(size_t refused_bytes) {
  std::string reason = "backlog of " + std::to_string(pending() + refused_bytes) + " bytes passed the bound of " +
                       std::to_string(limits_.max_output) + " (peer not reading)";
  if (owner_ && owner_->peer_log().admit()) log_warning("messenger " + id_ + ": " + reason + "; closing");
  disconnect(reason);
}

void Messenger::handle_write() {
  BufferedStream::handle_write();
  check_drained();
}

void Messenger::handle_flush() {
  BufferedStream::handle_flush();
  check_drained();
}

void Messenger::when_drained(std::size_t mark, std::function<void()> callback) {
  drain_waiters_.push_back({mark, std::move(callback)});
  check_drained();
}

void Messenger::check_drained() {
  if (drain_waiters_.empty() || drain_check_queued_ || !is_open()) return;
  drain_check_queued_ = true;
  // Deferred so a callback (typically queueing more) never runs inside send() or a write.
  map().call_soon([weak = std::weak_ptr<Messenger>(self())] {
    auto m = weak.lock();
    if (!m) return;
    m->drain_check_queued_ = false;
    if (!m->is_open()) return;
    std::vector<std::function<void()>> due;
    std::erase_if(m->drain_waiters_, [&](DrainWaiter& w) {
      if (m->pending() > w.mark) return false;
      due.push_back(std::move(w.callback));
      return true;
    });
    for (auto& callback : due) callback();
  });
}

void Messenger::handle_read() {
  if (!is_open()) return;  // closed by handle_connect in the same event
  thread_local std::vector<char> buffer;
  buffer.resize(limits_.read_size);
  size_t n = recv_into(buffer.data(), buffer.size());
  if (n == 0) return;  // nothing yet, or the end (handled by handle_eof)
  recv_time_ = Clock::now();
  std::string error;
  try {
    decoder_.feed(std::string_view(buffer.data(), n));
  } catch (const FrameError& e) {
    error = e.what();
  }
  const bool completed = deliver_ready_messages();
  if (!error.empty() && is_open()) {
    if (owner_ && owner_->peer_log().admit()) {
      log_warning("messenger " + id_ + ": malformed frame, closing: " + log_escape(error));
    }
    disconnect("malformed frame: " + error);
    return;
  }
  if (is_open()) track_partial_frame(completed);
}

bool Messenger::deliver_ready_messages() {
  auto keep = self();  // a callback may drop the owner's reference
  bool any = false;
  while (is_open()) {
    auto message = decoder_.next();
    if (!message) break;
    any = true;
    if (message->is_probe()) continue;
    last_ = std::move(*message);
    if (owner_) owner_->messenger_message(keep);
  }
  return any;
}

void Messenger::track_partial_frame(bool frame_completed) {
  if (!decoder_.mid_frame()) {
    frame_deadline_.cancel();
  } else if (frame_completed || !frame_deadline_.active()) {  // a new frame: its own deadline
    frame_deadline_ = map().call_later(limits_.frame_timeout, [weak = std::weak_ptr<Messenger>(self())] {
      if (auto m = weak.lock()) m->frame_deadline_passed();
    });
  }
  const std::size_t now = decoder_.held();
  const std::size_t before = std::exchange(partial_accounted_, now);
  if (owner_ && before != now) owner_->messenger_partial(*this, before, now);  // may close this
}

void Messenger::frame_deadline_passed() {
  if (!is_open()) return;
  const std::string reason = "frame not complete " + describe_seconds(limits_.frame_timeout) + " after it began (frame timeout)";
  if (owner_ && owner_->peer_log().admit()) log_warning("messenger " + id_ + ": " + reason + "; closing");
  disconnect(reason);
}

void Messenger::handle_connect() {
  // A refused connect can show up as "readable" first; only a real peer means success.
  if (Address::peer_of(fileno()).empty()) {
    int error = 0;
    socklen_t len = sizeof error;
    ::getsockopt(fileno(), SOL_SOCKET, SO_ERROR, &error, &len);
    connected = false;
    disconnect("connect " + id_ + ": " + std::strerror(error ? error : ENOTCONN));
    return;
  }
  awaiting_connect_ = false;
  recv_time_ = send_time_ = Clock::now();
  if (owner_) owner_->messenger_connected(self());
  if (is_open() && pending() > 0) flush_before_wait();  // what was queued while connecting
}

void Messenger::handle_eof() {
  disconnect(decoder_.mid_frame() ? "peer closed in the middle of a frame" : "peer closed the connection");
}

void Messenger::handle_close() { disconnect("connection lost"); }

void Messenger::handle_error(const std::exception& error) {
  if (awaiting_connect_) {
    disconnect(error.what());
    return;
  }
  if (owner_ && owner_->peer_log().admit()) log_warning("messenger " + id_ + ": " + error.what() + "; closing");
  disconnect(error.what());
}

void Messenger::disconnect(std::string reason) {
  const bool was_connecting = awaiting_connect_;
  awaiting_connect_ = false;
  if (close_reason_.empty()) close_reason_ = std::move(reason);
  discard_output();
  drain_waiters_.clear();
  frame_deadline_.cancel();
  decoder_ = FrameDecoder(limits_.max_body);  // an unfinished frame's memory goes now
  if (const std::size_t before = std::exchange(partial_accounted_, 0); before && owner_) {
    owner_->messenger_partial(*this, before, 0);
  }
  close();
  if (close_reported_) return;
  close_reported_ = true;
  if (!owner_) return;
  auto keep = self();
  if (was_connecting) owner_->messenger_connect_failed(keep, close_reason_);
  else owner_->messenger_closed(keep);
}

}  // namespace asyncore::messenger

#include "apps/barrage/client.h"

#include <algorithm>


namespace asyncore::barrage {

const char* state_name(ClientState state) {
  switch (state) {
    case ClientState::idle: return "idle";
    case ClientState::connecting: return "connecting";
    case ClientState::logging_in: return "logging_in";
    case ClientState::joining: return "joining";
    case ClientState::running: return "running";
    case ClientState::logging_out: return "logging_out";
    case ClientState::waiting: return "waiting";
    case ClientState::closed: return "closed";
  }
  return "?";
}

Client::Client(ClientOptions options, ChannelMap* map)
    : options_(std::move(options)), map_(map ? map : &socket_map()), backoff_(options_.backoff) {}

Client::~Client() {
  cancel_timers();
  drop_connection();
}

void Client::start() {
  if (state_ != ClientState::idle && state_ != ClientState::closed) return;
  backoff_.reset();
  connect_now();
}

void Client::set_state(ClientState state) {
  if (state == state_) return;
  state_ = state;
  log_debug("barrage client room " + options_.room + ": " + state_name(state));
  if (on_state) on_state(state);
}

void Client::connect_now() {
  drop_connection();
  carry_.clear();
  stream_offset_ = 0;
  set_state(ClientState::connecting);
  connection_ = std::make_shared<Connection>(this, map_);
  try {
    Address address = Address::resolve(options_.host, options_.port);
    connection_->create_socket(address.family());
    connection_->connect(address);  // may report success (or failure) at once
  } catch (const std::exception& error) {
    lost(std::string("cannot connect to ") + options_.host + ":" + std::to_string(options_.port) + ": " + error.what());
  }
}

void Client::connected() {
  ++connections_;
  set_state(ClientState::logging_in);
  send_text("type@=loginreq/roomid@=" + escape(options_.room) + "/");
  login_timer_ = map_->call_later(options_.login_timeout, [this] { lost("no loginres from the server in time"); });
  if (options_.heartbeat > 0) {
    heartbeat_timer_ = map_->call_later(options_.heartbeat, [this] { heartbeat(); });
  }
}

void Client::heartbeat() {
  send_text("type@=mrkl/");
  ++heartbeats_;
  heartbeat_timer_ = map_->call_later(options_.heartbeat, [this] { heartbeat(); });
}

// Packets are framed in place in what recv handed over; only a packet split across reads is
// copied, into carry_ (so between reads a client holds just that tail: thousands of clients
// may share a loop).
void Client::received(std::string_view bytes) {
  const uint64_t serial = connection_serial_;
  try {
    if (!carry_.empty() && !complete_carried(bytes)) return;
    while (serial == connection_serial_) {
      const Frame frame = frame_at(bytes, options_.max_packet, stream_offset_);
      if (!frame.complete) break;
      const std::string_view text = packet_at(bytes, frame).text;
      bytes.remove_prefix(frame.size);
      stream_offset_ += frame.size;
      handle_packet(text);
    }
  } catch (const PacketError& error) {
    if (serial == connection_serial_) lost(std::string("bad packet from the server: ") + error.what());
    return;
  }
  if (serial != connection_serial_) return;
  carry_.assign(bytes);
  if (carry_.capacity() > 64 * 1024 && carry_.size() < 4096) carry_.shrink_to_fit();
}

// Moves from the front of `bytes` into carry_ what the carried packet still lacks; once it is
// whole, handles it. False when `bytes` ran out first (or the packet closed the connection).
bool Client::complete_carried(std::string_view& bytes) {
  for (;;) {
    const Frame frame = frame_at(carry_, options_.max_packet, stream_offset_);
    if (frame.complete) break;
    // The header first (both lengths are checked there), then the rest of the packet.
    const size_t want = (frame.size == 0 || carry_.size() < 8 ? 8 : frame.size) - carry_.size();
    const size_t take = std::min(want, bytes.size());
    if (take == 0) return false;
    carry_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
  }
  const uint64_t serial = connection_serial_;
  const std::string packet = std::move(carry_);  // a callback may start a new connection
  carry_.clear();
  const Frame frame = frame_at(packet, options_.max_packet, stream_offset_);
  stream_offset_ += frame.size;
  handle_packet(packet_at(packet, frame).text);
  return serial == connection_serial_;
}

void Client::handle_packet(std::string_view text) {
  try {
    decode_map_into(text, fields_, Mode::lenient);
  } catch (const SttError& error) {
    report(0, std::string("undecodable message skipped: ") + error.what());
    return;
  }
  ++messages_;
  const uint64_t serial = connection_serial_;
  const std::string_view type = fields_.get("type");
  if (type == "loginres" && state_ == ClientState::logging_in) {
    login_timer_.cancel();
    set_state(ClientState::joining);
    send_text("type@=joingroup/rid@=" + escape(options_.room) + "/gid@=-9999/");
    backoff_.reset();  // a session got through: the next outage starts from the first delay
    set_state(ClientState::running);
  }
  if (on_message) on_message(type, fields_);
  if (serial != connection_serial_) return;  // the callback logged out or closed
  if (type == "chatmsg") {
    if (on_chat) {
      std::string_view room = fields_.get("rid", options_.room);
      on_chat(ChatMessage{room, fields_.get("nn"), fields_.get("txt"), fields_.get("uid"), fields_.get("level"), fields_});
    }
  } else if (type == "error") {
    handle_server_error();
  }
}

void Client::handle_server_error() {
  const int code = static_cast<int>(fields_.get_int("code").value_or(-1));
  std::string text = "server error " + std::to_string(code);
  switch (code) {
    case error_transmission: text += " (transmission error)"; break;
    case error_server_closing: text += " (server closing)"; break;
    case error_bad_room: text += " (bad room id " + options_.room + ")"; break;
    default: break;
  }
  if (code == error_transmission || code == error_server_closing) {
    lost(text, code);
  } else if (code == error_bad_room) {
    fail(code, text);  // asking again cannot make the room exist
  } else {
    report(code, text);
  }
}

void Client::lost(const std::string& reason, int code) {
  if (state_ == ClientState::closed || state_ == ClientState::logging_out) return;
  cancel_timers();
  drop_connection();
  report(code, reason);
  std::optional<double> delay = options_.reconnect ? backoff_.next_delay() : std::nullopt;
  if (delay) {
    log_debug("barrage client room " + options_.room + ": reconnecting in " + describe_seconds(*delay));
    set_state(ClientState::waiting);
    retry_timer_ = map_->call_later(*delay, [this] { connect_now(); });
  } else {  // not asked to reconnect, or the policy's max_retries are used up
    set_state(ClientState::closed);
  }
}

void Client::fail(int code, const std::string& text) {
  cancel_timers();
  drop_connection();
  report(code, text);
  set_state(ClientState::closed);
}

void Client::logout() {
  if (state_ == ClientState::idle || state_ == ClientState::closed) return;
  cancel_timers();
  if (connection_ && connection_->connected) {
    set_state(ClientState::logging_out);
    send_text("type@=logout/");
    // The connection flushes the logout on its own (the map owns it) and closes.
    connection_->detach();
    connection_->close_when_done();
    connection_.reset();
    ++connection_serial_;
  } else {
    drop_connection();
  }
  set_state(ClientState::closed);
}

void Client::close() {
  cancel_timers();
  drop_connection();
  if (state_ != ClientState::idle) set_state(ClientState::closed);
}

void Client::drop_connection() {
  if (!connection_) return;
  ++connection_serial_;
  connection_->detach();
  connection_->close();
  connection_.reset();
}

void Client::cancel_timers() {
  heartbeat_timer_.cancel();
  login_timer_.cancel();
  retry_timer_.cancel();
}

void Client::send_text(std::string_view text) {
  if (connection_) connection_->send(encode_packet(text));
}

void Client::report(int code, const std::string& text) {
  log_debug("barrage client room " + options_.room + ": " + text);
  if (on_error) on_error(ClientError{code, text});
}

}  // namespace asyncore::barrage

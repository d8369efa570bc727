#include "apps/barrage/session.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <utility>

#include "apps/barrage/room.h"
#include "apps/barrage/simulator.h"
#include <asyncore/log_escape.h>

namespace asyncore::barrage {
namespace {

// What the real server answers a login with: anonymous fields, empty names allowed.
constexpr std::string_view login_reply =
    "type@=loginres/userid@=0/roomgroup@=0/pg@=0/sessionid@=0/username@=/nickname@=/is_signed@=0/"
    "signed_count@=0/live_stat@=0/npv@=0/best_dlev@=0/cur_lev@=0/";

long long milliseconds_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Session::Session(Fd socket, Simulator& server)
    : BufferedStream(std::move(socket), &server.map()), server_(&server), split_(server.options().mode == SendMode::split) {
  limits.max_output = server.options().max_queue;
  if (split_) {
    // Every byte must leave as its own segment, or the client would never see the split.
    int one = 1;
    ::setsockopt(fileno(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  server.add(*this);
}

Session::~Session() {
  idle_timer_.cancel();
  leave_room();
  if (server_) {
    server_->partial_input_changed(*this, partial_accounted_, 0);
    server_->forget(*this);
  }
}

void Session::start() {
  idle_timer_ = map().call_later(server_->options().idle_timeout, [this] {
    if (server_->client_log().admit()) {
      log_info("kicking " + addr.to_string() + ": nothing received for " +
               std::to_string(server_->options().idle_timeout) + " s");
    }
    close();
    leave_room();
  });
}

void Session::detach() {
  partial_accounted_ = 0;  // the server's books go with it
  leave_room();
  server_ = nullptr;
  idle_timer_.cancel();
}

void Session::leave_room() {
  if (room) room->leave(*this);
  room = nullptr;
}

void Session::deliver(const SharedBytes& batch, const std::vector<size_t>& ends) {
  if (!is_open() || finishing_) return;
  if (split_) {  // a byte per write from the trickle buffer: packet boundaries do not matter
    send(*batch);
    return;
  }
  if (server_ && server_->options().mode == SendMode::coalesce) {
    send_shared(batch);
    return;
  }
  size_t begin = 0;
  for (size_t end : ends) {
    if (send_shared(batch, begin, end) == 0 && !is_open()) return;
    begin = end;
  }
}

size_t Session::send(std::string_view data) {
  if (!split_) return BufferedStream::send(data);
  if (!is_open() || closing) return 0;
  if (trickle_.size() + data.size() > limits.max_output) {
    handle_overflow();
    return 0;
  }
  trickle_.append(data);
  recheck();
  return data.size();
}

bool Session::readable() { return !finishing_ && BufferedStream::readable(); }

bool Session::writable() { return BufferedStream::writable() || !trickle_.empty(); }

void Session::handle_write() {
  if (!split_ || trickle_.empty()) {
    BufferedStream::handle_write();
    return;
  }
  trickle_.consume(Dispatcher::send(trickle_.view().substr(0, 1)));
  if (trickle_.empty()) {
    trickle_.shrink();
    if (finishing_) close_when_done();
  }
  recheck();
}

void Session::handle_close() {
  close();
  leave_room();
  drop_partial();
}

void Session::account_partial() {
  if (!server_) return;
  // What an unfinished packet really costs is the buffer holding it (appends grow it past its size).
  const size_t now = is_open() && decoder_.buffered() ? decoder_.held() : 0;
  const size_t before = std::exchange(partial_accounted_, now);
  server_->partial_input_changed(*this, before, now);
}

void Session::drop_partial() {
  close();
  leave_room();
  decoder_ = PacketDecoder(decoder_.max_length());  // frees the buffer now, not when the session goes
  account_partial();
}

void Session::finish() {
  finishing_ = true;
  idle_timer_.cancel();
  leave_room();
  if (trickle_.empty()) close_when_done();
  recheck();
}

void Session::say_goodbye() {
  if (!is_open() || finishing_) return;
  reply("type@=error/code@=52/");
  finish();
}

void Session::handle_read() {
  thread_local char buffer[64 * 1024];
  size_t n = recv_into(buffer, sizeof buffer);
  if (n == 0 || !server_) return;
  try {
    decoder_.feed(std::string_view(buffer, n));
    while (is_open() && !finishing_) {
      auto packet = decoder_.next();
      if (!packet) break;
      handle_packet(packet->text);
    }
  } catch (const PacketError& error) {
    malformed(error.what());
  }
  account_partial();
}

void Session::handle_packet(std::string_view text) {
  idle_timer_.reset(server_->options().idle_timeout);  // any packet counts as life
  try {
    decode_map_into(text, fields_, Mode::skip_empty);  // what the real server tolerates, see stt.h
  } catch (const SttError& error) {
    malformed(std::string("bad STT text: ") + error.what());
    return;
  }
  const std::string_view type = fields_.get("type");
  if (type == "loginreq") {
    login();
  } else if (type == "joingroup") {
    join_group();
  } else if (type == "mrkl") {
    log_debug("mrkl from " + addr.to_string() + " room " + log_escape(login_room_));
    reply("type@=mrkl/");
  } else if (type == "keeplive") {
    reply("type@=keeplive/tick@=" + escape(fields_.get("tick")) + "/");
  } else if (type == "logout") {
    log_debug("logout from " + addr.to_string() + " room " + log_escape(login_room_));
    close();
    leave_room();
  } else {
    log_debug("ignoring '" + log_escape(type) + "' from " + addr.to_string());
  }
}

void Session::login() {
  const std::string_view room_id = fields_.get("roomid");
  if (!server_->served_room(room_id)) {
    refuse_room(room_id);
    return;
  }
  logged_in_ = true;
  login_room_ = std::string(room_id);
  log_debug("login from " + addr.to_string() + " room " + log_escape(login_room_));
  reply(login_reply);
  reply("type@=pingreq/tick@=" + std::to_string(milliseconds_now()) + "/");
}

void Session::join_group() {
  if (!logged_in_) {
    log_debug("ignoring joingroup before loginreq from " + addr.to_string());
    return;
  }
  const std::string_view room_id = fields_.get("rid");
  auto id = server_->served_room(room_id);
  if (!id) {
    refuse_room(room_id);
    return;
  }
  if (fields_.get("gid") != "-9999") {
    log_debug("ignoring joingroup with gid " + log_escape(fields_.get("gid")) + " from " + addr.to_string());
    return;
  }
  if (room) return;  // already in a group
  room = &server_->rooms().room(*id);
  room->join(*this);
  log_debug("joined " + addr.to_string() + " to room " + std::to_string(*id));
}

void Session::refuse_room(std::string_view room_id) {
  if (server_->client_log().admit()) {
    log_info("refusing " + addr.to_string() + ": room '" + log_escape(room_id) + "' is not served (error 204)");
  }
  reply("type@=error/code@=204/");
  finish();
}

void Session::malformed(const std::string& why) {
  if (server_ && server_->client_log().admit()) {
    log_warning("malformed packet from " + addr.to_string() + ": " + log_escape(why) + "; sending error 51 and closing");
  }
  reply("type@=error/code@=51/");
  finish();
}

void Session::reply(std::string_view text) { send(encode_packet(text, server_message_type)); }

}  // namespace asyncore::barrage

#include "apps/device/session.h"

#include <algorithm>
#include <cmath>
#include <variant>

#include "apps/device/cluster.h"
#include "apps/device/commands.h"
#include "apps/device/fields.h"
#include "apps/device/instructions.h"
#include <asyncore/log_escape.h>

namespace asyncore::device {
namespace {

// Commands in flight (sent, not yet acked) a session tracks. Queued commands take at most
// kMaxQueuedInFlight of them and are never evicted: an ack that finds no entry would leave the
// command stored, to be sent again at the next login. The rest serve interact/send commands,
// whose oldest entry makes room (its caller has long timed out).
constexpr std::size_t kMaxPendingCommands = 64;
constexpr std::size_t kMaxQueuedInFlight = 32;
constexpr std::size_t kKeptPendingRoom = 2;

// Devices send little; a device that does not read must not pin much memory either.
StreamLimits device_limits() {
  StreamLimits limits;
  limits.high_water = 64 * 1024;
  limits.low_water = 16 * 1024;
  limits.max_output = 1024 * 1024;
  return limits;
}

}  // namespace

DeviceSession::DeviceSession(Fd socket, const Address& peer, DeviceHub& hub)
    // The adopting constructor makes no system call (no fcntl, no getpeername): a login storm
    // pays for accept4 and epoll_ctl only.
    : BufferedStream(std::move(socket), peer, &hub.map()), hub_(hub), extractor_(hub.options().max_frame) {
  limits = device_limits();
  hub_.session_opened();
  hub_.metrics().count_accepted();
  last_frame_ = Clock::now();
  arm_deadline(hub_.options().login_timeout);
}

DeviceSession::~DeviceSession() {
  deadline_.cancel();
  hub_.session_destroyed(*this);
}

double DeviceSession::idle_limit() const {
  return logged_in_ ? heartbeat_ + hub_.options().heartbeat_grace : hub_.options().login_timeout;
}

void DeviceSession::arm_deadline(double seconds) {
  deadline_ = map().call_later(seconds, [this] { on_deadline(); });
}

void DeviceSession::on_deadline() {
  if (!is_open() || ended_) return;
  // The timer is not moved on every frame (that would cost a heap operation per frame): it
  // fires at the earliest possible deadline and re-arms itself for the rest.
  const double idle = std::chrono::duration<double>(Clock::now() - last_frame_).count();
  const double limit = idle_limit();
  if (idle + 1e-3 < limit) return arm_deadline(limit - idle);
  if (!logged_in_) {
    hub_.metrics().count_login_failure("timeout");
    if (hub_.login_timeout_log().admit()) {
      log_info("no login within " + describe_seconds(limit) + " from " + addr.to_string() + "; closing", LogLevel::info);
    }
  } else {
    log_info("device " + imei_.str() + " silent for " + std::to_string(static_cast<int>(idle)) + " s; closing", LogLevel::info);
  }
  end(OfflineReason::idle);
}

void DeviceSession::handle_read() {
  const std::size_t n = recv_into(hub_.scratch(), hub_.scratch_size());
  if (n == 0 || ended_) return;
  extractor_.feed(std::string_view(hub_.scratch(), n));
  handle_frames();
}

void DeviceSession::handle_frames() {
  while (!ended_ && !registering_) {
    FrameEvent event = extractor_.next();
    switch (event.kind) {
      case FrameEvent::need_more:
        return;
      case FrameEvent::zero_length:
        return bad_frame("zero_length", "zero-length frame");
      case FrameEvent::oversized:
        return bad_frame("oversized", "frame length " + std::to_string(event.length) + " exceeds max_frame " +
                                          std::to_string(extractor_.max_frame()));
      case FrameEvent::frame:
        handle_frame(event.body);
        break;
    }
  }
}

void DeviceSession::handle_frame(std::string_view body) {
  hub_.metrics().count_frame_in();
  // Only whole frames count as life after login; before it, the deadline runs from the accept,
  // so trickling bytes cannot stretch either.
  if (logged_in_) {
    last_frame_ = Clock::now();
    if (std::optional<HeartbeatFrame> heartbeat = parse_heartbeat(body)) return handle_heartbeat(body, *heartbeat);
    // Acks come with every command: in the form devices write, read without a JSON object.
    if (std::optional<AckFrame> ack = parse_ack(body)) return handle_ack(ack->type, ack->ident, {ack->status == 200, {}, body});
  }
  std::variant<Message, BadBody> parsed = parse_message(body);
  if (auto* bad = std::get_if<BadBody>(&parsed)) {
    const std::string_view kind = bad->reason.starts_with("invalid JSON") ? "invalid_json"
                                  : bad->reason.starts_with("body") ? "not_object"
                                                                    : "bad_type";
    return bad_frame(kind, bad->reason);
  }
  Message& message = std::get<Message>(parsed);
  if (!logged_in_) return handle_login(message);
  if (message.type >= 100) {
    const json::Value* status = message.body.get("status");
    const bool accepted = status && status->is_int() && status->as_int() == 200;
    return handle_ack(message.type, message.ident,
                      {accepted, std::move(message.body), message.canonical ? body : std::string_view()});
  }
  handle_report(message);
}

void DeviceSession::bad_frame(std::string_view kind, std::string_view reason) {
  hub_.metrics().count_bad_frame(kind);
  // A bad frame closes its connection, so a garbage sender reconnects to send more: the limit
  // is on the log as a whole, not per connection.
  if (hub_.bad_frame_log().admit()) {
    log_warning("device connection " + addr.to_string() + (logged_in_ ? " (" + imei_.str() + ")" : std::string()) +
                ": bad frame: " + log_escape(reason) + "; closing");
  }
  if (!logged_in_) hub_.metrics().count_login_failure("bad_frame");
  send_body(error_reply(0, 0, 400, reason));
  end_after_reply(OfflineReason::bad_frame);
}

void DeviceSession::refuse_login(std::string_view reason_metric, int type, int ident, int status, std::string_view error) {
  hub_.metrics().count_login_failure(reason_metric);
  if (hub_.login_refused_log().admit()) log_info("login refused for " + addr.to_string() + ": " + log_escape(error));
  send_body(error_reply(type, ident, status, error));
  end_after_reply(OfflineReason::closed);
}

void DeviceSession::handle_login(const Message& message) {
  const int ident = message.ident.value_or(0);
  if (message.type != 1) return refuse_login("not_first", message.type, ident, 400, "the first frame must be a login (type 1)");
  FieldReader fields(message.body);
  fields.integer("ident", 1, 65535, Need::required);
  std::optional<std::string_view> imei_text = fields.string("imei", Need::required);
  std::optional<std::int64_t> heartbeat = fields.integer("heartbeat", 1, 1'000'000'000, Need::required);
  std::optional<std::string_view> token = fields.string("token", Need::optional);
  fields.string("fw", Need::optional);
  fields.string("imsi", Need::optional);
  fields.string("model", Need::optional);
  std::optional<Imei> imei = imei_text ? Imei::parse(*imei_text) : std::nullopt;
  if (fields.ok() && !imei) return refuse_login("bad_request", 1, ident, 400, "imei must be a string of 15 digits");
  if (!fields.ok()) return refuse_login("bad_request", 1, ident, 400, fields.problem());

  DeviceStore& store = hub_.store();
  DeviceRecord* record = store.find(*imei);
  if (!record || !record->known()) {
    if (!hub_.options().auto_register) return refuse_login("unknown_device", 1, ident, 401, "unknown device");
    if (hub_.cluster()) return register_in_cluster(*imei, ident, *heartbeat);
    // Any peer can invent IMEIs: each new one is a record kept forever, so their number is capped.
    if (store.auto_registered_count() >= hub_.options().max_auto_registered) return refuse_auto_register(ident);
    record = &store.auto_register(*imei, DeviceHub::unix_now());
  }
  if (!record->secret.empty() && !(token && tokens_equal(*token, record->secret))) {
    return refuse_login("bad_token", 1, ident, 401, token ? "bad token" : "token required");
  }
  if (record->locked) return refuse_login("locked", 1, ident, 403, "device locked");
  imei_ = *imei;
  finish_login(*record, ident, *heartbeat);
}

void DeviceSession::refuse_auto_register(int ident) {
  refuse_login("auto_register_limit", 1, ident, 401,
               "unknown device; auto-registration limit reached (" + std::to_string(hub_.options().max_auto_registered) +
                   " devices)");
}

void DeviceSession::register_in_cluster(Imei imei, int ident, std::int64_t heartbeat) {
  registering_ = true;
  auto weak = weak_from_this();
  hub_.cluster()->store().register_device(imei, hub_.options().max_auto_registered,
                                          [weak, this, imei, ident, heartbeat](Registration verdict, std::string error) {
    const auto self = weak.lock();  // kept alive while a refusal closes it
    if (!self) return;
    registering_ = false;
    if (ended_ || !is_open()) return;
    switch (verdict) {
      case Registration::failed:
        return refuse_login("registry_unavailable", 1, ident, 503,
                            "cannot register the device now (the cluster's redis: " + error + ")");
      case Registration::refused: return refuse_auto_register(ident);
      case Registration::known:
      case Registration::registered:
        break;
    }
    imei_ = imei;
    finish_login(hub_.store().auto_register(imei, DeviceHub::unix_now()), ident, heartbeat);
    handle_frames();  // those that came while Redis was asked
  });
}

void DeviceSession::finish_login(DeviceRecord& record, int ident, std::int64_t heartbeat) {
  heartbeat_ = static_cast<std::uint16_t>(clamp_heartbeat(heartbeat));
  logged_in_ = true;
  record_ = &record;
  last_frame_ = Clock::now();
  hub_.go_online(*this, imei_, record, heartbeat_);
  if (log_enabled(LogLevel::debug)) log_info("device " + imei_.str() + " online from " + addr.to_string(), LogLevel::debug);
  send_body(status_reply(1, ident, 200, ",\"time\":" + std::to_string(static_cast<long long>(DeviceHub::unix_now()))), true);
  hub_.deliver_queued(*this);
}

void DeviceSession::handle_report(const Message& message) {
  if (!message.ident) {
    hub_.metrics().count_bad_request();
    return send_body(error_reply(message.type, 0, 400, "ident must be an integer 1..65535"));
  }
  ReportHandler handler = find_report_handler(message.type);
  if (!handler) {
    hub_.metrics().count_unknown_instruction();
    return send_body(error_reply(message.type, *message.ident, 404, "unknown instruction"));
  }
  DeviceRecord* record = current_record();
  if (!record) return end(OfflineReason::takeover);
  FieldReader fields(message.body);
  ReportContext context{hub_, *this, *record, imei_, record->last_seen, fields};
  ReportReply reply = handler(context);
  if (reply.status == 400) {
    hub_.metrics().count_bad_request();
    if (reply.extra.empty()) return send_body(error_reply(message.type, *message.ident, 400, fields.problem()));
  }
  send_body(status_reply(message.type, *message.ident, reply.status, reply.extra), reply.durable);
  if (reply.close_after) end_after_reply(OfflineReason::poweroff);
}

void DeviceSession::handle_heartbeat(std::string_view body, const HeartbeatFrame& heartbeat) {
  DeviceRecord* record = current_record();
  if (!record) return end(OfflineReason::takeover);
  record_heartbeat(hub_, imei_, *record, record->last_seen, heartbeat.battery);
  char frame[kMaxHeartbeatReply];
  send_frame({frame, heartbeat_reply(frame, body, heartbeat)});
}

DeviceRecord* DeviceSession::current_record() {
  // The record is kept from the login: the store never drops one, and its map's nodes stay put.
  if (!record_ || record_->session != this) return nullptr;
  record_->last_seen = DeviceHub::unix_now();
  return record_;
}

void DeviceSession::handle_ack(int type, std::optional<int> ident, CommandAck ack) {
  if (DeviceRecord* record = hub_.store().find(imei_)) record->last_seen = DeviceHub::unix_now();
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->type == type && ident && it->ident == *ident) {
      PendingCommand pending = *it;
      pending_.erase(it);
      // Room for two (48 bytes) stays once all are acked, more is given back: a device
      // commanded one at a time would otherwise pay an allocation per command.
      if (pending_.empty() && pending_.capacity() > kKeptPendingRoom) std::vector<PendingCommand>().swap(pending_);
      return hub_.ack_received(*this, pending, std::move(ack));
    }
  }
  hub_.metrics().count_dropped_ack();
}

void DeviceSession::send_command(const Command& command, PendingCommand pending) {
  next_ident_ = static_cast<std::uint16_t>(next_ident_ == 65535 ? 1 : next_ident_ + 1);
  pending.ident = next_ident_;
  if (pending_.size() >= kMaxPendingCommands) {
    auto oldest = std::find_if(pending_.begin(), pending_.end(), [](const PendingCommand& p) { return p.queue_id == 0; });
    if (oldest != pending_.end()) pending_.erase(oldest);
  }
  pending_.push_back(pending);
  std::string& frame = hub_.command_frame();
  frame.assign(kFrameHeaderSize, '\0');  // the length, written once the body is there
  append_command_body(frame, command, pending.ident);
  write_be32(frame.data(), static_cast<std::uint32_t>(frame.size() - kFrameHeaderSize));
  send_frame(frame);
}

bool DeviceSession::room_for_queued() const {
  return std::count_if(pending_.begin(), pending_.end(), [](const PendingCommand& p) { return p.queue_id != 0; }) <
         static_cast<std::ptrdiff_t>(kMaxQueuedInFlight);
}

bool DeviceSession::in_flight(std::uint64_t queue_id) const {
  return std::any_of(pending_.begin(), pending_.end(), [&](const PendingCommand& p) { return p.queue_id == queue_id; });
}

void DeviceSession::send_body(std::string_view body, bool durable) {
  // Replies are small: framed on the stack, without an allocation.
  char small[256];
  if (kFrameHeaderSize + body.size() > sizeof small) return send_frame(encode_frame(body), durable);
  write_be32(small, static_cast<std::uint32_t>(body.size()));
  std::copy(body.begin(), body.end(), small + kFrameHeaderSize);
  send_frame({small, kFrameHeaderSize + body.size()}, durable);
}

void DeviceSession::send_frame(std::string_view frame, bool durable) {
  if (!is_open() || closing) return;
  if (durable && hub_.store().unsynced()) {
    // The record this reply acknowledges was just appended: it is durable with the batch now
    // gathering. A session already holding for an earlier batch waits for this one as well.
    durable_needed_ = hub_.store().pending_generation();
    if (!holding_) {
      holding_ = true;
      hub_.hold_until_durable(*this);
    }
  }
  hub_.metrics().count_frame_out();
  // Later frames wait behind a held one, so replies keep their order.
  if (holding_) {
    held_.append(frame);
    return;
  }
  send(frame);
}

void DeviceSession::release_held() {
  if (!is_open()) return;
  // Commits are pipelined: a reply held since an earlier batch may also wait for a later one.
  if (hub_.store().durable_generation() < durable_needed_) return hub_.hold_until_durable(*this);
  holding_ = false;
  std::string frames;
  frames.swap(held_);
  send(frames);
  if (close_after_held_) close_when_done();
}

void DeviceSession::end(OfflineReason reason) {
  if (!ended_) {
    ended_ = true;
    deadline_.cancel();
    hub_.go_offline(*this, reason);
  }
  close();
}

void DeviceSession::end_after_reply(OfflineReason reason) {
  if (ended_) return;
  ended_ = true;
  deadline_.cancel();
  hub_.go_offline(*this, reason);
  // "Close" means at once after the reply is written, not at some later timer.
  if (holding_) close_after_held_ = true;
  else close_when_done();
}

void DeviceSession::handle_error(const std::exception& error) {
  log_warning("device connection " + addr.to_string() + ": " + error.what());
  end(OfflineReason::error);
}

std::shared_ptr<TcpServer> listen_devices(const Address& address, DeviceHub& hub, ConnectionCaps caps, bool reuse_port) {
  auto make_session = [&hub](Fd socket, const Address& peer) {
    if (!hub.shutting_down()) make<DeviceSession>(std::move(socket), peer, hub);
  };
  return make_server(address, std::move(make_session),
                     {.name = "device listener",
                      .caps = caps,
                      .backlog = 4096,       // a login storm arrives all at once
                      .accept_batch = 256,
                      .reuse_port = reuse_port,
                      .on_refused = [&metrics = hub.metrics()](Refusal reason) { metrics.count_refused("device", refusal_name(reason)); }},
                     &hub.map());
}

}  // namespace asyncore::device

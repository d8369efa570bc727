#include <asyncore/redis/client.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <vector>

#include <asyncore/log_escape.h>
#include "dispatchers/redis/sha1.h"

namespace asyncore::redis {

const char* state_name(State state) {
  switch (state) {
    case State::idle: return "idle";
    case State::connecting: return "connecting";
    case State::handshaking: return "handshaking";
    case State::ready: return "ready";
    case State::waiting: return "waiting";
    case State::closed: return "closed";
  }
  return "?";
}

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::reply: return "reply";
    case Outcome::refused: return "refused";
    case Outcome::not_run: return "not_run";
    case Outcome::unknown: return "unknown";
  }
  return "?";
}

Address resolve_endpoint(std::string_view text) {
  if (text.starts_with("unix:") || text.starts_with("/")) return Address::parse(text);
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    throw std::invalid_argument("redis address \"" + log_escape(text) + "\": expected host:port or unix:/path");
  }
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  uint16_t port = 0;
  try {
    port = parse_port(text.substr(colon + 1));
  } catch (const std::exception& error) {
    throw std::invalid_argument("redis address \"" + log_escape(text) + "\": bad port: " + error.what());
  }
  if (port == 0) throw std::invalid_argument("redis address \"" + log_escape(text) + "\": port 0");
  return Address::resolve(host, port);
}

namespace {

constexpr auto kNoDeadline = Clock::time_point::max();

// The first line of the file; the password itself never appears in an error or a log line.
std::string read_password(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the password file " + path + ": " + std::strerror(errno));
  std::string password;
  std::getline(in, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) throw std::runtime_error("the password file " + path + " is empty");
  return password;
}

}  // namespace

Client::Client(ClientOptions options, ChannelMap* map)
    : options_(std::move(options)), map_(map ? map : &socket_map()), parser_(options_.limits),
      backoff_(options_.backoff) {}

Client::~Client() {
  connect_timer_.cancel();
  retry_timer_.cancel();
  timeout_timer_.cancel();
  flush_timer_.cancel();
  drop_connection();
}

void Client::set_state(State state) {
  if (state == state_) return;
  state_ = state;
  log_debug("redis client " + options_.address + ": " + state_name(state));
}

void Client::start() {
  if (state_ != State::idle && state_ != State::closed) return;
  backoff_.reset();
  connect_now();
}

void Client::close() {
  connect_timer_.cancel();
  retry_timer_.cancel();
  timeout_timer_.cancel();
  drop_connection();
  set_state(State::closed);
  fail_all("the client was closed", Outcome::unknown);
}

void Client::connect_now() {
  drop_connection();
  parser_.reset();
  set_state(State::connecting);
  connection_ = std::make_shared<Connection>(this, map_);
  // Our own bound (max_output) refuses commands first; the stream's is only a backstop.
  connection_->limits.max_output = static_cast<uint32_t>(std::min<size_t>(options_.max_output * 2 + (1 << 20), UINT32_MAX));
  connection_->limits.high_water = connection_->limits.max_output;
  connection_->limits.low_water = connection_->limits.max_output / 2;
  try {
    const Address address = resolve_endpoint(options_.address);
    connection_->create_socket(address.family());
    // Owned by the map too: a connection dropped from inside its own callback lives to the pass's end.
    adopt_dispatcher(connection_);
    connection_->connect(address);
  } catch (const std::exception& error) {
    lost(std::string("cannot connect: ") + error.what());
    return;
  }
  if (options_.connect_timeout > 0) {
    connect_timer_ = map_->call_later(options_.connect_timeout, [this] {
      lost("no connection and handshake within " + std::to_string(options_.connect_timeout) + " s");
    });
  }
}

void Client::connected() {
  set_state(State::handshaking);
  std::string password;
  if (!options_.password_file.empty()) {
    try {
      password = read_password(options_.password_file);
    } catch (const std::exception& error) {
      lost(error.what());
      return;
    }
  }
  const uint64_t serial = serial_;
  auto step = [this, serial](std::string what) {
    return [this, serial, what = std::move(what)](Result& result) { handshake_step(result, what, serial); };
  };
  const std::string_view user = options_.username.empty() ? "default" : std::string_view(options_.username);
  handshake_left_ = 0;
  if (options_.protocol == Protocol::resp3) {
    std::vector<std::string_view> hello = {"HELLO", "3"};
    if (!password.empty()) hello.insert(hello.end(), {"AUTH", user, password});
    if (!options_.client_name.empty()) hello.insert(hello.end(), {"SETNAME", options_.client_name});
    send_internal(hello, step("HELLO 3"));
  } else {
    if (!password.empty()) {
      if (options_.username.empty()) send_internal({"AUTH", password}, step("AUTH"));
      else send_internal({"AUTH", user, password}, step("AUTH"));
    }
    if (!options_.client_name.empty()) send_internal({"CLIENT", "SETNAME", options_.client_name}, step("CLIENT SETNAME"));
  }
  if (options_.database != 0) {
    const std::string db = std::to_string(options_.database);
    send_internal({"SELECT", db}, step("SELECT"));
  }
  if (handshake_left_ == 0) become_ready();
}

void Client::send_internal(std::span<const std::string_view> args, Callback callback) {
  append_command(batch_, args);
  schedule_flush();
  in_flight_.push_back(Pending{std::move(callback), kNoDeadline});
  ++handshake_left_;
}

void Client::handshake_step(Result& result, const std::string& what, uint64_t serial) {
  if (serial != serial_) return;  // that connection is gone already
  if (!result.ok()) {
    lost(what + " failed: " + result.error_text());
    return;
  }
  if (--handshake_left_ == 0) become_ready();
}

void Client::become_ready() {
  connect_timer_.cancel();
  backoff_.reset();
  outage_logged_ = false;
  ++stats_.connects;
  set_state(State::ready);
  resubscribe();
  // Held commands go out in the order they were given.
  std::deque<Held> held = std::move(held_);
  held_.clear();
  held_bytes_ = 0;
  for (Held& entry : held) {
    batch_ += entry.bytes;
    in_flight_.push_back(std::move(entry.pending));
  }
  if (!batch_.empty()) schedule_flush();
  if (on_ready) on_ready();
}

void Client::schedule_flush() {
  // Commands given in one pass go out in one write.
  if (!flush_timer_.active()) flush_timer_ = map_->call_soon([this] { flush(); });
}

void Client::flush() {
  if (!connection_ || batch_.empty()) return;
  connection_->send(batch_);
  batch_.clear();
  if (batch_.capacity() > (1 << 20)) batch_.shrink_to_fit();
}

size_t Client::queued_bytes() const { return held_bytes_ + batch_.size() + (connection_ ? connection_->pending() : 0); }

Clock::time_point Client::deadline_for(double timeout) const {
  if (timeout < 0) timeout = options_.command_timeout;
  if (timeout <= 0) return kNoDeadline;
  return map_->now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout));
}

bool Client::refuse(Callback& callback, std::string why) {
  ++stats_.failures;
  Result result{Outcome::refused, {}, std::move(why)};
  if (callback) callback(result);
  return false;
}

bool Client::command(std::span<const std::string_view> args, Callback callback, double timeout) {
  return submit(args, callback, timeout);
}

bool Client::command(std::span<const std::string> args, Callback callback, double timeout) {
  return submit(args, callback, timeout);
}

template <class Args>
bool Client::submit(const Args& args, Callback& callback, double timeout) {
  if (args.empty()) return refuse(callback, "an empty command");
  if (options_.kind == Kind::pubsub) {
    return refuse(callback, "a pub/sub client sends only subscribe and unsubscribe: use another client for commands");
  }
  if (state_ == State::idle || state_ == State::closed) {
    return refuse(callback, std::string("the redis client is ") + (state_ == State::idle ? "not started" : "closed"));
  }
  if (in_flight_.size() + held_.size() >= options_.max_pending) {
    return refuse(callback, std::to_string(in_flight_.size() + held_.size()) +
                                " commands already pending (max_pending): the command was not sent");
  }
  const size_t queued = queued_bytes();
  Pending pending{std::move(callback), deadline_for(timeout)};
  std::string* out = &batch_;
  std::string held_bytes;
  if (state_ != State::ready) out = &held_bytes;
  const size_t before = out->size();
  append_command(*out, args);
  if (queued + out->size() - before > options_.max_output) {
    out->resize(before);
    return refuse(pending.callback, std::to_string(queued) + " bytes already waiting to be sent (max_output " +
                                        std::to_string(options_.max_output) + "): the command was not sent");
  }
  ++stats_.commands;
  const auto deadline = pending.deadline;
  if (state_ == State::ready) {
    schedule_flush();
    in_flight_.push_back(std::move(pending));
  } else {
    held_bytes_ += held_bytes.size();
    held_.push_back(Held{std::move(held_bytes), std::move(pending)});
  }
  if (deadline != kNoDeadline) arm_timeouts(deadline);
  return true;
}

void Client::arm_timeouts(Clock::time_point deadline) {
  // One timer for all commands, at or before the earliest deadline: with one timeout for every
  // command a later command never moves it, and it fires about once per timeout.
  if (timeout_timer_.active() && timeout_timer_.deadline() <= deadline) return;
  const double seconds = std::chrono::duration<double>(deadline - map_->now()).count();
  timeout_timer_.cancel();
  timeout_timer_ = map_->call_later(std::max(0.0, seconds), [this] { check_timeouts(); });
}

void Client::check_timeouts() {
  const auto now = map_->now();
  std::vector<std::pair<Callback, Outcome>> expired;
  std::deque<Held> kept;
  for (Held& entry : held_) {
    if (entry.pending.deadline <= now) {
      held_bytes_ -= entry.bytes.size();
      expired.emplace_back(std::move(entry.pending.callback), Outcome::not_run);
    } else {
      kept.push_back(std::move(entry));
    }
  }
  held_ = std::move(kept);
  for (Pending& pending : in_flight_) {
    // The entry stays, answered by nothing: the server's late reply is matched to it and dropped.
    if (pending.callback && pending.deadline <= now) {
      expired.emplace_back(std::move(pending.callback), Outcome::unknown);
      pending.callback = nullptr;
    }
  }
  auto next = kNoDeadline;
  for (const Held& entry : held_) next = std::min(next, entry.pending.deadline);
  for (const Pending& pending : in_flight_) {
    if (pending.callback) next = std::min(next, pending.deadline);
  }
  if (next != kNoDeadline) arm_timeouts(next);
  for (auto& [callback, outcome] : expired) {
    ++stats_.failures;
    ++stats_.timeouts;
    Result result{outcome, {},
                  outcome == Outcome::not_run
                      ? "timed out before it could be sent (redis " + std::string(state_name(state_)) + "): it did not run"
                      : std::string("timed out waiting for the reply: the command may or may not have run")};
    if (callback) callback(result);
  }
}

void Client::received(std::string_view bytes) {
  const uint64_t serial = serial_;
  try {
    parser_.feed(bytes);
    while (serial == serial_) {
      std::optional<Reply> reply = parser_.next();
      if (!reply) break;
      dispatch(*reply);
    }
  } catch (const ProtocolError& error) {
    if (serial == serial_) lost(std::string("protocol error: ") + error.what());
  }
}

void Client::dispatch(Reply& reply) {
  if (reply.type == Type::push ||
      (options_.kind == Kind::pubsub && state_ == State::ready && reply.type == Type::array)) {
    handle_push(reply);
    return;
  }
  if (in_flight_.empty()) {
    lost("a reply nobody asked for: " + log_escape(reply.to_string(), 80));
    return;
  }
  Pending pending = std::move(in_flight_.front());
  in_flight_.pop_front();
  if (!pending.callback) return;  // failed by its timeout already
  ++stats_.replies;
  Result result{Outcome::reply, std::move(reply), {}};
  pending.callback(result);
}

void Client::handle_push(const Reply& push) {
  const auto& e = push.elements;
  const std::string_view kind = !e.empty() && e[0].is_string() ? std::string_view(e[0].str) : std::string_view();
  if ((kind == "message" || kind == "smessage") && e.size() >= 3) {
    ++stats_.messages;
    if (on_message) on_message(Message{e[1].str, e[2].str, {}});
    return;
  }
  if (kind == "pmessage" && e.size() >= 4) {
    ++stats_.messages;
    if (on_message) on_message(Message{e[2].str, e[3].str, e[1].str});
    return;
  }
  if (kind.ends_with("subscribe") && e.size() >= 3 && e[2].type == Type::integer) {
    confirmed_ = static_cast<size_t>(std::max<int64_t>(0, e[2].integer));
  }
  if (on_push) on_push(push);
}

void Client::lost(const std::string& reason) {
  if (state_ == State::closed || state_ == State::idle) return;
  ++stats_.disconnects;
  connect_timer_.cancel();
  drop_connection();
  const std::string text = "redis " + options_.address + ": " + reason;
  // One warning per outage (the first failure after a good connection, or at start); the
  // attempts that follow are debug lines.
  if (!outage_logged_) log_warning(log_escape(text, 300));
  else log_debug(log_escape(text, 300));
  outage_logged_ = true;
  std::optional<double> delay = options_.reconnect ? backoff_.next_delay() : std::nullopt;
  if (delay) {
    set_state(State::waiting);
    retry_timer_ = map_->call_later(*delay, [this] { connect_now(); });
  } else {
    set_state(State::closed);
  }
  // Only what was written is lost; held commands wait for the next connection (or their timeout).
  fail_all(text, Outcome::unknown);
  if (on_disconnect) on_disconnect(text);
}

void Client::fail_all(const std::string& reason, Outcome in_flight_outcome) {
  std::deque<Pending> in_flight = std::move(in_flight_);
  in_flight_.clear();
  std::deque<Held> held;
  if (state_ == State::closed) {
    held = std::move(held_);
    held_.clear();
    held_bytes_ = 0;
  }
  for (Pending& pending : in_flight) {
    if (!pending.callback) continue;
    ++stats_.failures;
    Result result{in_flight_outcome, {}, reason + ": the command may or may not have run"};
    pending.callback(result);
  }
  for (Held& entry : held) {
    if (!entry.pending.callback) continue;
    ++stats_.failures;
    Result result{Outcome::not_run, {}, reason + ": the command was not sent"};
    entry.pending.callback(result);
  }
}

void Client::drop_connection() {
  ++serial_;
  batch_.clear();
  confirmed_ = 0;
  handshake_left_ = 0;
  if (!connection_) return;
  connection_->detach();
  connection_->close();
  connection_.reset();
}

void Client::write_subscription(std::string_view verb, std::string_view name) {
  if (state_ != State::ready) return;  // sent with the others once ready
  append_command(batch_, std::initializer_list<std::string_view>{verb, name});
  schedule_flush();
}

void Client::require_pubsub() const {
  if (options_.kind != Kind::pubsub) throw std::logic_error("redis client: subscribe needs Kind::pubsub");
}

void Client::subscribe(std::string channel) {
  require_pubsub();
  write_subscription("SUBSCRIBE", channel);
  channels_.insert(std::move(channel));
}

void Client::unsubscribe(const std::string& channel) {
  require_pubsub();
  if (channels_.erase(channel)) write_subscription("UNSUBSCRIBE", channel);
}

void Client::psubscribe(std::string pattern) {
  require_pubsub();
  write_subscription("PSUBSCRIBE", pattern);
  patterns_.insert(std::move(pattern));
}

void Client::punsubscribe(const std::string& pattern) {
  require_pubsub();
  if (patterns_.erase(pattern)) write_subscription("PUNSUBSCRIBE", pattern);
}

void Client::resubscribe() {
  auto send_all = [this](std::string_view verb, const std::set<std::string>& names) {
    if (names.empty()) return;
    std::vector<std::string_view> args = {verb};
    args.insert(args.end(), names.begin(), names.end());
    append_command(batch_, args);
    schedule_flush();
  };
  send_all("SUBSCRIBE", channels_);
  send_all("PSUBSCRIBE", patterns_);
}

Script::Script(std::string source) : source_(std::move(source)), sha1_(sha1_hex(source_)) {}

bool Script::run(Client& client, std::span<const std::string> keys, std::span<const std::string> args,
                 Callback callback, double timeout) const {
  // A command held until the connection is ready may go out on a connection without the script.
  const bool cached = client.ready() && cached_client_ == &client && cached_connection_ == client.stats().connects;
  std::vector<std::string> command = {cached ? "EVALSHA" : "EVAL", cached ? sha1_ : source_, std::to_string(keys.size())};
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  if (client.ready()) {
    cached_client_ = &client;
    cached_connection_ = client.stats().connects;
  }
  if (!cached) return client.command(std::span<const std::string>(command), std::move(callback), timeout);
  // NOSCRIPT means EVALSHA did not run, so EVAL (which also caches the script) is safe to send.
  auto fallback = [this, &client, eval = command, callback = std::move(callback), timeout](Result& result) mutable {
    if (result.outcome == Outcome::reply && result.reply.is_error() && result.reply.str.starts_with("NOSCRIPT")) {
      cached_client_ = nullptr;
      eval[0] = "EVAL";
      eval[1] = source_;
      client.command(std::span<const std::string>(eval), std::move(callback), timeout);
      return;
    }
    if (callback) callback(result);
  };
  return client.command(std::span<const std::string>(command), std::move(fallback), timeout);
}

}  // namespace asyncore::redis

#include <asyncore/http/connection.h>

#include <array>

#include <asyncore/http/date.h>

namespace asyncore::http {
namespace {

constexpr size_t kReadSize = 64 * 1024;
constexpr size_t kKeepBatchCapacity = 64 * 1024;
// Pipelined answers past this are written before reading on, so the output bound can pause input.
constexpr size_t kFlushBatchAt = 64 * 1024;

// Every connection of a thread reads into the same buffer: the parser copies what it keeps, so
// an idle connection holds no read buffer at all.
char* read_buffer() {
  thread_local std::array<char, kReadSize> buffer;
  return buffer.data();
}

Clock::duration seconds(double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

}  // namespace

HttpConnection::HttpConnection(Fd socket, std::shared_ptr<HttpService> service, ChannelMap* map)
    : BufferedStream(std::move(socket), map), service_(std::move(service)), parser_(service_->options.limits) {
  limits = service_->options.output;
  connected_at_ = last_activity_ = Clock::now();
  ++service_->connections;
}

HttpConnection::~HttpConnection() {
  timer_.cancel();
  --service_->connections;
}

void HttpConnection::start() { arm_timer(); }

bool HttpConnection::input_blocked() const {
  return reading_paused() || slots_.size() >= service_->options.max_pipelined;
}

bool HttpConnection::readable() {
  if (lingering_ || discarding_) return true;  // keep reading to see the client go (and drop it)
  return !input_blocked() && stash_.empty();
}

void HttpConnection::handle_read() {
  char* buffer = read_buffer();
  const size_t n = recv_into(buffer, kReadSize);
  if (n == 0 || !is_open()) return;  // nothing now, or EOF / reset already handled
  last_activity_ = Clock::now();
  if (lingering_ || discarding_) return;  // input after the last answer is dropped
  in_process_ = true;
  try {
    process(std::string_view(buffer, n));
  } catch (...) {
    in_process_ = false;
    throw;
  }
  in_process_ = false;
  settle();
}

void HttpConnection::handle_write() {
  BufferedStream::handle_write();
  last_activity_ = Clock::now();
  settle();
}

void HttpConnection::handle_eof() {
  // The client sent its last byte. With answers still being prepared we take it as gone (as
  // nginx does): their handlers learn of it. Written answers are still flushed.
  if (lingering_ || !slots_.empty() || (pending() == 0 && batch_.empty())) {
    handle_close();
    return;
  }
  discarding_ = true;
  close_after_flush_ = true;
}

void HttpConnection::handle_close() { abandon(); }

void HttpConnection::abandon() {
  timer_.cancel();
  std::vector<std::function<void()>> callbacks;
  for (Slot& slot : slots_) {
    if (!slot.ready && slot.on_gone) callbacks.push_back(std::move(slot.on_gone));
  }
  slots_.clear();
  stash_.clear();
  batch_.clear();
  close();
  for (auto& callback : callbacks) {
    try {
      callback();
    } catch (const std::exception& e) {
      log_error(std::string("http: a client-gone callback threw: ") + e.what());
    }
  }
}

void HttpConnection::process(std::string_view input) {
  while (!input.empty() && is_open() && !discarding_) {
    if (input_blocked()) {
      stash_.append(input);  // resumed by settle() once answers drain
      return;
    }
    const bool was_idle = parser_.idle();
    const bool in_body = parser_.reading_body();
    const size_t used = parser_.feed(input);
    input.remove_prefix(used);
    if (was_idle && !parser_.idle()) head_started_ = last_activity_;
    if (in_body) body_bytes_ += used;
    if (!in_body && parser_.reading_body()) {
      body_started_ = last_activity_;
      body_bytes_ = 0;
    }
    if (parser_.complete()) {
      dispatch_request();
      parser_.reset();
      if (batch_.size() >= kFlushBatchAt) flush_batch();
    } else if (parser_.failed()) {
      refuse(parser_.error().status, parser_.error().message);
      return;
    } else if (parser_.expects_continue()) {
      maybe_send_continue();
    }
  }
}

void HttpConnection::maybe_send_continue() {
  if (continue_sent_) return;
  if (!slots_.empty()) {
    continue_wanted_ = true;  // interim answers too go out in order
    return;
  }
  batch_.append("HTTP/1.1 100 Continue\r\n\r\n");
  continue_sent_ = true;
  continue_wanted_ = false;
}

void HttpConnection::dispatch_request() {
  Request& request = parser_.request();
  request.set_peer(addr);
  ++requests_;
  continue_wanted_ = continue_sent_ = false;
  const size_t max_requests = service_->options.max_requests_per_connection;
  const bool keep_alive = request.keep_alive() && (max_requests == 0 || requests_ < max_requests);
  const ResponseFraming framing{request.is_head(), keep_alive, keep_alive && request.version_minor() == 0};
  if (!keep_alive) discarding_ = true;  // this is the last request read on this connection

  const Router& router = service_->router;
  Router::Lookup lookup = router.find(request);
  // JSON like every other error a handler answers; the path is the peer's, so it is cut short.
  if (lookup.kind == Router::Lookup::not_found) {
    std::string_view path = request.raw_path().substr(0, 200);
    deliver(Response::json_error(404, "no such path: " + std::string(path)), framing);
    return;
  }
  if (lookup.kind == Router::Lookup::wrong_method) {
    Response refusal = Response::json_error(405, std::string(request.method().substr(0, 32)) + " is not allowed here; allowed: " + lookup.allow);
    refusal.set_header("Allow", lookup.allow);
    deliver(refusal, framing);
    return;
  }
  if (auto refusal = router.check_guards(request)) {
    deliver(*refusal, framing);
    return;
  }
  const Router::Route& route = *lookup.route;
  if (route.async) {
    run_async(route, request, framing);
    return;
  }
  Response response;
  try {
    route.sync(request, response);
  } catch (const std::exception& e) {
    log_error("http: handler for " + route.method + " " + route.pattern + " threw: " + e.what());
    response = Response::error(500);
  }
  deliver(response, framing);
}

void HttpConnection::run_async(const Router::Route& route, Request& request, const ResponseFraming& framing) {
  const uint64_t sequence = next_sequence_++;
  slots_.push_back(Slot{sequence, framing, false, {}, {}});
  auto self = std::static_pointer_cast<HttpConnection>(shared_from_this());
  try {
    route.async(request, Responder(std::weak_ptr<ResponseSink>(std::shared_ptr<ResponseSink>(self)), sequence));
  } catch (const std::exception& e) {
    // The Responder, destroyed on the way out, has already answered 500 if nobody else did.
    log_error("http: handler for " + route.method + " " + route.pattern + " threw: " + e.what());
  }
}

void HttpConnection::deliver(const Response& response, const ResponseFraming& framing) {
  const std::string_view date = http_date_now();
  const std::string& server = service_->options.server_header;
  if (slots_.empty()) {
    append_response(batch_, response, framing, date, server);
    if (!framing.keep_alive) close_after_flush_ = true;
    return;
  }
  Slot slot{next_sequence_++, framing, true, {}, {}};
  append_response(slot.bytes, response, framing, date, server);
  slots_.push_back(std::move(slot));
}

void HttpConnection::refuse(int status, std::string_view message) {
  log_debug("http: refusing a request from " + addr.to_string() + " with " + std::to_string(status) + ": " +
            std::string(message));
  discarding_ = true;
  deliver(Response::error(status, message), ResponseFraming{false, false, false});
}

HttpConnection::Slot* HttpConnection::find_slot(uint64_t sequence) {
  for (Slot& slot : slots_) {
    if (slot.sequence == sequence) return &slot;
  }
  return nullptr;
}

bool HttpConnection::awaiting(uint64_t sequence) const {
  if (!is_open()) return false;
  for (const Slot& slot : slots_) {
    if (slot.sequence == sequence) return !slot.ready;
  }
  return false;
}

bool HttpConnection::notify_gone(uint64_t sequence, std::function<void()> callback) {
  Slot* slot = is_open() ? find_slot(sequence) : nullptr;
  if (!slot || slot->ready) return false;
  slot->on_gone = std::move(callback);
  return true;
}

void HttpConnection::complete(uint64_t sequence, Response&& response) {
  Slot* slot = is_open() ? find_slot(sequence) : nullptr;
  if (!slot || slot->ready) return;
  // The first answer owed goes straight after what the batch holds (all of it answers earlier
  // requests), as deliver() does: no bytes of its own to allocate and copy over.
  std::string& out = slot == &slots_.front() ? batch_ : slot->bytes;
  append_response(out, response, slot->framing, http_date_now(), service_->options.server_header);
  slot->ready = true;
  slot->on_gone = nullptr;
  release_ready_slots();
  settle();
}

void HttpConnection::release_ready_slots() {
  while (!slots_.empty() && slots_.front().ready) {
    Slot& front = slots_.front();
    batch_.append(front.bytes);
    if (!front.framing.keep_alive) close_after_flush_ = true;
    slots_.pop_front();
  }
  if (slots_.empty() && continue_wanted_ && parser_.expects_continue()) maybe_send_continue();
}

void HttpConnection::settle() {
  if (in_process_ || !is_open()) return;
  // Input stashed while answers were backed up: go on with it now that they drained.
  while (!stash_.empty() && !input_blocked() && !discarding_ && is_open()) {
    std::string pending_input;
    pending_input.swap(stash_);
    in_process_ = true;
    try {
      process(pending_input);
    } catch (...) {
      in_process_ = false;
      throw;
    }
    in_process_ = false;
  }
  if (!is_open()) return;
  flush_batch();
  if (!is_open()) return;
  if (close_after_flush_ && slots_.empty() && pending() == 0 && !lingering_) {
    begin_lingering_close();
    if (!is_open()) return;
  }
  recheck();
  arm_timer();
}

void HttpConnection::flush_batch() {
  if (batch_.empty()) return;
  send(batch_);
  batch_.clear();
  if (batch_.capacity() > kKeepBatchCapacity) std::string().swap(batch_);
}

void HttpConnection::begin_lingering_close() {
  // Closing with unread input would make the kernel send RST, which can destroy the answer
  // before the client reads it: shut our side, then read and drop until the client closes.
  if (at_eof()) {
    handle_close();
    return;
  }
  shutdown_write();
  lingering_ = true;
  linger_since_ = Clock::now();
}

std::optional<Clock::time_point> HttpConnection::deadline() const {
  const HttpServerOptions& o = service_->options;
  if (lingering_) return linger_since_ + seconds(o.linger_timeout);
  if (!discarding_ && parser_.reading_head()) return head_started_ + seconds(o.header_timeout);
  if (!discarding_ && parser_.reading_body()) {
    const auto progress = last_activity_ + seconds(o.body_timeout);
    const auto whole = body_rate_deadline();
    return whole ? std::min(progress, *whole) : progress;
  }
  if (!slots_.empty() && pending() == 0) return std::nullopt;  // a handler is preparing an answer
  if (requests_ == 0 && pending() == 0) return connected_at_ + seconds(o.header_timeout);
  return last_activity_ + seconds(o.idle_timeout);
}

std::optional<Clock::time_point> HttpConnection::body_rate_deadline() const {
  const HttpServerOptions& o = service_->options;
  if (o.body_min_rate <= 0) return std::nullopt;
  return body_started_ + seconds(o.body_timeout + static_cast<double>(body_bytes_) / o.body_min_rate);
}

void HttpConnection::arm_timer() {
  if (!is_open()) return;
  const auto when = deadline();
  if (!when) return;  // an active timer finds no deadline when it fires and stops
  if (timer_.active() && timer_.deadline() <= *when) return;  // fires early, re-arms then
  const double delay = std::chrono::duration<double>(*when - Clock::now()).count();
  if (timer_.active()) {
    timer_.reset(delay);
    return;
  }
  timer_ = map().call_later(delay, [weak = weak_from_this()] {
    if (auto self = weak.lock()) static_cast<HttpConnection&>(*self).on_timer();
  });
}

void HttpConnection::on_timer() {
  if (!is_open()) return;
  const auto when = deadline();
  if (!when) return;
  if (Clock::now() < *when) {
    arm_timer();
    return;
  }
  if (lingering_) {
    handle_close();
  } else if (!discarding_ && (parser_.reading_head() || parser_.reading_body())) {
    const double limit = parser_.reading_head() ? service_->options.header_timeout : service_->options.body_timeout;
    const auto whole = body_rate_deadline();
    if (parser_.reading_body() && whole && *whole <= Clock::now()) {
      refuse(408, "request body slower than " + describe_number(service_->options.body_min_rate) + " bytes/s past its first " + describe_seconds(limit));
    } else {
      refuse(408, std::string(parser_.reading_head() ? "no complete request head within " : "no body data for ") +
                      describe_seconds(limit));
    }
    settle();
  } else {
    handle_close();  // idle keep-alive connection, or a client that stopped reading
  }
}

}  // namespace asyncore::http

// HttpConnection: one client connection of an HttpServer. Parses pipelined requests, routes them,
// and writes answers in request order (an asynchronous answer holds back the later ones). Enforces
// the head / body / idle deadlines with one lazily re-armed loop timer, refuses bad requests with
// their status and closes after a lingering drain, so the refusal reaches the client.
#pragma once
#include <deque>
#include <memory>
#include <string>

#include <asyncore/channel_map.h>
#include <asyncore/stream/buffered_stream.h>
#include <asyncore/http/options.h>
#include <asyncore/http/parser.h>
#include <asyncore/http/responder.h>
#include <asyncore/http/router.h>

namespace asyncore::http {

// What a server's connections share; it outlives the listener while connections remain.
struct HttpService {
  Router router;
  HttpServerOptions options;
  size_t connections = 0;
};

class HttpConnection final : public BufferedStream, public ResponseSink {
 public:
  HttpConnection(Fd socket, std::shared_ptr<HttpService> service, ChannelMap* map);
  ~HttpConnection() override;
  void start();  // arms the first-request deadline; call once the map owns the connection

  bool readable() override;
  void handle_read() override;
  void handle_write() override;
  void handle_eof() override;
  void handle_close() override;

  void complete(uint64_t sequence, Response&& response) override;
  bool awaiting(uint64_t sequence) const override;
  bool notify_gone(uint64_t sequence, std::function<void()> callback) override;

  size_t requests_handled() const { return requests_; }

 private:
  // One answer in request order that cannot be written yet (it waits for an earlier one).
  struct Slot {
    uint64_t sequence = 0;
    ResponseFraming framing;
    bool ready = false;
    std::string bytes;                // the serialized answer, once ready
    std::function<void()> on_gone;    // the handler's "client went away" callback
  };

  void process(std::string_view input);
  void dispatch_request();
  void run_async(const Router::Route& route, Request& request, const ResponseFraming& framing);
  void deliver(const Response& response, const ResponseFraming& framing);
  void refuse(int status, std::string_view message);
  void maybe_send_continue();
  void release_ready_slots();
  void flush_batch();
  void settle();  // after any event: resume stashed input, write, close or re-arm the deadline
  bool input_blocked() const;
  void begin_lingering_close();
  void abandon();  // the connection is going: drop waiting answers and tell their handlers
  std::optional<Clock::time_point> deadline() const;
  std::optional<Clock::time_point> body_rate_deadline() const;  // body_min_rate's, when set
  void arm_timer();
  void on_timer();
  Slot* find_slot(uint64_t sequence);

  std::shared_ptr<HttpService> service_;
  HttpRequestParser parser_;
  std::deque<Slot> slots_;
  std::string batch_;   // answers of this pass, written with one send
  std::string stash_;   // input received while reading was blocked
  uint64_t next_sequence_ = 0;
  size_t requests_ = 0;
  TimerHandle timer_;
  Clock::time_point connected_at_;
  Clock::time_point last_activity_;
  Clock::time_point head_started_;
  Clock::time_point body_started_;
  size_t body_bytes_ = 0;  // of the current request's body so far (the whole-body deadline grows with it)
  Clock::time_point linger_since_;
  bool in_process_ = false;        // settle() waits until the outer pass is done
  bool discarding_ = false;        // the last answer is decided: further input is ignored
  bool close_after_flush_ = false; // close once the queued answers are written
  bool lingering_ = false;         // write side shut; draining input until EOF or the deadline
  bool continue_wanted_ = false;   // a "100 Continue" waits for earlier answers to go out
  bool continue_sent_ = false;
};

}  // namespace asyncore::http

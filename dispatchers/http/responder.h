// Responder: the move-only token an asynchronous handler keeps to answer later, e.g. once a
// device has acknowledged a command. Responses still go out in request order: later pipelined
// requests are answered meanwhile but held back until this one is sent. Use it on the loop's
// thread only (from a timer, another connection's event, ...).
//
// If the client disconnects first (or closes its sending side while waiting, as a vanished client
// does), send() does nothing, client_gone() turns true and callbacks given to on_client_gone() run. A responder destroyed without answering sends 500, so a
// forgotten answer never stalls the connection.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

#include <asyncore/http/response.h>

namespace asyncore::http {

// Where a Responder's answer goes (a connection); an interface so handlers can be tested alone.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  virtual void complete(uint64_t sequence, Response&& response) = 0;
  virtual bool awaiting(uint64_t sequence) const = 0;  // still waiting for this answer
  // Registers a callback for when the client goes away first; false when it already has.
  virtual bool notify_gone(uint64_t sequence, std::function<void()> callback) = 0;
};

class Responder {
 public:
  Responder(std::weak_ptr<ResponseSink> sink, uint64_t sequence) : sink_(std::move(sink)), sequence_(sequence), answered_(false) {}
  Responder(Responder&& other) noexcept;
  Responder& operator=(Responder&& other) noexcept;  // an unanswered target answers 500 first
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  // Answers the request. Throws std::logic_error when already answered (or moved from).
  void send(Response response);
  bool answered() const { return answered_; }
  // True when the client disconnected before the answer (sending is then a no-op).
  bool client_gone() const;
  // Runs `callback` once if the client goes away before the answer (at once if it already has).
  void on_client_gone(std::function<void()> callback);

 private:
  void answer_if_forgotten() noexcept;
  std::weak_ptr<ResponseSink> sink_;
  uint64_t sequence_ = 0;
  bool answered_ = true;  // a moved-from responder has nothing left to answer
};

}  // namespace asyncore::http

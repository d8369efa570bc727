#include <asyncore/http/responder.h>

#include <stdexcept>
#include <utility>

#include <asyncore/log.h>

namespace asyncore::http {

Responder::Responder(Responder&& other) noexcept
    : sink_(std::move(other.sink_)), sequence_(other.sequence_), answered_(std::exchange(other.answered_, true)) {}

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    answer_if_forgotten();
    sink_ = std::move(other.sink_);
    sequence_ = other.sequence_;
    answered_ = std::exchange(other.answered_, true);
  }
  return *this;
}

Responder::~Responder() { answer_if_forgotten(); }

void Responder::answer_if_forgotten() noexcept {
  if (answered_) return;
  answered_ = true;
  try {
    if (auto sink = sink_.lock(); sink && sink->awaiting(sequence_)) {
      log_error("http: an asynchronous handler dropped its Responder without answering; sending 500");
      sink->complete(sequence_, Response::error(500, "the handler did not answer"));
    }
  } catch (const std::exception& e) {
    log_error(std::string("http: answering a forgotten Responder failed: ") + e.what());
  }
}

void Responder::send(Response response) {
  if (answered_) throw std::logic_error("Responder::send: this request was already answered");
  answered_ = true;
  if (auto sink = sink_.lock(); sink && sink->awaiting(sequence_)) sink->complete(sequence_, std::move(response));
}

bool Responder::client_gone() const {
  auto sink = sink_.lock();
  return !sink || (!answered_ && !sink->awaiting(sequence_));
}

void Responder::on_client_gone(std::function<void()> callback) {
  if (!callback) return;
  auto sink = sink_.lock();
  if (sink && sink->notify_gone(sequence_, callback)) return;
  if (!answered_) callback();  // already gone: tell at once, as promised
}

}  // namespace asyncore::http

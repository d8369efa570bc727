#include <asyncore/stream/output_queue.h>

#include <algorithm>

namespace asyncore {
namespace {
// A copied piece that keeps being appended to while it is sent drops its sent front once that is
// at least this big and half the piece: each byte moves a bounded number of times.
constexpr size_t kCompactOwned = 4096;
// Sent pieces are dropped from the vector in batches, for the same reason.
constexpr size_t kCompactPieces = 16;
}  // namespace

OutputQueue::State& OutputQueue::state() {
  if (!state_) state_ = std::make_unique<State>();
  return *state_;
}

void OutputQueue::release_if_drained() {
  if (state_ && state_->size == 0 && state_->producers == 0) state_.reset();  // give everything back
}

void OutputQueue::append(std::string_view bytes) {
  if (bytes.empty()) return;
  State& s = state();
  if (s.pieces.size() > s.head && !s.pieces.back().shared && !s.pieces.back().producer) {
    s.pieces.back().owned.append(bytes);
  } else {
    s.pieces.push_back(Piece{nullptr, std::string(bytes), 0, 0, nullptr});
  }
  s.size += bytes.size();
}

void OutputQueue::append(SharedBytes bytes, size_t begin, size_t end) {
  if (!bytes) return;
  end = std::min(end, bytes->size());
  if (begin >= end) return;
  State& s = state();
  // Consecutive ranges of one buffer (the packets of one broadcast) stay one piece.
  if (s.pieces.size() > s.head && s.pieces.back().shared == bytes && s.pieces.back().end == begin) {
    s.pieces.back().end = end;
  } else {
    s.pieces.push_back(Piece{std::move(bytes), {}, begin, end, nullptr});
  }
  s.size += end - begin;
}

void OutputQueue::append(std::unique_ptr<ChatProducer> producer) {
  if (!producer) return;
  State& s = state();
  s.pieces.push_back(Piece{nullptr, {}, 0, 0, std::move(producer)});
  ++s.producers;
}

size_t OutputQueue::gather(iovec* out, size_t max) const {
  if (!state_) return 0;
  size_t n = 0;
  for (size_t i = state_->head; i < state_->pieces.size() && n < max && !state_->pieces[i].producer; ++i, ++n) {
    std::string_view piece = state_->pieces[i].view();
    out[n].iov_base = const_cast<char*>(piece.data());  // iovec's type; sendmsg only reads it
    out[n].iov_len = piece.size();
  }
  return n;
}

std::string_view OutputQueue::front() const { return state_ ? state_->pieces[state_->head].view() : std::string_view(); }

void OutputQueue::consume(size_t n) {
  if (!state_ || n == 0) return;
  State& s = *state_;
  n = std::min(n, s.size);
  s.size -= n;
  while (n > 0) {
    Piece& piece = s.pieces[s.head];
    const size_t left = piece.view().size();
    if (n < left) {
      piece.begin += n;
      if (!piece.shared && piece.begin >= kCompactOwned && 2 * piece.begin >= piece.owned.size()) {
        piece.owned.erase(0, piece.begin);
        piece.begin = 0;
      }
      break;
    }
    n -= left;
    piece = Piece{};  // releases its bytes (or its reference) now
    ++s.head;
  }
  release_if_drained();
  if (state_ && s.head >= kCompactPieces && 2 * s.head >= s.pieces.size()) {
    s.pieces.erase(s.pieces.begin(), s.pieces.begin() + static_cast<std::ptrdiff_t>(s.head));
    s.head = 0;
  }
}

bool OutputQueue::pull() {
  if (!state_ || !state_->pieces[state_->head].producer) return false;
  std::string more = state_->pieces[state_->head].producer->more();
  if (!state_) return true;  // more() discarded the queue
  State& s = *state_;
  if (more.empty()) {
    s.pieces[s.head] = Piece{};
    ++s.head;
    --s.producers;
    release_if_drained();
    return true;
  }
  s.size += more.size();
  Piece bytes{nullptr, std::move(more), 0, 0, nullptr};
  if (s.head > 0) s.pieces[--s.head] = std::move(bytes);  // a sent slot is free just before it
  else s.pieces.insert(s.pieces.begin(), std::move(bytes));
  return true;
}

}  // namespace asyncore

#include <asyncore/process/process_lines.h>

namespace asyncore {

void LineSplitter::emit_line(std::string_view line, const Emit& emit) const {
  if (max_ == 0) return emit(line);
  while (line.size() > max_) {
    emit(line.substr(0, max_));
    line.remove_prefix(max_);
  }
  emit(line);
}

void LineSplitter::feed(std::string_view bytes, const Emit& emit) {
  while (!bytes.empty()) {
    size_t newline = bytes.find('\n');
    if (newline == std::string_view::npos) return keep_partial(bytes, emit);
    if (partial_.empty()) {
      emit_line(bytes.substr(0, newline), emit);  // the common case: no copy
    } else {
      partial_.append(bytes.substr(0, newline));
      std::string line = std::move(partial_);
      partial_.clear();
      emit_line(line, emit);
    }
    bytes.remove_prefix(newline + 1);
  }
}

void LineSplitter::keep_partial(std::string_view tail, const Emit& emit) {
  partial_.append(tail);
  if (max_ == 0 || partial_.size() <= max_) return;
  // Emit whole pieces now; a piece of exactly max_ bytes waits, since its '\n' may come next.
  size_t emitted = 0;
  while (partial_.size() - emitted > max_) {
    emit(std::string_view(partial_).substr(emitted, max_));
    emitted += max_;
  }
  partial_.erase(0, emitted);
}

void LineSplitter::finish(const Emit& emit) {
  if (partial_.empty()) return;
  std::string line = std::move(partial_);
  partial_.clear();
  emit_line(line, emit);
}

}  // namespace asyncore

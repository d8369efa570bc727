#include "apps/common/journal_writer.h"

namespace asyncore {

JournalWriter::JournalWriter(Journal& journal, std::function<void()> wake)
    : journal_(journal), wake_(std::move(wake)), thread_([this] { run(); }) {}

JournalWriter::~JournalWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void JournalWriter::submit(std::string batch) {
  {
    std::lock_guard lock(mutex_);
    batch_ = std::move(batch);
    has_work_ = true;
    done_ = false;
  }
  busy_ = true;
  changed_.notify_all();
}

std::optional<JournalWriter::Outcome> JournalWriter::poll() {
  if (!busy_) return std::nullopt;
  std::lock_guard lock(mutex_);
  if (!done_) return std::nullopt;
  done_ = false;
  busy_ = false;
  return std::exchange(outcome_, {});
}

JournalWriter::Outcome JournalWriter::wait() {
  if (!busy_) return {};
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return done_; });
  done_ = false;
  busy_ = false;
  return std::exchange(outcome_, {});
}

void JournalWriter::run() {
  for (;;) {
    std::string batch;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return has_work_ || stopping_; });
      if (!has_work_) return;  // stopping, nothing in flight
      batch.swap(batch_);
    }
    Outcome outcome;
    bool appended = false;
    try {
      if (!batch.empty()) journal_.append(batch);
      appended = true;
      journal_.sync();
    } catch (...) {
      outcome.error = std::current_exception();
      if (!appended) outcome.unwritten = std::move(batch);
    }
    {
      std::lock_guard lock(mutex_);
      has_work_ = false;
      done_ = true;
      outcome_ = std::move(outcome);
    }
    changed_.notify_all();
    wake_();
  }
}

}  // namespace asyncore

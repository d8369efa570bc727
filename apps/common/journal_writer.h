// JournalWriter: a thread that appends and fdatasyncs a Journal's batches, one at a time, so the
// event loop keeps serving connections while the disk works. Group commit already shared each
// write + fdatasync among everything a loop pass appended, but the loop sat blocked in them for
// about a third of a login storm (pwrite itself waits for the previous sync's pages). Now the
// next pass's records gather while the disk syncs the last ones: a pipelined group commit.
//
// While a batch is in flight the Journal belongs to the writer thread: its owner must not touch
// it until busy() is false again (poll() or wait() consumed the outcome). The mutex handing the
// outcome back orders the thread's writes before the owner's next use.
#pragma once
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <asyncore/journal/journal.h>

namespace asyncore {

class JournalWriter {
 public:
  // `wake` is called on the writer thread each time a batch is done (e.g. call_soon_threadsafe).
  JournalWriter(Journal& journal, std::function<void()> wake);
  ~JournalWriter();  // lets the batch in flight finish, then stops the thread
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  struct Outcome {
    std::exception_ptr error;  // null: durable
    std::string unwritten;     // the batch back when appending it failed (a failed sync keeps
                               // its records pending in the Journal, which writes them again)
  };

  // Appends `batch` (if not empty) as one record, then syncs. Only when !busy().
  void submit(std::string batch);
  bool busy() const { return busy_; }
  // The outcome of the batch in flight once it is done, and busy() is false again; nullopt
  // while the disk still works (or nothing was submitted).
  std::optional<Outcome> poll();
  // The same, blocking until it is done.
  Outcome wait();

 private:
  void run();

  Journal& journal_;
  std::function<void()> wake_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string batch_;           // guarded by mutex_: handed to the thread
  bool has_work_ = false;       // guarded
  bool done_ = false;           // guarded: the outcome is ready
  bool stopping_ = false;       // guarded
  Outcome outcome_;             // guarded
  bool busy_ = false;           // the owner's view: submitted and not yet consumed
  std::thread thread_;          // last: starts once the members above exist
};

}  // namespace asyncore

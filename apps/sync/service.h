// The relay's operations, shared by the command port and the JSON API so both give the same
// fields: sync, status, log, cancel, jobs. Every reply is made only after the store has synced,
// so nothing reported can be lost by a crash.
//
// While the store cannot write (job_store.h: disk full, I/O errors) nothing is reported as saved
// that is not: `sync` is refused (503, the error names the storage failure) so no new job starts
// that could not be recorded; what is reported about a job whose latest changes are not on disk
// yet carries "pending_write":true and "storage_error"; the store retries until they are.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "apps/sync/job_runner.h"
#include "apps/sync/job_store.h"
#include <asyncore/address.h>
#include <asyncore/json/json.h>

namespace asyncore::sync {

struct Reply {
  json::Object body;       // always has "ok"; an error has "error" too
  int http_status = 200;   // what the JSON API answers with it
  std::string line() const { return json::dump(body); }
};

inline constexpr std::size_t kDefaultJobsLimit = 20;
inline constexpr std::size_t kMaxJobsLimit = 1000;
inline constexpr std::size_t kMaxLinesPerReply = 1000;  // a log reply; `next` says where to go on
// ... and about this much text (lines are up to 64 KiB: 1000 of them would be a 64 MB reply).
inline constexpr std::size_t kMaxLogReplyBytes = 1 << 20;

class SyncService {
 public:
  SyncService(JobStore& store, JobRunner& runner, std::function<void()> request_quit);

  Reply sync(std::string_view type, std::string_view id);
  Reply status(std::uint64_t job);
  Reply log(std::uint64_t job, std::size_t from);
  // `by` names who asked, for the job's log ("the web page/API, peer 127.0.0.1:40512").
  Reply cancel(std::uint64_t job, std::string_view by);
  // The record types configured, for the page's list: {"ok":true,"types":["demo",...]}.
  Reply types() const;
  Reply jobs(std::size_t limit);
  // The `quit` command: refused unless the peer is on this machine.
  Reply quit(const Address& peer);

  // One command-port line (without its '\n') -> one reply. With `caller_syncs` a `sync` reply is
  // not yet durable: the caller calls make_durable() before sending it, so that many syncs
  // arriving together share one fsync (group commit).
  Reply execute(std::string_view line, const Address& peer, bool caller_syncs = false);
  // fsyncs the store for the replies made since the last call. When it cannot, the jobs those
  // replies created are withdrawn and the error text to send instead of the replies is returned
  // (only `sync` replies wait for this sync; the others were settled as they were made).
  std::optional<std::string> make_durable();

  static Reply error(std::string_view reason, int http_status = 400);
  // A job number, "1".."9223372036854775807"; nullopt for anything else.
  static std::optional<std::uint64_t> parse_job_number(std::string_view text);
  static std::optional<std::size_t> parse_count(std::string_view text, std::size_t max);

 private:
  // Before a reply that reports `job`: syncs when the job has unsaved changes.
  void settle(std::uint64_t job);
  bool try_sync();  // false (and this batch's new jobs withdrawn) when the store cannot save
  void mark_pending(json::Object& fields, std::uint64_t job) const;
  std::string storage_problem() const;

  JobStore& store_;
  JobRunner& runner_;
  bool caller_syncs_ = false;
  std::vector<std::uint64_t> created_;  // jobs created since the last sync; withdrawn if it fails
  bool batch_needs_sync_ = false;       // a `sync` reply since the last sync reported a new job
  std::function<void()> request_quit_;
};

bool is_loopback(const Address& peer);

}  // namespace asyncore::sync

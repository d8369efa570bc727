#include "apps/sync/service.h"

#include <arpa/inet.h>

#include <charconv>
#include <utility>
#include <vector>

#include "apps/sync/names.h"
#include <asyncore/log.h>

namespace asyncore::sync {
namespace {

std::string quoted(std::string_view text) {
  std::string out;
  json::append_quoted(out, text.substr(0, 64));
  return out;
}

Reply no_such_job(std::uint64_t job) { return SyncService::error("no job " + std::to_string(job), 404); }

}  // namespace

SyncService::SyncService(JobStore& store, JobRunner& runner, std::function<void()> request_quit)
    : store_(store), runner_(runner), request_quit_(std::move(request_quit)) {}

Reply SyncService::error(std::string_view reason, int http_status) {
  return Reply{json::Object{{"ok", false}, {"error", reason}}, http_status};
}

std::optional<std::uint64_t> SyncService::parse_job_number(std::string_view text) {
  auto n = parse_count(text, static_cast<std::size_t>(INT64_MAX));
  if (!n || *n == 0) return std::nullopt;
  return *n;
}

std::optional<std::size_t> SyncService::parse_count(std::string_view text, std::size_t max) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > max) return std::nullopt;
  return static_cast<std::size_t>(value);
}

std::string SyncService::storage_problem() const { return "the job store cannot save: " + store_.failure(); }

bool SyncService::try_sync() {
  std::vector<std::uint64_t> created = std::exchange(created_, {});
  try {
    store_.sync();
    return true;
  } catch (const JournalError&) {
    // The store logged the failure and retries; nobody may be told these jobs exist.
    for (std::uint64_t number : created) runner_.withdraw(number);
    return false;
  }
}

std::optional<std::string> SyncService::make_durable() {
  const bool needed = std::exchange(batch_needs_sync_, false);
  if (try_sync() || !needed) return std::nullopt;
  return storage_problem();
}

// Synced at once rather than with the caller's batch: a reply that reports a job's state can then
// say whether it is saved (a batch's failed sync could only replace every reply with the error).
// The first such command of a batch pays the fsync; the others find nothing left to sync.
void SyncService::settle(std::uint64_t job) {
  if (store_.has_unsaved(job) && !store_.failing()) try_sync();  // a failure shows in mark_pending
}

void SyncService::mark_pending(json::Object& fields, std::uint64_t job) const {
  if (!store_.pending_write(job)) return;
  fields.append("pending_write", true);
  fields.append("storage_error", store_.failure());
}

Reply SyncService::sync(std::string_view type, std::string_view id) {
  if (!valid_name(type)) return error("bad TYPE " + quoted(type) + ": must match " + std::string(kNamePattern));
  if (!valid_name(id)) return error("bad ID " + quoted(id) + ": must match " + std::string(kNamePattern));
  if (!runner_.knows_type(type)) return error("unknown type " + quoted(type), 404);
  if (runner_.shutting_down()) return error("the server is shutting down", 503);
  // A job that could not be recorded must not start: refused until the store writes again.
  if (store_.failing()) return error(storage_problem() + "; no new jobs until it can", 503);
  const Submitted submitted = runner_.submit(type, id);
  if (submitted.queue_full) {
    return error("the queue is full: " + std::to_string(runner_.queued_count()) +
                     " jobs wait (--max-queued); try again once some have started", 503);
  }
  if (!submitted.dedup) created_.push_back(submitted.job);
  if (!caller_syncs_ || store_.failing()) {
    try_sync();  // a creation that cannot be saved is withdrawn now
  } else if (store_.has_unsaved(submitted.job)) {
    batch_needs_sync_ = true;  // group commit: the caller's sync must succeed, or its error replaces the replies
  }
  const Job* job = store_.find(submitted.job);
  if (!job) return error(storage_problem() + "; the job was not started", 503);  // withdrawn
  json::Object body{{"ok", true}, {"job", submitted.job}, {"state", state_name(job->state)}};
  if (submitted.dedup) body.append("dedup", true);
  mark_pending(body, submitted.job);
  return Reply{std::move(body), 200};
}

Reply SyncService::status(std::uint64_t number) {
  if (!store_.find(number)) return no_such_job(number);
  settle(number);
  const Job* job = store_.find(number);
  if (!job) return no_such_job(number);
  json::Object fields = status_fields(*job);
  mark_pending(fields, number);
  return Reply{std::move(fields), 200};
}

Reply SyncService::log(std::uint64_t number, std::size_t from) {
  if (!store_.find(number)) return no_such_job(number);
  settle(number);
  const Job* job = store_.find(number);
  if (!job) return no_such_job(number);
  json::Object fields = log_fields(*job, from, kMaxLinesPerReply, kMaxLogReplyBytes);
  mark_pending(fields, number);
  return Reply{std::move(fields), 200};
}

Reply SyncService::cancel(std::uint64_t number, std::string_view by) {
  const Job* job = store_.find(number);
  if (!job) return no_such_job(number);
  if (is_final(job->state)) {
    return error("job " + std::to_string(number) + " has already ended (" + state_name(job->state) + ")", 409);
  }
  runner_.cancel(number, by);
  settle(number);
  json::Object body{{"ok", true}, {"job", number}, {"state", state_name(JobState::cancelled)}};
  mark_pending(body, number);
  return Reply{std::move(body), 200};
}

Reply SyncService::types() const {
  json::Array list;
  for (const std::string& type : runner_.type_names()) list.push_back(type);
  return Reply{json::Object{{"ok", true}, {"types", std::move(list)}}, 200};
}

Reply SyncService::jobs(std::size_t limit) {
  // One sync for every listed job, before the list is taken (a failed sync withdraws new jobs).
  if (store_.unsynced() && !store_.failing()) try_sync();
  json::Array list;
  for (const Job* job : store_.newest(limit)) {
    json::Object fields = status_fields(*job);
    fields.erase("ok");
    mark_pending(fields, job->number);
    list.push_back(std::move(fields));
  }
  json::Object body{{"ok", true}, {"jobs", std::move(list)}};
  if (store_.failing()) body.append("storage_error", store_.failure());
  return Reply{std::move(body), 200};
}

Reply SyncService::quit(const Address& peer) {
  if (!is_loopback(peer)) return error("quit is accepted from loopback peers only", 403);
  if (request_quit_) request_quit_();
  return Reply{json::Object{{"ok", true}}, 200};
}

Reply SyncService::execute(std::string_view line, const Address& peer, bool caller_syncs) {
  struct Restore {
    bool& flag;
    bool saved;
    ~Restore() { flag = saved; }
  } restore{caller_syncs_, caller_syncs_};
  caller_syncs_ = caller_syncs;
  const auto w = words(line);
  if (w.empty()) return error("empty command");
  const std::string_view verb = w[0];
  auto job_argument = [&](std::uint64_t& number) -> std::optional<Reply> {
    auto parsed = parse_job_number(w[1]);
    if (!parsed) return error("bad job number " + quoted(w[1]));
    number = *parsed;
    return std::nullopt;
  };
  std::uint64_t number = 0;
  if (verb == "sync") {
    if (w.size() != 3) return error("usage: sync TYPE ID");
    return sync(w[1], w[2]);
  }
  if (verb == "status") {
    if (w.size() != 2) return error("usage: status N");
    if (auto bad = job_argument(number)) return *bad;
    return status(number);
  }
  if (verb == "log") {
    if (w.size() != 2 && w.size() != 3) return error("usage: log N [FROM]");
    if (auto bad = job_argument(number)) return *bad;
    std::size_t from = 0;
    if (w.size() == 3) {
      auto parsed = parse_count(w[2], SIZE_MAX / 2);
      if (!parsed) return error("bad FROM " + quoted(w[2]) + ": a line number, 0 or more");
      from = *parsed;
    }
    return log(number, from);
  }
  if (verb == "cancel") {
    if (w.size() != 2) return error("usage: cancel N");
    if (auto bad = job_argument(number)) return *bad;
    return cancel(number, "the command port, peer " + peer.to_string());
  }
  if (verb == "jobs") {
    if (w.size() > 2) return error("usage: jobs [LIMIT]");
    std::size_t limit = kDefaultJobsLimit;
    if (w.size() == 2) {
      auto parsed = parse_count(w[1], kMaxJobsLimit);
      if (!parsed || *parsed == 0) return error("bad LIMIT " + quoted(w[1]) + ": 1 to " + std::to_string(kMaxJobsLimit));
      limit = *parsed;
    }
    return jobs(limit);
  }
  if (verb == "quit") {
    if (w.size() != 1) return error("usage: quit");
    return quit(peer);
  }
  return error("unknown command " + quoted(verb));
}

bool is_loopback(const Address& peer) {
  if (peer.family() == AF_UNIX) return true;
  const std::string host = peer.host();
  if (peer.family() == AF_INET) return host.starts_with("127.");
  if (peer.family() == AF_INET6) return host == "::1" || host.starts_with("::ffff:127.");
  return false;
}

}  // namespace asyncore::sync

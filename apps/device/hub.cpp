#include "apps/device/hub.h"

#include <chrono>

#include "apps/device/cluster.h"
#include "apps/device/commands.h"
#include "apps/device/session.h"

namespace asyncore::device {

std::string_view to_string(CommandMode mode) {
  switch (mode) {
    case CommandMode::interact: return "interact";
    case CommandMode::send: return "send";
    case CommandMode::queue: return "queue";
  }
  return "?";
}

std::string_view to_string(CommandOutcome outcome) {
  switch (outcome) {
    case CommandOutcome::ok: return "OK";
    case CommandOutcome::timeout: return "TIMEOUT";
    case CommandOutcome::no: return "NO";
    case CommandOutcome::sent: return "SENT";
    case CommandOutcome::queued: return "QUEUED";
    case CommandOutcome::queue_full: return "QUEUE_FULL";
    case CommandOutcome::unavailable: return "UNAVAILABLE";
  }
  return "?";
}

void CommandResult::append_ack(std::string& out) const {
  if (!ack_text.empty()) out += ack_text;
  else json::dump_to(out, ack);
}

std::string queue_full_error(std::size_t cap, Imei imei) {
  return std::to_string(cap) + " commands already queued for device " + imei.str() +
         " (--max-queued-commands); refused until it acks some";
}

DeviceHub::DeviceHub(ChannelMap& map, ServerOptions options, DeviceStore& store, Metrics& metrics)
    : map_(map),
      options_(options),
      store_(store),
      metrics_(metrics),
      scratch_(64 * 1024 + 4096),
      bad_frame_log_(map, LogLevel::warning, "bad frames", options.log_summary_interval),
      login_refused_log_(map, LogLevel::info, "refused logins", options.log_summary_interval),
      login_timeout_log_(map, LogLevel::info, "connections closed without a login", options.log_summary_interval) {
  // Group commits go to a writer thread: the loop keeps serving while the disk syncs.
  store_.write_in_background(map_);
}

DeviceHub::~DeviceHub() {
  sample_sync_.cancel();
  for (auto& [id, waiter] : waiters_) waiter.timer.cancel();
}

double DeviceHub::unix_now() {
  // To the millisecond: finer is noise for a device's events, and a time with three decimals is
  // written into the journal with integer arithmetic (json::append_double), a tenth of the cost.
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  return static_cast<double>(ms.count()) / 1000;
}

void DeviceHub::session_destroyed(DeviceSession& session) {
  --connections_;
  if (!session.logged_in()) return;
  DeviceRecord* record = store_.find(session.imei());
  if (record && record->session == &session) {
    // Only reachable when the loop tore the connection down without a close callback.
    record->session = nullptr;
    --online_;
    if (cluster_) cluster_->offline(session.imei());
    if (!shutting_down_) {
      try {
        record_event(session.imei(), *record, Event::offline(unix_now(), OfflineReason::closed));
      } catch (const std::exception& e) {
        log_error(std::string("device hub: cannot record offline: ") + e.what());
      }
    }
  }
}

void DeviceHub::go_online(DeviceSession& session, Imei imei, DeviceRecord& record, int heartbeat) {
  if (DeviceSession* older = record.session; older && older != &session) {
    // Newest wins: point the record at the new connection first, so the old one's close
    // cannot mark the device offline.
    record.session = nullptr;
    --online_;
    metrics_.count_takeover();
    older->log_info("device " + imei.str() + " logged in again from " + session.addr.to_string() + "; closing this older connection");
    older->end(OfflineReason::takeover);
  }
  record.session = &session;
  record.peer = session.addr.to_string();
  ++online_;
  metrics_.count_login();
  const Event online = Event::online(unix_now(), heartbeat);
  if (!cluster_) return record_event(imei, record, online);
  // --redis: the online event goes to Redis in the presence claim's script (one per login).
  store_.record_event(imei, record, online);
  schedule_commit();
  cluster_->online(imei, online, record);
}

std::string_view DeviceHub::node_id() const { return cluster_ ? std::string_view(cluster_->node_id()) : std::string_view(); }

void DeviceHub::close_all(OfflineReason reason) {
  std::vector<std::shared_ptr<Dispatcher>> sessions;
  for (auto& [imei, record] : store_.devices()) {
    if (record.session) sessions.push_back(record.session->shared_from_this());
  }
  for (auto& session : sessions) static_cast<DeviceSession&>(*session).end(reason);
}

void DeviceHub::taken_over_elsewhere(Imei imei) {
  DeviceRecord* record = store_.find(imei);
  if (!record || !record->session) return;
  DeviceSession* older = record->session;
  // As a takeover here: the record lets go first, so the close records nothing.
  record->session = nullptr;
  --online_;
  metrics_.count_takeover();
  older->log_info("device " + imei.str() + " logged in on another node; closing this connection");
  older->end(OfflineReason::takeover);
}

void DeviceHub::go_offline(DeviceSession& session, OfflineReason reason) {
  if (!session.logged_in()) return;
  DeviceRecord* record = store_.find(session.imei());
  if (!record || record->session != &session) return;
  record->session = nullptr;
  --online_;
  metrics_.count_offline(to_string(reason));
  if (cluster_) cluster_->offline(session.imei());
  if (!shutting_down_ || reason == OfflineReason::shutdown) {
    record_event(session.imei(), *record, Event::offline(unix_now(), reason));
  }
}

void DeviceHub::record_event(Imei imei, DeviceRecord& record, const Event& event) {
  store_.record_event(imei, record, event);
  if (cluster_) cluster_->store().record_event(imei, event, record);
  schedule_commit();
}

void DeviceHub::record_sample(Imei imei, DeviceRecord& record, const Event& event) {
  store_.record_event(imei, record, event);
  if (cluster_) cluster_->store().record_event(imei, event, record);
  if (sample_sync_.active() || shutting_down_) return;
  sample_sync_ = map_.call_later(options_.battery_sync_interval, [this] {
    if (store_.unsynced()) schedule_commit();
  });
}

void DeviceHub::hold_until_durable(DeviceSession& session) {
  held_.push_back(session.weak_from_this());
  schedule_commit();
}

void DeviceHub::schedule_commit() {
  if (commit_scheduled_ || shutting_down_) return;
  commit_scheduled_ = true;
  // Group commit: everything appended while handling one pass's events shares one fsync, asked
  // for just before the loop next waits (no timer per pass). The hook is there only while a
  // commit is owed: a pass with nothing to commit (heartbeats) takes no before-wait phase.
  commit_hook_ = map_.before_wait([this] { commit(); });
}

void DeviceHub::commit() {
  commit_scheduled_ = false;
  commit_hook_.reset();  // a hook may drop itself while it runs
  if (store_.committing()) {
    // The disk is still busy with the last batch: this pass's records wait for it and then go
    // together (committed() schedules the next commit).
    commit_waiting_ = true;
    return;
  }
  std::vector<std::weak_ptr<Dispatcher>> held;
  held.swap(held_);
  if (cluster_ && cluster_->redis_ready()) {
    // The replies also wait for Redis to acknowledge the events written so far (its replies
    // come in order: one PING after them is enough). Redis away: the journal alone, as the
    // devices must still be served (README, Running several nodes).
    struct Both {
      int left = 2;
      std::exception_ptr error;
      std::vector<std::weak_ptr<Dispatcher>> held;
    };
    auto both = std::make_shared<Both>();
    both->held = std::move(held);
    auto one_done = [this, both](std::exception_ptr error) {
      if (error) both->error = error;
      if (--both->left == 0) committed(both->held, both->error);
    };
    cluster_->store().barrier([one_done](bool) { one_done(nullptr); });
    return store_.commit(one_done);
  }
  store_.commit([this, held = std::move(held)](std::exception_ptr error) { committed(held, error); });
}

void DeviceHub::committed(const std::vector<std::weak_ptr<Dispatcher>>& held, std::exception_ptr error) {
  if (error) {
    // Not durable, so not acknowledged: drop those connections; their devices will retry.
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      log_error(std::string("device hub: journal sync failed: ") + e.what());
    }
    for (auto& weak : held) {
      if (auto session = std::static_pointer_cast<DeviceSession>(weak.lock())) session->end(OfflineReason::error);
    }
  } else {
    for (auto& weak : held) {
      if (auto session = std::static_pointer_cast<DeviceSession>(weak.lock())) session->release_held();
    }
    try {
      store_.compact_if_due();
    } catch (const std::exception& e) {
      log_error(std::string("device hub: journal compaction failed: ") + e.what());
    }
  }
  if (std::exchange(commit_waiting_, false)) schedule_commit();
}

std::uint64_t DeviceHub::add_waiter(CommandMode mode, double timeout, CommandCallback done) {
  const std::uint64_t id = next_waiter_++;
  auto at = waiters_.end();
  if (spare_waiter_.empty()) {
    at = waiters_.try_emplace(id).first;
  } else {
    spare_waiter_.key() = id;
    at = waiters_.insert(std::move(spare_waiter_)).position;
  }
  Waiter& waiter = at->second;
  waiter.done = std::move(done);
  waiter.mode = mode;
  waiter.queue_id = 0;  // a reused entry comes with its last command's
  // [this, id] fits inside the std::function (16 trivially copyable bytes): no allocation.
  waiter.timer = map_.call_later(timeout, [this, id] {
    const auto it = waiters_.find(id);
    if (it == waiters_.end()) return;
    finish(id, {it->second.mode == CommandMode::queue ? CommandOutcome::queued : CommandOutcome::timeout, {}, {}});
  });
  return id;
}

void DeviceHub::finish(std::uint64_t id, CommandResult result) {
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return;
  auto node = waiters_.extract(it);
  node.mapped().timer.cancel();
  // Not left behind when never delivered.
  if (node.mapped().queue_id) queued_waiters_.erase(node.mapped().queue_id);
  const CommandMode mode = node.mapped().mode;
  CommandCallback done = std::move(node.mapped().done);
  spare_waiter_ = std::move(node);  // before the callback, which may start another command
  metrics_.count_command(to_string(mode), to_string(result.outcome));
  done(std::move(result));
}

void DeviceHub::command(Imei imei, const Command& command, CommandMode mode, double timeout, CommandCallback done) {
  if (cluster_) {
    // The queue is in Redis, whichever node holds the device.
    if (mode == CommandMode::queue) return cluster_->queue(imei, command, timeout, std::move(done));
    const DeviceRecord* record = store_.find(imei);
    if (!record || !record->session) return cluster_->route(imei, command, mode, timeout, std::move(done));
  }
  command_here(imei, command, mode, timeout, std::move(done));
}

void DeviceHub::command_here(Imei imei, const Command& command, CommandMode mode, double timeout,
                             CommandCallback done) {
  DeviceRecord* record = store_.find(imei);
  DeviceSession* session = record ? record->session : nullptr;
  auto answer = [&](CommandOutcome outcome) {
    metrics_.count_command(to_string(mode), to_string(outcome));
    done({outcome, {}, {}});
  };
  PendingCommand pending{0, 0, static_cast<std::uint16_t>(command.type), 0, 0};
  if (command.type == set_heartbeat) pending.heartbeat = static_cast<std::uint16_t>(clamp_heartbeat(command.interval));
  if (mode == CommandMode::queue) {
    if (!record || !record->known()) return answer(CommandOutcome::no);
    // A device that never comes back must not make the queue (memory, journal, snapshot) grow
    // without bound: past the cap the admin gets a clear refusal instead of a promise.
    if (const std::size_t cap = options_.max_queued_per_device; store_.queued(imei).size() >= cap) {
      metrics_.count_command(to_string(mode), to_string(CommandOutcome::queue_full));
      return done({CommandOutcome::queue_full, {}, queue_full_error(cap, imei)});
    }
    // Stored and synced before anything is sent or answered: QUEUED is a promise.
    pending.queue_id = store_.enqueue(imei, command_text(command), unix_now());
    store_.sync();
    if (!session) return answer(CommandOutcome::queued);
  }
  if (!session) return answer(CommandOutcome::no);
  if (mode == CommandMode::send) {
    session->send_command(command, pending);
    return answer(CommandOutcome::sent);
  }
  pending.waiter = add_waiter(mode, timeout, std::move(done));
  if (mode == CommandMode::queue) {
    // Sent in its turn, behind older queued ones, when the session can track it.
    queued_waiters_[pending.queue_id] = pending.waiter;
    waiters_[pending.waiter].queue_id = pending.queue_id;
    return deliver_queued(*session);
  }
  session->send_command(command, pending);
}

void DeviceHub::ack_received(DeviceSession& session, const PendingCommand& pending, CommandAck ack) {
  if (pending.queue_id) {
    if (cluster_) cluster_->store().complete(session.imei(), pending.queue_id);
    else store_.complete(session.imei(), pending.queue_id);
    schedule_commit();
    deliver_queued(session);  // its slot is free for the next one
  }
  if (ack.accepted && pending.type == set_heartbeat && pending.heartbeat) {
    session.set_heartbeat(pending.heartbeat);
    if (DeviceRecord* record = store_.find(session.imei())) record->heartbeat = pending.heartbeat;
  }
  if (pending.waiter && waiters_.count(pending.waiter)) {
    finish(pending.waiter, {CommandOutcome::ok, std::move(ack.body), {}, ack.text});
  } else if (pending.waiter) {
    metrics_.count_dropped_ack();  // its caller already gave up
  } else if (!pending.queue_id) {
    metrics_.count_sent_ack();  // a `send`: nobody waits, yet its ack is expected, not dropped
  }
}

const std::vector<QueuedCommand>& DeviceHub::queued(Imei imei) const {
  return cluster_ ? cluster_->store().queued(imei) : store_.queued(imei);
}

void DeviceHub::deliver_stored(Imei imei, std::uint64_t id, double timeout, CommandCallback done) {
  const std::uint64_t waiter = add_waiter(CommandMode::queue, timeout, std::move(done));
  queued_waiters_[id] = waiter;
  waiters_[waiter].queue_id = id;
  const DeviceRecord* record = store_.find(imei);
  if (record && record->session) deliver_queued(*record->session);
}

void DeviceHub::deliver_queued(DeviceSession& session) {
  // --redis: not before the stored ones are read, so they go out oldest first.
  if (cluster_ && !cluster_->store().queue_loaded(session.imei())) return;
  // Oldest first; each stays stored until its ack, and only as many are in flight as the
  // session can track (the rest follow as acks come).
  for (const QueuedCommand& queued : queued(session.imei())) {
    if (!session.room_for_queued()) break;
    if (session.in_flight(queued.id)) continue;
    json::ParseResult parsed = json::try_parse(queued.command);
    const std::optional<Command> command = parsed ? command_from_json(*parsed.value) : std::nullopt;
    if (!command) continue;
    PendingCommand pending{0, queued.id, static_cast<std::uint16_t>(command->type), 0, 0};
    if (pending.type == set_heartbeat) pending.heartbeat = static_cast<std::uint16_t>(command->interval);
    if (auto waiter = queued_waiters_.find(queued.id); waiter != queued_waiters_.end()) {
      if (waiters_.count(waiter->second)) pending.waiter = waiter->second;
      queued_waiters_.erase(waiter);
    }
    session.send_command(*command, pending);
  }
}

void DeviceHub::shutdown() {
  if (shutting_down_) return;
  const double now = unix_now();
  std::vector<std::shared_ptr<Dispatcher>> sessions;
  for (auto& [imei, record] : store_.devices()) {
    if (!record.session) continue;
    sessions.push_back(record.session->shared_from_this());
    store_.record_event(imei, record, Event::offline(now, OfflineReason::shutdown));
    metrics_.count_offline(to_string(OfflineReason::shutdown));
    if (cluster_) cluster_->offline(imei);
    record.session = nullptr;
  }
  online_ = 0;
  shutting_down_ = true;
  for (auto& [id, waiter] : waiters_) waiter.timer.cancel();
  waiters_.clear();
  sample_sync_.cancel();  // the sync below covers the samples  // their HTTP connections close with the admin server
  bool synced = true;
  try {
    store_.sync();
  } catch (const std::exception& e) {
    // Shut down all the same: throwing here left SIGTERM's handler before map.stop(), so the
    // server never exited. Nothing unsynced was acknowledged; the journal retries on close.
    synced = false;
    log_error(std::string("device hub: journal sync at shutdown failed: ") + e.what());
  }
  for (auto& session : sessions) session->close();
  for (RateLimitedLog* limited : {&bad_frame_log_, &login_refused_log_, &login_timeout_log_}) limited->flush();
  log_info("device hub: " + std::to_string(sessions.size()) + " devices recorded offline; journal " +
           (synced ? "synced" : "NOT synced"));
}

Gauges DeviceHub::gauges() const {
  Gauges g;
  g.online = online_;
  g.known = store_.known_count();
  g.connections = connections_;
  g.queued_commands = store_.queued_total() + (cluster_ ? cluster_->store().cached_total() : 0);
  g.pending_interactions = waiters_.size();
  g.journal_records = store_.records_since_compaction();
  g.compactions = store_.compactions();
  g.auto_registered = store_.auto_registered_count();
  g.log_lines_suppressed = bad_frame_log_.suppressed_total() + login_refused_log_.suppressed_total() +
                           login_timeout_log_.suppressed_total();
  if (cluster_) g.cluster = cluster_->gauges();
  return g;
}

}  // namespace asyncore::device

#include <asyncore/channel_map.h>

#include <signal.h>

#include <cmath>
#include <system_error>

#include "core/backend.h"
#include "core/backend_epoll.h"
#include "core/signals.h"
#include "core/waker.h"

namespace asyncore {

ChannelMap& socket_map() {
  static ChannelMap map;
  return map;
}

ChannelMap::ChannelMap() {
  // As in CPython: a peer that goes away must cost an EPIPE, not the process.
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
  waker_ = std::make_unique<Waker>(*this);
}

ChannelMap::~ChannelMap() {
  close_all();
  signals_.reset();
  waker_.reset();
}

Dispatcher* ChannelMap::find(int fd) const {
  if (fd < 0 || static_cast<size_t>(fd) >= slots_.size()) return nullptr;
  const Slot& slot = slots_[static_cast<size_t>(fd)];
  return slot.internal ? nullptr : slot.dispatcher;
}

std::vector<Dispatcher*> ChannelMap::channels() const {
  std::vector<Dispatcher*> out;
  for (const Slot& slot : slots_) {
    if (slot.dispatcher && !slot.internal) out.push_back(slot.dispatcher);
  }
  return out;
}

void ChannelMap::close_all() {
  // Hold every owner while closing, so destructors run only after every close() returned.
  std::vector<std::shared_ptr<Dispatcher>> keep;
  for (Dispatcher* d : channels()) {
    if (Slot& slot = slots_[static_cast<size_t>(d->fileno())]; slot.owner) keep.push_back(slot.owner);
    d->close();
  }
  keep.clear();
  // From inside a callback (a handler calling close_all), the dispatchers just closed, maybe
  // including the caller, must outlive the pass: poll_once releases them at its end.
  if (depth_ == 0) release_closed();
}

void ChannelMap::release_closed() {
  // A destructor may close another map-owned channel, which appends to closed_ while we are
  // releasing it: take batches until nothing is left.
  while (!closed_.empty()) {
    std::vector<std::shared_ptr<Dispatcher>> batch;
    batch.swap(closed_);
    batch.clear();
  }
  pass_work_ &= ~kClosedWork;
}

void ChannelMap::add_channel(Dispatcher& d) {
  size_t fd = static_cast<size_t>(d.fileno());
  // Only the slots in use are constructed (so resident); the vector's spare capacity stays
  // untouched, where doubling the size would make up to twice the held slots resident.
  if (fd >= slots_.size()) slots_.resize(fd + 1);
  Slot& slot = slots_[fd];
  if (slot.dispatcher && slot.dispatcher != &d) {
    throw std::logic_error("add_channel: fd " + std::to_string(fd) + " is already in the map");
  }
  slot.dispatcher = &d;
  slot.owner = d.weak_from_this().lock();
  slot.generation = live_generation(slot.generation);
  slot.interest = 0;
  slot.internal = false;
  slot.flush_wanted = false;
  ++channel_count_;
  push_dirty(static_cast<int>(fd));  // even when it reuses the fd being dispatched
}

void ChannelMap::add_internal_channel(Dispatcher& d) {
  add_channel(d);
  slots_[static_cast<size_t>(d.fileno())].internal = true;
  --channel_count_;
}

void ChannelMap::adopt(const std::shared_ptr<Dispatcher>& d) {
  int fd = d->fileno();
  if (fd >= 0 && static_cast<size_t>(fd) < slots_.size() && slots_[static_cast<size_t>(fd)].dispatcher == d.get()) {
    slots_[static_cast<size_t>(fd)].owner = d;
  }
}

void ChannelMap::del_channel(Dispatcher& d) {
  int fd = d.fileno();
  if (fd < 0 || static_cast<size_t>(fd) >= slots_.size()) return;
  Slot& slot = slots_[static_cast<size_t>(fd)];
  if (slot.dispatcher != &d) return;
  if (backend_ && slot.interest) {
    try {
      backend_->update(fd, slot.generation, slot.interest, 0);
    } catch (const std::exception& e) {
      log_error(std::string("del_channel: ") + e.what());
    }
  }
  if (!slot.internal) --channel_count_;
  slot.dispatcher = nullptr;
  slot.interest = 0;
  slot.dirty = false;
  slot.internal = false;
  slot.flush_wanted = false;  // its entry in flushes_ is stale by generation
  slot.generation = free_generation(slot.generation);  // events already collected for this fd are now stale
  // The map's reference dies after the pass, never inside one of the dispatcher's callbacks.
  if (slot.owner) {
    closed_.push_back(std::move(slot.owner));
    pass_work_ |= kClosedWork;
  }
}

void ChannelMap::use_backend(BackendKind kind) {
  if (backend_ && backend_kind_ == kind) return;
  if (depth_ > 0) throw std::logic_error("use_backend: cannot switch backends from inside a callback");
  backend_kind_ = kind;
  top_ready_ = {}, nested_ready_.clear();  // they point into the old backend's buffers
  epoll_ = nullptr;
  backend_.reset();
  ensure_backend();
}

void ChannelMap::ensure_backend() {
  if (backend_) return;
  backend_ = make_backend(backend_kind_);
  epoll_ = backend_kind_ == BackendKind::epoll ? static_cast<EpollBackend*>(backend_.get()) : nullptr;
  for (size_t fd = 0; fd < slots_.size(); ++fd) {
    if (slots_[fd].dispatcher) {
      slots_[fd].interest = 0;
      mark_dirty(static_cast<int>(fd));
    }
  }
}

void ChannelMap::apply_interest_changes() {
  // Only dispatchers that did something since the last pass are asked again: idle ones cost
  // nothing. The list may grow while we walk it (a handle_error closing another channel).
  for (size_t i = 0; i < dirty_.size(); ++i) {
    int fd = dirty_[i];
    Slot& slot = slots_[static_cast<size_t>(fd)];
    if (!slot.dirty) continue;
    slot.dirty = false;
    Dispatcher* d = slot.dispatcher;
    if (!d) continue;
    // Enrolled here, not in add_channel: a subclass's constructor chooses its mode after the
    // base registered the socket.
    if (d->interest_ == Dispatcher::Interest::polled) {
      if (!slot.polled) slot.polled = true, polled_.push_back(fd);
      continue;  // ask_polled asks it next, once: asyncore asks once per pass
    }
    refresh_interest(fd, *d);
  }
  dirty_.clear();
}

// asyncore's rule for plain dispatchers: readable()/writable() asked before every wait. Entries
// whose dispatcher closed or declared its interest since are dropped as they are met.
void ChannelMap::ask_polled() {
  for (size_t i = 0; i < polled_.size();) {
    const int fd = polled_[i];
    Slot& slot = slots_[static_cast<size_t>(fd)];
    Dispatcher* d = slot.dispatcher;
    if (!d || d->interest_ != Dispatcher::Interest::polled) {
      slot.polled = false;
      polled_[i] = polled_.back();
      polled_.pop_back();
      continue;
    }
    ++i;
    refresh_interest(fd, *d);  // user code: may open or close channels (slots_ may move)
  }
}

void ChannelMap::request_flush(int fd) {
  Slot& slot = slots_[static_cast<size_t>(fd)];
  if (slot.flush_wanted) return;
  slot.flush_wanted = true;
  flushes_.emplace_back(fd, slot.generation);
  pass_work_ |= kPrepareWork;
}

BeforeWaitHook ChannelMap::before_wait(std::function<void()> callback) {
  const uint64_t id = next_hook_id_++;
  hooks_.push_back({id, std::move(callback)});
  pass_work_ |= kPrepareWork;
  return BeforeWaitHook(this, id);
}

void BeforeWaitHook::reset() {
  if (map_) std::exchange(map_, nullptr)->remove_hook(id_);
}

void ChannelMap::remove_hook(uint64_t id) {
  for (Hook& hook : hooks_) {
    if (hook.id != id) continue;
    // A hook may drop its own handle (or another's) while the hooks run: its function must
    // live until it returns, so it is only marked here and erased after the walk.
    if (hooks_running_) hook.id = 0;
    else std::erase_if(hooks_, [id](const Hook& h) { return h.id == id; });
    return;
  }
}

// The hooks, then the corked dispatchers' flushes: each runs once per pass, before interest is
// applied, so what they send is waited on in this very pass.
void ChannelMap::before_wait_phase() {
  if (!hooks_.empty() && !hooks_running_) {  // a nested pass run by a hook does not run them again
    hooks_running_ = true;
    const size_t count = hooks_.size();  // hooks added meanwhile run from the next pass
    for (size_t i = 0; i < count; ++i) {
      if (hooks_[i].id == 0) continue;
      try {
        hooks_[i].callback();
      } catch (const std::exception& e) {
        log_error(type_name(typeid(e)) + ": " + e.what() + " in a before-wait hook");
      } catch (...) {
        log_error("unknown exception in a before-wait hook");
      }
    }
    hooks_running_ = false;
    std::erase_if(hooks_, [](const Hook& h) { return h.id == 0; });
  }
  while (!flushes_.empty()) {  // a flush may cork another channel: it is flushed in this pass too
    std::vector<std::pair<int, uint32_t>> batch;
    batch.swap(flushes_);
    for (auto [fd, generation] : batch) {
      Slot& slot = slots_[static_cast<size_t>(fd)];
      if (slot.generation != generation || !slot.dispatcher) continue;
      slot.flush_wanted = false;
      Dispatcher& d = *slot.dispatcher;
      try {
        d.handle_flush();
      } catch (const std::exception& e) {
        if (still_same(d, fd, generation)) report_error(d, e);
      } catch (...) {
        if (still_same(d, fd, generation)) report_error(d, std::runtime_error("unknown exception"));
      }
    }
  }
}

// handle_error() is user code too: if it throws, the channel is closed without further ado.
void ChannelMap::report_error(Dispatcher& d, const std::exception& error) {
  try {
    d.handle_error(error);
  } catch (const std::exception& again) {
    log_error(type_name(typeid(again)) + ": " + again.what() + " in handle_error of " + d.describe());
    d.close();
  } catch (...) {
    // Whatever it threw, it must not escape the pass (and take the loop with it).
    log_error("unknown exception in handle_error of " + d.describe());
    d.close();
  }
}

bool ChannelMap::still_same(const Dispatcher& d, int fd, uint32_t generation) const {
  const Slot& slot = slots_[static_cast<size_t>(fd)];
  return slot.dispatcher == &d && slot.generation == generation;
}

// Inlined into poll_once: it runs once per event, and a call per event costs a tenth of a message.
// The event is taken by value: a nested pass reuses the buffer it came from.
[[gnu::always_inline]] inline void ChannelMap::dispatch(ReadyEvent event) {
  const int fd = ready_fd(event);
  const uint32_t generation = ready_generation(event);
  const uint32_t e = event.events;
  // The fd was registered here (a blanked event keeps its fd), and slots_ never shrinks.
  const Slot& slot = slots_[static_cast<size_t>(fd)];
  // Closed earlier in this pass, a new dispatcher reusing the fd number, or blanked by a nested
  // pass (generation 0): not this event's. A matching generation is a live one, so d is set.
  if (slot.generation != generation) return;
  Dispatcher* d = slot.dispatcher;
  // A rechecked dispatcher's plain read needs handle_read() and nothing else: it re-checks
  // itself, so its recheck() calls must reach the dirty list (dispatching_fd_ is left alone).
  const bool plain_read = e == kEventRead && d->interest_ == Dispatcher::Interest::rechecked && d->connected && !d->accepting;
  if (!plain_read) dispatching_fd_ = fd;
  bool rechecking = false;  // an exception from the re-check itself is not followed by another
  try {
    if (plain_read) [[likely]] {
      d->handle_read();
      return;
    }
    if (e & kEventRead) d->handle_read_event();
    if (e & ~kEventRead) [[unlikely]] {  // writability, priority data, hangup, errors
      if ((e & kEventWrite) && still_same(*d, fd, generation)) d->handle_write_event();
      if ((e & kEventPriority) && still_same(*d, fd, generation)) d->handle_expt_event();
      // A hangup that comes with readable data (both directions shut: the peer's FIN after our
      // shutdown_write) is not the end yet: the bytes still buffered are read in the next passes
      // until recv() finds end of stream and calls handle_eof(). Closing here would drop them.
      const bool hangup = (e & kEventHangup) && !((e & kEventRead) && !d->eof_);
      if ((hangup || (e & (kEventError | kEventInvalid))) && still_same(*d, fd, generation)) d->handle_close();
    }
    // Having handled an event, the dispatcher is asked again at once, inside the same try (its
    // readable()/writable() are user code as well): cheaper than a trip through the dirty list,
    // which its own send() calls skipped while it was being dispatched.
    dispatching_fd_ = -1;
    rechecking = true;
    if (still_same(*d, fd, generation)) {
      const uint32_t want = wanted_interest(*d);
      Slot& slot = slots_[static_cast<size_t>(fd)];  // readable() may have opened channels
      if (slot.dispatcher == d) {
        slot.dirty = false;
        if (want != slot.interest) [[unlikely]] set_interest(fd, slot, want);
      }
    }
    return;
  } catch (const std::system_error& error) {
    dispatching_fd_ = -1;
    if (!still_same(*d, fd, generation)) return;
    if (error.code().category() == std::generic_category() && is_disconnect_error(error.code().value())) {
      try {
        d->handle_close();
      } catch (const std::exception& again) {
        report_error(*d, again);
      }
    } else {
      report_error(*d, error);
    }
  } catch (const std::exception& error) {
    dispatching_fd_ = -1;
    if (still_same(*d, fd, generation)) report_error(*d, error);
  } catch (...) {
    dispatching_fd_ = -1;
    if (still_same(*d, fd, generation)) report_error(*d, std::runtime_error("unknown exception"));
  }
  if (!rechecking && still_same(*d, fd, generation)) refresh_interest(fd, *d);
}

void ChannelMap::set_interest(int fd, Slot& slot, uint32_t want) {
  backend_->update(fd, slot.generation, slot.interest, want);
  slot.interest = static_cast<uint8_t>(want);
}

void ChannelMap::refresh_interest(int fd, Dispatcher& d) {
  try {
    uint32_t want = wanted_interest(d);
    // readable()/writable() are user code: they may have opened channels (so slots_ may have
    // moved) or closed this one.
    Slot& slot = slots_[static_cast<size_t>(fd)];
    if (slot.dispatcher != &d) return;
    slot.dirty = false;
    if (want != slot.interest) set_interest(fd, slot, want);
  } catch (const std::exception& e) {
    report_error(d, e);
  } catch (...) {
    report_error(d, std::runtime_error("unknown exception"));
  }
}

namespace {
// Marks the part of a pass that runs user callbacks (nested passes count again): channels
// closed meanwhile are released only by the outermost pass, never under a running callback;
// and a nested pass waits into a buffer of its own depth.
struct DepthGuard {
  int& depth;
  const int outer;  // restored, not decremented: two stores on the hot path, no read-modify-write
  explicit DepthGuard(int& d) : DepthGuard(d, d) {}
  DepthGuard(int& d, int known_outer) : depth(d), outer(known_outer) { depth = outer + 1; }
  ~DepthGuard() { depth = outer; }
};
}  // namespace

size_t ChannelMap::poll_once(double timeout) {
  ensure_backend();
  return pass<false>(timeout);
}

void ChannelMap::prepare_wait() {
  DepthGuard guard(depth_);  // hooks, flushes, readable()/writable() are callbacks too
  if (!hooks_.empty() || !flushes_.empty()) before_wait_phase();
  if (!dirty_.empty()) apply_interest_changes();
  if (!polled_.empty()) ask_polled();
  const bool more = !hooks_.empty() || !polled_.empty() || !dirty_.empty() || !flushes_.empty();
  pass_work_ = more ? pass_work_ | kPrepareWork : pass_work_ & ~kPrepareWork;
}

// Phases 5 and 6: timers due now (callbacks: one level deeper), then, in the outermost pass, the
// channels closed meanwhile. Inline: a server with timers takes it on every pass.
[[gnu::always_inline]] inline void ChannelMap::after_events() {
  if (pass_work_ & kTimerWork) {
    DepthGuard guard(depth_);
    run_timers();
  }
  if ((pass_work_ & kClosedWork) && depth_ == 0) release_closed();
}

template <bool kNoLimit, bool kTopEpoll>
size_t ChannelMap::pass(double timeout) {
  // The backend exists (poll_once, loop and run make it; none is replaced inside a callback).
  // No work before the wait and no limit (run()): no clock needed. A stop() wakes the wait
  // through the waker, so it need not be looked at here.
  timespec wait;
  const timespec* wait_ptr = nullptr;
  if (pass_work_ || (!kNoLimit && timeout >= 0)) [[unlikely]] wait_ptr = before_wait(timeout, wait);
  // depth_ is 0 here but in a nested pass (called from a handler, a timer or a hook).
  const int level = kTopEpoll ? 0 : depth_;
  std::span<ReadyEvent> ready = kTopEpoll || (epoll_ && !level) ? epoll_->wait_top(wait_ptr)
                                                                 : backend_->wait(wait_ptr, static_cast<size_t>(level));
  if (level) [[unlikely]] enter_nested_pass(ready, static_cast<size_t>(level));
  else top_ready_ = ready;
  {
    DepthGuard guard(depth_, level);
    for (const ReadyEvent& event : ready) dispatch(event);  // read one by one: a nested pass may blank some
  }
  if (pass_work_ & (kTimerWork | kClosedWork)) [[unlikely]] after_events();
  return ready.size();
}

// Phases 1-2 when there is work for them, then how long to wait: after the hooks, which may add
// timers.
const timespec* ChannelMap::before_wait(double timeout, timespec& wait) {
  if (pass_work_ & kPrepareWork) prepare_wait();
  if ((pass_work_ & kTimerWork) && timers_.empty()) pass_work_ &= ~kTimerWork;
  return timeout < 0 && !(pass_work_ & kTimerWork) ? nullptr : wait_time(timeout, wait);
}

// The nested pass handles the fds its wait reported, with fresher readiness: the outer passes'
// events for them are blanked, so no readiness is handled twice. (Those already handled are
// blanked too, harmlessly.)
void ChannelMap::enter_nested_pass(std::span<ReadyEvent> inner, size_t level) {
  if (nested_ready_.size() < level) nested_ready_.resize(level);
  nested_ready_[level - 1] = inner;
  std::vector<bool> reported(slots_.size());
  for (const ReadyEvent& e : inner) {
    if (static_cast<size_t>(ready_fd(e)) < reported.size()) reported[static_cast<size_t>(ready_fd(e))] = true;
  }
  auto blank = [&](std::span<ReadyEvent> outer) {
    for (ReadyEvent& e : outer) {
      const size_t fd = static_cast<size_t>(ready_fd(e));
      if (fd < reported.size() && reported[fd]) e = ready_event(static_cast<int>(fd), kNoGeneration, 0);
    }
  };
  blank(top_ready_);
  for (size_t i = 0; i + 1 < level; ++i) blank(nested_ready_[i]);
}

// How long the next wait may last: `timeout` seconds (negative: no limit), less if a timer is due
// sooner, nothing at all once stop() was called. Fills `wait`; nullptr means no limit.
const timespec* ChannelMap::wait_time(double timeout, timespec& wait) const {
  const timespec* wait_ptr = nullptr;
  if (timeout >= 0) {
    wait.tv_sec = static_cast<time_t>(timeout);
    wait.tv_nsec = static_cast<long>((timeout - static_cast<double>(wait.tv_sec)) * 1e9);
    wait_ptr = &wait;
  }
  if (!timers_.empty()) {
    auto next = timers_.next_deadline();
    auto left = std::max(Clock::duration::zero(), *next - Clock::now());
    auto left_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    if (!wait_ptr || left_ns < wait.tv_sec * 1000000000LL + wait.tv_nsec) {
      wait.tv_sec = static_cast<time_t>(left_ns / 1000000000LL);
      wait.tv_nsec = static_cast<long>(left_ns % 1000000000LL);
      wait_ptr = &wait;
    }
  }
  if (stop_requested_) wait = {0, 0}, wait_ptr = &wait;
  return wait_ptr;
}

void ChannelMap::run_timers() {
  if (timers_.empty()) {
    pass_work_ &= ~kTimerWork;
    return;
  }
  timers_.run_due(Clock::now(), [](const std::exception& e) {
    log_error(type_name(typeid(e)) + ": " + e.what() + " in a timer callback");
  });
}

bool ChannelMap::alive() const { return channel_count_ > 0 || !timers_.empty(); }

// A stop() that arrives before loop()/run() begins (from another thread, say) is not dropped:
// the loop returns at once and consumes it, as asyncio's run_forever does.
// asyncore: `while map and count > 0`: a count of 0 or less makes no pass at all.
void ChannelMap::loop(double timeout, std::optional<long> count) {
  ensure_backend();
  while (!stop_requested_ && alive() && (!count || *count > 0)) {
    pass<false>(timeout);
    if (count) --*count;
  }
  stop_requested_ = false;
}

void ChannelMap::run() {
  ensure_backend();
  // The backend and the depth stay as they are for the whole run: on epoll at depth 0, each pass
  // waits with epoll's inline wait and tests no depth.
  if (epoll_ && depth_ == 0) {
    while (!stop_requested_) pass<true, true>(-1);
  } else {
    while (!stop_requested_) pass<true>(-1);
  }
  stop_requested_ = false;
}

void ChannelMap::stop() {
  stop_requested_ = true;
  waker_->wake();
}

TimerHandle ChannelMap::call_later(double delay_seconds, std::function<void()> callback) {
  if (!(delay_seconds >= 0)) delay_seconds = 0;  // also catches NaN
  pass_work_ |= kTimerWork;
  return timers_.schedule(Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay_seconds)),
                          std::move(callback));
}

TimerHandle ChannelMap::call_soon(std::function<void()> callback) { return call_later(0, std::move(callback)); }

void ChannelMap::call_soon_threadsafe(std::function<void()> callback) {
  {
    std::lock_guard lock(pending_mutex_);
    pending_.push_back(std::move(callback));
  }
  waker_->wake();
}

void ChannelMap::run_pending() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(pending_mutex_);
    batch.swap(pending_);
  }
  for (auto& callback : batch) {
    try {
      callback();
    } catch (const std::exception& e) {
      log_error(type_name(typeid(e)) + ": " + e.what() + " in a call_soon_threadsafe callback");
    } catch (...) {
      // Escaping here would reach the waker's handle_error, which closes the waker.
      log_error("unknown exception in a call_soon_threadsafe callback");
    }
  }
}

void ChannelMap::add_signal_handler(int signo, std::function<void()> callback) {
  if (!signals_) signals_ = std::make_unique<SignalPipe>(*this);
  signals_->add(signo, std::move(callback));
}

void ChannelMap::remove_signal_handler(int signo) {
  if (signals_) signals_->remove(signo);
}

void loop(double timeout, BackendKind backend, ChannelMap* map, std::optional<long> count) {
  ChannelMap& m = map ? *map : socket_map();
  m.use_backend(backend);
  m.loop(timeout, count);
}

void close_all(ChannelMap* map) { (map ? *map : socket_map()).close_all(); }

TimerHandle call_later(double delay_seconds, std::function<void()> callback, ChannelMap* map) {
  return (map ? *map : socket_map()).call_later(delay_seconds, std::move(callback));
}

TimerHandle call_soon(std::function<void()> callback, ChannelMap* map) {
  return (map ? *map : socket_map()).call_soon(std::move(callback));
}

}  // namespace asyncore

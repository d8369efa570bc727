// ChannelMap: the set of dispatchers one loop serves, and the loop itself: backend, timers,
// cross-thread wake-up and signals. asyncore's socket_map is the default instance; programs
// that want several independent loops make their own.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include <asyncore/backend_kind.h>
#include <asyncore/dispatcher.h>
#include <asyncore/timer_queue.h>

namespace asyncore {

class Backend;
class EpollBackend;
struct ReadyEvent;  // the backend's record of one ready fd (internal)

class Waker;
class SignalPipe;
class ChannelMap;

// A before-wait hook's registration: the hook is removed when this is destroyed or reset (RAII),
// so a hook capturing `this` cannot outlive its owner. Must not outlive its map.
class BeforeWaitHook {
 public:
  BeforeWaitHook() = default;
  ~BeforeWaitHook() { reset(); }
  BeforeWaitHook(BeforeWaitHook&& other) noexcept
      : map_(std::exchange(other.map_, nullptr)), id_(other.id_) {}
  BeforeWaitHook& operator=(BeforeWaitHook&& other) noexcept {
    if (this != &other) {
      reset();
      map_ = std::exchange(other.map_, nullptr);
      id_ = other.id_;
    }
    return *this;
  }
  bool active() const { return map_ != nullptr; }
  void reset();

 private:
  friend class ChannelMap;
  BeforeWaitHook(ChannelMap* map, uint64_t id) : map_(map), id_(id) {}
  ChannelMap* map_ = nullptr;
  uint64_t id_ = 0;
};

class ChannelMap {
 public:
  ChannelMap();
  ~ChannelMap();  // closes every channel
  ChannelMap(const ChannelMap&) = delete;
  ChannelMap& operator=(const ChannelMap&) = delete;

  // --- channels ----------------------------------------------------------------------------
  size_t size() const { return channel_count_; }  // user dispatchers with a socket
  bool empty() const { return channel_count_ == 0; }
  Dispatcher* find(int fd) const;
  std::vector<Dispatcher*> channels() const;
  void close_all();

  // --- running -----------------------------------------------------------------------------
  // One pass (docs/design.md lists its phases): before-wait hooks and flushes, interest, wait
  // at most `timeout` seconds (negative: no limit) for I/O or the next timer, handle what is
  // ready, run due timers. Returns the number of I/O events handled. May be called from inside
  // a callback (a nested pass): the outer pass's remaining events are kept and never handled
  // twice, and no dispatcher closed meanwhile is destroyed before the outermost pass ends.
  size_t poll_once(double timeout);
  // asyncore.loop: passes until nothing is left (no channels, timers or callbacks), `count`
  // passes were made (count <= 0: none, as asyncore), or stop() was called.
  void loop(double timeout = 30.0, std::optional<long> count = std::nullopt);
  // Twisted's reactor.run(): passes until stop(), whatever is registered.
  void run();
  // From any thread, or a signal handler callback. A stop() made while no loop runs is kept:
  // the next loop()/run() returns at once (so a thread racing the loop's start is not lost).
  void stop();
  bool stopping() const { return stop_requested_; }

  void use_backend(BackendKind kind);  // takes effect at once; every channel is re-registered
  BackendKind backend_kind() const { return backend_kind_; }

  // --- timers and callbacks ----------------------------------------------------------------
  TimerHandle call_later(double delay_seconds, std::function<void()> callback);
  TimerHandle call_soon(std::function<void()> callback);  // at the next pass, in order
  // From any thread: queue a callback for the loop's thread and wake the loop.
  void call_soon_threadsafe(std::function<void()> callback);
  // redis's aeSetBeforeSleepProc: `callback` runs once per pass, just before the wait (and
  // before interest is applied, so what it sends is waited on), until the handle is dropped.
  [[nodiscard]] BeforeWaitHook before_wait(std::function<void()> callback);
  // Runs `callback` on the loop whenever `signo` arrives (SIGINT, SIGTERM, SIGCHLD, ...).
  // Signal delivery is process-wide: the last map to register a signal receives it.
  void add_signal_handler(int signo, std::function<void()> callback);
  void remove_signal_handler(int signo);
  Clock::time_point now() const { return Clock::now(); }
  size_t timer_count() const { return timers_.size(); }

  // The slot generation of `fd`: bumped whenever a channel is added or removed there, so
  // (fd, generation) names one channel for its whole life (ConnectionLimits counts by it).
  uint32_t generation_of(int fd) const {
    return static_cast<size_t>(fd) < slots_.size() ? slots_[static_cast<size_t>(fd)].generation : 0;
  }

 private:
  // --- for Dispatcher alone ----------------------------------------------------------------
  friend void adopt_dispatcher(const std::shared_ptr<Dispatcher>& dispatcher);
  void add_channel(Dispatcher& dispatcher);
  void del_channel(Dispatcher& dispatcher);
  void adopt(const std::shared_ptr<Dispatcher>& dispatcher);
  void mark_dirty(int fd) {
    if (fd != dispatching_fd_) push_dirty(fd);  // the one being dispatched is re-asked anyway
  }
  void request_flush(int fd);  // Dispatcher::flush_before_wait
  void add_internal_channel(Dispatcher& dispatcher);  // not counted by size(); keeps no loop alive

 private:
  // A slot's generation is odd while a dispatcher is there and even while it is free, and is never
  // kNoGeneration once used: so an event whose generation matches its slot's has a dispatcher,
  // and one blanked with kNoGeneration matches nothing (dispatch tests one number, not three).
  static constexpr uint32_t kNoGeneration = 0;
  static uint32_t live_generation(uint32_t g) { return g + 1 + (g & 1); }  // odd, and new
  static uint32_t free_generation(uint32_t g) { return g + 1 == kNoGeneration ? 2 : g + 1; }  // from odd
  struct Slot {
    Dispatcher* dispatcher = nullptr;
    std::shared_ptr<Dispatcher> owner;  // set when the map owns it (make<T>)
    uint32_t generation = 0;
    uint8_t interest = 0;
    bool dirty : 1 = false;
    bool internal : 1 = false;
    bool polled : 1 = false;       // listed in polled_
    bool flush_wanted : 1 = false;  // listed in flushes_
  };
  struct Hook {
    uint64_t id;  // 0: removed while the hooks ran
    std::function<void()> callback;
  };
  friend class Dispatcher;
  friend class BeforeWaitHook;
  void remove_hook(uint64_t id);
  void prepare_wait();  // phases 1 and 2: hooks, flushes, interest
  void before_wait_phase();
  void ask_polled();
  void enter_nested_pass(std::span<ReadyEvent> inner, size_t level);
  void ensure_backend();
  void apply_interest_changes();
  void dispatch(ReadyEvent event);
  bool still_same(const Dispatcher& d, int fd, uint32_t generation) const;
  static uint32_t wanted_interest(Dispatcher& d) {  // asked after every event: inline
    uint32_t want = 0;
    if (!d.eof_ && !d.accept_paused_ && d.readable()) want |= kWantRead;
    if (d.connecting || (!d.accepting && d.writable())) want |= kWantWrite;
    return want;
  }
  // kNoLimit: run(), whose timeout is always -1. kTopEpoll: also at depth 0 on epoll, which
  // holds for every pass of a run() called outside callbacks (use_backend refuses inside one).
  template <bool kNoLimit, bool kTopEpoll = false>
  size_t pass(double timeout);
  const timespec* before_wait(double timeout, timespec& wait);  // phases 1-2, then the wait time
  const timespec* wait_time(double timeout, timespec& wait) const;
  void after_events();  // phases 5-6, when pass_work_ says there may be timers or closed channels
  void run_timers();
  bool alive() const;
  void run_pending();
  void report_error(Dispatcher& d, const std::exception& error);
  void push_dirty(int fd) {
    if (static_cast<size_t>(fd) < slots_.size() && !slots_[static_cast<size_t>(fd)].dirty) {
      slots_[static_cast<size_t>(fd)].dirty = true;
      dirty_.push_back(fd);
      pass_work_ |= kPrepareWork;
    }
  }
  void refresh_interest(int fd, Dispatcher& d);
  void set_interest(int fd, Slot& slot, uint32_t want);  // tells the backend
  void release_closed();

  std::vector<Slot> slots_;  // indexed by fd
  std::vector<int> dirty_;   // fds whose interest must be asked again
  std::vector<int> polled_;  // fds of Interest::polled dispatchers, asked before every wait
  std::vector<std::pair<int, uint32_t>> flushes_;  // (fd, generation) wanting handle_flush()
  std::vector<Hook> hooks_;
  uint64_t next_hook_id_ = 1;
  bool hooks_running_ = false;
  int dispatching_fd_ = -1;  // the channel whose event is being handled
  std::vector<std::shared_ptr<Dispatcher>> closed_;  // destroyed after the outermost pass
  int depth_ = 0;            // callbacks running (nested passes count again): closed_ must wait
  // The events each level of passes is handling (the backend keeps one buffer per level): a
  // nested pass blanks there the fds it handles itself, so none is handled twice.
  std::span<ReadyEvent> top_ready_;
  std::vector<std::span<ReadyEvent>> nested_ready_;  // by level - 1
  // What a pass may have to do besides waiting and handling events, so that a pass with none of
  // it tests one word before its wait and one after its events. A bit is set whenever its work
  // may appear and cleared only where that work is found gone: set => maybe, clear => none.
  static constexpr uint8_t kPrepareWork = 1;  // hooks, flushes, dirty or polled channels
  static constexpr uint8_t kTimerWork = 2;    // timers_ may be non-empty
  static constexpr uint8_t kClosedWork = 4;   // closed_ may be non-empty
  uint8_t pass_work_ = 0;
  size_t channel_count_ = 0;
  std::unique_ptr<Backend> backend_;
  EpollBackend* epoll_ = nullptr;  // backend_ when it is epoll's: its wait() is called inline
  BackendKind backend_kind_ = BackendKind::epoll;
  TimerQueue timers_;
  std::unique_ptr<Waker> waker_;
  std::unique_ptr<SignalPipe> signals_;
  std::atomic<bool> stop_requested_{false};
  friend class Waker;
  friend class SignalPipe;
  std::mutex pending_mutex_;
  std::vector<std::function<void()>> pending_;  // from call_soon_threadsafe
};

// asyncore.loop(timeout, use_poll, map, count), with the backend named instead of use_poll.
void loop(double timeout = 30.0, BackendKind backend = BackendKind::epoll, ChannelMap* map = nullptr,
          std::optional<long> count = std::nullopt);
void close_all(ChannelMap* map = nullptr);
TimerHandle call_later(double delay_seconds, std::function<void()> callback, ChannelMap* map = nullptr);
TimerHandle call_soon(std::function<void()> callback, ChannelMap* map = nullptr);

}  // namespace asyncore

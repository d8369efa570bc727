// Internal (not installed): users choose a backend by BackendKind (backend_kind.h).
// Backend: the one small interface behind which select, poll and epoll live (as in redis' ae.c).
// The channel map tells a backend only about changes of interest; the backend reports ready fds.
#pragma once
#include <sys/epoll.h>
#include <time.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include <asyncore/backend_kind.h>

namespace asyncore {


// Interest bits (kWantRead, kWantWrite) are in channel_map.h. Event bits: epoll's and poll's own values, so neither backend translates what the kernel says.
enum : uint32_t {
  kEventRead = EPOLLIN,       // 1
  kEventPriority = EPOLLPRI,  // 2
  kEventWrite = EPOLLOUT,     // 4
  kEventError = EPOLLERR,     // 8
  kEventHangup = EPOLLHUP,    // 16
  kEventInvalid = 32,         // the fd is not open (POLLNVAL's value, EBADF; epoll never sets it)
};

// One ready fd: epoll's own record, so the default backend hands the kernel's array to the loop
// untouched. `data` packs the fd and the slot generation at registration (stale events, for a
// channel closed or replaced since, are dropped); `events` holds the bits above.
// A struct of its own (channel_map.h declares it without naming epoll) with epoll's layout.
struct ReadyEvent : epoll_event {};
static_assert(sizeof(ReadyEvent) == sizeof(epoll_event), "the kernel fills arrays of these");
inline uint64_t ready_key(int fd, uint32_t generation) { return static_cast<uint32_t>(fd) | (static_cast<uint64_t>(generation) << 32); }
inline ReadyEvent ready_event(int fd, uint32_t generation, uint32_t events) {
  ReadyEvent e{};
  e.events = events;
  e.data.u64 = ready_key(fd, generation);
  return e;
}
inline int ready_fd(const ReadyEvent& e) { return static_cast<int>(e.data.u64 & 0xffffffffu); }
inline uint32_t ready_generation(const ReadyEvent& e) { return static_cast<uint32_t>(e.data.u64 >> 32); }

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;
  // Sets fd's interest; 0 stops watching it. May throw (e.g. select and FD_SETSIZE).
  virtual void update(int fd, uint32_t generation, uint32_t old_interest, uint32_t interest) = 0;
  // Waits until something is ready or the timeout passes (nullptr: no limit). `depth` counts the
  // passes under way around this one (0 but for a nested pass): each depth has its own buffer,
  // so a nested wait leaves the events an outer pass is handling intact. The events stay valid
  // until the next wait() at the same depth; update() may be called meanwhile. They are
  // writable: the map blanks those a nested pass has handled.
  virtual std::span<ReadyEvent> wait(const timespec* timeout, size_t depth) = 0;
};

std::unique_ptr<Backend> make_select_backend();
std::unique_ptr<Backend> make_poll_backend();
std::unique_ptr<Backend> make_epoll_backend();
std::unique_ptr<Backend> make_backend(BackendKind kind);

}  // namespace asyncore

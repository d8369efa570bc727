// Backend: the one small interface behind which select, poll and epoll live (as in redis' ae.c).
// The channel map tells a backend only about changes of interest; the backend reports ready fds.
#pragma once
#include <time.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace asyncore {

enum class BackendKind { select, poll, epoll };

BackendKind parse_backend(std::string_view name);  // "select" | "poll" | "epoll"; throws otherwise
const char* backend_name(BackendKind kind);

// Interest bits (what the map asks for) and event bits (what a backend reports).
enum : uint32_t {
  kWantRead = 1,   // readable(): input and priority data
  kWantWrite = 2,  // writable() or a connect in progress
};
enum : uint32_t {
  kEventRead = 1,
  kEventWrite = 2,
  kEventPriority = 4,
  kEventHangup = 8,
  kEventError = 16,
  kEventInvalid = 32,  // the fd is not open (POLLNVAL, EBADF)
};

struct ReadyEvent {
  int fd;
  uint32_t generation;  // the slot generation at registration: stale events are dropped
  uint32_t events;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;
  // Sets fd's interest; 0 stops watching it. May throw (e.g. select and FD_SETSIZE).
  virtual void update(int fd, uint32_t generation, uint32_t old_interest, uint32_t interest) = 0;
  // Waits until something is ready or the timeout passes (nullptr: no limit). The events stay
  // valid until the next wait(); update() may be called meanwhile.
  virtual std::span<const ReadyEvent> wait(const timespec* timeout) = 0;
};

std::unique_ptr<Backend> make_select_backend();
std::unique_ptr<Backend> make_poll_backend();
std::unique_ptr<Backend> make_epoll_backend();
std::unique_ptr<Backend> make_backend(BackendKind kind);

}  // namespace asyncore

// BackendKind: which readiness mechanism a channel map waits with (asyncore's use_poll, named).
#pragma once
#include <cstdint>
#include <string_view>

namespace asyncore {

enum class BackendKind { select, poll, epoll };

BackendKind parse_backend(std::string_view name);  // "select" | "poll" | "epoll"; throws otherwise
const char* backend_name(BackendKind kind);

// Interest bits: what the map asks a backend to watch for a channel.
enum : uint32_t {
  kWantRead = 1,   // readable(): input and priority data
  kWantWrite = 2,  // writable() or a connect in progress
};

}  // namespace asyncore

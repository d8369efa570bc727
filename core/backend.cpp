#include "core/backend.h"

#include <stdexcept>
#include <string>

namespace asyncore {

BackendKind parse_backend(std::string_view name) {
  if (name == "select") return BackendKind::select;
  if (name == "poll") return BackendKind::poll;
  if (name == "epoll") return BackendKind::epoll;
  throw std::invalid_argument("unknown backend '" + std::string(name) + "' (expected select, poll or epoll)");
}

const char* backend_name(BackendKind kind) {
  switch (kind) {
    case BackendKind::select: return "select";
    case BackendKind::poll: return "poll";
    case BackendKind::epoll: return "epoll";
  }
  return "?";
}

std::unique_ptr<Backend> make_backend(BackendKind kind) {
  switch (kind) {
    case BackendKind::select: return make_select_backend();
    case BackendKind::poll: return make_poll_backend();
    case BackendKind::epoll: return make_epoll_backend();
  }
  throw std::invalid_argument("unknown backend");
}

}  // namespace asyncore

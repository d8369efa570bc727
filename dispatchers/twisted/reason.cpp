#include <asyncore/twisted/reason.h>

#include <errno.h>

#include <cstring>
#include <system_error>

namespace asyncore {

const char* kind_name(Reason::Kind kind) {
  switch (kind) {
    case Reason::Kind::done: return "done";
    case Reason::Kind::lost: return "lost";
    case Reason::Kind::refused: return "refused";
    case Reason::Kind::timeout: return "timeout";
    case Reason::Kind::aborted: return "aborted";
    case Reason::Kind::error: return "error";
  }
  return "unknown";
}

Reason Reason::from_errno(int error, std::string_view what) {
  std::string message = std::string(what) + ": " + std::strerror(error);
  switch (error) {
    case ECONNREFUSED: return refused(std::move(message));
    case ETIMEDOUT: return timeout(std::move(message));
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE:
    case ENOTCONN:
    case ESHUTDOWN:
      return lost(std::move(message));
    default: return Reason::error(std::move(message));
  }
}

Reason Reason::from_exception(const std::exception& error) {
  if (auto* system = dynamic_cast<const std::system_error*>(&error);
      system && system->code().category() == std::generic_category()) {
    Reason reason = from_errno(system->code().value(), "");
    reason.message = system->what();  // already "what: strerror"
    return reason;
  }
  return Reason::error(error.what());
}

std::string Reason::to_string() const { return std::string(kind_name(kind)) + ": " + message; }

}  // namespace asyncore

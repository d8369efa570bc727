// The admin HTTP API (contract: "Admin HTTP API"): devices, one device, its events, commands
// (interact / send / queue, answered once the device acks) and Prometheus metrics.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "apps/device/hub.h"
#include <asyncore/http/http.h>

namespace asyncore::device {

// Admins waiting for their command's outcome. The hub's callback is a std::function, which must
// be copyable, and a Responder is not: shared (make_shared, and a capture too big to sit inside
// the std::function) it cost two allocations per command. Here each waits in a slot kept for the
// next, and the callback carries {this, slot, generation}: 16 trivially copyable bytes, which
// std::function keeps inline. It must outlive every callback it gave (the hub and the cluster
// drop theirs when destroyed); an admin still waiting when it goes is answered 500.
class WaitingAdmins {
 public:
  struct Ticket {
    std::uint32_t slot;
    std::uint32_t generation;
  };
  Ticket wait(http::Responder responder);
  // The hub's callback: answers the admin holding `ticket` with the command's outcome.
  CommandCallback callback(Ticket ticket);
  // Answers (once) the admin holding `ticket`; nothing when it was answered already.
  void answer(Ticket ticket, http::Response response);
  std::size_t waiting() const { return slots_.size() - free_.size(); }

 private:
  struct Slot {
    std::optional<http::Responder> responder;
    std::uint32_t generation = 0;  // a ticket of an earlier use answers nothing
  };
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
};

// Routes for `hub`; with a non-empty `admin_token` every request needs "Bearer <token>".
http::Router admin_router(DeviceHub& hub, WaitingAdmins& waiting, std::string admin_token);

inline constexpr double kDefaultCommandTimeout = 10;
inline constexpr double kMaxCommandTimeout = 600;

}  // namespace asyncore::device

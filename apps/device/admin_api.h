// The admin HTTP API (contract: "Admin HTTP API"): devices, one device, its events, commands
// (interact / send / queue, answered once the device acks) and Prometheus metrics.
#pragma once
#include <string>

#include "apps/device/hub.h"
#include <asyncore/http/http.h>

namespace asyncore::device {

// Routes for `hub`; with a non-empty `admin_token` every request needs "Bearer <token>".
http::Router admin_router(DeviceHub& hub, std::string admin_token);

inline constexpr double kDefaultCommandTimeout = 10;
inline constexpr double kMaxCommandTimeout = 600;

}  // namespace asyncore::device

// The Date header value (RFC 9110 IMF-fixdate), formatted at most once per second.
#pragma once
#include <ctime>
#include <string>
#include <string_view>

namespace asyncore::http {

std::string format_http_date(std::time_t when);  // "Sun, 06 Nov 1994 08:49:37 GMT"

// The current time, from a per-thread cache refreshed when the second changes.
std::string_view http_date_now();

}  // namespace asyncore::http

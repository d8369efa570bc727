// Bearer-token checks (RFC 6750) for admin APIs: "Authorization: Bearer <token>".
#pragma once
#include <string>
#include <string_view>

#include <asyncore/http/router.h>

namespace asyncore::http {

// True when the request carries exactly this bearer token (compared in constant time).
bool has_bearer_token(const Request& request, std::string_view token);

// A Router guard answering 401 (with WWW-Authenticate: Bearer) unless the request carries the
// token. An empty token lets everything through, so "--admin-token ''" means no check.
Guard bearer_token_guard(std::string token);

}  // namespace asyncore::http

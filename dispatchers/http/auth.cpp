#include <asyncore/http/auth.h>

namespace asyncore::http {
namespace {

// Compares without an early exit, so the time taken does not tell how much of a guess was right.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i) difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  return difference == 0;
}

}  // namespace

bool has_bearer_token(const Request& request, std::string_view token) {
  std::string_view value = request.header("Authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size() || !iequals(value.substr(0, kScheme.size()), kScheme)) return false;
  value.remove_prefix(kScheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  return same_secret(value, token);
}

Guard bearer_token_guard(std::string token) {
  if (token.empty()) return {};
  return [token = std::move(token)](const Request& request) -> std::optional<Response> {
    if (has_bearer_token(request, token)) return std::nullopt;
    Response refusal = Response::json_error(401, request.has_header("Authorization") ? "invalid bearer token"
                                                                                     : "a bearer token is required");
    refusal.set_header("WWW-Authenticate", "Bearer");
    return refusal;
  };
}

}  // namespace asyncore::http
